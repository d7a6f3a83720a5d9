"""The rolling watch as a pure state machine: observations in, events and decisions out."""

from __future__ import annotations

import datetime as dt

import pytest

from bluegreen.engines.rolling import rollout as rolling
from bluegreen.engines.rolling.rollout import (
    EcsDeployment,
    RollBack,
    RollingConfig,
    RollingObservation,
    RollingPhase,
    ServiceEvent,
)
from bluegreen.errors import ExitCode, PreflightError

NEW = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:8"
OLD = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:7"


def cfg(**kw: object) -> RollingConfig:
    base: dict[str, object] = {
        "deployment_id": "ecs-svc/new",
        "task_definition_arn": NEW,
        "previous_task_definition_arn": OLD,
        "started_at": 0.0,
    }
    base.update(kw)
    return RollingConfig(**base)  # type: ignore[arg-type]


def dep(
    id_: str,
    status: str,
    td: str,
    state: str | None = "IN_PROGRESS",
    running: int = 0,
    failed: int = 0,
    reason: str | None = None,
) -> EcsDeployment:
    return EcsDeployment(id_, status, td, 2, running, 2 - running, failed, state, reason)


def obs(
    now: float, *deps: EcsDeployment, events: tuple[ServiceEvent, ...] = ()
) -> RollingObservation:
    return RollingObservation(now=now, deployments=deps, events=events)


def run(
    config: RollingConfig, *observations: RollingObservation
) -> tuple[rolling.RollingState, list[rolling.Event], list[rolling.RollingDecision]]:
    state = rolling.initial_state(config)
    events: list[rolling.Event] = []
    decisions: list[rolling.RollingDecision] = []
    for o in observations:
        state, evs, decision = rolling.step(state, o)
        events += evs
        decisions.append(decision)
    return state, events, decisions


def test_success_reports_only_changes_and_completes() -> None:
    old = dep("ecs-svc/old", "ACTIVE", OLD, "COMPLETED", running=2)
    state, events, decisions = run(
        cfg(),
        obs(1, dep("ecs-svc/new", "PRIMARY", NEW), old),
        obs(2, dep("ecs-svc/new", "PRIMARY", NEW), old),  # nothing changed: no event
        obs(3, dep("ecs-svc/new", "PRIMARY", NEW, running=2), old),
        obs(4, dep("ecs-svc/new", "PRIMARY", NEW, "COMPLETED", running=2)),
    )
    kinds = [e.kind for e in events]
    assert kinds == [
        "deployment",
        "deployment",
        "deployment",
        "deployment",
        "deployment",
        "completed",
    ]
    assert events[0].text == (
        "  ecs-svc/new PRIMARY IN_PROGRESS web:8: 0/2 running, 2 pending, 0 failed"
    )
    assert events[4].json() == {
        "event": "deployment",
        "deploymentId": "ecs-svc/old",
        "status": "INACTIVE",
    }
    assert [d.outcome for d in decisions[:3]] == [None, None, None]
    outcome = decisions[-1].outcome
    assert outcome is not None
    assert outcome.result() == {
        "event": "result",
        "deploymentId": "ecs-svc/new",
        "status": "Succeeded",
        "taskDefinitionArn": NEW,
        "rolledBack": False,
        "exitCode": 0,
        "reason": outcome.reason,
    }
    assert state.phase is RollingPhase.DONE
    # A finished machine keeps answering with its outcome.
    assert rolling.step(state, obs(5))[2].outcome == outcome


def test_service_events_reported_once() -> None:
    ev = (ServiceEvent("e1", "has started 2 tasks"),)
    _, events, _ = run(
        cfg(),
        obs(1, dep("ecs-svc/new", "PRIMARY", NEW), events=ev),
        obs(2, dep("ecs-svc/new", "PRIMARY", NEW), events=ev),
    )
    assert [e.text for e in events if e.kind == "serviceEvent"] == ["  ecs: has started 2 tasks"]


def test_breaker_rollback_is_followed_and_reported() -> None:
    c = cfg(breaker=True, breaker_rollback=True)
    reason = "tasks failed to start"
    _, events, decisions = run(
        c,
        obs(1, dep("ecs-svc/new", "PRIMARY", NEW, failed=2)),
        obs(2, dep("ecs-svc/new", "PRIMARY", NEW, "FAILED", failed=3, reason=reason)),
        obs(
            3,
            dep("ecs-svc/back", "PRIMARY", OLD),
            dep("ecs-svc/new", "ACTIVE", NEW, "FAILED", failed=3, reason=reason),
        ),
        obs(4, dep("ecs-svc/back", "PRIMARY", OLD, "COMPLETED", running=2)),
    )
    assert all(not d.actions for d in decisions)  # ECS rolls back, not us
    kinds = [e.kind for e in events]
    assert kinds.count("circuitBreaker") == 1
    assert "rollback" in kinds
    outcome = decisions[-1].outcome
    assert outcome is not None
    assert outcome.rolled_back is True
    assert outcome.exit_code == ExitCode.FAILED
    assert outcome.status == "Failed"
    assert outcome.rollback_deployment_id == "ecs-svc/back"
    assert "rolled back by the circuit breaker" in outcome.reason
    assert reason in outcome.reason


def test_breaker_rollback_seen_only_after_the_fact() -> None:
    """At a high time scale the failed deployment may already be gone when we look."""
    failed = ServiceEvent("e9", "(service api) deployment ecs-svc/new deployment failed: boom.")
    _, _, decisions = run(
        cfg(breaker=True, breaker_rollback=True),
        obs(1, dep("ecs-svc/new", "PRIMARY", NEW)),
        obs(2, dep("ecs-svc/back", "PRIMARY", OLD, "COMPLETED", running=2), events=(failed,)),
    )
    outcome = decisions[-1].outcome
    assert outcome is not None
    assert (outcome.rolled_back, outcome.exit_code) == (True, 1)
    assert outcome.reason.startswith(failed.message)


def test_breaker_without_rollback_and_no_flag_fails_without_action() -> None:
    _, _, decisions = run(
        cfg(breaker=True),
        obs(1, dep("ecs-svc/new", "PRIMARY", NEW, "FAILED", failed=3, reason="boom")),
    )
    outcome = decisions[-1].outcome
    assert outcome is not None
    assert not decisions[-1].actions
    assert (outcome.rolled_back, outcome.exit_code, outcome.status) == (False, 1, "Failed")
    assert "--rollback" in outcome.reason


def test_breaker_off_client_threshold_and_rollback_flag() -> None:
    c = cfg(rollback=True, failure_threshold=3)
    state, _events, decisions = run(
        c,
        obs(1, dep("ecs-svc/new", "PRIMARY", NEW, failed=2)),
        obs(2, dep("ecs-svc/new", "PRIMARY", NEW, failed=3)),
    )
    assert decisions[0].actions == ()
    assert decisions[1].actions == (RollBack(OLD, decisions[1].actions[0].reason),)
    assert "threshold 3" in decisions[1].actions[0].reason
    assert state.phase is RollingPhase.ROLLING_BACK
    # The loop did UpdateService(OLD): ECS shows a new PRIMARY deployment of the old revision.
    state, evs, d = rolling.step(
        state, obs(3, dep("ecs-svc/back", "PRIMARY", OLD), dep("ecs-svc/new", "ACTIVE", NEW))
    )
    assert d.outcome is None
    assert any(e.kind == "rollback" and "ecs-svc/back" in e.text for e in evs)
    state, _, d = rolling.step(state, obs(4, dep("ecs-svc/back", "PRIMARY", OLD, "COMPLETED", 2)))
    assert d.outcome is not None
    assert (d.outcome.rolled_back, d.outcome.exit_code) == (True, 1)
    assert "rolled back by bluegreen" in d.outcome.reason


def test_rollback_that_fails_is_reported() -> None:
    state, _, _ = run(cfg(rollback=True), obs(1, dep("ecs-svc/new", "PRIMARY", NEW, failed=5)))
    state, _, d = rolling.step(
        state, obs(2, dep("ecs-svc/back", "PRIMARY", OLD, "FAILED", failed=3))
    )
    assert d.outcome is not None
    assert (d.outcome.rolled_back, d.outcome.exit_code) == (False, 1)
    assert "failed too" in d.outcome.reason


def test_timeout_exit_3_always_rolls_back() -> None:
    """A timeout leaves no half-done rollout behind (DESIGN.md I2): back to the previous
    revision, with or without --rollback."""
    for rollback in (False, True):
        state, _, decisions = run(
            cfg(deadline=10.0, rollback=rollback),
            obs(5, dep("ecs-svc/new", "PRIMARY", NEW)),
            obs(10, dep("ecs-svc/new", "PRIMARY", NEW, running=1)),
        )
        assert decisions[0].wait <= 1.0
        assert decisions[-1].outcome is None
        assert decisions[-1].actions
        assert decisions[-1].actions[0].task_definition_arn == OLD
        _, _, d = rolling.step(state, obs(12, dep("ecs-svc/back", "PRIMARY", OLD, "COMPLETED", 2)))
        assert d.outcome is not None
        assert (d.outcome.exit_code, d.outcome.rolled_back) == (3, True)


def test_superseded_by_another_update() -> None:
    other = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:9"
    _, _, decisions = run(
        cfg(breaker=True, breaker_rollback=True),
        obs(1, dep("ecs-svc/other", "PRIMARY", other), dep("ecs-svc/new", "ACTIVE", NEW)),
    )
    outcome = decisions[-1].outcome
    assert outcome is not None
    assert (outcome.exit_code, outcome.status) == (1, "Stopped")
    assert "replaced by ecs-svc/other (web:9)" in outcome.reason


def test_breaker_rollback_that_never_appears_gives_up() -> None:
    failed = dep("ecs-svc/new", "PRIMARY", NEW, "FAILED", failed=3, reason="x")
    _, _, decisions = run(
        cfg(breaker=True, breaker_rollback=True),
        obs(1, failed),
        obs(1 + rolling.ROLLBACK_GRACE, failed),
    )
    assert decisions[0].outcome is None
    outcome = decisions[-1].outcome
    assert outcome is not None
    assert (outcome.rolled_back, outcome.exit_code) == (False, 1)


def test_cancel_rolls_back_when_asked() -> None:
    state = rolling.initial_state(cfg(on_cancel="rollback"))
    o = RollingObservation(now=1, deployments=(dep("ecs-svc/new", "PRIMARY", NEW),), cancel=True)
    state, _, d = rolling.step(state, o)
    assert d.outcome is None
    assert [a.task_definition_arn for a in d.actions] == [OLD]
    _, _, d = rolling.step(state, obs(2, dep("ecs-svc/back", "PRIMARY", OLD, "COMPLETED", 2)))
    assert d.outcome is not None
    assert (d.outcome.exit_code, d.outcome.rolled_back) == (ExitCode.CANCELLED, True)


def test_cancel_detaches() -> None:
    state = rolling.initial_state(cfg())
    o = RollingObservation(now=1, deployments=(dep("ecs-svc/new", "PRIMARY", NEW),), cancel=True)
    _, _, d = rolling.step(state, o)
    assert d.outcome is not None
    assert d.outcome.exit_code == ExitCode.CANCELLED


def test_no_rollout_state_uses_counts() -> None:
    _, _, decisions = run(
        cfg(),
        obs(
            1,
            dep("ecs-svc/new", "PRIMARY", NEW, None, running=2),
            dep("ecs-svc/old", "ACTIVE", OLD, None, running=1),
        ),
        obs(2, dep("ecs-svc/new", "PRIMARY", NEW, None, running=2)),
    )
    assert decisions[0].outcome is None
    assert decisions[1].outcome is not None
    assert decisions[1].outcome.exit_code == 0


@pytest.mark.parametrize(
    ("desired", "low", "high", "blocked"),
    [
        (1, 100, 100, True),
        (1, 50, 100, True),  # ceil(0.5) = 1 must stay healthy
        (1, 0, 100, False),
        (1, 100, 200, False),
        (2, 100, 100, True),
        (2, 50, 100, False),
        (3, 100, 133, True),  # floor(3.99) = 3
        (3, 100, 134, False),
        (0, 100, 100, False),
        (4, 75, 100, False),
    ],
)
def test_headroom(desired: int, low: int, high: int, blocked: bool) -> None:
    assert (rolling.headroom_problem(desired, low, high) is not None) is blocked


def test_check_headroom_names_the_fix() -> None:
    service = {
        "desiredCount": 2,
        "deploymentConfiguration": {"minimumHealthyPercent": 100, "maximumPercent": 100},
    }
    with pytest.raises(PreflightError) as info:
        rolling.check_headroom(service, where="web-cluster/web")
    err = info.value
    assert err.exit_code == ExitCode.USAGE
    assert err.where == "web-cluster/web"
    assert "desiredCount 2" in err.message
    assert err.hint is not None
    assert "maximumPercent to at least 150" in err.hint
    assert "minimumHealthyPercent to at most 50" in err.hint


@pytest.mark.parametrize(("desired", "expected"), [(1, 3), (6, 3), (7, 4), (1000, 200)])
def test_failure_threshold(desired: int, expected: int) -> None:
    assert rolling.failure_threshold(desired) == expected


def test_observation_from_describe_services() -> None:
    t0 = dt.datetime(2026, 11, 26, 10, 0, tzinfo=dt.UTC)
    service = {
        "deployments": [
            {
                "id": "ecs-svc/1",
                "status": "PRIMARY",
                "taskDefinition": NEW,
                "desiredCount": 2,
                "runningCount": 1,
                "pendingCount": 1,
                "failedTasks": 0,
                "rolloutState": "IN_PROGRESS",
            },
        ],
        "events": [
            {"id": "b", "message": "newer", "createdAt": t0 + dt.timedelta(seconds=5)},
            {"id": "a", "message": "older", "createdAt": t0 + dt.timedelta(seconds=1)},
            {"id": "z", "message": "before", "createdAt": t0 - dt.timedelta(seconds=1)},
        ],
    }
    o = rolling.observation_from(service, 3.0, since=t0.timestamp())
    assert o.deployments == (
        EcsDeployment("ecs-svc/1", "PRIMARY", NEW, 2, 1, 1, 0, "IN_PROGRESS", None),
    )
    assert [e.message for e in o.events] == ["older", "newer"]
