"""ECS-native releases, the writes: register (reusing an identical revision), UpdateService
(the task definition, with the release's strategy and alarms merged into the service's
deploymentConfiguration), then follow the ServiceDeployment with the pure step of machine.py.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from bluegreen.engines.ecs_native.machine import (
    Answer,
    NativeConfig,
    NativeState,
    Phase,
    RunVerify,
    Stop,
    initial_state,
    observation_from,
    step,
)
from bluegreen.engines.ecs_native.plan import NativePlan, NativeRequest
from bluegreen.engines.follow import PortReporting, Signals
from bluegreen.engines.model import Event, Outcome, Output, revision
from bluegreen.engines.revision import emit_plan, nothing_to_deploy, ready_revision
from bluegreen.engines.verify import VerifyRun
from bluegreen.errors import AwsError, ExitCode
from bluegreen.journal import CREATED, INTENT, RESULT, Journal, journal_path

if TYPE_CHECKING:
    from bluegreen.aws.session import Aws
    from bluegreen.spec.model import Spec

FAST_POLL = 1.0
ALARM_POLL = 5.0  # endpoint seconds between reads of alarms only bluegreen acts on
STRATEGY = "ecs-native"


@dataclass(frozen=True)
class Loop:
    """The follow loop's clock and sleep, injected for tests."""

    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    poll: float | None = None  # upper bound of one sleep (tests); None: the step's wait
    cancelled: Callable[[], bool] = lambda: False
    rest: Callable[[float], None] = time.sleep  # the sleep once a cancel has been seen


VerifyFactory = Callable[[str, tuple[str, ...]], "VerifyRun"]


def apply(
    p: NativePlan,
    spec: Spec,
    aws: Aws,
    out: Output,
    request: NativeRequest,
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
        return nothing_to_deploy(p, "SUCCESSFUL")
    verify = _verify_factory(aws, p, arn, loop, out) if p.verify is not None else None
    metrics = _metric_reader(aws, p) if p.metrics else None
    return update_and_follow(
        aws,
        out,
        journal,
        cluster=p.cluster,
        service=p.service,
        task_definition_arn=arn,
        previous=p.current_task_definition,
        deployment_configuration=p.deployment_configuration,
        timeout=p.timeout,
        wait=request.wait,
        on_cancel=request.on_cancel,
        wait_until=p.wait_until,
        alarms=p.alarms,
        verify=verify,
        metrics=metrics,
        loop=loop,
        record={"images": dict(p.images), "deploymentStrategy": p.strategy},
    )


def _metric_reader(aws: Aws, p: NativePlan) -> MetricReader:
    """The release's metric checks, green (the target group the deployment shifts to) against
    blue (the one serving when it started): the names of those breached."""
    from bluegreen.engines.codedeploy.metrics import read_checks, target_group_dimensions

    def name(arn: str) -> str:
        return arn.split(":targetgroup/")[-1].split("/")[0]

    blue, green = p.target_groups[0], p.target_groups[1]
    dims: dict[str, dict[str, str]] = {}

    def read() -> tuple[str, ...]:
        for arn in (blue, green):
            if arn not in dims:
                dims[arn] = target_group_dimensions(aws, name(arn))
        found = read_checks(aws, p.metrics, green=dims[green], blue=dims[blue])
        return tuple(m.name for m in found if m.breached)

    every = min(float(c.period) for c in p.metrics)
    return MetricReader(read, every)


@dataclass(frozen=True)
class MetricReader:
    """Reads the metric checks (`read`: the names breached), once per `every` endpoint
    seconds (a metric gets one datapoint a period)."""

    read: Callable[[], tuple[str, ...]]
    every: float


def update_and_follow(
    aws: Aws,
    out: Output,
    journal: Journal,
    *,
    cluster: str,
    service: str,
    task_definition_arn: str,
    previous: str | None,
    deployment_configuration: Mapping[str, Any] | None,
    timeout: float,
    wait: bool,
    on_cancel: str,
    loop: Loop,
    wait_until: str | None = None,
    alarms: tuple[str, ...] = (),
    verify: VerifyFactory | None = None,
    record: Mapping[str, Any] | None = None,
    force_new_deployment: bool = False,
    metrics: MetricReader | None = None,
) -> Outcome:
    """UpdateService to the revision (which starts a ServiceDeployment; with
    `force_new_deployment`, also of the revision the service already runs) and follow it."""
    from bluegreen.aws import ecs, ecs_native
    from bluegreen.aws.iam import who

    extra = {"who": who(aws), **(record or {})}
    known = {
        str(b.get("serviceDeploymentArn"))
        for b in ecs_native.list_deployments(aws, cluster, service, limit=100)
    }
    journal.append(
        INTENT,
        action="UpdateService",
        strategy=STRATEGY,
        cluster=cluster,
        service=service,
        taskDefinitionArn=task_definition_arn,
        previousTaskDefinitionArn=previous,
        forceNewDeployment=force_new_deployment,
        **extra,
    )
    svc = ecs.update_service(
        aws,
        cluster,
        service,
        task_definition=task_definition_arn,
        force=force_new_deployment,
        deployment_configuration=deployment_configuration,
    )
    arn = str(svc.get("currentServiceDeployment") or "")
    if not arn or arn in known:
        fresh = [
            str(b.get("serviceDeploymentArn"))
            for b in ecs_native.list_deployments(aws, cluster, service, limit=20)
            if str(b.get("serviceDeploymentArn")) not in known
        ]
        arn = fresh[0] if fresh else ""
    journal.append(
        CREATED,
        deploymentId=arn or None,
        strategy=STRATEGY,
        cluster=cluster,
        service=service,
        taskDefinitionArn=task_definition_arn,
        previousTaskDefinitionArn=previous,
        **extra,
    )
    out.emit(
        {
            "event": "created",
            "deploymentId": arn or None,
            "strategy": STRATEGY,
            "taskDefinitionArn": task_definition_arn,
            "previousTaskDefinitionArn": previous,
        },
        f"updated {cluster}/{service}: {revision(previous)} -> {revision(task_definition_arn)}"
        + (f" (service deployment {arn})" if arn else ""),
    )
    if not arn:
        return Outcome(
            "",
            "UNKNOWN",
            False,
            ExitCode.FAILED,
            "UpdateService started no service deployment that ECS lists; check the service "
            "with `bluegreen status`",
            None,
            task_definition_arn,
        )
    if not wait:
        return Outcome.started(arn, task_definition_arn)
    now = loop.clock()
    config = NativeConfig(
        deployment_arn=arn,
        task_definition_arn=task_definition_arn,
        previous_task_definition_arn=previous if previous != task_definition_arn else None,
        started_at=now,
        deadline=now + timeout,
        on_cancel=on_cancel,
        verify=verify is not None,
        wait_until=wait_until,
        alarm_names=alarms,
    )
    outcome = follow(aws, out, config, loop=loop, verify=verify, metrics=metrics)
    record_result(journal, cluster, service, outcome)
    return outcome


def record_result(journal: Journal, cluster: str, service: str, outcome: Outcome) -> None:
    journal.append(
        RESULT,
        deploymentId=outcome.deployment_id or None,
        strategy=STRATEGY,
        cluster=cluster,
        service=service,
        taskDefinitionArn=outcome.task_definition_arn,
        status=outcome.status,
        rolledBack=outcome.rolled_back,
        exitCode=outcome.exit_code,
        reason=outcome.reason,
    )


def follow(
    aws: Aws,
    out: Output,
    config: NativeConfig,
    *,
    loop: Loop,
    verify: VerifyFactory | None = None,
    metrics: MetricReader | None = None,
) -> Outcome:
    """Follow the service deployment to its end through the one follow loop (engines/follow):
    the release's alarms, metric checks, verify command and cancel as its guards."""
    from bluegreen.aws import endpoint
    from bluegreen.engines.follow import Follow, Pace

    scale = endpoint.time_scale(aws, "ecs")
    if config.time_scale is None:  # the step's schedule runs on the endpoint's clock
        config = replace(config, time_scale=scale)
    tracker = NativeTracker(aws, out, config, verify, metrics)
    pace = Pace(
        clock=loop.clock,
        sleep=loop.sleep,
        rest=loop.rest,
        cancelled=loop.cancelled,
        poll=loop.poll,
        scale=scale,
    )
    return Follow(tracker, pace, metrics.every if metrics is not None else None).run()


def ecs_watched(deployment: Mapping[str, Any] | None, names: Sequence[str]) -> bool:
    """Whether ECS itself watches (and rolls back on) every one of `names` in this service
    deployment (its `alarms` block, enabled)."""
    block = (deployment or {}).get("alarms") or {}
    watched = set(block.get("alarmNames") or [])
    return str(block.get("status", "")) != "DISABLED" and set(names) <= watched and bool(watched)


@dataclass
class NativeTracker(PortReporting):
    """The ECS-native engine's side of the follow: DescribeServiceDeployments, the pure step,
    StopServiceDeployment and ContinueServiceDeployment."""

    aws: Aws
    out: Output
    config: NativeConfig
    verify: VerifyFactory | None = None
    metrics: MetricReader | None = None
    _verified: tuple[bool, str] | None = None  # the verify result, kept for the step
    _last: Mapping[str, Any] | None = None

    def begin(self) -> NativeState:
        return initial_state(self.config)

    def read(
        self, state: NativeState, now: float, alarms: Sequence[str]
    ) -> Mapping[str, Any] | None:
        from bluegreen.aws import ecs_native

        self._last = ecs_native.describe_deployment(self.aws, self.config.deployment_arn)
        return self._last

    def _guarding(self, state: NativeState) -> bool:
        return state.phase in (Phase.FOLLOWING, Phase.VERIFYING)

    def alarm_plan(self, state: NativeState) -> tuple[Sequence[str], float]:
        """The alarms this follow reads itself: from the second read on, those ECS does not
        watch for this deployment (it stops and rolls back on the ones it watches, and the
        deployment's record names them: `alarms.triggeredAlarmNames`)."""
        names = self.config.alarm_names if self._guarding(state) else ()
        if self._last is not None:
            names = tuple(n for n in names if not ecs_watched(self._last, (n,)))
        return names, ALARM_POLL

    def alarm_states(self, names: Sequence[str]) -> Mapping[str, str]:
        from bluegreen.aws import cloudwatch

        return cloudwatch.alarm_states(self.aws, names)

    def metrics_due(self, state: NativeState, raw: Mapping[str, Any] | None) -> bool:
        return self.metrics is not None and self._guarding(state)

    def read_metrics(self, raw: Mapping[str, Any] | None) -> tuple[Any, ...] | None:
        return self.metrics.read() if self.metrics is not None else None

    def step(
        self, state: NativeState, raw: Mapping[str, Any] | None, now: float, signals: Signals
    ) -> tuple[NativeState, Sequence[Event], Any]:
        if signals.verify is not None:
            self._verified = signals.verify
        obs = observation_from(
            raw,
            now,
            cancel=signals.cancel,
            alarms=signals.in_alarm(self.config.alarm_names),
            verify=self._verified,
            metrics=tuple(str(m) for m in signals.metrics),
        )
        return step(state, obs)

    def verify_for(self, action: Any) -> VerifyRun | None:
        if not isinstance(action, RunVerify) or self.verify is None:
            return None
        self._verified = None
        return self.verify(self.config.deployment_arn, action.hook_ids)

    def act(self, state: NativeState, action: Any) -> None:
        if isinstance(action, RunVerify):  # pragma: no cover - config.verify implies a factory
            self._verified = (False, "no verify command")
            return
        _act(self.aws, self.out, self.config.deployment_arn, action)

    def after(self, state: NativeState, raw: Mapping[str, Any] | None, decision: Any) -> bool:
        return False


def _act(
    aws: Aws,
    out: Output,
    arn: str,
    action: Stop | Answer | RunVerify,
) -> None:
    """Stop or answer a hook; ECS refusing (the deployment already ended, the hook already
    answered) is reported and the watch goes on: the next observation says what happened."""
    from bluegreen.aws import ecs_native

    try:
        if isinstance(action, Stop):
            ecs_native.stop_deployment(aws, arn)
        elif isinstance(action, Answer):
            ecs_native.continue_deployment(aws, arn, action.hook_id, action.action)
            out.emit(
                {
                    "event": "hookAnswered",
                    "deploymentId": arn,
                    "hookId": action.hook_id,
                    "action": action.action,
                },
                f"  answered pause hook {action.hook_id}: {action.action}",
            )
    except AwsError as exc:
        out.emit(
            {"event": "refused", "deploymentId": arn, "reason": exc.message},
            f"  ECS refused: {exc.message}",
        )


def _verify_factory(
    aws: Aws, p: NativePlan, arn: str, loop: Loop, out: Output | None = None
) -> VerifyFactory:
    """The verify command of an ECS-native release, with what it needs to find green (its
    output streamed to `out`)."""
    from bluegreen.engines.verify import VerifyRun, streamed

    assert p.verify is not None
    argv = list(p.verify)

    def make(deployment_arn: str, hook_ids: tuple[str, ...]) -> VerifyRun:
        env = {
            "BLUEGREEN_DEPLOYMENT_ID": deployment_arn,
            "BLUEGREEN_CLUSTER": p.cluster,
            "BLUEGREEN_SERVICE": p.service,
            "BLUEGREEN_TASK_DEFINITION_ARN": arn,
            "BLUEGREEN_HOOK_IDS": ",".join(hook_ids),
        }
        url = test_url(aws, p.cluster, p.service)
        if url:
            env["BLUEGREEN_TEST_URL"] = url
        return VerifyRun(
            argv,
            env,
            p.verify_timeout,
            clock=loop.clock,
            on_output=streamed(out, deployment_arn) if out is not None else None,
        )

    return make


def test_url(aws: Aws, cluster: str, service: str) -> str | None:
    """The URL of the listener that holds the service's test listener rule, when it has one."""
    from bluegreen.aws import ecs, elbv2

    svc = ecs.describe_service_raw(aws, cluster, service)
    for lb in svc.get("loadBalancers") or []:
        rule = (lb.get("advancedConfiguration") or {}).get("testListenerRule")
        if not rule or ":listener-rule/" not in str(rule):
            continue
        listener = str(rule).replace(":listener-rule/", ":listener/").rsplit("/", 1)[0]
        try:
            found = elbv2.listeners(aws, [listener])
        except AwsError:
            return None
        return elbv2.listener_url(aws, found[listener])
    return None
