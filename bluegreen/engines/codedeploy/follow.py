"""The monitor loop: owns the clock, the sleep and the I/O around the pure `monitor.step`.

`Probe` reads CodeDeploy, CloudWatch and ELBv2 and performs the monitor's actions (stop,
approve); `follow()` feeds observations to the state machine until it decides an outcome.
Clock, sleep and the cancel flag are injected so the loop itself can be driven fast.

`SharedReads` lets the monitors of a fan-out share their reads: their polls wake on one
common grid, and the deployments (BatchGetDeployments) and alarms (DescribeAlarms) that the
monitors ask for at the same moment are read in one call instead of one call each.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from bluegreen import journal as J
from bluegreen.engines import cadence
from bluegreen.engines.codedeploy.machine import (
    Approve,
    Decision,
    MetricValue,
    MonitorConfig,
    Observation,
    Phase,
    RunVerify,
    State,
    Stop,
    initial_state,
    step,
    stop_requested,
)
from bluegreen.engines.codedeploy.metrics import Check, read_checks, target_group_dimensions
from bluegreen.engines.codedeploy.probe import (
    RUNNING_TARGET,
    DeploymentView,
    server_watched_alarms,
    view,
)
from bluegreen.engines.follow import ALARM_EVERY, Follow, Pace, Signals
from bluegreen.engines.model import Event, Outcome
from bluegreen.engines.verify import VerifyRun
from bluegreen.errors import AwsError

if TYPE_CHECKING:
    from bluegreen.aws.codedeploy import DeploymentGroup
    from bluegreen.aws.session import Aws

STATUS_EVERY = 60.0  # endpoint seconds: while the target stands in, the deployment at least
POLL_GRID = 0.2  # seconds: shared monitors wake on multiples of this (monitor.END_POLL)
GATHER = 0.005  # seconds a batch leader waits for the other monitors woken on the same tick
ELBV2_BATCH = 20  # names or ARNs per DescribeTargetGroups / DescribeListeners call
ECS_BATCH = 10  # services per DescribeServices call (the API's limit)

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Coalescer(Generic[K, V]):
    """Many threads' reads of keys, served by as few `fetch` calls as possible.

    A caller's keys join the next batch; the first caller to find no batch in flight leads
    it (after `gather` seconds for its peers), the others wait for its answer. A batch only
    starts after every key in it was asked for, so no caller gets a staler answer than a
    call of its own would have given. `fetch` returns what it found (absent keys are left
    out); an exception from `fetch` reaches every caller of that batch.
    """

    def __init__(self, fetch: Callable[[list[K]], dict[K, V]], *, gather: float = GATHER) -> None:
        self._fetch = fetch
        self._gather = gather
        self._cond = threading.Condition()
        self._next: dict[K, None] = {}  # keys of the batch not started yet
        self._generation = 0  # the batch the keys in _next belong to
        self._busy = False
        self._done: dict[int, tuple[dict[K, V], BaseException | None]] = {}
        self._waiting: dict[int, int] = {}  # batch -> callers not yet served
        self.calls = 0  # fetch calls made (for tests and diagnostics)

    def get(self, keys: Sequence[K]) -> dict[K, V]:
        with self._cond:
            for key in keys:
                self._next[key] = None
            generation = self._generation
            self._waiting[generation] = self._waiting.get(generation, 0) + 1
            while generation not in self._done:
                if not self._busy:
                    self._busy = True
                    self._cond.release()
                    try:
                        self._lead()
                    finally:
                        self._cond.acquire()
                    continue
                self._cond.wait()
            found, error = self._done[generation]
            self._waiting[generation] -= 1
            if not self._waiting[generation]:
                del self._waiting[generation]
                del self._done[generation]
        if error is not None:
            raise error
        return {k: found[k] for k in keys if k in found}

    def _lead(self) -> None:
        try:
            if self._gather > 0:
                time.sleep(self._gather)
        except BaseException:
            with self._cond:
                self._busy = False
                self._cond.notify_all()
            raise
        with self._cond:
            batch, self._next = list(self._next), {}
            generation = self._generation
            self._generation += 1
        found: dict[K, V] = {}
        error: BaseException | None = None
        try:
            self.calls += 1
            found = self._fetch(batch)
        except BaseException as exc:  # every caller of this batch re-raises it
            error = exc
        with self._cond:
            self._done[generation] = (found, error)
            self._busy = False
            self._cond.notify_all()


def _existing(read: Callable[[list[str]], Iterable[str]], names: list[str]) -> list[str]:
    """The names that exist, by `read` (DescribeTargetGroups, DescribeListeners). A failed call
    (one missing name fails it all) is retried one name at a time; a caller whose name is still
    absent asks on its own."""
    from bluegreen.errors import BluegreenError

    try:
        return list(read(names))
    except BluegreenError:
        if len(names) == 1:
            return []
        return [n for one in names for n in _existing(read, [one])]


class SharedReads:
    """The reads the monitors of one fan-out (one region) share, and their common poll grid.

    One batch reads every deployment (BatchGetDeployments), every alarm (DescribeAlarms) and
    every rolling service (DescribeServices, per cluster) that the monitors woken on the same
    tick asked for. The preflights share their target group, listener and alarm checks the
    same way (`preflight`).
    """

    def __init__(self, aws: Aws, *, grid: float = POLL_GRID, gather: float = GATHER) -> None:
        self.aws = aws
        self.grid = grid
        self.reads: Coalescer[tuple[str, str], Any] = Coalescer(self._fetch, gather=gather)
        self._caller: str | None = None
        self._caller_lock = threading.Lock()

    def _fetch(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], Any]:
        from bluegreen.aws import cloudwatch, codedeploy

        ids = [name for kind, name in keys if kind == "deployment"]
        names = [name for kind, name in keys if kind == "alarm"]
        found: dict[tuple[str, str], Any] = {}
        apps = [name for kind, name in keys if kind == "application"]
        if apps:
            for app, platform in codedeploy.application_platforms(self.aws, apps).items():
                found["application", app] = platform
        if ids:
            for info in codedeploy.batch_get_deployments(self.aws, ids):
                found["deployment", str(info.get("deploymentId"))] = info
        if names:
            for name, value in cloudwatch.alarm_states(self.aws, names).items():
                found["alarm", name] = value
        by_cluster: dict[str, list[str]] = {}
        for kind, name in keys:
            if kind == "service":
                cluster, _, service = name.partition("\0")
                by_cluster.setdefault(cluster, []).append(service)
        for cluster, services in by_cluster.items():
            from bluegreen.aws import ecs

            for start in range(0, len(services), ECS_BATCH):
                batch = services[start : start + ECS_BATCH]
                for service, record in ecs.describe_services_raw(self.aws, cluster, batch).items():
                    found["service", f"{cluster}\0{service}"] = record
        for kind, fetch in (("target_group", self._target_groups), ("listener", self._listeners)):
            wanted = [name for k, name in keys if k == kind]
            for start in range(0, len(wanted), ELBV2_BATCH):
                for name in fetch(wanted[start : start + ELBV2_BATCH]):
                    found[kind, name] = True
        return found

    def _target_groups(self, names: list[str]) -> list[str]:
        from bluegreen.aws import elbv2

        return _existing(lambda some: elbv2.target_groups(self.aws, some), names)

    def _listeners(self, arns: list[str]) -> list[str]:
        from bluegreen.aws import elbv2

        return _existing(lambda some: elbv2.listeners(self.aws, some), arns)

    def preflight(
        self, target_groups: Sequence[str], listeners: Sequence[str], alarms: Sequence[str]
    ) -> list[str]:
        """A plan's checks in one shared read: the target groups and listeners must exist
        (else the same error as reading them alone), and the alarms that do not exist."""
        from bluegreen.aws import elbv2

        keys = [("target_group", n) for n in dict.fromkeys(target_groups)]
        keys += [("listener", a) for a in dict.fromkeys(listeners)]
        keys += [("alarm", n) for n in dict.fromkeys(alarms)]
        found = self.reads.get(keys)
        if any(("target_group", n) not in found for n in target_groups):
            elbv2.target_groups(self.aws, list(target_groups))  # raises what is wrong
        if any(("listener", a) not in found for a in listeners):
            elbv2.listeners(self.aws, list(listeners))
        return [n for n in alarms if ("alarm", n) not in found]

    def application_platform(self, application: str) -> str:
        """The application's compute platform, read in one BatchGetApplications with the other
        preflights' (an application the batch could not read is read alone: its error)."""
        from bluegreen.aws import codedeploy

        found = self.reads.get([("application", application)])
        platform = found.get(("application", application))
        if platform is None:
            return codedeploy.application_platform(self.aws, application)
        return str(platform)

    def read(
        self, deployment_id: str | None, alarms: Sequence[str] = ()
    ) -> tuple[dict[str, Any] | None, dict[str, str]]:
        """The deployment's record (None: not asked) and the states of the alarms that exist."""
        from bluegreen.errors import ResourceNotFound

        keys = [("alarm", name) for name in dict.fromkeys(alarms)]
        if deployment_id is not None:
            keys.insert(0, ("deployment", deployment_id))
        found = self.reads.get(keys)
        states = {name: str(value) for (kind, name), value in found.items() if kind == "alarm"}
        if deployment_id is None:
            return None, states
        info = found.get(("deployment", deployment_id))
        if not info:
            raise ResourceNotFound(f"deployment {deployment_id} not found")
        return dict(info), states

    def service(self, cluster: str, service: str) -> dict[str, Any]:
        """A rolling service's DescribeServices record, read in the tick's batch; the same
        ResourceNotFound as reading it alone when it is gone."""
        from bluegreen.aws import ecs

        found = self.reads.get([("service", f"{cluster}\0{service}")])
        record = found.get(("service", f"{cluster}\0{service}"))
        if record is None:
            return ecs.describe_service_raw(self.aws, cluster, service)  # raises what is wrong
        return dict(record)

    def who(self, aws: Aws) -> str:
        """The caller's identity, read once for the whole fan-out."""
        from bluegreen.aws.iam import who

        with self._caller_lock:
            if self._caller is None:
                self._caller = who(aws)
            return self._caller

    def sleeper(
        self, cancel: CancelFlag, clock: Callable[[], float], *, cadence: float | None = None
    ) -> Callable[[float], None]:
        """A sleep that ends on the common grid nearest to `seconds` from now (never before
        now), so the monitors' next reads coincide and share one call.

        With a `cadence` (watches that read every `cadence` seconds), a sleep at least that
        long ends on the nearest multiple of the cadence instead: watches that started at
        different moments of a second still read on the same ticks."""

        def sleep(seconds: float) -> None:
            now = clock()
            unit = cadence if cadence is not None and seconds >= cadence else self.grid
            wake = math.floor((now + max(0.0, seconds)) / unit + 0.5) * unit
            cancel.sleep(max(0.0, wake - now))

        return sleep


@dataclass
class Probe:
    """The monitor's window on AWS, and its hands."""

    aws: Aws
    group: DeploymentGroup
    alarms: Sequence[str] = ()
    checks: Sequence[Check] = ()
    shared: SharedReads | None = None  # a fan-out's batched reads
    scale: float = 1.0  # endpoint seconds per wall second (a sandbox's fast clock)
    _dims: dict[str, dict[str, str]] = field(default_factory=dict, init=False)
    _alarms_read: dict[str, str] | None = field(default=None, init=False)

    def deployment(
        self,
        deployment_id: str,
        reuse_target: dict[str, Any] | None = None,
        *,
        alarms: Sequence[str] = (),
    ) -> tuple[DeploymentView, dict[str, Any] | None]:
        """GetDeployment, and GetDeploymentTarget unless `reuse_target` is given.

        `alarms`: the alarms whose states will be asked for next; with shared reads they are
        read in the same batch as the deployment, and `alarm_states()` returns them."""
        from bluegreen.aws import codedeploy

        if self.shared is not None:
            found, states = self.shared.read(deployment_id, alarms)
            assert found is not None
            info = found
            self._alarms_read = states if alarms else None
            target = reuse_target
            started = info.get("status") not in ("Created", "Queued")
            if target is None and self.group.target_id and started:
                target = codedeploy.get_deployment_target(
                    self.aws, deployment_id, self.group.target_id
                )
            return view(info, target), target
        if reuse_target is not None:
            info = codedeploy.get_deployment(self.aws, deployment_id)
            return view(info, reuse_target), reuse_target
        info, target = codedeploy.observe(self.aws, deployment_id, self.group.target_id)
        return view(info, target), target

    def target(
        self, deployment_id: str, info: dict[str, Any]
    ) -> tuple[DeploymentView, dict[str, Any]] | None:
        """GetDeploymentTarget alone, standing in for GetDeployment while the deployment runs:
        the view of `info` (the last deployment record) with the target's lifecycle, task sets
        and status. None when the target says anything but running (it ended, failed or is
        gone): then the deployment itself must be read."""
        from bluegreen.aws import codedeploy

        if not self.group.target_id:
            return None
        target = codedeploy.get_deployment_target(self.aws, deployment_id, self.group.target_id)
        status = str((target or {}).get("status", ""))
        if target is None or status not in RUNNING_TARGET:
            return None
        if any(str(e.get("status")) == "Failed" for e in target.get("lifecycleEvents", [])):
            return None
        return view({**info, "status": status}, target), target

    def alarm_states(self, names: Sequence[str]) -> dict[str, str]:
        if not names:
            return {}
        if self.shared is not None:
            states, self._alarms_read = self._alarms_read, None
            return states if states is not None else self.shared.read(None, names)[1]
        from bluegreen.aws import cloudwatch

        return cloudwatch.alarm_states(self.aws, names)

    def _dimensions(self, tg_name: str | None) -> dict[str, str] | None:
        if not tg_name:
            return None
        if tg_name not in self._dims:
            self._dims[tg_name] = target_group_dimensions(self.aws, tg_name)
        return self._dims[tg_name]

    def read_metrics(self, dep: DeploymentView) -> tuple[MetricValue, ...]:
        """The metric checks' values, green against blue (the follow loop reads them once per
        the shortest check's period: a metric gets one new datapoint a period)."""
        if not self.checks:
            return ()
        return read_checks(
            self.aws,
            self.checks,
            green=self._dimensions(dep.green_target_group),
            blue=self._dimensions(dep.blue_target_group),
        )

    def stop(self, deployment_id: str, rollback: bool) -> None:
        from bluegreen.aws import codedeploy

        codedeploy.stop_deployment(self.aws, deployment_id, rollback)

    def approve(self, deployment_id: str) -> None:
        from bluegreen.aws import codedeploy

        codedeploy.continue_deployment(self.aws, deployment_id, "READY_WAIT")


@dataclass
class CancelFlag:
    """Set by a signal handler; `sleep` wakes up at once when it is set."""

    _event: threading.Event = field(default_factory=threading.Event)

    def set(self) -> None:
        self._event.set()

    def clear(self) -> None:
        self._event.clear()

    @property
    def is_set(self) -> bool:
        return self._event.is_set()

    def sleep(self, seconds: float) -> None:
        self._event.wait(max(0.0, seconds))


Sink = Callable[[Sequence[Event], State], None]


@dataclass
class Loop:
    """A CodeDeploy follow: the deployment's tracker run by the one follow loop
    (engines/follow), with the clock, sleep and cancel flag injected."""

    probe: Probe
    config: MonitorConfig
    sink: Sink
    journal: J.Journal | None = None
    verify_factory: Callable[[str], VerifyRun] | None = None
    clock: Callable[[], float] = time.monotonic
    cancel: CancelFlag = field(default_factory=CancelFlag)
    sleep: Callable[[float], None] | None = None
    ask: Callable[[], str] | None = None  # interactive cancel: returns rollback|detach|continue
    on_end: Callable[[DeploymentView], None] | None = None
    requested_stop: tuple[bool, str] | None = None
    tracker: CodeDeployTracker | None = field(default=None, init=False)

    def _follow(self) -> Follow[State, DeploymentView]:
        self.probe.scale = self.config.time_scale
        self.tracker = CodeDeployTracker(
            self.probe,
            self.config,
            self.sink,
            self.journal,
            self.verify_factory,
            self.on_end,
            self.requested_stop,
        )
        pace = Pace(
            clock=self.clock,
            sleep=self.sleep or self.cancel.sleep,
            cancelled=lambda: self.cancel.is_set,
            clear=self.cancel.clear,
            ask=self.ask,
            scale=self.config.time_scale,
        )
        every = min((float(c.period) for c in self.probe.checks), default=60.0)
        return Follow(self.tracker, pace, every if self.probe.checks else None)

    def _wait(self, seconds: float) -> None:
        self._follow()._wait(seconds)

    def run(self) -> Outcome:
        return self._follow().run()


@dataclass
class CodeDeployTracker:
    """The CodeDeploy engine's side of the follow: reads as cheap as what is due allows
    (GetDeploymentTarget standing in for GetDeployment while a deployment runs), the pure
    monitor step, StopDeployment and ContinueDeployment (journaled)."""

    probe: Probe
    config: MonitorConfig
    sink: Sink
    journal: J.Journal | None = None
    verify_factory: Callable[[str], VerifyRun] | None = None
    on_end: Callable[[DeploymentView], None] | None = None
    requested_stop: tuple[bool, str] | None = None
    _observing: str = ""
    _now: float = 0.0
    _detail_until: float = 0.0
    _target: dict[str, Any] | None = None
    _info: dict[str, Any] | None = None  # the last deployment record
    _status_at: float | None = None  # when it was read
    _target_reads: bool = False
    _status_only: bool = False  # the last read skipped the target
    _dep: DeploymentView | None = None

    def begin(self) -> State:
        state = initial_state(self.config)
        if self.requested_stop is not None:
            state = stop_requested(state, *self.requested_stop)
        self._observing = self.config.deployment_id
        return state

    def read(self, state: State, now: float, alarms: Sequence[str]) -> DeploymentView:
        self._dep = self._read(self._observing, now, alarms)
        return self._dep

    def _ended(self) -> bool:
        return self._dep is not None and self._dep.status in ("Succeeded", "Failed")

    def alarm_plan(self, state: State) -> tuple[Sequence[str], float]:
        # alarms from the second read on: the first tells which ones CodeDeploy acts on itself
        if state.phase is not Phase.WATCHING or self._info is None:
            return (), ALARM_EVERY
        return self._client_alarms(), ALARM_EVERY

    def alarm_states(self, names: Sequence[str]) -> Mapping[str, str]:
        return {} if self._ended() else self.probe.alarm_states(names)

    def _watching(self, state: State) -> bool:
        return state.phase is Phase.WATCHING and not self._ended()

    def metrics_due(self, state: State, raw: DeploymentView) -> bool:
        return self._watching(state) and bool(raw.task_sets)

    def read_metrics(self, raw: DeploymentView) -> tuple[Any, ...] | None:
        return self.probe.read_metrics(raw)

    def askable(self, state: State) -> bool:
        return state.phase is Phase.WATCHING

    def choose(self, state: State, choice: str) -> State:
        self.config = replace(self.config, on_cancel=choice)
        return replace(state, config=self.config)

    def step(
        self, state: State, raw: DeploymentView, now: float, signals: Signals
    ) -> tuple[State, Sequence[Event], Decision]:
        watching = self._watching(state)
        self._now = now
        obs = Observation(
            now=now,
            deployment_id=raw.deployment_id or self._observing,
            status=raw.status,
            error=raw.error,
            rollback_deployment_id=raw.rollback_deployment_id,
            lifecycle=raw.lifecycle,
            task_sets=raw.task_sets,
            alarms=dict(signals.alarms) if watching else {},
            metrics=signals.metrics if watching and raw.task_sets else (),
            verify_result=signals.verify,
            cancel=signals.cancel,
            wall=time.time(),
        )
        return step(state, obs)

    def report(self, state: State, events: Sequence[Event]) -> None:
        self.sink(events, state)

    def warn(self, state: State, message: str) -> None:
        self.sink([Event("warning", {"message": message}, f"warning: {message}")], state)

    def verify_for(self, action: Any) -> VerifyRun | None:
        if isinstance(action, RunVerify) and self.verify_factory is not None:
            return self.verify_factory(action.deployment_id)
        return None

    def after(self, state: State, raw: DeploymentView, decision: Decision) -> bool:
        if decision.observe and decision.observe != self._observing:
            self._detail_until = 0.0  # a new deployment: read everything
            self._target = self._info = None
        self._observing = decision.observe or self._observing
        self._target_reads = decision.target_reads and not decision.actions
        if decision.actions:
            self._detail_until = 0.0
        elif decision.detail_every > 0 and self._detail_until <= self._now:
            self._detail_until = self._now + decision.detail_every
        elif decision.detail_every <= 0:
            self._detail_until = 0.0
        return False

    def finish(self, state: State, raw: DeploymentView, decision: Decision) -> None:
        if self.on_end is not None:
            self.on_end(raw)
        if self.journal is not None and not decision.detach and decision.outcome is not None:
            self.journal.append(J.RESULT, **_result_record(decision.outcome))

    def _read(self, observing: str, now: float, alarms: Sequence[str]) -> DeploymentView:
        """One read of the deployment, as cheap as what is due allows: the target alone while
        it can stand in for the deployment (one monitor, a running deployment, no edge due),
        the deployment alone while the target may be reused, else both."""
        detailed = now >= self._detail_until or self._target is None
        stand_in = self.probe.shared is None and self._target_reads and self._info is not None
        # while the target stands in, the deployment itself is read once per STATUS_EVERY,
        # in place of a target read (never twice in a row: the target is read in between)
        status_due = not self._status_only and cadence.due(
            self._status_at, STATUS_EVERY, now, self.probe.scale
        )
        self._status_only = False
        if stand_in and not status_due:
            read = self.probe.target(observing, self._info or {})
            if read is not None:
                dep, self._target = read
                return dep
            detailed = True  # it ended or failed: read the deployment and its target
        elif stand_in:
            self._status_only = True  # the deployment this time, its target on the next read
            detailed = False
        dep, target = self.probe.deployment(
            observing, None if detailed else self._target, alarms=alarms
        )
        if dep.status in ("Succeeded", "Failed", "Stopped") and not detailed:
            dep, target = self.probe.deployment(observing)  # the end: read it all
        self._target, self._info, self._status_at = target, dep.info, now
        return dep

    def _client_alarms(self) -> list[str]:
        """The alarms this monitor reads itself: those CodeDeploy does not already stop and
        roll back on for this deployment (known once its record was read)."""
        names = list(self.probe.alarms)
        if not names or self._info is None:
            return names  # (not asked before the deployment's record was read)
        group = self.probe.group
        watched = server_watched_alarms(
            self._info, group.alarms, group.alarms_enabled, group.ignore_poll_alarm_failure
        )
        return [n for n in names if n not in watched]

    def act(self, state: State, action: Any) -> None:
        if isinstance(action, Stop):
            if self.journal:
                self.journal.append(
                    J.STOP,
                    deploymentId=action.deployment_id,
                    rollback=action.rollback,
                    reason=action.reason,
                )
            try:
                self.probe.stop(action.deployment_id, action.rollback)
                if self.journal:
                    self.journal.append(
                        J.DONE, action="StopDeployment", deploymentId=action.deployment_id
                    )
            except AwsError as exc:
                # It may have ended in the meantime; the next observation tells.
                self.warn(state, exc.message)
        elif isinstance(action, Approve):
            if self.journal:
                self.journal.append(
                    J.INTENT,
                    action="ContinueDeployment",
                    deploymentId=action.deployment_id,
                    waitType="READY_WAIT",
                )
            self.probe.approve(action.deployment_id)
            if self.journal:
                self.journal.append(
                    J.APPROVE, deploymentId=action.deployment_id, waitType="READY_WAIT"
                )


def _result_record(outcome: Outcome) -> dict[str, Any]:
    return {
        "deploymentId": outcome.deployment_id,
        "status": outcome.status,
        "rolledBack": outcome.rolled_back,
        "rollbackDeploymentId": outcome.rollback_deployment_id,
        "exitCode": outcome.exit_code,
        "reason": outcome.reason,
        "taskDefinitionArn": outcome.task_definition_arn,
    }
