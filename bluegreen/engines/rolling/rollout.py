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

import datetime as dt
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bluegreen.engines.follow import ALARM_EVERY, PortReporting, Signals
from bluegreen.engines.model import Event, Outcome, Output, revision
from bluegreen.engines.revision import emit_plan, nothing_to_deploy, ready_revision
from bluegreen.errors import ExitCode, PreflightError
from bluegreen.journal import CREATED, INTENT, RESULT, Journal, journal_path
from bluegreen.render.taskdef import same_task_definition

if TYPE_CHECKING:
    from bluegreen.aws.model import LiveService
    from bluegreen.aws.session import Aws
    from bluegreen.engines.tagging import TagPlan
    from bluegreen.engines.verify import VerifyRun
    from bluegreen.spec.model import Spec

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
    alarms: tuple[str, ...] = ()  # the release's alarms in state ALARM
    alarms_fresh: bool = False  # the alarms were read for this observation
    verify: tuple[bool, str] | None = None  # the verify command's result, once it has ended

    def find(self, deployment_id: str | None) -> EcsDeployment | None:
        return next((d for d in self.deployments if d.id == deployment_id), None)

    @property
    def primary(self) -> EcsDeployment | None:
        return next((d for d in self.deployments if d.status == "PRIMARY"), None)


def observation_from(
    service: Mapping[str, Any],
    now: float,
    *,
    since: float | None = None,
    cancel: bool = False,
    alarms: Sequence[str] = (),
    alarms_fresh: bool = False,
    verify: tuple[bool, str] | None = None,
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
        stamp = _epoch(ev.get("createdAt"))
        if since is not None and stamp is not None and stamp < since:
            continue
        events.append(ServiceEvent(str(ev.get("id", "")), str(ev.get("message", ""))))
    events.reverse()  # ECS lists the newest first
    return RollingObservation(
        now=now,
        deployments=deployments,
        events=tuple(events),
        cancel=cancel,
        alarms=tuple(alarms),
        alarms_fresh=alarms_fresh,
        verify=verify,
    )


def _epoch(value: Any) -> float | None:
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            return None
    if isinstance(value, dt.datetime):
        return value.timestamp()
    if isinstance(value, int | float):
        return float(value)
    return None


# --- the state machine --------------------------------------------------------------------------
@dataclass(frozen=True)
class RollingConfig:
    deployment_id: str  # the ECS deployment our UpdateService started ("" until it shows)
    task_definition_arn: str
    previous_task_definition_arn: str | None
    started_at: float
    deadline: float | None = None
    breaker: bool = False  # deploymentCircuitBreaker.enable
    breaker_rollback: bool = False  # deploymentCircuitBreaker.rollback
    rollback: bool = False  # --rollback: return to the previous revision when ECS does not
    failure_threshold: int = 3  # failed tasks that fail the rollout when the breaker is off
    known_before: frozenset[str] = frozenset()  # deployment ids that existed before the update
    known_events: frozenset[str] = frozenset()  # service event ids from before the update
    on_cancel: str = "detach"  # rollback: a cancel returns the service to the previous revision
    # Guards. An alarm in ALARM during the rollout, or a failing verify command once the rollout
    # completed, returns the service to the previous revision (exit 1): a rolling update has no
    # test traffic, so verify runs against production right after the rollout, and gates by
    # rolling back.
    alarm_names: tuple[str, ...] = ()
    verify: bool = False


class RollingPhase(StrEnum):
    WATCHING = "watching"
    VERIFYING = "verifying"
    ROLLING_BACK = "rolling-back"
    DONE = "done"


@dataclass(frozen=True)
class RollBack:
    """Action: UpdateService back to the previous revision."""

    task_definition_arn: str
    reason: str


@dataclass(frozen=True)
class RunVerify:
    """Action: start the verify command (its result comes back in a later observation)."""

    deployment_id: str


@dataclass(frozen=True)
class RollingDecision:
    actions: tuple[RollBack | RunVerify, ...] = ()
    wait: float = FAST_POLL
    outcome: Outcome | None = None
    read_alarms: bool = False  # read the alarms for the next observation


Seen = tuple[str, str | None, int, int, int, int]


@dataclass(frozen=True)
class RollingState:
    config: RollingConfig
    deployment_id: str = ""
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
    return RollingState(
        config=config, deployment_id=config.deployment_id, seen_events=config.known_events
    )


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
    state = _adopt(state, obs, events)
    ours = obs.find(state.deployment_id)
    primary = obs.primary

    if obs.cancel:
        previous = cfg.previous_task_definition_arn
        if cfg.on_cancel == "rollback" and previous and previous != cfg.task_definition_arn:
            return _fail(
                state, events, obs, "cancelled by signal", ExitCode.CANCELLED, rollback=True
            )
        outcome = Outcome(
            state.deployment_id,
            "InProgress",
            False,
            ExitCode.CANCELLED,
            "cancelled: stopped watching; ECS carries on with the rollout "
            "(follow it with `bluegreen status`)",
            None,
            cfg.task_definition_arn,
        )
        return _finish(state, events, outcome)

    if not state.deployment_id:
        # ECS has not shown the deployment of our revision yet.
        if cfg.deadline is not None and obs.now >= cfg.deadline:
            return _fail(
                state,
                events,
                obs,
                "timed out before the deployment started",
                ExitCode.TIMEOUT,
                status="InProgress",
                rollback=True,
            )
        return state, events, RollingDecision(wait=_wait(cfg, obs))

    if obs.alarms and state.deployment_id:
        names = ", ".join(obs.alarms)
        return _fail(state, events, obs, f"alarm {names} in ALARM", ExitCode.FAILED, rollback=True)

    if state.phase is RollingPhase.VERIFYING:
        return _step_verify(state, obs, events)

    if ours is not None and ours.status == "PRIMARY" and _completed(ours, obs):
        if cfg.alarm_names and not obs.alarms_fresh:
            # never call a rollout good on an alarm reading older than its completion
            return state, events, RollingDecision(wait=0.0, read_alarms=True)
        if cfg.verify:
            state = replace(state, phase=RollingPhase.VERIFYING)
            events.append(
                Event(
                    "verify",
                    {"deploymentId": ours.id, "phase": "started"},
                    f"rollout completed; running the verify command against "
                    f"{revision(cfg.task_definition_arn)}",
                )
            )
            return state, events, RollingDecision((RunVerify(ours.id),), wait=FAST_POLL)
        outcome = Outcome(
            state.deployment_id,
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

    if primary is not None and primary.id != state.deployment_id:
        # Our deployment is no longer the primary one: the breaker rolled back, or someone
        # else started a deployment.
        if cfg.breaker_rollback and primary.task_definition == cfg.previous_task_definition_arn:
            reason = (
                (ours.rollout_reason if ours else None)
                or _event_about(obs, state.deployment_id)
                or "the circuit breaker tripped"
            )
            return _start_following(
                state, events, obs, reason, by="the circuit breaker", rollback_id=primary.id
            )
        outcome = Outcome(
            state.deployment_id,
            "Stopped",
            False,
            ExitCode.FAILED,
            f"deployment {state.deployment_id} was replaced by {primary.id} "
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
            rollback=True,
        )
    return state, events, RollingDecision(wait=_wait(cfg, obs))


def _step_verify(
    state: RollingState, obs: RollingObservation, events: list[Event]
) -> tuple[RollingState, list[Event], RollingDecision]:
    """The rollout completed and the verify command runs: pass, or roll back on failure."""
    cfg = state.config
    if obs.verify is None:
        if cfg.deadline is not None and obs.now >= cfg.deadline:
            return _fail(
                state,
                events,
                obs,
                "timed out while the verify command ran",
                ExitCode.TIMEOUT,
                rollback=True,
            )
        return state, events, RollingDecision(wait=_wait(cfg, obs))
    ok, detail = obs.verify
    events.append(
        Event(
            "verify",
            {"deploymentId": state.deployment_id, "phase": "ended", "ok": ok, "detail": detail},
            f"verify {'passed' if ok else 'failed'}: {detail}",
        )
    )
    if not ok:
        return _fail(
            replace(state, phase=RollingPhase.WATCHING),
            events,
            obs,
            f"verify failed: {detail}",
            ExitCode.FAILED,
            rollback=True,
        )
    outcome = Outcome(
        state.deployment_id,
        "Succeeded",
        False,
        ExitCode.OK,
        f"rollout completed and verified: {revision(cfg.task_definition_arn)} runs",
        None,
        cfg.task_definition_arn,
    )
    events.append(Event("completed", {"deploymentId": state.deployment_id}, outcome.reason))
    return _finish(state, events, outcome)


def _adopt(state: RollingState, obs: RollingObservation, events: list[Event]) -> RollingState:
    """Follow the newest PRIMARY deployment of our revision that did not exist before the update.

    ECS names the deployment in UpdateService's answer; an API that starts it a moment later
    (or replaces it with an identical one) shows it here, and we follow that one.
    """
    cfg = state.config
    current = obs.find(state.deployment_id)
    if current is not None and current.rollout_state == "FAILED":
        return state
    primary = obs.primary
    if (
        primary is None
        or primary.id == state.deployment_id
        or primary.id in cfg.known_before
        or primary.task_definition != cfg.task_definition_arn
    ):
        return state
    events.append(
        Event(
            "following",
            {"deploymentId": primary.id, "taskDefinitionArn": cfg.task_definition_arn},
            f"  following deployment {primary.id} of {revision(cfg.task_definition_arn)}",
        )
    )
    return replace(state, deployment_id=primary.id)


def _event_about(obs: RollingObservation, deployment_id: str) -> str | None:
    """The latest service event that reports the failure of `deployment_id`, if any."""
    for ev in reversed(obs.events):
        if deployment_id in ev.message and "fail" in ev.message.lower():
            return ev.message
    return None


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
                {"deploymentId": state.deployment_id, "reason": reason, "rollback": True},
                f"circuit breaker tripped: {reason}; ECS rolls back to "
                f"{revision(cfg.previous_task_definition_arn)}",
            )
        )
    failed_at = state.failed_at if state.failed_at is not None else obs.now
    if obs.now - failed_at >= ROLLBACK_GRACE:
        outcome = Outcome(
            state.deployment_id,
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
                {"deploymentId": state.deployment_id, "reason": reason, "rollback": True},
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
                "deploymentId": state.deployment_id,
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
    rollback: bool | None = None,
) -> tuple[RollingState, list[Event], RollingDecision]:
    """Our rollout failed and ECS will not roll it back: roll back ourselves, or finish."""
    cfg = state.config
    previous = cfg.previous_task_definition_arn
    state = replace(
        state, failure=reason, failure_exit=exit_code, failure_status=status, failed_at=obs.now
    )
    roll_back = cfg.rollback if rollback is None else rollback
    if roll_back and previous and previous != cfg.task_definition_arn:
        state = replace(
            state, phase=RollingPhase.ROLLING_BACK, rollback_by="bluegreen", failure_status="Failed"
        )
        events.append(
            Event(
                "rollback",
                {
                    "deploymentId": state.deployment_id,
                    "by": "bluegreen",
                    "taskDefinition": previous,
                },
                f"{reason}; rolling back to {revision(previous)}",
            )
        )
        return state, events, RollingDecision((RollBack(previous, reason),), wait=FAST_POLL)
    if roll_back and not previous:
        hint = "; there is no previous revision to roll back to"
    elif roll_back:
        hint = "; the previous revision is the same one, nothing to roll back"
    else:
        hint = (
            "; the service stays as it is: run `bluegreen rollback`, or deploy with --rollback "
            "(or enable the service's circuit breaker with rollback)"
        )
    outcome = Outcome(
        state.deployment_id, status, False, exit_code, reason + hint, None, cfg.task_definition_arn
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
            and primary.id != state.deployment_id
            and primary.task_definition == cfg.previous_task_definition_arn
        ):
            state = replace(state, rollback_id=primary.id)
            events.append(
                Event(
                    "rollback",
                    {"deploymentId": state.deployment_id, "rollbackDeploymentId": primary.id},
                    f"  following rollback deployment {primary.id}",
                )
            )
        elif obs.now - failed_at >= ROLLBACK_GRACE:
            return _finish(
                state,
                events,
                Outcome(
                    state.deployment_id,
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
            state.deployment_id,
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
    failing = back is not None and not cfg.breaker and back.failed >= cfg.failure_threshold
    if (back is not None and back.rollout_state == "FAILED") or gone or failing:
        outcome = Outcome(
            state.deployment_id,
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
            state.deployment_id,
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


# --- the use case -------------------------------------------------------------------------------
@dataclass(frozen=True)
class RollingRequest:
    """What `deploy` asks of a rolling update."""

    image_overrides: Mapping[str, str] = field(default_factory=dict)
    var_overrides: Mapping[str, str] = field(default_factory=dict)
    vars_files: Sequence[Path] = ()
    dry_run: bool = False
    wait: bool = True
    timeout: float | None = None  # seconds; None: the spec's timeout, else DEFAULT_TIMEOUT
    rollback: bool = False  # --rollback
    on_cancel: str = "rollback"  # --on-cancel: rollback | detach
    tag_as: str | None = None  # --tag-as: a tag, or git-sha
    verify: Sequence[str] | None = None  # --verify (else the spec's verify.command)


DEFAULT_TIMEOUT = 1800.0
ALARM_POLL = 5.0  # endpoint seconds between reads of alarms only bluegreen acts on
# (alarms ECS itself rolls the deployment back on, the service's deployment alarms that the
# release sets, are read every follow.ALARM_EVERY: CloudWatch's standard period)


def ecs_watched_alarms(service: Mapping[str, Any]) -> frozenset[str]:
    """The alarms ECS watches for the service's deployments and rolls back on by itself."""
    alarms = (service.get("deploymentConfiguration") or {}).get("alarms") or {}
    if not (alarms.get("enable") and alarms.get("rollback")):
        return frozenset()
    return frozenset(str(n) for n in alarms.get("alarmNames") or [])


@dataclass(frozen=True)
class Loop:
    """The watch loop's clock and sleep, injected for tests."""

    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    poll: float = FAST_POLL  # upper bound of one sleep
    cancelled: Callable[[], bool] = lambda: False  # a signal asked to stop watching
    rest: Callable[[float], None] = time.sleep  # the sleep once a cancel has been seen
    # where the watch reads the service (cluster, service): a fan-out's shared batch; None,
    # a DescribeServices call of its own
    describe: Callable[[str, str], dict[str, Any]] | None = None


@dataclass(frozen=True)
class RollingGuards:
    """What gates a rolling update besides the circuit breaker: the spec's alarms (watched by
    bluegreen and also set as the service's deployment alarms, with rollback, so ECS acts on them
    too) and the verify command (run against production once the rollout completed; a failure
    rolls back)."""

    alarms: tuple[str, ...] = ()
    # deploymentConfiguration for UpdateService: the service's own, with the alarms merged in
    # (never fewer alarms than the service had, rollback never switched off); None: unchanged
    deployment_configuration: Mapping[str, Any] | None = None
    verify: tuple[str, ...] | None = None
    verify_timeout: float = 300.0


def rolling_guards(spec: Spec, request: RollingRequest, conf: Mapping[str, Any]) -> RollingGuards:
    """The guards of a rolling update; PreflightError (exit 2) for one that cannot gate it."""
    if spec.rollback.metrics:
        raise PreflightError(
            "`rollback.metrics` compare a green target group with blue during a blue/green "
            "shift; a rolling update has neither, so these checks could not gate it",
            where=f"{spec.display}: rollback.metrics",
            hint="use `rollback.alarms` (CloudWatch alarms on the service's metrics) for a "
            "rolling service",
        )
    verify = request.verify or (spec.verify.command if spec.verify else None)
    timeout = spec.verify.timeout_seconds if spec.verify else 300.0
    alarms = tuple(dict.fromkeys(spec.rollback.alarms))
    deployment_configuration: dict[str, Any] | None = None
    if alarms:
        have = conf.get("alarms") or {}
        names = list(dict.fromkeys([*(have.get("alarmNames") or []), *alarms]))
        deployment_configuration = {
            k: v for k, v in conf.items() if k not in ("alarms", "strategy")
        } | {"alarms": {"alarmNames": names, "enable": True, "rollback": True}}
    return RollingGuards(
        alarms=alarms,
        deployment_configuration=deployment_configuration,
        verify=tuple(verify) if verify else None,
        verify_timeout=timeout,
    )


@dataclass(frozen=True)
class RollingPlan:
    cluster: str
    service: str
    current_task_definition: str | None
    task_definition: dict[str, Any]  # register-task-definition input (None-free)
    reuse_task_definition: str | None  # latest revision identical to the rendered one
    images: Mapping[str, str]
    desired: int
    minimum_healthy_percent: int
    maximum_percent: int
    breaker: bool
    breaker_rollback: bool
    notices: tuple[str, ...] = ()
    tags: TagPlan | None = None  # --tag-as
    guards: RollingGuards = field(default_factory=lambda: RollingGuards())

    @property
    def no_change(self) -> bool:
        return (
            self.reuse_task_definition is not None
            and self.reuse_task_definition == self.current_task_definition
        )

    def json(self) -> dict[str, Any]:
        from bluegreen.render.redact import redact_task_definition

        return {
            "event": "plan",
            "strategy": "rolling",
            "cluster": self.cluster,
            "service": self.service,
            "currentTaskDefinition": self.current_task_definition,
            "registerTaskDefinition": self.reuse_task_definition is None,
            "taskDefinitionArn": self.reuse_task_definition,
            "family": self.task_definition.get("family"),
            "taskDefinition": redact_task_definition(self.task_definition),
            "images": dict(self.images),
            "desiredCount": self.desired,
            "minimumHealthyPercent": self.minimum_healthy_percent,
            "maximumPercent": self.maximum_percent,
            "circuitBreaker": {"enable": self.breaker, "rollback": self.breaker_rollback},
            "noChange": self.no_change,
            "tagAs": self.tags.json() if self.tags else None,
            "alarms": list(self.guards.alarms),
            "verify": self.guards.verify is not None,
        }

    def lines(self) -> list[str]:
        breaker = (
            ("on, with rollback" if self.breaker_rollback else "on, without rollback")
            if self.breaker
            else "off"
        )
        target = (
            f"reuse {revision(self.reuse_task_definition)} (identical to the rendered one)"
            if self.reuse_task_definition
            else f"register a new revision of {self.task_definition.get('family')}"
        )
        out = [
            f"rolling update of {self.cluster}/{self.service}",
            f"  task definition: {revision(self.current_task_definition)} -> {target}",
        ]
        out += [f"  image {name}: {ref}" for name, ref in sorted(self.images.items())]
        if self.tags is not None:
            out += self.tags.lines()
        out.append(
            f"  {self.desired} tasks, minimumHealthyPercent {self.minimum_healthy_percent}, "
            f"maximumPercent {self.maximum_percent}, circuit breaker {breaker}"
        )
        if self.guards.alarms:
            out.append(
                f"  alarms {', '.join(self.guards.alarms)}: in ALARM during the rollout → back to "
                f"{revision(self.current_task_definition)} (also set as the service's deployment "
                "alarms, with rollback)"
            )
        if self.guards.verify is not None:
            out.append(
                "  verify: runs once the rollout completed (a rolling update has no test "
                f"traffic); a failure rolls back to {revision(self.current_task_definition)}"
            )
        if self.no_change:
            out.append("  no change: the service already runs this revision")
        out += [f"  note: {n}" for n in self.notices]
        return out


def plan(
    spec: Spec,
    aws: Aws,
    request: RollingRequest,
    *,
    service: Mapping[str, Any] | None = None,
    live: LiveService | None = None,
) -> RollingPlan:
    """Render, resolve and preflight: everything up to the first write (no writes here)."""
    from bluegreen.aws import ecs
    from bluegreen.render.release import render_for_deploy

    where = f"{spec.cluster}/{spec.service}"
    if service is None:
        service = ecs.describe_service_raw(aws, spec.cluster, spec.service)
    if live is None:
        live = ecs.describe_service(aws, spec.cluster, spec.service)
    from bluegreen.engines import EngineKind, select

    kind = select(live)
    if kind is not EngineKind.ROLLING:
        raise PreflightError(
            f"the service is released by {kind.label}, not a rolling update", where=where
        )
    rendered = render_for_deploy(
        spec,
        aws,
        live,
        image_overrides=request.image_overrides,
        var_overrides=request.var_overrides,
        vars_files=request.vars_files,
    )
    check_headroom(service, where=where)
    from bluegreen.engines.tagging import plan_tags

    tags = plan_tags(aws, rendered.images, request.tag_as, spec.path.parent)
    td = rendered.task_definition
    family = str(td.get("family", ""))
    reuse: str | None = None
    latest = ecs.latest_task_definition(aws, family) if family else None
    if latest is not None and same_task_definition(latest, td):
        reuse = str(latest.get("taskDefinitionArn"))
    conf = service.get("deploymentConfiguration") or {}
    breaker = conf.get("deploymentCircuitBreaker") or {}
    guards = rolling_guards(spec, request, conf)
    if guards.alarms:
        from bluegreen.aws.cloudwatch import missing_alarms

        missing = missing_alarms(aws, guards.alarms)
        if missing:
            raise PreflightError(
                f"alarm{'s' if len(missing) > 1 else ''} {', '.join(missing)} not found",
                where=f"{spec.display}: rollback.alarms",
                hint="create the alarm, or fix its name in the spec",
            )
    return RollingPlan(
        cluster=spec.cluster,
        service=spec.service,
        current_task_definition=live.task_definition_arn,
        task_definition=td,
        reuse_task_definition=reuse,
        images=dict(rendered.images),
        desired=int(service.get("desiredCount", 0) or 0),
        minimum_healthy_percent=int(conf.get("minimumHealthyPercent", 100)),
        maximum_percent=int(conf.get("maximumPercent", 200)),
        breaker=bool(breaker.get("enable", False)),
        breaker_rollback=bool(breaker.get("rollback", False)),
        notices=tuple(rendered.notices),
        tags=tags,
        guards=guards,
    )


def deploy(
    spec: Spec,
    aws: Aws,
    out: Output,
    request: RollingRequest,
    *,
    loop: Loop | None = None,
    journal: Journal | None = None,
) -> Outcome:
    """The rolling update: plan, register (unless identical), UpdateService, watch."""
    p = plan(spec, aws, request)
    return apply(p, spec, aws, out, request, loop=loop, journal=journal)


def apply(
    p: RollingPlan,
    spec: Spec,
    aws: Aws,
    out: Output,
    request: RollingRequest,
    *,
    loop: Loop | None = None,
    journal: Journal | None = None,
) -> Outcome:
    """Print the plan and carry it out (nothing but the plan when `dry_run`)."""

    loop = loop or Loop()
    emit_plan(out, p)
    if request.dry_run:
        return Outcome.dry_run(p.reuse_task_definition)
    journal = journal or Journal(journal_path(spec.path))
    arn = ready_revision(aws, p, journal, out, sleep=loop.sleep, cancelled=loop.cancelled)
    if arn is None:
        return nothing_to_deploy(p, "Succeeded")
    return update_and_watch(
        aws,
        out,
        cluster=p.cluster,
        service=p.service,
        task_definition_arn=arn,
        previous=p.current_task_definition,
        timeout=_timeout(spec, request),
        request=request,
        loop=loop,
        journal=journal,
        record={"images": dict(p.images)},
        guards=p.guards,
    )


def _timeout(spec: Spec, request: RollingRequest) -> float:
    if request.timeout is not None:
        return request.timeout
    return spec.timeout_seconds or DEFAULT_TIMEOUT


def update_and_watch(
    aws: Aws,
    out: Output,
    *,
    cluster: str,
    service: str,
    task_definition_arn: str | None,
    previous: str | None,
    timeout: float,
    request: RollingRequest,
    loop: Loop,
    journal: Journal,
    force_new_deployment: bool = False,
    record: Mapping[str, Any] | None = None,
    guards: RollingGuards | None = None,
) -> Outcome:
    """UpdateService (a new revision, or fresh tasks of the same one) and follow the rollout.

    The journal records who asked, and `record` (the release's images, what a rollback undoes)
    with the update, so `history` and `rollback` can tell the rolling releases apart."""
    from bluegreen.aws import ecs
    from bluegreen.aws.iam import who

    extra = {"who": who(aws), **(record or {})}

    before = ecs.describe_service_raw(aws, cluster, service)
    known_before = frozenset(str(d.get("id")) for d in before.get("deployments") or [])
    known_events = frozenset(str(e.get("id")) for e in before.get("events") or [])
    journal.append(
        INTENT,
        action="UpdateService",
        strategy="rolling",
        cluster=cluster,
        service=service,
        taskDefinitionArn=task_definition_arn,
        previousTaskDefinitionArn=previous,
        forceNewDeployment=force_new_deployment,
        **extra,
    )
    guards = guards or RollingGuards()
    svc = ecs.update_service(
        aws,
        cluster,
        service,
        task_definition=task_definition_arn,
        force=force_new_deployment,
        deployment_configuration=guards.deployment_configuration,
    )
    arn = task_definition_arn or str(svc.get("taskDefinition", ""))
    # ECS answers with the new deployment as PRIMARY; when it is not there yet, the watch
    # follows it once it shows.
    primary = next(
        (
            d
            for d in svc.get("deployments") or []
            if d.get("status") == "PRIMARY"
            and d.get("taskDefinition") == arn
            and str(d.get("id")) not in known_before
        ),
        None,
    )
    deployment_id = str(primary.get("id")) if primary else ""
    journal.append(
        CREATED,
        deploymentId=deployment_id or None,
        strategy="rolling",
        cluster=cluster,
        service=service,
        taskDefinitionArn=arn,
        previousTaskDefinitionArn=previous,
        **extra,
    )
    out.emit(
        {
            "event": "created",
            "deploymentId": deployment_id or None,
            "strategy": "rolling",
            "taskDefinitionArn": arn,
            "previousTaskDefinitionArn": previous,
        },
        f"updated {cluster}/{service}: {revision(previous)} -> {revision(arn)}"
        + (f" (deployment {deployment_id})" if deployment_id else ""),
    )
    if not request.wait:
        return Outcome(
            deployment_id,
            "InProgress",
            False,
            ExitCode.OK,
            f"not waiting; follow it with `bluegreen status` ({deployment_id})",
            None,
            arn,
        )
    conf = svc.get("deploymentConfiguration") or {}
    breaker = conf.get("deploymentCircuitBreaker") or {}
    now = loop.clock()
    config = RollingConfig(
        deployment_id=deployment_id,
        task_definition_arn=arn,
        previous_task_definition_arn=previous if previous != arn else None,
        started_at=now,
        deadline=now + timeout,
        breaker=bool(breaker.get("enable", False)),
        breaker_rollback=bool(breaker.get("rollback", False)),
        rollback=request.rollback,
        failure_threshold=failure_threshold(int(svc.get("desiredCount", 0) or 0)),
        known_before=known_before,
        known_events=known_events,
        on_cancel=request.on_cancel,
        alarm_names=guards.alarms,
        verify=guards.verify is not None,
    )
    verify = None
    if guards.verify is not None:
        verify = _verify_factory(aws, cluster, service, arn, guards, loop, out)
    outcome = watch(aws, out, cluster, service, config, since=None, loop=loop, verify=verify)
    journal.append(
        RESULT,
        deploymentId=outcome.deployment_id or None,
        strategy="rolling",
        cluster=cluster,
        service=service,
        taskDefinitionArn=arn,
        status=outcome.status,
        rolledBack=outcome.rolled_back,
        exitCode=outcome.exit_code,
        reason=outcome.reason,
    )
    return outcome


def watch(
    aws: Aws,
    out: Output,
    cluster: str,
    service: str,
    config: RollingConfig,
    *,
    since: float | None,
    loop: Loop,
    verify: Callable[[str], VerifyRun] | None = None,
) -> Outcome:
    """Follow the rollout to its end through the one follow loop (engines/follow): the
    release's alarms (every ALARM_POLL seconds of the endpoint's clock, or every ALARM_EVERY
    when ECS rolls back on them itself), the verify command and the cancel as its guards."""
    from bluegreen.aws import endpoint
    from bluegreen.engines.follow import Follow, Pace

    tracker = RollingTracker(aws, out, cluster, service, config, since, loop.describe, verify)
    pace = Pace(
        clock=loop.clock,
        sleep=loop.sleep,
        rest=loop.rest,
        cancelled=loop.cancelled,
        poll=loop.poll,
        scale=endpoint.time_scale(aws, "ecs"),
    )
    return Follow(tracker, pace).run()


@dataclass
class RollingTracker(PortReporting):
    """The rolling engine's side of the follow: DescribeServices (or a fan-out's shared
    batch), the pure step, UpdateService back to the previous revision."""

    aws: Aws
    out: Output
    cluster: str
    service: str
    config: RollingConfig
    since: float | None = None
    describe: Callable[[str, str], dict[str, Any]] | None = None
    verify: Callable[[str], VerifyRun] | None = None
    _svc: Mapping[str, Any] | None = None
    _verified: tuple[bool, str] | None = None  # the verify result, kept for the step

    def begin(self) -> RollingState:
        return initial_state(self.config)

    def read(self, state: RollingState, now: float, alarms: Sequence[str]) -> Mapping[str, Any]:
        from bluegreen.aws import ecs

        if self.describe is not None:
            self._svc = self.describe(self.cluster, self.service)
        else:
            self._svc = ecs.describe_service_raw(self.aws, self.cluster, self.service)
        return self._svc

    def alarm_plan(self, state: RollingState) -> tuple[Sequence[str], float]:
        names = self.config.alarm_names if state.phase is not RollingPhase.ROLLING_BACK else ()
        watched = ecs_watched_alarms(self._svc or {})
        every = ALARM_EVERY if watched and set(names) <= watched else ALARM_POLL
        return names, every

    def alarm_states(self, names: Sequence[str]) -> Mapping[str, str]:
        from bluegreen.aws import cloudwatch

        return cloudwatch.alarm_states(self.aws, names)

    def metrics_due(self, state: RollingState, raw: Mapping[str, Any]) -> bool:
        return False  # a rolling update refuses metric checks (rolling_guards)

    def read_metrics(self, raw: Mapping[str, Any]) -> tuple[Any, ...] | None:
        return None

    def step(
        self, state: RollingState, raw: Mapping[str, Any], now: float, signals: Signals
    ) -> tuple[RollingState, Sequence[Event], Any]:
        if signals.verify is not None:
            self._verified = signals.verify
        obs = observation_from(
            raw,
            now,
            since=self.since,
            cancel=signals.cancel,
            alarms=signals.in_alarm(self.config.alarm_names),
            alarms_fresh=signals.alarms_fresh,
            verify=self._verified,
        )
        return step(state, obs)

    def verify_for(self, action: Any) -> VerifyRun | None:
        if not isinstance(action, RunVerify) or self.verify is None:
            return None
        self._verified = None
        return self.verify(action.deployment_id)

    def act(self, state: RollingState, action: Any) -> None:
        from bluegreen.aws import ecs

        if isinstance(action, RunVerify):  # pragma: no cover - config.verify implies a factory
            self._verified = (False, "no verify command")
            return
        ecs.update_service(
            self.aws, self.cluster, self.service, task_definition=action.task_definition_arn
        )

    def after(self, state: RollingState, raw: Mapping[str, Any], decision: Any) -> bool:
        return bool(decision.read_alarms)


def _verify_factory(
    aws: Aws,
    cluster: str,
    service: str,
    arn: str,
    guards: RollingGuards,
    loop: Loop,
    out: Output | None = None,
) -> Callable[[str], VerifyRun]:
    """The verify command of a rolling update, with what it needs to find the service (its
    output streamed to `out`)."""
    from bluegreen.engines.verify import VerifyRun, streamed

    assert guards.verify is not None
    argv = list(guards.verify)

    def make(deployment_id: str) -> VerifyRun:
        env = {
            "BLUEGREEN_DEPLOYMENT_ID": deployment_id,
            "BLUEGREEN_CLUSTER": cluster,
            "BLUEGREEN_SERVICE": service,
            "BLUEGREEN_TASK_DEFINITION_ARN": arn,
        }
        url = _production_url(aws, cluster, service)
        if url:
            env["BLUEGREEN_PROD_URL"] = env["BLUEGREEN_TEST_URL"] = url
        return VerifyRun(
            argv,
            env,
            guards.verify_timeout,
            clock=loop.clock,
            on_output=streamed(out, deployment_id) if out is not None else None,
        )

    return make


def _production_url(aws: Aws, cluster: str, service: str) -> str | None:
    """The URL of the listener that forwards to the service's target group, when there is one."""
    from bluegreen.aws import ecs, elbv2

    svc = ecs.describe_service_raw(aws, cluster, service)
    groups = [lb.get("targetGroupArn") for lb in svc.get("loadBalancers") or []]
    groups = [g for g in groups if g]
    return elbv2.url_forwarding_to(aws, str(groups[0])) if groups else None
