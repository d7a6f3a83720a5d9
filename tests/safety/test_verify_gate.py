"""I1: `--verify` gates production, or is refused before any write.

On a group with deploymentReadyOption CONTINUE_DEPLOYMENT, CodeDeploy reroutes production
traffic as soon as the replacement is ready (the demo stack's group, and the default); only a
group with STOP_DEPLOYMENT and a wait time holds production back until ContinueDeployment
(https://docs.aws.amazon.com/codedeploy/latest/APIReference/API_DeploymentReadyOption.html).
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable

from tests.fixtures.codedeploy import Stack
from tests.helpers import Ran
from tests.safety.codedeploy_support import (
    group_restored,
    primary_task_definition,
    sample_weights,
    serving,
    wait_for_ready,
)

FAIL = f"{sys.executable} -c 'import sys; sys.exit(3)'"
PASS = f"{sys.executable} -c pass"


def family_revisions(stack: Stack) -> list[str]:
    ecs = stack.client("ecs")
    return list(ecs.list_task_definitions(familyPrefix=stack.result.service)["taskDefinitionArns"])


def deployments(stack: Stack) -> list[str]:
    return list(
        stack.client("codedeploy").list_deployments(
            applicationName=stack.result.application,
            deploymentGroupName=stack.result.deployment_group,
        )["deployments"]
    )


def test_verify_on_a_group_that_reroutes_at_once_is_refused_before_any_write(
    stack: Stack, cli: Callable[..., Ran]
) -> None:
    stack.push("g1")
    revisions, started = family_revisions(stack), deployments(stack)
    for config in ("canary:10%/5m", "all-at-once"):
        ran = cli(
            "deploy",
            "--image",
            f"web={stack.image('g1')}",
            "--verify",
            FAIL,
            "--deployment-config",
            config,
        )
        assert ran.code == 2, ran.stdout + ran.stderr
        group = f"{stack.result.application}/{stack.result.deployment_group}"
        assert f"verify cannot gate production on CodeDeploy deployment group {group}" in ran.stderr
        assert "deploymentReadyOption.actionOnTimeout CONTINUE_DEPLOYMENT" in ran.stderr
        assert "aws deploy update-deployment-group" in ran.stderr
        assert '"actionOnTimeout":"STOP_DEPLOYMENT"' in ran.stderr
    # AWS-side: no revision registered, no deployment created
    assert family_revisions(stack) == revisions
    assert deployments(stack) == started


def test_spec_verify_is_refused_too_and_doctor_says_so(
    stack: Stack, cli: Callable[..., Ran]
) -> None:
    stack.spec.write_text(stack.spec.read_text() + f"verify:\n  command: {PASS}\n")
    stack.push("g2")
    ran = cli("deploy", "--image", f"web={stack.image('g2')}")
    assert ran.code == 2, ran.stdout + ran.stderr
    assert "bluegreen.yaml" in ran.stderr  # where: the spec's verify
    doctor = cli("--output", "json", "doctor")
    assert doctor.code == 2
    (finding,) = [f for f in doctor.lines if f.get("check") == "verify"]
    assert finding["level"] == "error"
    assert "CONTINUE_DEPLOYMENT" in finding["message"]
    assert finding["fix"].startswith("aws deploy update-deployment-group")
    with group_restored(stack):
        wait_for_ready(stack)
        doctor = cli("--output", "json", "doctor")
        (finding,) = [f for f in doctor.lines if f.get("check") == "verify"]
        assert finding["level"] == "ok"


def test_failing_verify_on_a_waiting_group_never_moves_production(
    stack: Stack, cli: Callable[..., Ran]
) -> None:
    stack.push("g3")
    before, blue = stack.live_task_definition(), serving(stack)
    samples: list[dict[str, int]] = []
    done = threading.Event()
    with group_restored(stack):
        wait_for_ready(stack)
        sample_weights(stack, samples, done)
        try:
            ran = cli(
                "-o",
                "json",
                "deploy",
                "--image",
                f"web={stack.image('g3')}",
                "--verify",
                FAIL,
                "--deployment-config",
                "all-at-once",
            )
        finally:
            done.set()
    assert ran.code == 1, ran.stdout + ran.stderr
    assert ran.result["rolledBack"] is True
    assert samples
    assert all({tg for tg, w in weights.items() if w > 0} == {blue} for weights in samples), samples
    assert serving(stack) == blue
    assert primary_task_definition(stack) == before
    info = stack.client("codedeploy").get_deployment(deploymentId=ran.result["deploymentId"])
    assert info["deploymentInfo"]["status"] in ("Stopped", "Failed")


def test_passing_verify_on_a_waiting_group_releases(stack: Stack, cli: Callable[..., Ran]) -> None:
    stack.push("g4")
    blue = serving(stack)
    with group_restored(stack):
        wait_for_ready(stack)
        ran = cli("-o", "json", "deploy", "--image", f"web={stack.image('g4')}", "--verify", PASS)
    assert ran.code == 0, ran.stdout + ran.stderr
    assert [e["status"] for e in ran.events("verify")] == ["running", "passed"]
    assert ran.events("approve")
    assert serving(stack) != blue
    assert primary_task_definition(stack) == ran.result["taskDefinitionArn"]
