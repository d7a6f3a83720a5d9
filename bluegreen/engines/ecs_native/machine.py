"""The pure watch of an ECS-native service deployment:
`step(state, observation) -> (state, events, decision)`.

An observation is one DescribeServiceDeployments answer (status, lifecycle stage, the target
revision's requested production/test traffic weights, hook details, the rollback), plus what
the loop saw besides: a cancel, the release's alarms in ALARM, the verify command's result.
The decision says wait, stop the deployment with rollback, answer a PAUSE hook, run verify, or
finish with an outcome. The loop (apply.follow) owns the clock, the sleep and the AWS calls.

What ECS does, and what the step honours (reference §2-§4): statuses PENDING → IN_PROGRESS →
SUCCESSFUL, or → ROLLBACK_REQUESTED → ROLLBACK_IN_PROGRESS → ROLLBACK_SUCCESSFUL |
ROLLBACK_FAILED, or → STOP_REQUESTED → STOPPED. Polls may skip stages, so stages are compared by
position; a rollback before `--wait-until`'s stage is a failure; a PAUSE hook awaiting action
blocks until it is answered (by verify, by `bluegreen approve`, or by its timeout action).

The decision's `wait` follows the deployment's schedule (schedule.py, engines/cadence): during
bakes one read every 6 s of the endpoint's clock (`NativeConfig.time_scale`), one read just
after each expected production step, a burst around the expected end; `ACTING` after an action
of ours (a stop, a hook answered), `FAST_POLL` while a rollback runs or the deployment is not
listed yet, and throughout when the loop did not tell the endpoint's time scale.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from bluegreen.engines import cadence
from bluegreen.engines.ecs_native.plan import PAUSED, STAGES, VERIFY_STAGE
from bluegreen.engines.ecs_native.schedule import Strategy, native_schedule
from bluegreen.engines.model import Event, Outcome, revision
from bluegreen.errors import ExitCode

FAST_POLL = 1.0  # a rollback runs, or the deployment is not listed yet
BLUE_GREEN = Strategy()
ACTING = 2 * cadence.BURST  # wall seconds: right after a stop or a hook answer of ours
ROLLBACK_TIMEOUT = 1800.0  # seconds a rollback may take once asked before the watch gives up
TERMINAL = ("SUCCESSFUL", "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED", "STOPPED")
ROLLING_BACK = ("ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS")


@dataclass(frozen=True)
class Hook:
    hook_id: str
    target_type: str  # AWS_LAMBDA | PAUSE
    status: str  # AWAITING_ACTION | IN_PROGRESS | SUCCEEDED | FAILED | TIMED_OUT


@dataclass(frozen=True)
class NativeObservation:
    """One DescribeServiceDeployments answer at `now` (monotonic seconds); status "" when the
    deployment is not (yet) listed."""

    now: float
    status: str = ""
    stage: str | None = None
    status_reason: str | None = None
    production_weight: float | None = None  # green's share of production, percent
    test_weight: float | None = None
    hooks: tuple[Hook, ...] = ()
    triggered_alarms: tuple[str, ...] = ()
    bake_minutes: float | None = None
    updated_at: float | None = None  # epoch seconds of the deployment's last change
    cancel: bool = False
    alarms: tuple[str, ...] = ()  # the release's alarms in state ALARM (read by the loop)
    metrics: tuple[str, ...] = ()  # the release's metric checks breached (read by the loop)
    verify: tuple[bool, str] | None = None  # the verify command's result, once it has ended
    wall: float | None = None  # epoch seconds at `now` (compared with the deployment's times)
    strategy: Strategy = BLUE_GREEN  # from the deployment's configuration snapshot

    def awaiting_pauses(self) -> tuple[str, ...]:
        return tuple(
            h.hook_id
            for h in self.hooks
            if h.target_type == "PAUSE" and h.status == "AWAITING_ACTION"
        )


def _epoch(value: Any) -> float | None:
    if isinstance(value, str):
        try:
            return dt.datetime.fromisoformat(value).timestamp()
        except ValueError:
            return None
    if isinstance(value, dt.datetime):
        return value.timestamp()
    if isinstance(value, int | float):
        return float(value)
    return None


def observation_from(
    deployment: Mapping[str, Any] | None,
    now: float,
    *,
    cancel: bool = False,
    alarms: Sequence[str] = (),
    verify: tuple[bool, str] | None = None,
    metrics: Sequence[str] = (),
    wall: float | None = None,
) -> NativeObservation:
    """Build an observation from a DescribeServiceDeployments `serviceDeployments[0]`;
    `wall`: epoch seconds of the read (the system clock unless given)."""
    wall = time.time() if wall is None else wall
    if deployment is None:
        return NativeObservation(
            now=now,
            cancel=cancel,
            alarms=tuple(alarms),
            verify=verify,
            metrics=tuple(metrics),
            wall=wall,
        )
    target = deployment.get("targetServiceRevision") or {}
    conf = deployment.get("deploymentConfiguration") or {}

    def weight(key: str) -> float | None:
        value = target.get(key)
        return float(value) if value is not None else None

    return NativeObservation(
        now=now,
        status=str(deployment.get("status") or ""),
        stage=deployment.get("lifecycleStage"),
        status_reason=deployment.get("statusReason"),
        production_weight=weight("requestedProductionTrafficWeight"),
        test_weight=weight("requestedTestTrafficWeight"),
        hooks=tuple(
            Hook(
                str(h.get("hookId", "")),
                str(h.get("targetType", "AWS_LAMBDA")),
                str(h.get("status", "")),
            )
            for h in deployment.get("lifecycleHookDetails") or []
        ),
        triggered_alarms=tuple((deployment.get("alarms") or {}).get("triggeredAlarmNames") or []),
        bake_minutes=(
            float(conf["bakeTimeInMinutes"]) if conf.get("bakeTimeInMinutes") is not None else None
        ),
        updated_at=_epoch(deployment.get("updatedAt")),
        cancel=cancel,
        alarms=tuple(alarms),
        metrics=tuple(metrics),
        verify=verify,
        wall=wall,
        strategy=Strategy.of(conf),
    )


@dataclass(frozen=True)
class NativeConfig:
    deployment_arn: str
    task_definition_arn: str | None
    previous_task_definition_arn: str | None
    started_at: float
    deadline: float | None = None
    on_cancel: str = "rollback"  # rollback | detach
    verify: bool = False  # answer the POST_TEST_TRAFFIC_SHIFT pause hook with verify's result
    wait_until: str | None = None  # a stage, or `paused`: exit 0 once reached, left running
    alarm_names: tuple[str, ...] = ()
    # set by `stop`/`rollback`: the deployment was stopped with rollback by request before the
    # watch began; a completed rollback is then what was asked (exit 0)
    requested_stop: str | None = None
    # endpoint seconds per wall second (1 on AWS; a sandbox's fast clock tells its own); None:
    # not told, so the schedule cannot be placed in wall time and the watch reads every
    # FAST_POLL seconds
    time_scale: float | None = None


class Phase(StrEnum):
    FOLLOWING = "following"
    VERIFYING = "verifying"
    STOPPING = "stopping"  # a rollback runs (asked by us, or started by ECS)
    DONE = "done"


@dataclass(frozen=True)
class Stop:
    """Action: StopServiceDeployment with rollback."""

    reason: str


@dataclass(frozen=True)
class Answer:
    """Action: ContinueServiceDeployment on a PAUSE hook with CONTINUE or ROLLBACK."""

    hook_id: str
    action: str


@dataclass(frozen=True)
class RunVerify:
    """Action: start the verify command (its result comes back in a later observation)."""

    hook_ids: tuple[str, ...]


@dataclass(frozen=True)
class Decision:
    actions: tuple[Stop | Answer | RunVerify, ...] = ()
    wait: float = FAST_POLL
    outcome: Outcome | None = None


@dataclass(frozen=True)
class NativeState:
    config: NativeConfig
    phase: Phase = Phase.FOLLOWING
    status: str = ""
    stage: str | None = None
    weights: tuple[float | None, float | None] = (None, None)
    hooks: Mapping[str, str] = field(default_factory=dict)
    failure: str | None = None
    failure_exit: int = ExitCode.FAILED
    failed_at: float | None = None
    verify_hooks: tuple[str, ...] = ()
    verified: bool = False
    outcome: Outcome | None = None
    stage_since: float | None = None  # epoch seconds the current stage began (as seen)
    weight_since: float | None = None  # epoch seconds green's production share last changed


def initial_state(config: NativeConfig) -> NativeState:
    if config.requested_stop is not None:
        return NativeState(
            config=config,
            phase=Phase.STOPPING,
            failure=config.requested_stop,
            failure_exit=ExitCode.OK,
            failed_at=config.started_at,
        )
    return NativeState(config=config)


def stage_index(stage: str | None) -> int:
    return STAGES.index(stage) if stage in STAGES else -1


def _diff(state: NativeState, obs: NativeObservation) -> tuple[NativeState, list[Event]]:
    events: list[Event] = []
    arn = state.config.deployment_arn
    if obs.status and obs.status != state.status:
        data: dict[str, Any] = {"deploymentId": arn, "status": obs.status}
        text = f"  {obs.status}"
        if obs.status_reason and obs.status not in ("PENDING", "IN_PROGRESS", "SUCCESSFUL"):
            data["reason"] = obs.status_reason
            text += f": {obs.status_reason}"
        events.append(Event("status", data, text))
    if obs.stage and obs.stage != state.stage:
        index = stage_index(obs.stage)
        following = STAGES[index + 1] if 0 <= index < len(STAGES) - 1 else None
        events.append(
            Event(
                "stage",
                {"deploymentId": arn, "stage": obs.stage, "next": following},
                f"  stage {obs.stage}" + (f" (next: {following})" if following else ""),
            )
        )
        if obs.stage == "BAKE_TIME" and obs.bake_minutes is not None:
            ends = (
                dt.datetime.fromtimestamp(obs.updated_at + obs.bake_minutes * 60, dt.UTC)
                if obs.updated_at is not None
                else None
            )
            events.append(
                Event(
                    "bake",
                    {
                        "deploymentId": arn,
                        "minutes": obs.bake_minutes,
                        "endsAt": ends.isoformat() if ends else None,
                    },
                    f"  baking {obs.bake_minutes:g} min with blue still up"
                    + (f" (ends {ends:%H:%M:%S} UTC)" if ends else ""),
                )
            )
    weights = (obs.production_weight, obs.test_weight)
    if obs.status and weights != state.weights and weights != (None, None):
        prod, test = (w if w is not None else 0.0 for w in weights)
        events.append(
            Event(
                "weights",
                {"deploymentId": arn, "production": prod, "test": test},
                f"  traffic to green: production {prod:g}%, test {test:g}%",
            )
        )
    hooks = dict(state.hooks)
    for hook in obs.hooks:
        if hooks.get(hook.hook_id) == hook.status:
            continue
        hooks[hook.hook_id] = hook.status
        text = f"  hook {hook.hook_id} ({hook.target_type}) {hook.status}"
        ours = state.config.verify and obs.stage == VERIFY_STAGE
        if hook.target_type == "PAUSE" and hook.status == "AWAITING_ACTION" and not ours:
            text += f" at {obs.stage}: continue it with `bluegreen approve {arn}`"
        events.append(
            Event(
                "hook",
                {
                    "deploymentId": arn,
                    "hookId": hook.hook_id,
                    "targetType": hook.target_type,
                    "status": hook.status,
                    "stage": obs.stage,
                },
                text,
            )
        )
    stage_since, weight_since = state.stage_since, state.weight_since
    if obs.stage and obs.stage != state.stage:
        stage_since = _since(obs, stage_since)
    if obs.status and obs.production_weight != state.weights[0]:
        weight_since = _since(obs, weight_since)
    state = replace(
        state,
        status=obs.status or state.status,
        stage=obs.stage or state.stage,
        weights=weights if obs.status else state.weights,
        hooks=hooks,
        stage_since=stage_since,
        weight_since=weight_since,
    )
    return state, events


def _since(obs: NativeObservation, previous: float | None) -> float | None:
    """When a change first seen in `obs` happened: the deployment's `updatedAt` when it is
    later than the last change noted (`previous`), else the moment of the read."""
    told = obs.updated_at
    if told is not None and (previous is None or told > previous):
        return told if obs.wall is None or told <= obs.wall else obs.wall
    return obs.wall


def _finish(
    state: NativeState, events: list[Event], outcome: Outcome
) -> tuple[NativeState, list[Event], Decision]:
    return replace(state, phase=Phase.DONE, outcome=outcome), events, Decision(outcome=outcome)


def _outcome(state: NativeState, status: str, rolled_back: bool, code: int, reason: str) -> Outcome:
    cfg = state.config
    return Outcome(
        cfg.deployment_arn, status, rolled_back, code, reason, None, cfg.task_definition_arn
    )


def _stop(
    state: NativeState, events: list[Event], obs: NativeObservation, reason: str, code: int
) -> tuple[NativeState, list[Event], Decision]:
    """Ask ECS to stop the deployment with rollback, and follow the rollback to its end."""
    state = replace(
        state, phase=Phase.STOPPING, failure=reason, failure_exit=code, failed_at=obs.now
    )
    previous = revision(state.config.previous_task_definition_arn)
    events.append(
        Event(
            "rollback",
            {"deploymentId": state.config.deployment_arn, "by": "bluegreen", "reason": reason},
            f"{reason}: stopping the deployment with rollback to {previous}",
        )
    )
    return state, events, Decision((Stop(reason),), wait=ACTING)


def _wait(cfg: NativeConfig, obs: NativeObservation, wait: float = FAST_POLL) -> float:
    if cfg.deadline is not None:
        return max(0.05, min(wait, cfg.deadline - obs.now))
    return wait


def schedule(state: NativeState, obs: NativeObservation) -> cadence.Schedule:
    """What the deployment is expected to do next, and when (schedule.native_schedule): only
    while it runs forward and the watch follows it."""
    scale = state.config.time_scale or 1.0
    if state.phase is not Phase.FOLLOWING or state.status != "IN_PROGRESS":
        return cadence.Schedule(scale=scale)
    return native_schedule(
        obs.strategy,
        stage=state.stage,
        stage_since=state.stage_since,
        weight=state.weights[0],
        weight_since=state.weight_since,
        scale=scale,
    )


def _ahead(state: NativeState, obs: NativeObservation) -> Event | None:
    """What the deployment is expected to do next and when it should end, from its schedule
    (for people, and the live view's "→ green 20 % at 14:05:10, in 1m"); None when nothing is
    scheduled (before the production shift, or when the watch does not follow it forward)."""
    plan = schedule(state, obs)
    if not plan.steps and not plan.edges:
        return None
    strategy = obs.strategy
    weight = state.weights[0] or 0.0
    if strategy.kind == "LINEAR":
        upcoming = min(100.0, weight + strategy.step_percent)
    elif strategy.kind == "CANARY" and weight < strategy.step_percent:
        upcoming = strategy.step_percent
    else:
        upcoming = 100.0
    step_at = plan.steps[0] if plan.steps and weight < 100.0 else None
    end_at = plan.edges[0].earliest if plan.edges else None

    def iso(epoch: float | None) -> str | None:
        return None if epoch is None else dt.datetime.fromtimestamp(epoch, dt.UTC).isoformat()

    def hms(epoch: float) -> str:
        return f"{dt.datetime.fromtimestamp(epoch, dt.UTC):%H:%M:%S} UTC"

    parts = []
    if step_at is not None:
        parts.append(f"production {upcoming:g}% to green at {hms(step_at)}")
    if end_at is not None:
        parts.append(f"the release ends about {hms(end_at)}")
    return Event(
        "ahead",
        {
            "deploymentId": state.config.deployment_arn,
            "nextWeight": upcoming if step_at is not None else None,
            "nextAt": iso(step_at),
            "endsAt": iso(end_at),
        },
        "  next: " + "; ".join(parts),
    )


def next_wait(state: NativeState, obs: NativeObservation) -> float:
    """Wall seconds before the next read while the deployment runs: the schedule's cadence,
    never past the deadline."""
    if state.config.time_scale is None:
        wait = FAST_POLL
    elif obs.wall is None:
        wait = cadence.steady_wait(state.config.time_scale)
    else:
        wait = cadence.next_wait(schedule(state, obs), obs.wall)
    return _wait(state.config, obs, wait)


def _terminal(
    state: NativeState, events: list[Event], obs: NativeObservation
) -> tuple[NativeState, list[Event], Decision]:
    cfg = state.config
    status = obs.status
    previous = revision(cfg.previous_task_definition_arn)
    target = revision(cfg.task_definition_arn)
    failed_code = state.failure_exit if state.failure_exit != ExitCode.OK else ExitCode.FAILED
    if status == "SUCCESSFUL":
        if state.failure is None:
            reason = f"deployment completed: production is wholly on green ({target})"
            if state.verified:
                reason += ", verified"
            events.append(Event("completed", {"deploymentId": cfg.deployment_arn}, reason))
            return _finish(state, events, _outcome(state, status, False, ExitCode.OK, reason))
        reason = (
            f"{state.failure}; the deployment completed before the stop took effect: "
            f"production runs {target}; put it back with `bluegreen rollback`"
        )
        return _finish(state, events, _outcome(state, status, False, failed_code, reason))
    cause = state.failure or obs.status_reason or f"the deployment ended {status}"
    if status == "ROLLBACK_SUCCESSFUL":
        reason = f"{cause}; rolled back: production is wholly on {previous} again"
        if obs.triggered_alarms and state.failure is None:
            reason += f" (alarms {', '.join(obs.triggered_alarms)})"
        return _finish(state, events, _outcome(state, status, True, state.failure_exit, reason))
    share = obs.production_weight if obs.production_weight is not None else 0.0
    reason = (
        f"{cause}; the deployment ended {status}"
        + (f" ({obs.status_reason})" if obs.status_reason and obs.status_reason != cause else "")
        + f": production may still send {share:g}% to green ({target}); put it back with "
        "`bluegreen rollback`"
    )
    return _finish(state, events, _outcome(state, status, False, failed_code, reason))


def step(state: NativeState, obs: NativeObservation) -> tuple[NativeState, list[Event], Decision]:
    """Advance the watch by one observation."""
    if state.phase is Phase.DONE:
        assert state.outcome is not None
        return state, [], Decision(outcome=state.outcome)
    state, events = _diff(state, obs)
    if any(e.kind in ("stage", "weights") for e in events):
        ahead = _ahead(state, obs)
        if ahead is not None:
            events.append(ahead)
    cfg = state.config
    if obs.status in TERMINAL:
        return _terminal(state, events, obs)
    if not obs.status:
        if cfg.deadline is not None and obs.now >= cfg.deadline:
            return _finish(
                state,
                events,
                _outcome(
                    state,
                    "UNKNOWN",
                    False,
                    ExitCode.TIMEOUT,
                    f"timed out: ECS never showed {cfg.deployment_arn}",
                ),
            )
        return state, events, Decision(wait=_wait(cfg, obs))
    if state.phase is Phase.STOPPING:
        started = state.failed_at if state.failed_at is not None else obs.now
        if obs.now - started >= ROLLBACK_TIMEOUT:
            code = state.failure_exit if state.failure_exit != ExitCode.OK else ExitCode.TIMEOUT
            reason = (
                f"{state.failure}; the rollback did not end within {ROLLBACK_TIMEOUT:.0f}s "
                f"({obs.status}); follow it with `bluegreen watch {cfg.deployment_arn}`"
            )
            return _finish(state, events, _outcome(state, obs.status, False, code, reason))
        return state, events, Decision(wait=FAST_POLL)
    if obs.status in ROLLING_BACK or obs.status == "STOP_REQUESTED":
        # ECS rolls back (an alarm, a hook, a failing green) or stops on its own
        reason = obs.status_reason or f"ECS set the deployment {obs.status}"
        state = replace(state, phase=Phase.STOPPING, failure=reason, failed_at=obs.now)
        events.append(
            Event(
                "rollback",
                {"deploymentId": cfg.deployment_arn, "by": "ECS", "reason": reason},
                f"rolling back (ECS): {reason}",
            )
        )
        return state, events, Decision(wait=FAST_POLL)
    if obs.cancel:
        if cfg.on_cancel == "rollback":
            return _stop(state, events, obs, "cancelled by signal", ExitCode.CANCELLED)
        reason = (
            "cancelled: stopped watching; ECS carries on with the deployment (follow it with "
            f"`bluegreen watch {cfg.deployment_arn}`)"
        )
        return _finish(
            state, events, _outcome(state, obs.status, False, ExitCode.CANCELLED, reason)
        )
    if obs.alarms:
        return _stop(state, events, obs, f"alarm {', '.join(obs.alarms)} in ALARM", ExitCode.FAILED)
    if obs.metrics:
        reason = f"metric check {', '.join(obs.metrics)} breached"
        return _stop(state, events, obs, reason, ExitCode.FAILED)
    if cfg.deadline is not None and obs.now >= cfg.deadline:
        reason = f"timed out after {obs.now - cfg.started_at:.0f}s at {obs.stage or obs.status}"
        return _stop(state, events, obs, reason, ExitCode.TIMEOUT)
    if state.phase is Phase.VERIFYING:
        return _step_verify(state, events, obs)
    pauses = obs.awaiting_pauses()
    if cfg.verify and not state.verified and obs.stage == VERIFY_STAGE and pauses:
        state = replace(state, phase=Phase.VERIFYING, verify_hooks=pauses)
        events.append(
            Event(
                "verify",
                {"deploymentId": cfg.deployment_arn, "phase": "started", "hookIds": list(pauses)},
                f"test traffic is on green: running the verify command (pause hook "
                f"{', '.join(pauses)})",
            )
        )
        return state, events, Decision((RunVerify(pauses),), wait=_wait(cfg, obs))
    if cfg.wait_until is not None and _reached(cfg.wait_until, obs):
        reason = (
            f"reached {cfg.wait_until if cfg.wait_until != PAUSED else 'a pause hook'} "
            f"({obs.stage}); the deployment is left running: follow it with "
            f"`bluegreen watch {cfg.deployment_arn}`"
            + (", continue it with `bluegreen approve`" if cfg.wait_until == PAUSED else "")
        )
        return _finish(state, events, _outcome(state, obs.status, False, ExitCode.OK, reason))
    return state, events, Decision(wait=next_wait(state, obs))


def _reached(wait_until: str, obs: NativeObservation) -> bool:
    if wait_until == PAUSED:
        return bool(obs.awaiting_pauses())
    return obs.status == "IN_PROGRESS" and stage_index(obs.stage) >= stage_index(wait_until)


def _step_verify(
    state: NativeState, events: list[Event], obs: NativeObservation
) -> tuple[NativeState, list[Event], Decision]:
    cfg = state.config
    if obs.verify is None:
        return state, events, Decision(wait=next_wait(state, obs))
    ok, detail = obs.verify
    events.append(
        Event(
            "verify",
            {"deploymentId": cfg.deployment_arn, "phase": "ended", "ok": ok, "detail": detail},
            f"verify {'passed' if ok else 'failed'}: {detail}",
        )
    )
    if ok:
        state = replace(state, phase=Phase.FOLLOWING, verified=True)
        answers = tuple(Answer(h, "CONTINUE") for h in state.verify_hooks)
        return state, events, Decision(answers, wait=ACTING)
    reason = f"verify failed: {detail}"
    state = replace(
        state,
        phase=Phase.STOPPING,
        failure=reason,
        failure_exit=ExitCode.FAILED,
        failed_at=obs.now,
    )
    events.append(
        Event(
            "rollback",
            {"deploymentId": cfg.deployment_arn, "by": "bluegreen", "reason": reason},
            f"{reason}: answering the pause hook ROLLBACK (production never left "
            f"{revision(cfg.previous_task_definition_arn)})",
        )
    )
    answers = tuple(Answer(h, "ROLLBACK") for h in state.verify_hooks)
    return state, events, Decision(answers, wait=ACTING)
