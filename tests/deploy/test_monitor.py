"""The pure monitor: observations in, events and decisions out (no I/O, no clock)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bluegreen.engines import cadence
from bluegreen.engines.codedeploy.machine import (
    END_POLL,
    ROLLBACK_GRACE,
    Approve,
    LifecycleEvent,
    MetricValue,
    MonitorConfig,
    Observation,
    Phase,
    RunVerify,
    State,
    Stop,
    TaskSet,
    initial_state,
    step,
    stop_requested,
)
from bluegreen.errors import ExitCode

DEP = "d-AAAAAAAAA"
RB = "d-BBBBBBBBB"
ORDER = (
    "BeforeInstall",
    "Install",
    "AfterInstall",
    "AllowTestTraffic",
    "AfterAllowTestTraffic",
    "BeforeAllowTraffic",
    "AllowTraffic",
    "AfterAllowTraffic",
)


def lifecycle(done: int, current: str = "InProgress") -> tuple[LifecycleEvent, ...]:
    """The first `done` events Succeeded, the next one `current`, the rest Pending."""
    out = []
    for i, name in enumerate(ORDER):
        status = "Succeeded" if i < done else current if i == done else "Pending"
        out.append(LifecycleEvent(name, status, 10.0 * i, 10.0 * i + 2 if i < done else None))
    return tuple(out)


def sets(green: float, blue_running: int = 2, green_running: int = 2) -> tuple[TaskSet, ...]:
    return (
        TaskSet("Blue", "PRIMARY", 2, 0, blue_running, 100.0 - green, "tg-blue"),
        TaskSet("Green", "ACTIVE", 2, 0, green_running, green, "tg-green"),
    )


def obs(now: float, status: str = "InProgress", **kw: object) -> Observation:
    return Observation(now=now, deployment_id=kw.pop("dep", DEP), status=status, **kw)  # type: ignore[arg-type]


def cfg(**kw: object) -> MonitorConfig:
    base = MonitorConfig(deployment_id=DEP, started_at=0.0, task_definition_arn="arn:td:2")
    return replace(base, **kw)  # type: ignore[arg-type]


def run(state: State, observations: list[Observation]):  # type: ignore[no-untyped-def]
    all_events = []
    decision = None
    for o in observations:
        state, events, decision = step(state, o)
        all_events.extend(events)
    return state, all_events, decision


def test_success_reports_only_changes_and_finishes_zero() -> None:
    state = initial_state(cfg())
    o1 = obs(1, lifecycle=lifecycle(6), task_sets=sets(10))
    state, events, decision = run(state, [o1, replace(o1, now=2)])
    kinds = [e.kind for e in events]
    assert kinds.count("traffic") == 1  # the repeat adds nothing
    assert kinds.count("status") == 1
    assert sum(1 for e in events if e.kind == "lifecycle") == 7  # 6 Succeeded + 1 InProgress
    assert decision.outcome is None
    assert decision.actions == ()
    state, events, decision = step(state, obs(3, lifecycle=lifecycle(7), task_sets=sets(100)))
    assert [e.json()["event"] for e in events] == ["lifecycle", "lifecycle", "traffic"]
    assert events[-1].json() == {
        "event": "traffic",
        "deploymentId": DEP,
        "blue": 0.0,
        "green": 100.0,
    }
    state, events, decision = step(state, obs(4, "Succeeded", lifecycle=lifecycle(8)))
    assert decision.outcome is not None
    assert decision.outcome.result() == {
        "event": "result",
        "deploymentId": DEP,
        "status": "Succeeded",
        "taskDefinitionArn": "arn:td:2",
        "rolledBack": False,
        "exitCode": 0,
        "reason": decision.outcome.reason,
    }
    assert decision.outcome.reason
    assert state.phase is Phase.DONE


def test_lifecycle_duration_is_reported() -> None:
    _, events, _ = step(initial_state(cfg()), obs(1, lifecycle=lifecycle(1)))
    first = events[1].json()
    assert first["name"] == "BeforeInstall"
    assert first["durationSeconds"] == 2.0


@pytest.mark.parametrize(
    ("observation", "kind"),
    [
        (obs(5, alarms={"web-5xx": "ALARM", "lat": "OK"}), "alarm"),
        (
            obs(5, metrics=(MetricValue("green-5xx", 9.0, True, 5.0, "GreaterThanThreshold"),)),
            "metric",
        ),
        (obs(5, verify_result=(False, "exit 1")), "verify"),
        (obs(100), "timeout"),
        (obs(5, cancel=True), "cancel"),
    ],
)
def test_client_triggers_stop_with_rollback(observation: Observation, kind: str) -> None:
    state = initial_state(cfg(deadline=100.0, verify=True))
    state, events, decision = step(state, observation)
    assert decision.actions == (Stop(DEP, rollback=True, reason=state.stop_reason or ""),)
    assert state.phase is Phase.STOPPING
    assert state.stop_kind == kind
    assert events[-1].kind == "stop"


@pytest.mark.parametrize(
    ("kind_obs", "exit_code"),
    [
        (obs(5, alarms={"a": "ALARM"}), ExitCode.FAILED),
        (obs(100), ExitCode.TIMEOUT),
        (obs(5, cancel=True), ExitCode.CANCELLED),
    ],
)
def test_stop_then_follow_rollback_to_its_end(kind_obs: Observation, exit_code: int) -> None:
    state = initial_state(cfg(deadline=100.0))
    state, _, _ = step(state, kind_obs)
    # No new stop while stopping, even though the alarm is still ALARM.
    state, _, d = step(state, replace(kind_obs, now=kind_obs.now + 1, cancel=False))
    assert d.actions == ()
    state, events, d = step(state, obs(102, "Stopped", rollback_deployment_id=RB))
    assert d.observe == RB
    assert state.phase is Phase.ROLLING_BACK
    assert events[-1].json() == {
        "event": "rollback",
        "deploymentId": DEP,
        "rollbackDeploymentId": RB,
    }
    state, _, d = step(state, obs(103, "InProgress", dep=RB, task_sets=sets(0)))
    assert d.outcome is None
    assert d.observe == RB
    state, _, d = step(state, obs(104, "Succeeded", dep=RB))
    assert d.outcome is not None
    assert d.outcome.result()["status"] == "Stopped"
    assert d.outcome.rolled_back is True
    assert d.outcome.exit_code == exit_code
    assert d.outcome.deployment_id == DEP
    assert d.outcome.rollback_deployment_id == RB


def test_codedeploy_own_failure_is_followed_and_never_exit_zero() -> None:
    state = initial_state(cfg())
    state, _, d = step(state, obs(1, "Failed", error="hook failed", rollback_deployment_id=RB))
    assert d.observe == RB
    state, _, d = step(state, obs(2, "Succeeded", dep=RB))
    assert d.outcome is not None
    assert (d.outcome.status, d.outcome.rolled_back, d.outcome.exit_code) == ("Failed", True, 1)


def test_a_rollback_codedeploy_started_names_its_cause() -> None:
    """The result names what CodeDeploy stopped on (its error names the alarm), not only
    "deployment failed; rolled back"."""
    error = "ALARM_ACTIVE: One or more alarms have been activated ... Activated alarms: <web-5xx>"
    state = initial_state(cfg())
    state, _, d = step(state, obs(1, "Stopped", error=error, rollback_deployment_id=RB))
    state, _, d = step(state, obs(2, "Succeeded", dep=RB))
    assert d.outcome is not None
    assert "web-5xx" in d.outcome.reason
    assert "rolled back" in d.outcome.reason


def test_failed_rollback_is_reported() -> None:
    state = initial_state(cfg())
    state, _, _ = step(state, obs(1, "Failed", rollback_deployment_id=RB))
    _, _, d = step(state, obs(2, "Failed", dep=RB))
    assert d.outcome is not None
    assert d.outcome.rolled_back is False
    assert "ended Failed" in d.outcome.reason


def test_failure_without_rollback_waits_grace_then_ends() -> None:
    state = initial_state(cfg())
    state, _, d = step(state, obs(10, "Failed", error="boom"))
    assert d.outcome is None  # CodeDeploy may still name the rollback deployment
    state, _, d = step(state, obs(10 + ROLLBACK_GRACE - 1, "Failed", error="boom"))
    assert d.outcome is None
    _, _, d = step(state, obs(10 + ROLLBACK_GRACE, "Failed", error="boom"))
    assert d.outcome is not None
    assert d.outcome.exit_code == 1
    assert not d.outcome.rolled_back


def test_failure_without_auto_rollback_ends_at_once() -> None:
    state = initial_state(cfg(rollback_expected_on_failure=False))
    _, _, d = step(state, obs(10, "Failed", error="boom"))
    assert d.outcome is not None
    assert "boom" in d.outcome.reason


def test_success_after_a_stop_request_is_not_exit_zero() -> None:
    state = initial_state(cfg())
    state, _, _ = step(state, obs(1, alarms={"a": "ALARM"}))
    _, _, d = step(state, obs(2, "Succeeded"))
    assert d.outcome is not None
    assert d.outcome.exit_code == 1
    assert "bluegreen rollback" in d.outcome.reason


def test_cancel_detach_leaves_it_running() -> None:
    state = initial_state(cfg(on_cancel="detach"))
    _, events, d = step(state, obs(1, cancel=True))
    assert d.actions == ()
    assert d.detach
    assert d.outcome is not None
    assert d.outcome.exit_code == ExitCode.CANCELLED
    assert f"bluegreen watch {DEP}" in events[-1].text


def test_verify_runs_once_when_test_traffic_reaches_green() -> None:
    state = initial_state(cfg(verify=True))
    state, _, d = step(state, obs(1, lifecycle=lifecycle(3)))
    assert RunVerify(DEP) not in d.actions
    state, _, d = step(state, obs(2, lifecycle=lifecycle(4)))
    assert d.actions == (RunVerify(DEP),)
    state, _, d = step(state, obs(3, lifecycle=lifecycle(5)))
    assert d.actions == ()
    state, events, d = step(state, obs(4, lifecycle=lifecycle(5), verify_result=(True, "exit 0")))
    assert d.actions == ()
    assert events[-1].json()["status"] == "passed"


def test_ready_wait_is_approved_after_verify_passes() -> None:
    state = initial_state(cfg(verify=True, approve_after_verify=True))
    state, _, d = step(state, obs(1, "Ready", lifecycle=lifecycle(5, "Pending")))
    assert d.actions == (RunVerify(DEP),)
    state, events, d = step(state, obs(2, "Ready"))
    assert d.actions == ()
    assert not any(e.kind == "waiting" for e in events)
    state, _, d = step(state, obs(3, "Ready", verify_result=(True, "exit 0")))
    assert d.actions == (Approve(DEP),)
    _, _, d = step(state, obs(4, "Ready"))
    assert d.actions == ()  # approved once


def test_ready_wait_without_verify_waits_for_a_human() -> None:
    state = initial_state(cfg())
    state, events, d = step(state, obs(1, "Ready"))
    assert d.actions == ()
    assert d.wait == cadence.STEADY  # nothing scheduled: one read every 6 s
    assert any("bluegreen approve" in e.text for e in events)
    _, events, _ = step(state, obs(2, "Ready"))
    assert events == []


def shifting(start: float) -> tuple[LifecycleEvent, ...]:
    """AllowTraffic in progress since `start` (epoch), everything before it done."""
    return tuple(
        LifecycleEvent(name, "Succeeded", start - 10, start - 5)
        if i < 6
        else LifecycleEvent(name, "InProgress", start, None)
        if name == "AllowTraffic"
        else LifecycleEvent(name, "Pending")
        for i, name in enumerate(ORDER)
    )


def test_a_bake_is_read_every_6_s_and_just_after_each_expected_step() -> None:
    # canary 10%/5m: one step, 300 s after AllowTraffic began at 1000
    state = initial_state(cfg(step_interval=300.0, shift_seconds=300.0))
    during = shifting(1000.0)
    state, _, d = step(state, obs(0, lifecycle=during, task_sets=sets(10), wall=1000.5))
    assert d.wait == cadence.STEADY  # a bake: one read every 6 s
    assert d.target_reads  # and that read is the target alone (it carries status and shift)
    # a fan-out reads the deployments' status in batches and each target once, after the step
    assert d.detail_every == pytest.approx(300.0 + cadence.STEP_MARGIN - 0.5 - 0.05)
    _, _, d = step(state, obs(1, lifecycle=during, task_sets=sets(10), wall=1297.0))
    assert d.wait == pytest.approx(3.0 + cadence.STEP_MARGIN)  # just after the step is due
    assert d.detail_every == pytest.approx(3.0 + cadence.STEP_MARGIN - 0.05)
    _, _, d = step(state, obs(2, lifecycle=during, task_sets=sets(10), wall=1301.0))
    assert d.wait == cadence.STEADY  # the step is past: back to the steady cadence


def test_linear_steps_are_each_read_once_on_the_endpoints_clock() -> None:
    # linear 10%/1m at time scale 2: a step every 30 wall seconds, the steady read every 3 s
    state = initial_state(cfg(step_interval=60.0, shift_seconds=600.0, time_scale=2.0))
    during = shifting(1000.0)
    waits = []
    for wall in (1001.0, 1028.0, 1030.5, 1059.0, 1300.0):
        _, _, d = step(state, obs(wall - 1000, lifecycle=during, wall=wall))
        waits.append(d.wait)
    assert waits == pytest.approx([3.0, 2.3, 3.0, 1.3, 0.3])
    # a clock so fast that the steady cadence would be quicker than MIN_WAIT: MIN_WAIT
    state = initial_state(cfg(time_scale=600.0))
    _, _, d = step(state, obs(0, lifecycle=lifecycle(3), wall=1000.0))
    assert d.wait == cadence.MIN_WAIT


def test_polling_never_overshoots_the_deadline() -> None:
    state = initial_state(cfg(deadline=10.5))
    _, _, d = step(state, obs(10.2))
    assert d.wait == pytest.approx(0.3)


def test_done_state_is_stable() -> None:
    state = initial_state(cfg())
    state, _, d1 = step(state, obs(1, "Succeeded"))
    _, events, d2 = step(state, obs(2, "Failed"))
    assert events == []
    assert d2.outcome == d1.outcome


def test_a_release_faster_than_verify_waits_for_its_verdict() -> None:
    state = initial_state(cfg(verify=True))
    state, _, d = step(state, obs(1, lifecycle=lifecycle(4)))
    assert d.actions == (RunVerify(DEP),)
    state, _, d = step(state, obs(2, "Succeeded", lifecycle=lifecycle(8)))
    assert d.outcome is None
    _, events, d = step(state, obs(3, "Succeeded", verify_result=(False, "exit 1")))
    assert d.outcome is not None
    assert d.outcome.exit_code == 1
    assert "bluegreen rollback" in d.outcome.reason
    assert events[-1].json()["status"] == "failed"


def test_verify_runs_at_the_end_when_test_traffic_was_never_seen() -> None:
    state = initial_state(cfg(verify=True))
    state, _, d = step(state, obs(1, "Succeeded", lifecycle=lifecycle(8)))
    assert d.actions == (RunVerify(DEP),)
    _, _, d = step(state, obs(2, "Succeeded", verify_result=(True, "exit 0")))
    assert d.outcome is not None
    assert d.outcome.exit_code == 0


def test_polling_tightens_around_the_expected_end() -> None:
    # A 10-minute canary that the endpoint ran in 1 s (600x), then a 5-minute termination wait:
    # the end is due 0.5 s after AllowTraffic ended (and up to END_SPREAD later).
    state = initial_state(cfg(shift_seconds=600.0, termination_wait=300.0))
    allow_done = tuple(
        LifecycleEvent(name, "Succeeded", 1000.0, 1001.0 if name == "AllowTraffic" else 1000.0)
        for name in ORDER
    )
    _, _, d = step(state, obs(5, lifecycle=allow_done, wall=1000.5))
    assert d.wait == pytest.approx(0.5)  # until the burst begins, LEAD before the end
    assert d.target_reads
    _, _, d = step(state, obs(5, lifecycle=allow_done, wall=1001.1))
    assert d.wait == END_POLL  # the burst: the deployment's status only, 4 times a second
    assert not d.target_reads
    assert d.detail_every > 0  # its target is not read again meanwhile
    _, _, d = step(state, obs(6, lifecycle=allow_done, wall=1001.5))
    assert d.wait == END_POLL
    _, _, d = step(state, obs(7, lifecycle=allow_done, wall=1010.0))
    assert d.wait == cadence.MIN_WAIT  # well past it: the steady cadence (600x: its floor)
    # Unknown wait or a running shift: the steady cadence.
    _, _, d = step(initial_state(cfg()), obs(5, lifecycle=allow_done, wall=1001.5))
    assert d.wait == cadence.STEADY
    # In real time (AWS): the end is due 300 s after AllowTraffic's end at 1001.
    state = initial_state(cfg(termination_wait=300.0))
    _, _, d = step(state, obs(5, lifecycle=allow_done, wall=1200.0))
    assert d.wait == cadence.STEADY
    assert d.detail_every == pytest.approx(1301.0 - cadence.LEAD - 1200.0)  # no target read
    _, _, d = step(state, obs(5, lifecycle=allow_done, wall=1297.0))
    assert d.wait == pytest.approx(1301.0 - cadence.LEAD - 1297.0)  # to the burst's start
    _, _, d = step(state, obs(5, lifecycle=allow_done, wall=1320.0))
    assert d.wait == END_POLL  # the original task set is still being removed


def test_the_end_of_a_ready_wait_that_stops_the_deployment_is_awaited_in_a_burst() -> None:
    state = initial_state(cfg(ready_wait=60.0))
    ready = lifecycle(5, "Pending")  # AfterAllowTestTraffic ended at 42 (epoch)
    _, _, d = step(state, obs(1, "Ready", lifecycle=ready, wall=45.0))
    assert d.wait == cadence.STEADY
    _, _, d = step(state, obs(1, "Ready", lifecycle=ready, wall=99.0))
    assert d.wait == pytest.approx(102.0 - cadence.LEAD - 99.0)  # the wait ends at 42 + 60
    _, _, d = step(state, obs(2, "Ready", lifecycle=ready, wall=101.8))
    assert d.wait == END_POLL
    _, _, d = step(initial_state(cfg()), obs(2, "Ready", lifecycle=ready, wall=101.8))
    assert d.wait == cadence.STEADY  # a group that waits for ever: nothing scheduled


def test_a_requested_stop_is_followed_and_exits_zero() -> None:
    state = stop_requested(initial_state(cfg()), rollback=True, reason="stopped by request")
    _, _, d = step(state, obs(1, alarms={"a": "ALARM"}))
    assert d.actions == ()  # no second stop
    state, _, _ = step(state, obs(2, "Stopped", rollback_deployment_id=RB))
    _, _, d = step(state, obs(3, "Succeeded", dep=RB))
    assert d.outcome is not None
    assert (d.outcome.exit_code, d.outcome.rolled_back) == (0, True)
    state = stop_requested(initial_state(cfg()), rollback=True, reason="stopped by request")
    state, _, _ = step(state, obs(2, "Stopped", rollback_deployment_id=RB))
    _, _, d = step(state, obs(3, "Failed", dep=RB))
    assert d.outcome is not None
    assert d.outcome.exit_code == 1  # the rollback failed


def test_a_requested_stop_without_rollback_exits_zero_when_stopped() -> None:
    state = stop_requested(initial_state(cfg()), rollback=False, reason="stopped by request")
    _, _, d = step(state, obs(1, "Stopped"))
    assert d.outcome is not None
    assert (d.outcome.exit_code, d.outcome.rolled_back, d.outcome.status) == (0, False, "Stopped")
