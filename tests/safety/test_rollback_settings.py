"""I4: a deploy never weakens the auto-rollback the deployment group already has.

The demo stack's group stops on two alarms and rolls back on DEPLOYMENT_FAILURE and
DEPLOYMENT_STOP_ON_ALARM (bluegreen/sandbox/stack.py `_codedeploy`). CodeDeploy's
CreateDeployment `autoRollbackConfiguration` replaces the group's for that deployment
(https://docs.aws.amazon.com/codedeploy/latest/APIReference/API_CreateDeployment.html), so
what bluegreen sends must keep every event and alarm of the group.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from bluegreen.spec.load import load_spec
from tests.fixtures.codedeploy import Stack
from tests.helpers import Ran
from tests.safety.codedeploy_support import (
    LONG_CANARY,
    canary_live,
    deployment,
    drop_rollback_block,
    group_restored,
    primary_task_definition,
    serving,
    set_rollback_block,
    update_group,
    when,
)

BOTH = ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"]


def test_spec_without_rollback_block_keeps_the_groups_alarm_rollback(
    stack: Stack, cli: Callable[..., Ran]
) -> None:
    drop_rollback_block(stack)
    stack.push("i4-bad")
    before = stack.live_task_definition()
    blue = serving(stack)
    alarm = stack.result.repository + "-5xx"

    def fire() -> None:
        stack.client("cloudwatch").set_alarm_state(
            AlarmName=alarm, StateValue="ALARM", StateReason="test: 5xx during the canary"
        )

    when(canary_live(stack), fire)
    ran = cli(
        "--output",
        "json",
        "deploy",
        "--image",
        f"web={stack.image('i4-bad')}",
        "--deployment-config",
        LONG_CANARY,
    )
    assert ran.code == 1, ran.stdout + ran.stderr
    # AWS-side truth: production wholly back on blue, the old revision primary
    assert stack.prod_weights()[blue] == 100
    assert serving(stack) == blue
    assert primary_task_definition(stack) == before
    assert stack.live_task_definition() == before
    sent = deployment(stack, ran.result["deploymentId"])["autoRollbackConfiguration"]
    assert sent["enabled"] is True
    assert set(BOTH) <= set(sent["events"])


def test_spec_cannot_remove_what_the_group_has(stack: Stack, cli: Callable[..., Ran]) -> None:
    alarm = stack.result.repository + "-5xx"
    set_rollback_block(stack, f"rollback:\n  on_failure: false\n  alarms: [{alarm}]\n")
    stack.push("i4-plan")
    ran = cli("--output", "json", "deploy", "--dry-run", "--image", f"web={stack.image('i4-plan')}")
    assert ran.code == 0, ran.stderr
    plan, _result = ran.lines
    assert plan["autoRollbackConfiguration"] == {"enabled": True, "events": BOTH}
    names = [a["name"] for a in plan["overrideAlarmConfiguration"]["alarms"]]
    assert sorted(names) == sorted(stack.result.repository + s for s in ("-5xx", "-latency"))


def test_spec_adds_to_a_group_without_rollback(stack: Stack, cli: Callable[..., Ran]) -> None:
    stack.push("i4-add")
    image = f"web={stack.image('i4-add')}"
    with group_restored(stack):
        update_group(stack, autoRollbackConfiguration={"enabled": False, "events": []})
        ran = cli("--output", "json", "deploy", "--dry-run", "--image", image)
        assert ran.code == 0, ran.stderr
        assert ran.lines[0]["autoRollbackConfiguration"] == {"enabled": True, "events": BOTH}
        drop_rollback_block(stack)  # silent spec: the group's own (no rollback) is kept as is
        ran = cli("--output", "json", "deploy", "--dry-run", "--image", image)
        assert ran.code == 0, ran.stderr
        assert ran.lines[0]["autoRollbackConfiguration"]["enabled"] is False
        assert ran.lines[0]["overrideAlarmConfiguration"] is None


def test_doctor_reads_the_groups_alarms_and_rollback(stack: Stack, cli: Callable[..., Ran]) -> None:
    drop_rollback_block(stack)
    ran = cli("--output", "json", "doctor")
    assert ran.code == 0, ran.stdout + ran.stderr
    findings = {(f["check"], f["level"]): f["message"] for f in ran.lines if "check" in f}
    assert "no rollback alarms" not in ran.stdout
    group = stack.result.deployment_group
    alarms = ", ".join(stack.result.repository + s for s in ("-5xx", "-latency"))
    assert findings["group-alarms", "ok"] == f"group {group} stops deployments on alarms {alarms}"
    assert findings["auto-rollback", "ok"] == f"group {group} rolls back on {', '.join(BOTH)}"


def test_init_from_service_carries_the_groups_rollback(
    stack: Stack, cli: Callable[..., Ran], tmp_path: Path
) -> None:
    folder = tmp_path / "scaffold"
    target = f"{stack.result.cluster}/{stack.result.service}"
    ran = cli("init", "--dir", str(folder), "--from-service", target)
    assert ran.code == 0, ran.stderr
    spec = load_spec(folder / "bluegreen.yaml")
    assert spec.rollback.on_failure is True
    assert spec.rollback.alarms == [stack.result.repository + s for s in ("-5xx", "-latency")]
    assert "on_failure" in spec.data["rollback"]  # stated, not a default
