"""The monitor loop: owns the clock, the sleep and the I/O around the pure `monitor.step`.

`Probe` reads CodeDeploy, CloudWatch and ELBv2 and performs the monitor's actions (stop,
approve); `follow()` feeds observations to the state machine until it decides an outcome.
Clock, sleep and the cancel flag are injected so the loop itself can be driven fast.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from bluegreen.errors import AwsError, Throttled
from bluegreen.release import journal as J
from bluegreen.release.metrics import Check, evaluate, queries
from bluegreen.release.monitor import (
    Approve,
    Decision,
    Event,
    MetricValue,
    MonitorConfig,
    Observation,
    Outcome,
    Phase,
    RunVerify,
    State,
    Stop,
    initial_state,
    step,
    stop_requested,
)
from bluegreen.release.observe import DeploymentView, view
from bluegreen.release.verify import VerifyRun

if TYPE_CHECKING:
    from bluegreen.aws.codedeploy import DeploymentGroup
    from bluegreen.aws.session import Aws

METRIC_EVERY = 5.0  # seconds between GetMetricData calls
THROTTLE_BACKOFF = 2.0
MAX_READ_FAILURES = 5  # consecutive failed reads (not throttling) before giving up


@dataclass
class Probe:
    """The monitor's window on AWS, and its hands."""

    aws: Aws
    group: DeploymentGroup
    alarms: Sequence[str] = ()
    checks: Sequence[Check] = ()
    _dims: dict[str, dict[str, str]] = field(default_factory=dict, init=False)
    _last_metrics: tuple[float, tuple[MetricValue, ...]] | None = field(default=None, init=False)

    def deployment(
        self, deployment_id: str, reuse_target: dict[str, Any] | None = None
    ) -> tuple[DeploymentView, dict[str, Any] | None]:
        """GetDeployment, and GetDeploymentTarget unless `reuse_target` is given."""
        from bluegreen.aws import codedeploy

        if reuse_target is not None:
            info = codedeploy.get_deployment(self.aws, deployment_id)
            return view(info, reuse_target), reuse_target
        info, target = codedeploy.observe(self.aws, deployment_id, self.group.target_id)
        return view(info, target), target

    def alarm_states(self) -> dict[str, str]:
        if not self.alarms:
            return {}
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
                self._sleep(decision.wait)
        finally:
            if self.verify_run is not None:
                self.verify_run.kill()

    def _observe(self, state: State, observing: str) -> tuple[Observation, DeploymentView, State]:
        now = self.clock()
        detailed = now >= self._detail_until or self._target is None
        dep, target = self.probe.deployment(observing, None if detailed else self._target)
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
