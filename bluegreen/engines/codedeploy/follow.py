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
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from bluegreen import journal as J
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
from bluegreen.engines.codedeploy.metrics import Check, evaluate, queries
from bluegreen.engines.codedeploy.probe import DeploymentView, view
from bluegreen.engines.model import Event, Outcome
from bluegreen.engines.verify import VerifyRun
from bluegreen.errors import AwsError, Throttled

if TYPE_CHECKING:
    from bluegreen.aws.codedeploy import DeploymentGroup
    from bluegreen.aws.session import Aws

METRIC_EVERY = 5.0  # seconds between GetMetricData calls
THROTTLE_BACKOFF = 2.0
MAX_READ_FAILURES = 5  # consecutive failed reads (not throttling) before giving up
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
    _dims: dict[str, dict[str, str]] = field(default_factory=dict, init=False)
    _last_metrics: tuple[float, tuple[MetricValue, ...]] | None = field(default=None, init=False)
    _alarms_read: dict[str, str] | None = field(default=None, init=False)

    def deployment(
        self,
        deployment_id: str,
        reuse_target: dict[str, Any] | None = None,
        *,
        alarms: bool = False,
    ) -> tuple[DeploymentView, dict[str, Any] | None]:
        """GetDeployment, and GetDeploymentTarget unless `reuse_target` is given.

        `alarms`: the alarm states will be asked for next; with shared reads they are read in
        the same batch as the deployment, and `alarm_states()` returns them."""
        from bluegreen.aws import codedeploy

        if self.shared is not None:
            wanted = self.alarms if alarms else ()
            found, states = self.shared.read(deployment_id, wanted)
            assert found is not None
            info = found
            self._alarms_read = states if wanted else None
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

    def alarm_states(self) -> dict[str, str]:
        if not self.alarms:
            return {}
        if self.shared is not None:
            states, self._alarms_read = self._alarms_read, None
            return states if states is not None else self.shared.read(None, self.alarms)[1]
        from bluegreen.aws import cloudwatch

        return cloudwatch.alarm_states(self.aws, self.alarms)

    def _dimensions(self, tg_name: str | None) -> dict[str, str] | None:
        if not tg_name:
            return None
        if tg_name not in self._dims:
            from bluegreen.aws import elbv2

            tg = elbv2.target_groups(self.aws, [tg_name])[tg_name]
            dims = {"TargetGroup": tg.dimension}
            if tg.load_balancer_arns:
                dims["LoadBalancer"] = elbv2.load_balancer_dimension(tg.load_balancer_arns[0])
            self._dims[tg_name] = dims
        return self._dims[tg_name]

    def metrics(self, now: float, dep: DeploymentView) -> tuple[MetricValue, ...]:
        if not self.checks:
            return ()
        if self._last_metrics is not None and now - self._last_metrics[0] < METRIC_EVERY:
            return self._last_metrics[1]
        from bluegreen.aws import cloudwatch

        qs = queries(
            self.checks,
            green=self._dimensions(dep.green_target_group),
            blue=self._dimensions(dep.blue_target_group),
        )
        longest = max((q.period for q in qs), default=60)
        end = datetime.now(UTC)
        start = end - timedelta(seconds=max(3 * longest, 180))
        values = cloudwatch.latest_values(
            self.aws,
            [
                cloudwatch.MetricQuery(q.id, q.namespace, q.metric, q.stat, q.period, q.dimensions)
                for q in qs
            ],
            start,
            end + timedelta(seconds=60),
        )
        result = evaluate(self.checks, qs, values)
        self._last_metrics = (now, result)
        return result

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
    verify_run: VerifyRun | None = field(default=None, init=False)
    state: State | None = field(default=None, init=False)
    _detail_until: float = field(default=0.0, init=False)
    _target: dict[str, Any] | None = field(default=None, init=False)
    _alarms: dict[str, str] = field(default_factory=dict, init=False)

    def _sleep(self, seconds: float) -> None:
        (self.sleep or self.cancel.sleep)(seconds)

    def _wait(self, seconds: float, observing: str, status: str) -> None:
        """Sleep `seconds` before the next observation. With a fan-out's shared reads, glance
        at the deployment's status on each tick of the common grid in between (one batched
        read for all the fan-out's deployments) and end the wait as soon as it changed, so an
        end is seen within a tick rather than a whole poll; target and alarm reads keep the
        monitor's own pace."""
        shared = self.probe.shared
        if shared is None or seconds <= 1.5 * shared.grid:
            self._sleep(seconds)
            return
        end = self.clock() + seconds
        while True:
            left = end - self.clock()
            if left <= 1.5 * shared.grid:
                self._sleep(left)
                return
            self._sleep(shared.grid)
            if self.cancel.is_set:
                return
            try:
                info, _ = shared.read(observing)
            except AwsError:  # the next full observation deals with it
                self._sleep(end - self.clock())
                return
            if info is None or info.get("status") != status:
                return

    def run(self) -> Outcome:
        state = initial_state(self.config)
        if self.requested_stop is not None:
            state = stop_requested(state, *self.requested_stop)
        self.state = state
        observing = self.config.deployment_id
        failures = 0
        try:
            while True:
                try:
                    obs, dep, state = self._observe(state, observing)
                except Throttled:
                    self._sleep(THROTTLE_BACKOFF)
                    continue
                except AwsError as exc:
                    # A dropped connection or a 5xx must not end the watch of a release that
                    # is still running; a few in a row do (the user can `bluegreen watch`).
                    if type(exc) is not AwsError or failures >= MAX_READ_FAILURES:
                        raise
                    failures += 1
                    self.sink(
                        [Event("warning", {"message": exc.message}, f"warning: {exc.message}")],
                        state,
                    )
                    self._sleep(THROTTLE_BACKOFF)
                    continue
                failures = 0
                state, events, decision = step(state, obs)
                self.state = state
                if events:
                    self.sink(events, state)
                if decision.outcome is not None:
                    if self.on_end is not None:
                        self.on_end(dep)
                    if self.journal is not None and not decision.detach:
                        self.journal.append(J.RESULT, **_result_record(decision.outcome))
                    return decision.outcome
                self._act(decision)
                if decision.observe and decision.observe != observing:
                    self._detail_until = 0.0  # a new deployment: read everything
                observing = decision.observe or observing
                if decision.actions:
                    self._detail_until = 0.0
                elif decision.detail_every > 0 and self._detail_until <= obs.now:
                    self._detail_until = obs.now + decision.detail_every
                self._wait(decision.wait, observing, obs.status)
        finally:
            if self.verify_run is not None:
                self.verify_run.kill()

    def _observe(self, state: State, observing: str) -> tuple[Observation, DeploymentView, State]:
        now = self.clock()
        detailed = now >= self._detail_until or self._target is None
        dep, target = self.probe.deployment(
            observing,
            None if detailed else self._target,
            alarms=detailed and state.phase is Phase.WATCHING,
        )
        if dep.status in ("Succeeded", "Failed", "Stopped") and not detailed:
            dep, target = self.probe.deployment(observing)  # the end: read it all
            detailed = True
        self._target = target
        watching = state.phase is Phase.WATCHING and dep.status not in ("Succeeded", "Failed")
        if watching and detailed:
            self._alarms = self.probe.alarm_states()
        alarms = self._alarms if watching else {}
        metrics = self.probe.metrics(now, dep) if watching and dep.task_sets else ()
        verify = self.verify_run.poll() if self.verify_run is not None else None
        cancel = self.cancel.is_set
        if cancel and self.ask is not None and state.phase is Phase.WATCHING:
            choice = self.ask()
            self.cancel.clear()
            if choice == "continue":
                cancel = False
            else:
                self.config = replace(self.config, on_cancel=choice)
                state = replace(state, config=self.config)
                self.state = state
        obs = Observation(
            now=now,
            deployment_id=dep.deployment_id or observing,
            status=dep.status,
            error=dep.error,
            rollback_deployment_id=dep.rollback_deployment_id,
            lifecycle=dep.lifecycle,
            task_sets=dep.task_sets,
            alarms=alarms,
            metrics=metrics,
            verify_result=verify,
            cancel=cancel,
            wall=time.time(),
        )
        return obs, dep, state

    def _act(self, decision: Decision) -> None:
        for action in decision.actions:
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
                    self.sink(
                        [Event("warning", {"message": exc.message}, f"warning: {exc.message}")],
                        self.state or initial_state(self.config),
                    )
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
            elif isinstance(action, RunVerify) and self.verify_factory is not None:
                self.verify_run = self.verify_factory(action.deployment_id)
                self.verify_run.start()


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
