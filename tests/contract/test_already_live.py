"""A release of the revision production already runs is skipped with a notice (exit 0)
unless --force."""

from __future__ import annotations

from collections.abc import Callable

from tests.fixtures.codedeploy import Ran, Stack


def deployments(stack: Stack) -> list[str]:
    return list(
        stack.client("codedeploy").list_deployments(
            applicationName=stack.result.application,
            deploymentGroupName=stack.result.deployment_group,
        )["deployments"]
    )


def test_same_revision_is_skipped_unless_forced(stack: Stack, cli: Callable[..., Ran]) -> None:
    stack.push("same1")
    image = f"web={stack.image('same1')}"
    first = cli("-o", "json", "deploy", "--image", image)
    assert first.code == 0, first.stderr
    live = stack.live_task_definition()
    assert first.result["taskDefinitionArn"] == live
    before = deployments(stack)

    again = cli("-o", "json", "deploy", "--image", image)
    assert again.code == 0, again.stderr
    result = again.result
    assert result["status"] == "Skipped"
    assert result["reason"].startswith("already live: web-cluster/web runs ")
    assert "--force" in result["reason"]
    assert result["taskDefinitionArn"] == live
    assert deployments(stack) == before  # no CodeDeploy deployment was created
    text = cli("deploy", "--image", image)
    assert text.code == 0, text.stderr
    assert "already live" in text.stdout.splitlines()[-1]

    forced = cli("-o", "json", "deploy", "--image", image, "--force")
    assert forced.code == 0, forced.stderr
    assert forced.result["status"] == "Succeeded"
    assert forced.result["taskDefinitionArn"] == live
    assert len(deployments(stack)) == len(before) + 1
    assert stack.live_task_definition() == live
