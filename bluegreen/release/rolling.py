"""Rolling updates of ECS-controller services: preflight, the pure watch state machine, and the
use case that registers the revision, updates the service and follows the rollout.

The watch is a pure function like the CodeDeploy monitor:
`step(state, observation) -> (state, events, decision)`. An observation is one
DescribeServices answer (deployments with their rolloutState and counts, new service events);
the decision says wait, roll back to the previous revision, or finish with an outcome. The loop
(`watch`) owns the clock, the sleep and the AWS calls.

What ECS does, and what the step honours:
- UpdateService starts a deployment (status PRIMARY, rolloutState IN_PROGRESS); the one it
  replaces becomes ACTIVE and drains; COMPLETED when the new tasks are running and steady.
- The deployment circuit breaker marks a rollout FAILED after repeated task failures; with
  `rollback` on, ECS itself starts a new PRIMARY deployment of the previous revision.
- With the breaker off ECS retries forever, so the step applies the breaker's own threshold
  (half the desired count, at least 3, at most 200 failed tasks) on the client side.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from bluegreen.errors import ExitCode, PreflightError
from bluegreen.release.monitor import Event, Outcome

FAST_POLL = 1.0  # seconds between DescribeServices calls
ROLLBACK_GRACE = 30.0  # seconds to wait for the breaker's rollback deployment to appear
ROLLBACK_TIMEOUT = 1800.0  # seconds a rollback may take before the watch gives up


# --- preflight ----------------------------------------------------------------------------------
def headroom_problem(
    desired: int, minimum_healthy_percent: int, maximum_percent: int
) -> tuple[str, str] | None:
    """(problem, fix) when the service's percentages leave ECS no room to replace a task.

    ECS rounds the lower bound up and the upper bound down: it may run at most
    floor(desired × max / 100) tasks and must keep ceil(desired × min / 100) healthy. When it
    can neither start an extra task nor stop one, the rollout never makes progress.
    """
    if desired <= 0:
        return None
    upper = math.floor(desired * maximum_percent / 100)
    lower = math.ceil(desired * minimum_healthy_percent / 100)
    if upper > desired or lower < desired:
        return None
    need_max = math.ceil(100 * (desired + 1) / desired)
    need_min = math.floor(100 * (desired - 1) / desired)
    problem = (
        f"desiredCount {desired} with minimumHealthyPercent {minimum_healthy_percent} and "
        f"maximumPercent {maximum_percent} blocks a rolling update: ECS may run at most "
        f"{upper} task{'s' if upper != 1 else ''} and must keep {lower} healthy, so it can "
        "neither start a new task nor stop an old one"
    )
    fix = f"raise maximumPercent to at least {need_max} (200 is usual)"
    if need_min >= 0 and desired > 1:
        fix += f", or lower minimumHealthyPercent to at most {need_min}"
    elif desired == 1:
        fix += ", or lower minimumHealthyPercent to 0 (accepting a moment with no task)"
    fix += (
        ": aws ecs update-service --cluster CLUSTER --service SERVICE "
        f"--deployment-configuration maximumPercent={max(need_max, 200)},"
        f"minimumHealthyPercent={minimum_healthy_percent}"
    )
    return problem, fix


def check_headroom(service: Mapping[str, Any], *, where: str, desired: int | None = None) -> None:
    """PreflightError (exit 2) when the live service's percentages would block the rollout."""
    conf = service.get("deploymentConfiguration") or {}
    count = int(service.get("desiredCount", 0) if desired is None else desired)
    found = headroom_problem(
        count,
        int(conf.get("minimumHealthyPercent", 100)),
        int(conf.get("maximumPercent", 200)),
    )
    if found is not None:
        problem, fix = found
        raise PreflightError(problem, where=where, hint=fix)


def failure_threshold(desired: int) -> int:
    """The circuit breaker's failed-task threshold for a desired count (ECS's own rule)."""
    return max(3, min(200, math.ceil(desired / 2)))


# --- observations -------------------------------------------------------------------------------
@dataclass(frozen=True)
class EcsDeployment:
    id: str
    status: str  # PRIMARY | ACTIVE | INACTIVE
    task_definition: str
    desired: int = 0
    running: int = 0
    pending: int = 0
    failed: int = 0
    rollout_state: str | None = None  # IN_PROGRESS | COMPLETED | FAILED
    rollout_reason: str | None = None


@dataclass(frozen=True)
class ServiceEvent:
    id: str
    message: str


@dataclass(frozen=True)
class RollingObservation:
    """One DescribeServices answer at `now` (monotonic seconds)."""

    now: float
    deployments: tuple[EcsDeployment, ...]
    events: tuple[ServiceEvent, ...] = ()  # service events since the rollout began, oldest first
    cancel: bool = False

    def find(self, deployment_id: str | None) -> EcsDeployment | None:
        return next((d for d in self.deployments if d.id == deployment_id), None)

    @property
    def primary(self) -> EcsDeployment | None:
        return next((d for d in self.deployments if d.status == "PRIMARY"), None)


def observation_from(
    service: Mapping[str, Any], now: float, *, since: float | None = None, cancel: bool = False
) -> RollingObservation:
    """Build an observation from a DescribeServices `services[0]` (events after `since`)."""
    deployments = tuple(
        EcsDeployment(
            id=str(d.get("id", "")),
            status=str(d.get("status", "")),
            task_definition=str(d.get("taskDefinition", "")),
            desired=int(d.get("desiredCount", 0) or 0),
            running=int(d.get("runningCount", 0) or 0),
            pending=int(d.get("pendingCount", 0) or 0),
            failed=int(d.get("failedTasks", 0) or 0),
            rollout_state=d.get("rolloutState"),
            rollout_reason=d.get("rolloutStateReason"),
        )
        for d in service.get("deployments") or []
    )
    events: list[ServiceEvent] = []
    for ev in service.get("events") or []:
        created = ev.get("createdAt")
        stamp = created.timestamp() if hasattr(created, "timestamp") else None
        if since is not None and stamp is not None and stamp < since:
            continue
        events.append(ServiceEvent(str(ev.get("id", "")), str(ev.get("message", ""))))
    events.reverse()  # ECS lists the newest first
    return RollingObservation(now=now, deployments=deployments, events=tuple(events), cancel=cancel)


# --- the state machine --------------------------------------------------------------------------
@dataclass(frozen=True)
class RollingConfig:
    deployment_id: str  # the ECS deployment started by our UpdateService
    task_definition_arn: str
    previous_task_definition_arn: str | None
    started_at: float
    deadline: float | None = None
    breaker: bool = False  # deploymentCircuitBreaker.enable
    breaker_rollback: bool = False  # deploymentCircuitBreaker.rollback
    rollback: bool = False  # --rollback: return to the previous revision when ECS does not
    failure_threshold: int = 3  # failed tasks that fail the rollout when the breaker is off


class RollingPhase(StrEnum):
    WATCHING = "watching"
    ROLLING_BACK = "rolling-back"
    DONE = "done"


@dataclass(frozen=True)
class RollBack:
    """Action: UpdateService back to the previous revision."""

    task_definition_arn: str
    reason: str


@dataclass(frozen=True)
class RollingDecision:
    actions: tuple[RollBack, ...] = ()
    wait: float = FAST_POLL
    outcome: Outcome | None = None


Seen = tuple[str, str | None, int, int, int, int]


@dataclass(frozen=True)
class RollingState:
    config: RollingConfig
    phase: RollingPhase = RollingPhase.WATCHING
    seen: Mapping[str, Seen] = field(default_factory=dict)
    seen_events: frozenset[str] = frozenset()
    failure: str | None = None
    failure_exit: int = ExitCode.FAILED
    failure_status: str = "Failed"
    rollback_by: str | None = None  # "the circuit breaker" | "bluegreen"
    rollback_id: str | None = None
    failed_at: float | None = None
    outcome: Outcome | None = None


def initial_state(config: RollingConfig) -> RollingState:
    return RollingState(config=config)


def revision(arn: str | None) -> str:
    """`family:revision` from a task definition ARN (for humans)."""
    if not arn:
        return "-"
    return arn.rsplit("/", 1)[-1]


def _diff_events(state: RollingState, obs: RollingObservation) -> tuple[RollingState, list[Event]]:
    events: list[Event] = []
    seen = dict(state.seen)
    current = set()
    for d in obs.deployments:
        current.add(d.id)
        key: Seen = (d.status, d.rollout_state, d.desired, d.running, d.pending, d.failed)
        if seen.get(d.id) == key:
            continue
        seen[d.id] = key
        data = {
            "deploymentId": d.id,
            "status": d.status,
            "rolloutState": d.rollout_state,
            "taskDefinition": d.task_definition,
            "desired": d.desired,
            "running": d.running,
            "pending": d.pending,
            "failed": d.failed,
        }
        text = (
            f"  {d.id} {d.status} {d.rollout_state or '-'} {revision(d.task_definition)}: "
            f"{d.running}/{d.desired} running, {d.pending} pending, {d.failed} failed"
        )
        if d.rollout_state == "FAILED" and d.rollout_reason:
            data["reason"] = d.rollout_reason
            text += f" ({d.rollout_reason})"
        events.append(Event("deployment", data, text))
    for gone in sorted(set(seen) - current):
        if seen[gone][0] != "INACTIVE":
            seen[gone] = ("INACTIVE", seen[gone][1], 0, 0, 0, seen[gone][5])
            events.append(
                Event(
                    "deployment",
                    {"deploymentId": gone, "status": "INACTIVE"},
                    f"  {gone} INACTIVE: drained",
                )
            )
    seen_events = set(state.seen_events)
    for ev in obs.events:
        if ev.id in seen_events:
            continue
        seen_events.add(ev.id)
        events.append(Event("serviceEvent", {"message": ev.message}, f"  ecs: {ev.message}"))
    return replace(state, seen=seen, seen_events=frozenset(seen_events)), events


def _finish(
    state: RollingState, events: list[Event], outcome: Outcome
) -> tuple[RollingState, list[Event], RollingDecision]:
    state = replace(state, phase=RollingPhase.DONE, outcome=outcome)
    return state, events, RollingDecision(outcome=outcome)


def step(
    state: RollingState, obs: RollingObservation
) -> tuple[RollingState, list[Event], RollingDecision]:
    """Advance the rolling watch by one observation."""
    if state.phase is RollingPhase.DONE:
        assert state.outcome is not None
        return state, [], RollingDecision(outcome=state.outcome)
    state, events = _diff_events(state, obs)
    if state.phase is RollingPhase.ROLLING_BACK:
        return _step_rollback(state, obs, events)
    cfg = state.config
    ours = obs.find(cfg.deployment_id)
    primary = obs.primary

    if obs.cancel:
        outcome = Outcome(
            cfg.deployment_id,
            "InProgress",
            False,
            ExitCode.CANCELLED,
            "cancelled: stopped watching; ECS carries on with the rollout "
            "(follow it with `bluegreen status`)",
            None,
            cfg.task_definition_arn,
        )
        return _finish(state, events, outcome)

    if ours is not None and ours.status == "PRIMARY" and _completed(ours, obs):
        outcome = Outcome(
            cfg.deployment_id,
            "Succeeded",
            False,
            ExitCode.OK,
            f"rollout completed: {ours.running}/{ours.desired} tasks of "
            f"{revision(cfg.task_definition_arn)} running",
            None,
            cfg.task_definition_arn,
        )
        events.append(Event("completed", {"deploymentId": ours.id}, outcome.reason))
        return _finish(state, events, outcome)

    if primary is not None and primary.id != cfg.deployment_id:
        # Our deployment is no longer the primary one: the breaker rolled back, or someone
        # else started a deployment.
        if cfg.breaker_rollback and primary.task_definition == cfg.previous_task_definition_arn:
            reason = (ours.rollout_reason if ours else None) or "the circuit breaker tripped"
            return _start_following(
                state, events, obs, reason, by="the circuit breaker", rollback_id=primary.id
            )
        outcome = Outcome(
            cfg.deployment_id,
            "Stopped",
            False,
            ExitCode.FAILED,
            f"deployment {cfg.deployment_id} was replaced by {primary.id} "
            f"({revision(primary.task_definition)}): another update of the service started",
            None,
            cfg.task_definition_arn,
        )
        return _finish(state, events, outcome)

    if ours is None:
        # Not listed yet (or any more) and nothing replaced it: look again.
        return state, events, RollingDecision(wait=FAST_POLL)

    if ours.rollout_state == "FAILED":
        reason = ours.rollout_reason or "the rollout failed"
        if cfg.breaker_rollback:
            return _await_breaker_rollback(state, events, obs, reason)
        return _fail(state, events, obs, f"circuit breaker: {reason}", ExitCode.FAILED)

    if not cfg.breaker and ours.failed >= cfg.failure_threshold:
        reason = (
            f"{ours.failed} tasks of {revision(ours.task_definition)} failed to start "
            f"(threshold {cfg.failure_threshold}; the service's circuit breaker is off)"
        )
        return _fail(state, events, obs, reason, ExitCode.FAILED)

    if cfg.deadline is not None and obs.now >= cfg.deadline:
        return _fail(
            state,
            events,
            obs,
            f"timed out after {obs.now - cfg.started_at:.0f}s with {ours.running}/"
            f"{ours.desired} tasks running",
            ExitCode.TIMEOUT,
            status="InProgress",
        )
    return state, events, RollingDecision(wait=_wait(cfg, obs))


def _wait(cfg: RollingConfig, obs: RollingObservation) -> float:
    if cfg.deadline is not None:
        return max(0.05, min(FAST_POLL, cfg.deadline - obs.now))
    return FAST_POLL


def _completed(ours: EcsDeployment, obs: RollingObservation) -> bool:
    if ours.rollout_state is not None:
        return ours.rollout_state == "COMPLETED"
    # No rolloutState (older APIs): steady when ours is the only deployment and fully running.
    return len(obs.deployments) == 1 and ours.running >= ours.desired and ours.pending == 0


def _await_breaker_rollback(
    state: RollingState, events: list[Event], obs: RollingObservation, reason: str
) -> tuple[RollingState, list[Event], RollingDecision]:
    cfg = state.config
    if state.failed_at is None:
        state = replace(state, failed_at=obs.now, failure=reason)
        events.append(
            Event(
                "circuitBreaker",
                {"deploymentId": cfg.deployment_id, "reason": reason, "rollback": True},
                f"circuit breaker tripped: {reason}; ECS rolls back to "
                f"{revision(cfg.previous_task_definition_arn)}",
            )
        )
    failed_at = state.failed_at if state.failed_at is not None else obs.now
    if obs.now - failed_at >= ROLLBACK_GRACE:
        outcome = Outcome(
            cfg.deployment_id,
            "Failed",
            False,
            ExitCode.FAILED,
            f"circuit breaker: {reason}; ECS started no rollback deployment",
            None,
            cfg.task_definition_arn,
        )
        return _finish(state, events, outcome)
    return state, events, RollingDecision(wait=FAST_POLL)


def _start_following(
    state: RollingState,
    events: list[Event],
    obs: RollingObservation,
    reason: str,
    *,
    by: str,
    rollback_id: str,
) -> tuple[RollingState, list[Event], RollingDecision]:
    cfg = state.config
    if state.failed_at is None and by == "the circuit breaker":
        events.append(
            Event(
                "circuitBreaker",
                {"deploymentId": cfg.deployment_id, "reason": reason, "rollback": True},
                f"circuit breaker tripped: {reason}",
            )
        )
    state = replace(
        state,
        phase=RollingPhase.ROLLING_BACK,
        failure=state.failure or reason,
        failed_at=state.failed_at if state.failed_at is not None else obs.now,
        rollback_by=by,
        rollback_id=rollback_id,
    )
    events.append(
        Event(
            "rollback",
            {
                "deploymentId": cfg.deployment_id,
                "rollbackDeploymentId": rollback_id,
                "by": by,
                "taskDefinition": cfg.previous_task_definition_arn,
            },
            f"rolling back ({by}): following {rollback_id} to "
            f"{revision(cfg.previous_task_definition_arn)}",
        )
    )
    return _step_rollback(state, obs, events)


def _fail(
    state: RollingState,
    events: list[Event],
    obs: RollingObservation,
    reason: str,
    exit_code: int,
    *,
    status: str = "Failed",
) -> tuple[RollingState, list[Event], RollingDecision]:
    """Our rollout failed and ECS will not roll it back: roll back ourselves, or finish."""
    cfg = state.config
    previous = cfg.previous_task_definition_arn
    state = replace(
        state, failure=reason, failure_exit=exit_code, failure_status=status, failed_at=obs.now
    )
    if cfg.rollback and previous and previous != cfg.task_definition_arn:
        state = replace(
            state, phase=RollingPhase.ROLLING_BACK, rollback_by="bluegreen", failure_status="Failed"
        )
        events.append(
            Event(
                "rollback",
                {"deploymentId": cfg.deployment_id, "by": "bluegreen", "taskDefinition": previous},
                f"{reason}; rolling back to {revision(previous)}",
            )
        )
        return state, events, RollingDecision((RollBack(previous, reason),), wait=FAST_POLL)
    if cfg.rollback and not previous:
        hint = "; there is no previous revision to roll back to"
    elif cfg.rollback:
        hint = "; the previous revision is the same one, nothing to roll back"
    else:
        hint = (
            "; the service stays as it is: run `bluegreen rollback`, or deploy with --rollback "
            "(or enable the service's circuit breaker with rollback)"
        )
    outcome = Outcome(
        cfg.deployment_id, status, False, exit_code, reason + hint, None, cfg.task_definition_arn
    )
    return _finish(state, events, outcome)


def _step_rollback(
    state: RollingState, obs: RollingObservation, events: list[Event]
) -> tuple[RollingState, list[Event], RollingDecision]:
    cfg = state.config
    failed_at = state.failed_at if state.failed_at is not None else obs.now
    if state.rollback_id is None:
        primary = obs.primary
        if (
            primary is not None
            and primary.id != cfg.deployment_id
            and primary.task_definition == cfg.previous_task_definition_arn
        ):
            state = replace(state, rollback_id=primary.id)
            events.append(
                Event(
                    "rollback",
                    {"deploymentId": cfg.deployment_id, "rollbackDeploymentId": primary.id},
                    f"  following rollback deployment {primary.id}",
                )
            )
        elif obs.now - failed_at >= ROLLBACK_GRACE:
            return _finish(
                state,
                events,
                Outcome(
                    cfg.deployment_id,
                    state.failure_status,
                    False,
                    state.failure_exit,
                    f"{state.failure}; the rollback deployment never appeared",
                    None,
                    cfg.task_definition_arn,
                ),
            )
        else:
            return state, events, RollingDecision(wait=FAST_POLL)
    back = obs.find(state.rollback_id)
    if back is not None and back.status == "PRIMARY" and _completed(back, obs):
        outcome = Outcome(
            cfg.deployment_id,
            state.failure_status,
            True,
            state.failure_exit,
            f"{state.failure}; rolled back by {state.rollback_by}: the service runs "
            f"{revision(cfg.previous_task_definition_arn)} again",
            state.rollback_id,
            cfg.task_definition_arn,
        )
        return _finish(state, events, outcome)
    gone = back is None and obs.primary is not None and obs.primary.id != state.rollback_id
    if (back is not None and back.rollout_state == "FAILED") or gone:
        outcome = Outcome(
            cfg.deployment_id,
            state.failure_status,
            False,
            ExitCode.FAILED,
            f"{state.failure}; the rollback deployment {state.rollback_id} "
            f"{'failed too' if not gone else 'was replaced'}: check the service",
            state.rollback_id,
            cfg.task_definition_arn,
        )
        return _finish(state, events, outcome)
    if obs.now - failed_at >= ROLLBACK_TIMEOUT:
        outcome = Outcome(
            cfg.deployment_id,
            state.failure_status,
            False,
            ExitCode.TIMEOUT,
            f"{state.failure}; the rollback deployment {state.rollback_id} did not complete "
            f"within {ROLLBACK_TIMEOUT:.0f}s",
            state.rollback_id,
            cfg.task_definition_arn,
        )
        return _finish(state, events, outcome)
    return state, events, RollingDecision(wait=FAST_POLL)
