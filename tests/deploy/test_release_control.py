"""Verify, approval, timeout, cancel, concurrency, re-attach, throttling, stop and rollback,
against the sandbox (600x clock) through the CLI and real subprocesses."""

from __future__ import annotations

import json
import os
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import sandbox_call
from tests.deploy.test_deploy_sandbox import LONG_CANARY, canary_live, events
from tests.fixtures.codedeploy import Ran, Stack, active, result_of, spawn, wait_idle
from tests.helpers import wait_for

SHORT_CANARY = "canary:10%/20m"  # 2 s of real time at 600x


def status_of(stack: Stack, dep: str) -> str:
    info = stack.client("codedeploy").get_deployment(deploymentId=dep)["deploymentInfo"]
    return str(info["status"])


def on_blue(stack: Stack, before: str) -> bool:
    return stack.live_task_definition() == before and max(stack.prod_weights().values()) >= 1


# --- verify (gates only on a group that waits before rerouting: waits_for_approval) ---------------
def test_verify_failure_rolls_back(waits_for_approval: Stack, cli: Callable[..., Ran]) -> None:
    stack = waits_for_approval
    stack.push("c1")
    before = stack.live_task_definition()
    failing = f"{sys.executable} -c 'import sys; print(\"smoke failed\"); sys.exit(3)'"
    ran = cli(
        "-o",
        "json",
        "deploy",
        "--image",
        f"web={stack.image('c1')}",
        "--verify",
        failing,
        "--deployment-config",
        LONG_CANARY,
    )
    assert ran.code == 1, ran.stderr
    (stop,) = events(ran, "stop")
    assert stop["kind"] == "verify"
    assert "exit 3: smoke failed" in stop["reason"]
    assert ran.result["rolledBack"] is True
    assert on_blue(stack, before)


def test_verify_pass_sees_the_test_url(
    waits_for_approval: Stack, cli: Callable[..., Ran], tmp_path: Path
) -> None:
    stack = waits_for_approval
    stack.push("c2")
    seen = tmp_path / "env.json"
    script = (
        "import json, os, sys; "
        f"json.dump({{k: v for k, v in os.environ.items() if k.startswith('BLUEGREEN_')}}, "
        f"open({str(seen)!r}, 'w'))"
    )
    ran = cli(
        "-o",
        "json",
        "deploy",
        "--image",
        f"web={stack.image('c2')}",
        "--verify",
        f'{sys.executable} -c "{script}"',
    )
    assert ran.code == 0, ran.stderr
    env = json.loads(seen.read_text())
    assert env["BLUEGREEN_DEPLOYMENT_ID"] == ran.result["deploymentId"]
    assert env["BLUEGREEN_TEST_URL"].startswith("http://")
    assert env["BLUEGREEN_TEST_URL"].endswith(":8080") or env["BLUEGREEN_TEST_URL"] != env.get(
        "BLUEGREEN_PROD_URL"
    )
    assert [e["status"] for e in events(ran, "verify")] == ["running", "passed"]


# --- approval (deploymentReadyOption STOP_DEPLOYMENT) ---------------------------------------------
@pytest.fixture
def waits_for_approval(stack: Stack) -> Iterator[Stack]:
    cd = stack.client("codedeploy")
    group = {
        "applicationName": stack.result.application,
        "currentDeploymentGroupName": stack.result.deployment_group,
    }
    cd.update_deployment_group(
        **group,
        blueGreenDeploymentConfiguration={
            "deploymentReadyOption": {
                "actionOnTimeout": "STOP_DEPLOYMENT",
                "waitTimeInMinutes": 600,
            },
            "terminateBlueInstancesOnDeploymentSuccess": {
                "action": "TERMINATE",
                "terminationWaitTimeInMinutes": 5,
            },
        },
    )
    yield stack
    wait_idle(stack)
    cd.update_deployment_group(
        **group,
        blueGreenDeploymentConfiguration={
            "deploymentReadyOption": {
                "actionOnTimeout": "CONTINUE_DEPLOYMENT",
                "waitTimeInMinutes": 0,
            },
            "terminateBlueInstancesOnDeploymentSuccess": {
                "action": "TERMINATE",
                "terminationWaitTimeInMinutes": 5,
            },
        },
    )


def test_approve_then_watch(waits_for_approval: Stack, cli: Callable[..., Ran]) -> None:
    stack = waits_for_approval
    stack.push("c3")
    started = cli("-o", "json", "deploy", "--image", f"web={stack.image('c3')}", "--no-wait")
    assert started.code == 0, started.stderr
    dep = started.result["deploymentId"]
    wait_for(lambda: status_of(stack, dep) == "Ready")
    approved = cli("-o", "json", "approve")
    assert approved.code == 0, approved.stderr
    assert approved.events("approved") == [
        {"event": "approved", "deploymentId": dep, "waitType": "READY_WAIT"}
    ]
    watched = cli("-o", "json", "watch", dep)
    assert watched.code == 0, watched.stderr
    assert watched.result["status"] == "Succeeded"
    assert watched.result["taskDefinitionArn"] == started.result["taskDefinitionArn"]


def test_wait_until_a_lifecycle_event_returns_and_watch_follows(
    stack: Stack, cli: Callable[..., Ran]
) -> None:
    """`deploy --wait-until AfterAllowTestTraffic` (DESIGN.md's pinned flag) returns exit 0 once
    that lifecycle event started, the deployment still running; `watch` follows it to the end."""
    stack.push("c14")
    ran = cli(
        "-o",
        "json",
        "deploy",
        "--image",
        f"web={stack.image('c14')}",
        "--deployment-config",
        LONG_CANARY,
        "--wait-until",
        "AfterAllowTestTraffic",
    )
    assert ran.code == 0, ran.stderr
    dep = ran.result["deploymentId"]
    assert "AfterAllowTestTraffic" in ran.result["reason"]
    info = stack.client("codedeploy").get_deployment(deploymentId=dep)["deploymentInfo"]
    assert info["status"] == "InProgress"
    watched = cli("-o", "json", "watch", dep)
    assert watched.code == 0, watched.stderr
    assert watched.result["status"] == "Succeeded"


def test_wait_until_paused_needs_a_group_that_waits(stack: Stack, cli: Callable[..., Ran]) -> None:
    stack.push("c15")
    before = stack.live_task_definition()
    ran = cli("deploy", "--image", f"web={stack.image('c15')}", "--wait-until", "paused")
    assert ran.code == 2, ran.stderr
    assert "CONTINUE_DEPLOYMENT" in ran.stderr
    assert stack.live_task_definition() == before
    assert active(stack) == []


def test_wait_until_paused_returns_in_ready_then_approve(
    waits_for_approval: Stack, cli: Callable[..., Ran]
) -> None:
    stack = waits_for_approval
    stack.push("c16")
    blue = stack.live_task_definition()
    weights = stack.prod_weights()
    ran = cli(
        "-o", "json", "deploy", "--image", f"web={stack.image('c16')}", "--wait-until", "paused"
    )
    assert ran.code == 0, ran.stderr
    dep = ran.result["deploymentId"]
    assert ran.result["status"] == "Ready"
    # production untouched while paused: the same listener weights, the same revision
    assert stack.prod_weights() == weights
    assert stack.live_task_definition() == blue
    assert cli("approve", dep).code == 0
    watched = cli("-o", "json", "watch", dep)
    assert watched.code == 0, watched.stderr
    assert watched.result["status"] == "Succeeded"


def test_verify_pass_approves_a_waiting_group(
    waits_for_approval: Stack, cli: Callable[..., Ran]
) -> None:
    stack = waits_for_approval
    stack.push("c4")
    ran = cli(
        "-o",
        "json",
        "deploy",
        "--image",
        f"web={stack.image('c4')}",
        "--verify",
        f"{sys.executable} -c pass",
    )
    assert ran.code == 0, ran.stderr
    assert events(ran, "approve")
    assert ran.result["status"] == "Succeeded"


# --- timeout and cancel ---------------------------------------------------------------------------
def test_timeout_stops_with_rollback_exit_3(stack: Stack, cli: Callable[..., Ran]) -> None:
    stack.push("c5")
    before = stack.live_task_definition()
    ran = cli(
        "-o",
        "json",
        "deploy",
        "--image",
        f"web={stack.image('c5')}",
        "--deployment-config",
        LONG_CANARY,
        "--timeout",
        "2s",
    )
    assert ran.code == 3, ran.stderr
    assert ran.result["exitCode"] == 3
    assert ran.result["rolledBack"] is True
    assert events(ran, "stop")[0]["kind"] == "timeout"
    assert on_blue(stack, before)


def test_sigterm_rolls_back_and_exits_130(stack: Stack) -> None:
    stack.push("c6")
    before = stack.live_task_definition()
    proc = spawn(
        stack,
        "-o",
        "json",
        "deploy",
        "--image",
        f"web={stack.image('c6')}",
        "--deployment-config",
        LONG_CANARY,
    )
    try:
        wait_for(canary_live(stack))
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    result = result_of(out)
    assert result["exitCode"] == 130
    assert result["rolledBack"] is True
    assert on_blue(stack, before)
    assert not active(stack)
    # every mutation journalled before and after
    journal = [
        json.loads(x) for x in Path(os.environ["BLUEGREEN_JOURNAL"]).read_text().splitlines()
    ]
    steps = [(r["kind"], r.get("action")) for r in journal]
    if steps[0] == ("intent", "CreateDeploymentConfig"):  # first use of the shorthand config
        assert steps[1] == ("done", "CreateDeploymentConfig")
        steps = steps[2:]
    assert steps == [
        ("intent", "RegisterTaskDefinition"),
        ("registered", None),
        ("intent", "CreateDeployment"),
        ("created", None),
        ("stop", None),
        ("done", "StopDeployment"),
        ("result", None),
    ]
    assert journal[-1]["exitCode"] == 130


# --- concurrency ----------------------------------------------------------------------------------
def test_active_deployment_is_named_and_queue_waits(stack: Stack, cli: Callable[..., Ran]) -> None:
    stack.push("c7")
    stack.push("c8")
    first = cli(
        "-o",
        "json",
        "deploy",
        "--image",
        f"web={stack.image('c7')}",
        "--no-wait",
        "--deployment-config",
        "canary:10%/10m",
    )
    assert first.code == 0, first.stderr
    dep = first.result["deploymentId"]
    blocked = cli("deploy", "--image", f"web={stack.image('c8')}")
    assert blocked.code == 1
    assert f"deployment {dep} is already active" in blocked.stderr
    assert f"bluegreen watch {dep}" in blocked.stderr
    queued = cli("-o", "json", "deploy", "--image", f"web={stack.image('c8')}", "--queue")
    assert queued.code == 0, queued.stderr
    assert events(queued, "queued")[0]["behind"] == dep
    assert status_of(stack, dep) == "Succeeded"
    assert queued.result["deploymentId"] != dep


# --- re-attach after a crash ----------------------------------------------------------------------
def test_watch_reattaches_after_sigkill(stack: Stack, cli: Callable[..., Ran]) -> None:
    stack.push("c9")
    proc = spawn(
        stack,
        "-o",
        "json",
        "deploy",
        "--image",
        f"web={stack.image('c9')}",
        "--deployment-config",
        SHORT_CANARY,
    )
    try:
        wait_for(canary_live(stack))
        proc.kill()  # SIGKILL: no handler runs
        proc.communicate(timeout=10)
    finally:
        proc.kill()
    journal = [
        json.loads(x) for x in Path(os.environ["BLUEGREEN_JOURNAL"]).read_text().splitlines()
    ]
    created = [r for r in journal if r["kind"] == "created"]
    assert created
    assert not [r for r in journal if r["kind"] == "result"]
    ran = cli("-o", "json", "watch")
    assert ran.code == 0, ran.stderr
    assert ran.result["deploymentId"] == created[-1]["deploymentId"]
    assert ran.result["status"] == "Succeeded"


# --- throttling -----------------------------------------------------------------------------------
def test_release_completes_under_throttling(stack: Stack, cli: Callable[..., Ran]) -> None:
    stack.push("c10")
    sandbox_call(
        stack.sandbox, "faults", {"kind": "throttle", "service": "codedeploy", "rate": 0.2}
    )
    ran = cli("-o", "json", "deploy", "--image", f"web={stack.image('c10')}")
    assert ran.code == 0, ran.stderr
    assert ran.result["status"] == "Succeeded"


# --- stop and rollback ----------------------------------------------------------------------------
def test_stop_in_flight(stack: Stack, cli: Callable[..., Ran]) -> None:
    stack.push("c11")
    before = stack.live_task_definition()
    started = cli(
        "-o",
        "json",
        "deploy",
        "--image",
        f"web={stack.image('c11')}",
        "--no-wait",
        "--deployment-config",
        LONG_CANARY,
    )
    wait_for(canary_live(stack))
    ran = cli("-o", "json", "stop")
    assert ran.code == 0, ran.stderr
    assert ran.result["deploymentId"] == started.result["deploymentId"]
    assert ran.result["rolledBack"] is True
    assert on_blue(stack, before)


def test_approve_before_ready_is_exit_2_and_continues_nothing(
    stack: Stack, cli: Callable[..., Ran]
) -> None:
    """approve while the canary is shifting (the group does not wait in Ready): exit 2 saying
    what approve is for, no ContinueDeployment; the deployment goes on untouched."""
    stack.push("c13")
    started = cli(
        "-o",
        "json",
        "deploy",
        "--image",
        f"web={stack.image('c13')}",
        "--no-wait",
        "--deployment-config",
        LONG_CANARY,
    )
    wait_for(canary_live(stack))
    dep = started.result["deploymentId"]
    ran = cli("approve", dep)
    assert ran.code == 2, ran.stdout + ran.stderr
    assert "not waiting in Ready" in ran.stderr
    info = stack.client("codedeploy").get_deployment(deploymentId=dep)["deploymentInfo"]
    assert info["status"] == "InProgress"
    stopped = cli("-o", "json", "stop", dep)
    assert stopped.code == 0, stopped.stderr


def test_rollback_after_a_finished_release(stack: Stack, cli: Callable[..., Ran]) -> None:
    stack.push("c12")
    before = stack.live_task_definition()
    done = cli("-o", "json", "deploy", "--image", f"web={stack.image('c12')}")
    assert done.code == 0, done.stderr
    assert stack.live_task_definition() != before
    ran = cli("-o", "json", "rollback")
    assert ran.code == 0, ran.stderr
    assert ran.result["status"] == "Succeeded"
    assert ran.result["taskDefinitionArn"] == before
    assert stack.live_task_definition() == before
    hist = cli("-o", "json", "history", "--limit", "2")
    assert hist.code == 0, hist.stderr
    newest, previous, _result = hist.lines
    assert newest["taskDefinitionArn"] == before
    assert previous["deploymentId"] == done.result["deploymentId"]
    assert previous["images"]["web"].endswith(stack.push("c12"))
    assert previous["who"]


# --- bad input: exit 2, nothing written -----------------------------------------------------------
def test_missing_alarm_is_exit_2_with_no_writes(stack: Stack, cli: Callable[..., Ran]) -> None:
    stack.push("c13")
    text = stack.spec.read_text()
    stack.spec.write_text(text.replace("alarms: [", "alarms: [no-such-alarm, "))
    family_before = stack.client("ecs").list_task_definitions(familyPrefix="web")[
        "taskDefinitionArns"
    ]
    ran = cli("deploy", "--image", f"web={stack.image('c13')}")
    assert ran.code == 2
    assert "no-such-alarm does not exist" in ran.stderr
    assert "bluegreen.yaml:" in ran.stderr
    after = stack.client("ecs").list_task_definitions(familyPrefix="web")["taskDefinitionArns"]
    assert after == family_before
    assert not active(stack)


def test_watch_finds_the_journalled_deployment_after_it_ended(
    stack: Stack, cli: Callable[..., Ran]
) -> None:
    stack.push("c14")
    started = cli("-o", "json", "deploy", "--image", f"web={stack.image('c14')}", "--no-wait")
    assert started.code == 0, started.stderr
    wait_idle(stack)  # it ended while nobody watched: only the journal knows it
    ran = cli("-o", "json", "watch")
    assert ran.code == 0, ran.stderr
    assert ran.result["deploymentId"] == started.result["deploymentId"]
    assert ran.result["status"] == "Succeeded"
    again = cli("watch")  # now journalled with its result: nothing in flight
    assert again.code == 2
    assert "no deployment in flight" in again.stderr
