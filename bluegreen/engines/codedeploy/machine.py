"""The CodeDeploy monitor: a pure `step(state, observation) -> (state, events, decision)`."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from bluegreen.engines import cadence
from bluegreen.engines.model import Event, Outcome
from bluegreen.errors import ExitCode

TERMINAL = frozenset({"Succeeded", "Failed", "Stopped"})
# Lifecycle events after which test traffic reaches the replacement (green) task set.
TEST_TRAFFIC_EVENTS = ("AllowTestTraffic",)
FAST_POLL = 1.0  # following a stop or a rollback to its end
ROLLBACK_GRACE = 20.0  # seconds to wait for CodeDeploy to name the rollback deployment
VERIFY_POLL = 0.25  # the deployment is over; only the verify command is awaited
STOP_POLL = 0.5  # after StopDeployment, until the original ends
END_POLL = cadence.BURST  # around the expected end of the termination wait
# Endpoint seconds CodeDeploy takes, after the termination wait, to remove the original task
# set and report the end (the sandbox drains it in 30 s; the end is awaited in a burst up to
# this long after the wait's end).
END_SPREAD = 30.0
TARGET_EVERY = 30.0  # endpoint seconds a deployment target read may be reused in quiet phases


class Phase(StrEnum):
    WATCHING = "watching"
    STOPPING = "stopping"  # StopDeployment asked; waiting for the original to end
    ROLLING_BACK = "rolling-back"  # following the rollback deployment
    DONE = "done"


class StopKind(StrEnum):
    ALARM = "alarm"
    METRIC = "metric"
    VERIFY = "verify"
    TIMEOUT = "timeout"
    CANCEL = "cancel"
    REQUEST = "request"  # `bluegreen stop` / `bluegreen rollback` asked for it


class VerifyState(StrEnum):
    NONE = "none"  # no verify command configured
    PENDING = "pending"  # waiting for test traffic to reach green
    RUNNING = "running"
    PASSED = "passed"
    FAILED = "failed"


@dataclass(frozen=True)
class LifecycleEvent:
    name: str
    status: str
    start: float | None = None
    end: float | None = None

    @property
    def duration(self) -> float | None:
        if self.start is None or self.end is None:
            return None
        return max(0.0, self.end - self.start)


@dataclass(frozen=True)
class TaskSet:
    label: str  # Blue | Green
    status: str  # PRIMARY | ACTIVE | DRAINING
    desired: int
    pending: int
    running: int
    weight: float
    target_group: str | None = None


@dataclass(frozen=True)
class MetricValue:
    name: str
    value: float | None  # None: no datapoint yet
    breached: bool
    threshold: float
    comparison: str


@dataclass(frozen=True)
class Observation:
    """What the loop saw at `now` (monotonic seconds) for deployment `deployment_id`."""

    now: float
    deployment_id: str
    status: str
    error: str | None = None
    rollback_deployment_id: str | None = None
    lifecycle: tuple[LifecycleEvent, ...] = ()
    task_sets: tuple[TaskSet, ...] = ()
    alarms: Mapping[str, str] = field(default_factory=dict)
    metrics: tuple[MetricValue, ...] = ()
    verify_result: tuple[bool, str] | None = None  # (passed, detail) once the command ended
    cancel: bool = False
    wall: float | None = None  # epoch seconds at `now` (compared with the events' timestamps)


@dataclass(frozen=True)
class MonitorConfig:
    deployment_id: str
    started_at: float
    deadline: float | None = None
    verify: bool = False
    approve_after_verify: bool = False  # group waits in Ready (STOP_DEPLOYMENT)
    on_cancel: str = "rollback"  # rollback | detach
    rollback_expected_on_failure: bool = True
    task_definition_arn: str | None = None
    step_interval: float | None = None  # seconds between traffic steps, when known
    shift_seconds: float | None = None  # the whole traffic shift per the config, when known
    termination_wait: float | None = None  # seconds from AllowTraffic's end to the end
    stop_rollback: bool = True  # client-side triggers stop with rollback
    time_scale: float = 1.0  # endpoint seconds per wall second (a sandbox's fast clock)
    ready_wait: float | None = None  # seconds a group that stops when not approved waits
    # --wait-until: a lifecycle event name (reached once it has started), or "paused" (the
    # ready wait: the deployment waits for ContinueDeployment); exit 0 then, leaving it running
    wait_until: str | None = None


@dataclass(frozen=True)
class Stop:
    deployment_id: str
    rollback: bool
    reason: str


@dataclass(frozen=True)
class RunVerify:
    deployment_id: str


@dataclass(frozen=True)
class Approve:
    deployment_id: str


Action = Stop | RunVerify | Approve


@dataclass(frozen=True)
class Decision:
    actions: tuple[Action, ...] = ()
    wait: float = FAST_POLL
    observe: str | None = None  # the deployment to observe next
    outcome: Outcome | None = None
    detach: bool = False
    detail_every: float = 0.0  # the deployment target read may be reused this long
    # the next read may be GetDeploymentTarget alone (see `target_reads`)
    target_reads: bool = False


@dataclass(frozen=True)
class State:
    config: MonitorConfig
    observing: str
    phase: Phase = Phase.WATCHING
    status: str | None = None
    original_status: str | None = None
    lifecycle: Mapping[str, str] = field(default_factory=dict)
    weights: tuple[tuple[str, float], ...] | None = None
    counts: tuple[tuple[str, str, int, int, int], ...] | None = None
    alarms: Mapping[str, str] = field(default_factory=dict)
    breached: frozenset[str] = frozenset()
    verify: VerifyState = VerifyState.NONE
    approved: bool = False
    waiting_approval: bool = False
    stop_kind: StopKind | None = None
    stop_reason: str | None = None
    stop_rollback: bool = False
    terminal_at: float | None = None
    rollback_id: str | None = None
    last_weight_change: float | None = None
    outcome: Outcome | None = None


def initial_state(config: MonitorConfig) -> State:
    return State(
        config=config,
        observing=config.deployment_id,
        verify=VerifyState.PENDING if config.verify else VerifyState.NONE,
    )


def stop_requested(state: State, rollback: bool, reason: str) -> State:
    """The state after a stop asked outside the monitor (the stop and rollback verbs)."""
    return replace(
        state,
        phase=Phase.STOPPING,
        stop_kind=StopKind.REQUEST,
        stop_reason=reason,
        stop_rollback=rollback,
    )


def _exit_for(kind: StopKind | None, ok: bool = False) -> int:
    if kind is StopKind.REQUEST:
        return ExitCode.OK if ok else ExitCode.FAILED
    if kind is StopKind.TIMEOUT:
        return ExitCode.TIMEOUT
    if kind is StopKind.CANCEL:
        return ExitCode.CANCELLED
    return ExitCode.FAILED


def _fmt_pct(w: float) -> str:
    return f"{w:g}%"


def _diff_events(state: State, obs: Observation) -> tuple[State, list[Event]]:
    """Report what changed since the last observation of the same deployment."""
    events: list[Event] = []
    dep = obs.deployment_id
    if obs.status != state.status:
        text = f"deployment {dep}: {obs.status}"
        if obs.error and obs.status in ("Failed", "Stopped"):
            text += f" ({obs.error})"
        events.append(Event("status", {"deploymentId": dep, "status": obs.status}, text))
    lifecycle = dict(state.lifecycle)
    for ev in obs.lifecycle:
        if lifecycle.get(ev.name) == ev.status:
            continue
        lifecycle[ev.name] = ev.status
        if ev.status == "Pending":
            continue
        data: dict[str, Any] = {"deploymentId": dep, "name": ev.name, "status": ev.status}
        text = f"  {ev.name}: {ev.status}"
        if ev.duration is not None:
            data["durationSeconds"] = round(ev.duration, 3)
            text += f" ({ev.duration:.1f}s)"
        events.append(Event("lifecycle", data, text))
    weights = state.weights
    if obs.task_sets:
        w = {t.label: t.weight for t in obs.task_sets}
        weights = (("Blue", w.get("Blue", 0.0)), ("Green", w.get("Green", 0.0)))
    last_change = state.last_weight_change
    if weights != state.weights and weights is not None:
        blue, green = weights[0][1], weights[1][1]
        events.append(
            Event(
                "traffic",
                {"deploymentId": dep, "blue": blue, "green": green},
                f"  traffic: blue {_fmt_pct(blue)} / green {_fmt_pct(green)}",
            )
        )
        last_change = obs.now
    counts = (
        tuple(sorted((t.label, t.status, t.desired, t.running, t.pending) for t in obs.task_sets))
        or state.counts
    )
    if counts != state.counts and obs.task_sets:
        sets = [
            {"label": c[0], "status": c[1], "desired": c[2], "running": c[3], "pending": c[4]}
            for c in counts or ()
        ]
        text = "  task sets: " + ", ".join(
            f"{s['label']} {s['status']} {s['running']}/{s['desired']}" for s in sets
        )
        events.append(Event("taskSets", {"deploymentId": dep, "taskSets": sets}, text))
    alarms = dict(state.alarms)
    for name, alarm_state in sorted(obs.alarms.items()):
        if alarms.get(name) != alarm_state:
            alarms[name] = alarm_state
            events.append(
                Event(
                    "alarm", {"name": name, "state": alarm_state}, f"  alarm {name}: {alarm_state}"
                )
            )
    breached = set(state.breached)
    for m in obs.metrics:
        if m.breached and m.name not in breached:
            breached.add(m.name)
            events.append(
                Event(
                    "metric",
                    {
                        "name": m.name,
                        "value": m.value,
                        "threshold": m.threshold,
                        "comparison": m.comparison,
                        "breached": True,
                    },
                    f"  metric {m.name}: {m.value:g} {m.comparison} {m.threshold:g}"
                    if m.value is not None
                    else f"  metric {m.name}: breached",
                )
            )
        elif not m.breached and m.name in breached:
            breached.discard(m.name)
    new = replace(
        state,
        status=obs.status,
        lifecycle=lifecycle,
        weights=weights,
        counts=counts,
        alarms=alarms,
        breached=frozenset(breached),
        last_weight_change=last_change,
    )
    return new, events


def _test_traffic_on_green(state: State, obs: Observation) -> bool:
    done = {"Succeeded", "Skipped"}
    if any(state.lifecycle.get(name) in done for name in TEST_TRAFFIC_EVENTS):
        return True
    return obs.status == "Ready"


def _trigger(state: State, obs: Observation) -> tuple[StopKind, str] | None:
    """A client-side reason to stop the original deployment, if any (first wins)."""
    if obs.cancel:
        return StopKind.CANCEL, "cancelled by signal"
    if state.config.deadline is not None and obs.now >= state.config.deadline:
        return StopKind.TIMEOUT, "timed out"
    in_alarm = sorted(n for n, s in obs.alarms.items() if s == "ALARM")
    if in_alarm:
        return StopKind.ALARM, f"alarm {', '.join(in_alarm)} in ALARM"
    hot = [m for m in obs.metrics if m.breached]
    if hot:
        m = hot[0]
        value = "no data" if m.value is None else f"{m.value:g}"
        return StopKind.METRIC, f"metric {m.name} = {value} ({m.comparison} {m.threshold:g})"
    if obs.verify_result is not None and not obs.verify_result[0]:
        return StopKind.VERIFY, f"verify failed: {obs.verify_result[1]}"
    return None


def _event(obs: Observation, name: str) -> LifecycleEvent | None:
    return next((e for e in obs.lifecycle if e.name == name), None)


def endpoint_scale(state: State, obs: Observation) -> float:
    """Endpoint seconds per wall second: the time scale the endpoint told (a sandbox), else how
    fast it ran the shift (the config says how long the shift lasts; the AllowTraffic event's
    timestamps say how long it took), else 1 (AWS)."""
    cfg = state.config
    if cfg.time_scale != 1.0:
        return cfg.time_scale
    allow = _event(obs, "AllowTraffic")
    took = allow.duration if allow is not None and allow.status == "Succeeded" else None
    if cfg.shift_seconds and took and took > 0:
        return max(1.0, cfg.shift_seconds / took)
    return 1.0


def expected_end(state: State, obs: Observation) -> float | None:
    """When (epoch seconds) the termination wait should end: AllowTraffic's end (or its
    AfterAllowTraffic hook's, when later) plus the group's termination wait on the endpoint's
    clock. None when unknown (the shift has not ended, or the group keeps the original)."""
    cfg = state.config
    if cfg.termination_wait is None:
        return None
    allow = _event(obs, "AllowTraffic")
    if allow is None or allow.status != "Succeeded" or allow.end is None:
        return None
    base = allow.end
    after = _event(obs, "AfterAllowTraffic")
    if after is not None and after.status == "Succeeded" and after.end is not None:
        base = max(base, after.end)
    return base + cadence.scaled(cfg.termination_wait, endpoint_scale(state, obs))


def schedule(state: State, obs: Observation) -> cadence.Schedule:
    """What the deployment is expected to do next, and when: the traffic steps of a running
    shift (from AllowTraffic's start and the config), the end of the termination wait, and the
    end of a ready wait that stops the deployment unless it is approved."""
    cfg = state.config
    scale = endpoint_scale(state, obs)
    edges: list[cadence.Edge] = []
    steps: tuple[float, ...] = ()
    allow = _event(obs, "AllowTraffic")
    if (
        allow is not None
        and allow.status == "InProgress"
        and allow.start is not None
        and cfg.step_interval
        and cfg.shift_seconds
    ):
        steps = cadence.steps_after(allow.start, cfg.step_interval, cfg.shift_seconds, scale)
    end = expected_end(state, obs)
    if end is not None:
        edges.append(cadence.Edge(end, end + cadence.scaled(END_SPREAD, scale)))
    if obs.status == "Ready" and cfg.ready_wait is not None:
        ready = _event(obs, "AfterAllowTestTraffic")  # the deployment is Ready once it ended
        if ready is not None and ready.end is not None:
            timeout = ready.end + cadence.scaled(cfg.ready_wait, scale)
            edges.append(cadence.Edge(timeout, timeout))
    return cadence.Schedule(tuple(edges), steps, scale)


def poll_interval(state: State, obs: Observation) -> float:
    """How long to sleep before the next observation: the schedule's cadence (one read every
    6 s of the endpoint's clock; one just after each expected traffic step; a burst around the
    expected end); never past the deadline."""
    if state.phase is Phase.STOPPING:
        return STOP_POLL
    if obs.wall is None:
        wait = cadence.steady_wait(endpoint_scale(state, obs))
    else:
        wait = cadence.next_wait(schedule(state, obs), obs.wall)
    if state.config.deadline is not None and state.phase is Phase.WATCHING:
        return max(0.05, min(wait, state.config.deadline - obs.now))
    return wait


def detail_interval(state: State, obs: Observation) -> float:
    """How long the deployment target read may be reused (the deployment's status is read
    every time, in one batch with other monitors when they share reads).

    0 (read it every time) whenever its lifecycle events matter at once: outside the watch, on
    a cancel, before the traffic shift when a verify command waits for test traffic. During a
    shift, until just after the next expected step; around the expected end, for the burst
    (the status tells the end); otherwise up to TARGET_EVERY of the endpoint's clock.
    """
    cfg = state.config
    if state.phase is not Phase.WATCHING or obs.cancel:
        return 0.0
    if obs.status not in ("InProgress", "Ready"):
        return 0.0
    sched = schedule(state, obs)
    # at most every fifth steady read, even when a fast clock makes TARGET_EVERY short
    quiet = max(cadence.scaled(TARGET_EVERY, sched.scale), 5 * cadence.steady_wait(sched.scale))
    if obs.wall is None:
        return 0.0
    for lo, hi in (e.window() for e in sched.edges):
        if lo <= obs.wall <= hi:
            return hi - obs.wall
    allow = _event(obs, "AllowTraffic")
    if allow is None or allow.status == "Pending":
        return 0.0 if cfg.verify and state.verify is VerifyState.PENDING else quiet
    if allow.status == "Succeeded" and sched.edges:
        # the termination wait: nothing the target tells is needed before its end's burst
        return max(quiet, min(e.window()[0] for e in sched.edges) - obs.wall)
    ahead = [t + cadence.STEP_MARGIN - obs.wall for t in sched.steps if t > obs.wall - 0.05]
    if ahead:  # a bake with its next step known: the target changes at that step
        return max(0.0, min(ahead) - 0.05)
    return quiet


def target_reads(state: State, obs: Observation) -> bool:
    """Whether the next read may be the deployment target alone: while the deployment runs and
    no edge is due (its status tells a running deployment from an ended one, and it carries
    the shift, so one call a read does); around an expected end the deployment is read."""
    if state.phase is not Phase.WATCHING or obs.cancel or obs.status not in ("InProgress", "Ready"):
        return False
    return obs.wall is None or not cadence.bursting(schedule(state, obs), obs.wall)


def _verify_event(deployment_id: str, status: str, text: str) -> Event:
    """The `verify` event: the verify step of `deployment_id` is now `status`."""
    return Event("verify", {"deploymentId": deployment_id, "status": status}, text)


PAUSED = "paused"
# The lifecycle events of an ECS blue/green deployment, in order
# (https://docs.aws.amazon.com/codedeploy/latest/userguide/reference-appspec-file-structure-hooks.html#appspec-hooks-ecs)
LIFECYCLE = (
    "BeforeInstall",
    "Install",
    "AfterInstall",
    "AllowTestTraffic",
    "AfterAllowTestTraffic",
    "BeforeAllowTraffic",
    "AllowTraffic",
    "AfterAllowTraffic",
)


def wait_until_problem(wait_until: str, waits_in_ready: bool) -> str | None:
    """Why `--wait-until` cannot be reached on this group (None when it can)."""
    if wait_until == PAUSED:
        if waits_in_ready:
            return None
        return (
            "--wait-until paused waits for the ready wait, but the deployment group reroutes "
            "at once (deploymentReadyOption CONTINUE_DEPLOYMENT): it never pauses"
        )
    if wait_until.lower() in (name.lower() for name in LIFECYCLE):
        return None
    return f"--wait-until {wait_until!r} is neither `paused` nor a lifecycle event: " + ", ".join(
        LIFECYCLE
    )


def _reached(wait_until: str, obs: Observation) -> str | None:
    """What `--wait-until` waited for, when this observation shows it reached; else None."""
    if wait_until == PAUSED:
        return "paused: waiting in Ready for approval" if obs.status == "Ready" else None
    for event in obs.lifecycle:
        if event.name.lower() == wait_until.lower() and event.status in (
            "InProgress",
            "Succeeded",
        ):
            return f"reached {event.name} ({event.status})"
    return None


def step(state: State, obs: Observation) -> tuple[State, list[Event], Decision]:
    """Advance the monitor by one observation."""
    if state.phase is Phase.DONE:
        assert state.outcome is not None
        return state, [], Decision(outcome=state.outcome)
    cfg = state.config
    state, events = _diff_events(state, obs)
    actions: list[Action] = []

    if state.phase is Phase.ROLLING_BACK:
        return _step_rollback(state, obs, events)

    original = cfg.deployment_id
    if obs.status in TERMINAL:
        return _step_terminal(state, obs, events)

    # Still running: client-side triggers.
    if state.phase is Phase.WATCHING:
        if cfg.wait_until is not None and obs.deployment_id == original:
            reached = _reached(cfg.wait_until, obs)
            if reached is not None:
                reason = f"{reached}; it goes on: follow it with `bluegreen watch {original}`"
                return _detach(state, events, obs, "reached", ExitCode.OK, reason)
        trig = _trigger(state, obs)
        if trig is not None:
            kind, reason = trig
            if kind is StopKind.CANCEL and cfg.on_cancel == "detach":
                reason = f"detached; re-attach with: bluegreen watch {original}"
                return _detach(state, events, obs, "detach", ExitCode.CANCELLED, reason)
            rollback = cfg.stop_rollback or kind in (StopKind.TIMEOUT, StopKind.CANCEL)
            state = replace(
                state,
                phase=Phase.STOPPING,
                stop_kind=kind,
                stop_reason=reason,
                stop_rollback=rollback,
            )
            events.append(
                Event(
                    "stop",
                    {"deploymentId": original, "kind": str(kind), "reason": reason},
                    f"stopping {original}: {reason}"
                    + ("; rolling back to blue" if rollback else ""),
                )
            )
            actions.append(Stop(original, rollback=rollback, reason=reason))
            return state, events, Decision(tuple(actions), wait=STOP_POLL, observe=original)

        if obs.verify_result is not None and obs.verify_result[0]:
            state = replace(state, verify=VerifyState.PASSED)
            events.append(
                _verify_event(original, "passed", f"  verify passed: {obs.verify_result[1]}")
            )
        elif state.verify is VerifyState.PENDING and _test_traffic_on_green(state, obs):
            state = replace(state, verify=VerifyState.RUNNING)
            events.append(
                _verify_event(original, "running", "  test traffic on green: running verify")
            )
            actions.append(RunVerify(original))
        if obs.status == "Ready" and not state.approved:
            if cfg.approve_after_verify and state.verify is VerifyState.PASSED:
                state = replace(state, approved=True)
                events.append(
                    Event(
                        "approve",
                        {"deploymentId": original},
                        "  verify passed: continuing the deployment (READY_WAIT)",
                    )
                )
                actions.append(Approve(original))
            elif not state.waiting_approval and not (
                cfg.approve_after_verify and state.verify is VerifyState.RUNNING
            ):
                state = replace(state, waiting_approval=True)
                events.append(
                    Event(
                        "waiting",
                        {"deploymentId": original, "for": "approval"},
                        f"  waiting for approval: bluegreen approve {original}",
                    )
                )
    return (
        state,
        events,
        Decision(
            tuple(actions),
            poll_interval(state, obs),
            observe=original,
            detail_every=detail_interval(state, obs),
            target_reads=target_reads(state, obs),
        ),
    )


def _step_terminal(
    state: State, obs: Observation, events: list[Event]
) -> tuple[State, list[Event], Decision]:
    cfg = state.config
    original = cfg.deployment_id
    state = replace(state, original_status=obs.status)
    if obs.status == "Succeeded" and state.stop_kind is None and cfg.verify:
        # The shift may finish before the verify command does (or before we saw test traffic
        # on green): its verdict still decides the result.
        if state.verify is VerifyState.PENDING:
            state = replace(state, verify=VerifyState.RUNNING)
            events.append(
                _verify_event(
                    original, "running", "  deployment complete: running verify against green"
                )
            )
            return state, events, Decision((RunVerify(original),), FAST_POLL, observe=original)
        if state.verify is VerifyState.RUNNING:
            if obs.verify_result is None:
                return state, events, Decision(wait=VERIFY_POLL, observe=original)
            passed, detail = obs.verify_result
            state = replace(state, verify=VerifyState.PASSED if passed else VerifyState.FAILED)
            events.append(
                _verify_event(
                    original,
                    "passed" if passed else "failed",
                    f"  verify {'passed' if passed else 'failed'}: {detail}",
                )
            )
            if not passed:
                outcome = Outcome(
                    original,
                    "Succeeded",
                    False,
                    ExitCode.FAILED,
                    f"verify failed after the deployment completed ({detail}); production runs "
                    "the new revision: run `bluegreen rollback` to return to the previous one",
                    None,
                    cfg.task_definition_arn,
                )
                return _finish(state, events, outcome)
    if obs.status == "Succeeded":
        if state.stop_kind is None:
            outcome = Outcome(
                original,
                "Succeeded",
                False,
                ExitCode.OK,
                "succeeded",
                None,
                cfg.task_definition_arn,
            )
        else:
            outcome = Outcome(
                original,
                "Succeeded",
                False,
                _exit_for(state.stop_kind),
                f"{state.stop_reason}, but the deployment completed before the stop took "
                "effect; run `bluegreen rollback` to return to the previous revision",
                None,
                cfg.task_definition_arn,
            )
        return _finish(state, events, outcome)
    if obs.rollback_deployment_id:
        rid = obs.rollback_deployment_id
        state = replace(
            state,
            phase=Phase.ROLLING_BACK,
            observing=rid,
            rollback_id=rid,
            status=None,
            lifecycle={},
            weights=None,
            counts=None,
            # CodeDeploy's own reason (which alarm, which hook) names the cause in the result
            stop_reason=state.stop_reason or obs.error,
        )
        events.append(
            Event(
                "rollback",
                {"deploymentId": original, "rollbackDeploymentId": rid},
                f"rolling back: following rollback deployment {rid}",
            )
        )
        return state, events, Decision(wait=0.0, observe=rid)  # read it at once
    expect_rollback = state.stop_rollback or (
        state.stop_kind is None and cfg.rollback_expected_on_failure
    )
    terminal_at = state.terminal_at if state.terminal_at is not None else obs.now
    state = replace(state, terminal_at=terminal_at)
    if expect_rollback and obs.now - terminal_at < ROLLBACK_GRACE:
        return state, events, Decision(wait=FAST_POLL, observe=original)
    reason = state.stop_reason or obs.error or f"deployment {obs.status.lower()}"
    as_asked = state.stop_kind is StopKind.REQUEST and not state.stop_rollback
    outcome = Outcome(
        original,
        obs.status,
        False,
        _exit_for(state.stop_kind, ok=as_asked and obs.status == "Stopped"),
        reason if as_asked else f"{reason}; no rollback deployment was started",
        None,
        cfg.task_definition_arn,
    )
    return _finish(state, events, outcome)


def _step_rollback(
    state: State, obs: Observation, events: list[Event]
) -> tuple[State, list[Event], Decision]:
    cfg = state.config
    if obs.status not in TERMINAL:
        return state, events, Decision(wait=FAST_POLL, observe=state.observing)
    ok = obs.status == "Succeeded"
    reason = state.stop_reason or "deployment failed"
    reason += (
        "; rolled back: production is on the previous revision"
        if ok
        else f"; the rollback deployment {obs.deployment_id} ended {obs.status}"
    )
    outcome = Outcome(
        cfg.deployment_id,
        state.original_status or "Stopped",
        ok,
        _exit_for(state.stop_kind),
        reason,
        state.rollback_id,
        cfg.task_definition_arn,
    )
    if state.stop_kind is StopKind.REQUEST:
        outcome = replace(outcome, exit_code=_exit_for(StopKind.REQUEST, ok=ok))
    return _finish(state, events, outcome)


def _detach(
    state: State, events: list[Event], obs: Observation, kind: str, code: int, reason: str
) -> tuple[State, list[Event], Decision]:
    """End the follow with the deployment left running (--wait-until reached, or a cancel that
    detaches): the outcome, its `kind` event, and a decision that records no result."""
    cfg = state.config
    outcome = Outcome(
        deployment_id=cfg.deployment_id,
        status=obs.status,
        rolled_back=False,
        exit_code=code,
        reason=reason,
        task_definition_arn=cfg.task_definition_arn,
    )
    events.append(Event(kind, {"deploymentId": cfg.deployment_id}, reason))
    state = replace(state, phase=Phase.DONE, outcome=outcome)
    return state, events, Decision(outcome=outcome, detach=True)


def _finish(
    state: State, events: list[Event], outcome: Outcome
) -> tuple[State, list[Event], Decision]:
    state = replace(state, phase=Phase.DONE, outcome=outcome)
    return state, events, Decision(outcome=outcome)


def expected_remaining(state: State, now: float) -> float | None:
    """A rough estimate of the seconds left in the traffic shift (for the live view)."""
    interval = state.config.step_interval
    if interval is None or state.last_weight_change is None:
        return None
    green = dict(state.weights or ()).get("Green", 0.0)
    if green >= 100.0:
        return 0.0
    return max(0.0, math.ceil(interval - (now - state.last_weight_change)))
