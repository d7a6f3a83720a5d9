"""Rolling updates end to end against the sandbox (ECS-controller services over HTTP)."""

from __future__ import annotations

import pytest

from bluegreen.engines.rolling import rollout as rolling
from bluegreen.engines.rolling.rollout import RollingRequest
from bluegreen.errors import ExitCode, PreflightError
from bluegreen.release import redeploy
from bluegreen.spec.load import load_spec
from tests.fixtures.rolling import FAST, REGISTRY, Recorder, Stack


def test_rolling_update_succeeds(stack: Stack) -> None:
    old = stack.service("apps", "api")
    digest = stack.push("v2")
    out = Recorder()
    outcome = rolling.deploy(
        load_spec(stack.spec("apps", "api")), stack.aws, out, RollingRequest(timeout=20), loop=FAST
    )
    assert outcome.exit_code == ExitCode.OK, outcome.reason
    assert outcome.status == "Succeeded"
    assert outcome.rolled_back is False
    svc = stack.describe("apps", "api")
    assert svc["taskDefinition"] == outcome.task_definition_arn != old
    assert outcome.deployment_id == svc["deployments"][0]["id"]
    assert [d["rolloutState"] for d in svc["deployments"]] == ["COMPLETED"]
    td = stack.aws.ecs().describe_task_definition(taskDefinition=svc["taskDefinition"])
    assert td["taskDefinition"]["containerDefinitions"][0]["image"] == f"{REGISTRY}/web@{digest}"
    kinds = out.kinds()
    assert kinds[0] == "plan"
    assert "registered" in kinds
    assert "created" in kinds
    assert "deployment" in kinds
    assert out.objects[-1] == {"event": "completed", "deploymentId": outcome.deployment_id}


def test_identical_revision_is_not_registered_again(stack: Stack) -> None:
    stack.service("apps", "api")
    spec = load_spec(stack.spec("apps", "api", tag="v1"))
    out = Recorder()
    outcome = rolling.deploy(spec, stack.aws, out, RollingRequest(timeout=20), loop=FAST)
    assert outcome.exit_code == ExitCode.OK
    assert "nothing to deploy" in outcome.reason
    assert len(stack.revisions("api")) == 1
    assert "registered" not in out.kinds()


def test_circuit_breaker_rolls_back(stack: Stack) -> None:
    old = stack.service("apps", "api", breaker="rollback")
    stack.push("v2")
    stack.fault({"kind": "unhealthy-green"})
    out = Recorder()
    outcome = rolling.deploy(
        load_spec(stack.spec("apps", "api")), stack.aws, out, RollingRequest(timeout=20), loop=FAST
    )
    assert outcome.exit_code == ExitCode.FAILED, outcome.reason
    assert outcome.rolled_back is True
    assert "circuit breaker" in outcome.reason
    assert outcome.result()["rolledBack"] is True
    assert "circuitBreaker" in out.kinds()
    assert stack.describe("apps", "api")["taskDefinition"] == old


def test_rollback_flag_when_the_breaker_is_off(stack: Stack) -> None:
    old = stack.service("apps", "api", breaker=None)
    stack.push("v2")
    stack.fault({"kind": "unhealthy-green"})
    out = Recorder()
    outcome = rolling.deploy(
        load_spec(stack.spec("apps", "api")),
        stack.aws,
        out,
        RollingRequest(rollback=True, timeout=20),
        loop=FAST,
    )
    assert outcome.exit_code == ExitCode.FAILED, outcome.reason
    assert outcome.rolled_back is True
    assert "rolled back by bluegreen" in outcome.reason
    svc = stack.describe("apps", "api")
    assert svc["taskDefinition"] == old


def test_breaker_off_without_rollback_flag_leaves_the_service(stack: Stack) -> None:
    stack.service("apps", "api", breaker=None)
    stack.push("v2")
    stack.fault({"kind": "unhealthy-green"})
    outcome = rolling.deploy(
        load_spec(stack.spec("apps", "api")),
        stack.aws,
        Recorder(),
        RollingRequest(timeout=20),
        loop=FAST,
    )
    assert (outcome.exit_code, outcome.rolled_back) == (ExitCode.FAILED, False)
    assert "failed to start" in outcome.reason


def test_preflight_blocks_before_any_write(stack: Stack) -> None:
    stack.service("apps", "api", desired=2, minimum=100, maximum=100)
    stack.push("v2")
    with pytest.raises(PreflightError) as info:
        rolling.deploy(
            load_spec(stack.spec("apps", "api")),
            stack.aws,
            Recorder(),
            RollingRequest(timeout=20),
            loop=FAST,
        )
    assert info.value.exit_code == ExitCode.USAGE
    assert "maximumPercent to at least 150" in str(info.value)
    assert len(stack.revisions("api")) == 1  # nothing registered
    assert len(stack.describe("apps", "api")["deployments"]) == 1


def test_dry_run_writes_nothing(stack: Stack) -> None:
    stack.service("apps", "api")
    stack.push("v2")
    out = Recorder()
    outcome = rolling.deploy(
        load_spec(stack.spec("apps", "api")),
        stack.aws,
        out,
        RollingRequest(dry_run=True, timeout=20),
        loop=FAST,
    )
    assert outcome.exit_code == ExitCode.OK
    assert out.objects[0]["event"] == "plan"
    assert out.objects[0]["registerTaskDefinition"] is True
    env = out.objects[0]["taskDefinition"]["containerDefinitions"][0]["environment"]
    assert env == [{"name": "LOG_LEVEL", "value": "info"}]  # not a secret: shown
    assert len(stack.revisions("api")) == 1


def test_redeploy_starts_fresh_tasks_of_the_same_revision(stack: Stack) -> None:
    old = stack.service("apps", "api")
    before = stack.describe("apps", "api")["deployments"][0]["id"]
    out = Recorder()
    outcome = redeploy.redeploy(
        load_spec(stack.spec("apps", "api")), stack.aws, out, redeploy.RedeployRequest(), loop=FAST
    )
    assert outcome.exit_code == ExitCode.OK, outcome.reason
    assert outcome.deployment_id != before
    assert outcome.task_definition_arn == old
    svc = stack.describe("apps", "api")
    assert svc["taskDefinition"] == old
    assert svc["deployments"][0]["id"] == outcome.deployment_id
    assert len(stack.revisions("api")) == 1


def test_cancel_rolls_the_service_back(stack: Stack) -> None:
    old = stack.service("apps", "api", breaker=None)
    stack.push("v2")
    stack.fault({"kind": "unhealthy-green"})  # the rollout would never finish
    looks = iter(range(1000))
    loop = rolling.Loop(poll=0.02, cancelled=lambda: next(looks) >= 2, rest=FAST.sleep)
    outcome = rolling.deploy(
        load_spec(stack.spec("apps", "api")),
        stack.aws,
        Recorder(),
        RollingRequest(timeout=20),
        loop=loop,
    )
    assert (outcome.exit_code, outcome.rolled_back) == (ExitCode.CANCELLED, True), outcome.reason
    assert stack.describe("apps", "api")["taskDefinition"] == old


def test_a_cancel_while_the_registration_waits_its_turn_registers_nothing(stack: Stack) -> None:
    """The session's RegisterTaskDefinition turn is a minute off (aws.pacing): the release says
    it waits, and a cancel meanwhile ends it (exit 130) with no revision registered."""
    import threading
    import time

    from bluegreen.aws.pacing import TASK_DEFINITION_WRITES
    from bluegreen.engines.codedeploy.follow import CancelFlag
    from bluegreen.errors import Cancelled

    old = stack.service("apps", "api")
    stack.push("v2")
    pacer = stack.aws.pacer(TASK_DEFINITION_WRITES)
    for _ in range(int(TASK_DEFINITION_WRITES.capacity) + 60):
        pacer.turn()
    before = stack.aws.ecs().list_task_definitions()["taskDefinitionArns"]
    cancel = CancelFlag()
    loop = rolling.Loop(sleep=cancel.sleep, cancelled=lambda: cancel.is_set)
    out = Recorder()
    threading.Timer(0.5, cancel.set).start()
    started = time.monotonic()
    with pytest.raises(Cancelled, match="nothing was registered"):
        rolling.deploy(
            load_spec(stack.spec("apps", "api")), stack.aws, out, RollingRequest(), loop=loop
        )
    assert time.monotonic() - started < 10
    assert "paced" in out.kinds()
    assert stack.aws.ecs().list_task_definitions()["taskDefinitionArns"] == before
    assert stack.describe("apps", "api")["taskDefinition"] == old
