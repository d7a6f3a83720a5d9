"""redeploy and promote on a CODE_DEPLOY service (the demo blue/green stack of the sandbox)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bluegreen.aws.session import Aws
from bluegreen.errors import DeploymentActive
from bluegreen.release import promote
from bluegreen.spec.load import load_spec
from tests.fixtures.codedeploy import Ran, Stack, wait_idle


def test_redeploy_code_deploy_service_same_revision(stack: Stack, cli: Callable[..., Ran]) -> None:
    before = stack.live_task_definition()
    ran = cli("--output", "json", "redeploy")
    assert ran.code == 0, ran.stderr
    result = ran.result
    assert (result["status"], result["exitCode"]) == ("Succeeded", 0)
    assert result["taskDefinitionArn"] == before
    assert stack.live_task_definition() == before
    info = stack.client("codedeploy").get_deployment(deploymentId=result["deploymentId"])
    assert info["deploymentInfo"]["status"] == "Succeeded"
    assert any(o.get("event") == "registered" and o.get("reused") for o in ran.lines)


def test_promote_refused_while_a_codedeploy_deployment_is_active(
    stack: Stack, cli: Callable[..., Ran]
) -> None:
    stack.push("v2")
    started = cli("--output", "json", "deploy", "--no-wait", "--image", f"web={stack.image('v2')}")
    assert started.code == 0, started.stderr
    source = load_spec(stack.spec)
    try:
        with pytest.raises(DeploymentActive) as info:
            promote.source_images(Aws(region="us-east-1"), source)
        assert "deployment" in info.value.message
    finally:
        wait_idle(stack, timeout=30)


def test_promote_from_a_codedeploy_service_reads_its_digests(stack: Stack) -> None:
    found = promote.source_images(Aws(region="us-east-1"), load_spec(stack.spec))
    assert found.task_definition_arn == stack.live_task_definition()
    assert all("@sha256:" in ref for ref in found.images.values())
