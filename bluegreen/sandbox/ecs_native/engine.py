"""The ECS-native deployment engine: each ServiceDeployment walks a plan of lifecycle stages
(models.Step), one small step per tick of the sandbox clock.

Stages and their effects follow reference §2 (doc keys HIW, BG, LIN, CAN, HOOKS): green
scaled up in the alternate target group, the test listener rule to green, production weights
moved per strategy on the production listener RULE (ModifyRule with ForwardConfig weights,
through moto's ELBv2), bake time, clean-up; the target groups then swap roles. Alarms are read
with DescribeAlarms; hooks answer per the sandbox's hook setting (Lambda) or wait for
ContinueServiceDeployment (PAUSE). moto has no API for a service's deployments and counts, so
this module sets them on moto's ECS models, as sandbox/rolling.py does.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from typing import Any

from bluegreen.sandbox.clock import SandboxClock
from bluegreen.sandbox.ecs_native.models import (
    NATIVE_STRATEGIES,
    HookRun,
    JsonDict,
    RevisionRun,
    Route,
    ServiceDeployment,
    ServiceRevision,
    ServiceState,
    Step,
    new_deployment_suffix,
    new_ecs_deployment_id,
    new_revision_number,
)
from bluegreen.sandbox.faults import FaultRegistry

TASK_START_SECONDS = 30.0  # simulated seconds for green tasks to start and pass health checks
TASK_FAIL_SECONDS = 20.0  # simulated seconds per failed launch of an unhealthy green task
# A sandbox bound: AWS allows a stage 24 h [HIW]; green that never turns healthy fails here.
GREEN_HEALTH_TIMEOUT = 600.0
HOOK_REPORT_SECONDS = 2.0  # simulated seconds before a Lambda hook answers
DEFAULT_HOOK_TIMEOUT_MINUTES = 1440  # [M:DeploymentLifecycleHookTimeoutConfiguration]
ALARM_POLL_WALL_SECONDS = 0.05
# §6 question 4: alarms are watched from the start of the deployment until CLEAN_UP begins
# (the bake time included: BAKE_TIME is where alarms catch a bad green [BG]).
ALARM_WATCHED_UNTIL = "CLEAN_UP"

ClientFactory = Callable[[str, str], Any]


def native_strategy(svc: Any) -> str | None:
    """The service's strategy when it is an ECS-controller BLUE_GREEN/LINEAR/CANARY one."""
    if (getattr(svc, "deployment_controller", None) or {}).get("type", "ECS") != "ECS":
        return None
    config = getattr(svc, "deployment_configuration", None) or {}
    strategy = config.get("strategy") if isinstance(config, dict) else None
    return strategy if strategy in NATIVE_STRATEGIES else None


def shift_plan(config: JsonDict) -> list[tuple[float, float]]:
    """(green's production percent, simulated seconds to wait after it) per production step:
    BLUE_GREEN all at once [BG]; CANARY canaryPercent, canaryBakeTimeInMinutes, then 100 [CAN];
    LINEAR cumulative stepPercent with stepBakeTimeInMinutes between, none after 100 [LIN]."""
    strategy = config.get("strategy")
    if strategy == "CANARY":
        canary = config.get("canaryConfiguration") or {}
        percent = float(canary.get("canaryPercent", 5.0))
        bake = float(canary.get("canaryBakeTimeInMinutes", 10)) * 60.0
        return [(100.0, 0.0)] if percent >= 100.0 else [(percent, bake), (100.0, 0.0)]
    if strategy == "LINEAR":
        linear = config.get("linearConfiguration") or {}
        step = float(linear.get("stepPercent", 10.0))
        bake = float(linear.get("stepBakeTimeInMinutes", 6)) * 60.0
        plan: list[tuple[float, float]] = []
        done = 0.0
        while done < 100.0:
            # §6 question 3: a step that passes 100 is clamped to 100.
            done = min(100.0, round(done + step, 1))
            plan.append((done, 0.0 if done >= 100.0 else bake))
        return plan
    return [(100.0, 0.0)]


def rule_weights(green_percent: float) -> tuple[int, int]:
    """(blue, green) ALB weights (integers 0-999) for green's share of traffic."""
    if float(green_percent).is_integer():
        return 100 - int(green_percent), int(green_percent)
    return round((100.0 - green_percent) * 10), round(green_percent * 10)


def routes_of(load_balancers: list[Any]) -> list[Route]:
    routes = []
    for lb in load_balancers:
        advanced = lb.get("advancedConfiguration") if isinstance(lb, dict) else None
        if not isinstance(advanced, dict) or not lb.get("targetGroupArn"):
            continue
        routes.append(
            Route(
                blue=str(lb["targetGroupArn"]),
                green=str(advanced.get("alternateTargetGroupArn", "")),
                production_rule=str(advanced.get("productionListenerRule", "")),
                test_rule=advanced.get("testListenerRule"),
            )
        )
    return routes


class DeploymentFailed(Exception):
    """Ends a deployment's forward path; `rollback` says whether it rolls back."""

    def __init__(self, reason: str, rollback: bool = True) -> None:
        super().__init__(reason)
        self.reason = reason
        self.rollback = rollback


class NativeEngine:
    def __init__(
        self,
        *,
        clock: SandboxClock,
        faults: FaultRegistry,
        hooks_mode: Callable[[], str],
        client_factory: ClientFactory,
    ) -> None:
        self.clock = clock
        self.faults = faults
        self.hooks_mode = hooks_mode
        self.client_factory = client_factory
        self.services: dict[tuple[str, str, str], ServiceState] = {}
        self.deployments: dict[str, ServiceDeployment] = {}
        self.revisions: dict[str, ServiceRevision] = {}
        self._last_alarm_poll: dict[str, float] = {}

    # --- moto's ECS models ----------------------------------------------------------------------
    @staticmethod
    def moto_service(region: str, cluster: str, service: str) -> tuple[str, Any] | None:
        from moto.ecs.models import ecs_backends

        cluster = cluster.rsplit("/", 1)[-1]
        service = service.rsplit("/", 1)[-1]
        for account in list(ecs_backends.keys()):
            if region not in ecs_backends[account]:
                continue
            svc = ecs_backends[account][region].services.get(f"{cluster}:{service}")
            if svc is not None:
                return account, svc
        return None

    @staticmethod
    def task_definition_arn(region: str, account: str, name: str) -> str:
        if name.startswith("arn:"):
            return name
        from moto.ecs.models import ecs_backends

        try:
            return str(ecs_backends[account][region].describe_task_definition(name).arn)
        except Exception:
            return name

    def state_for(self, region: str, account: str, svc: Any) -> ServiceState:
        key = (region, svc.cluster_name, svc.name)
        state = self.services.get(key)
        if state is None:
            from bluegreen.sandbox.rolling import ServiceTasks

            state = ServiceState(region, account, svc.cluster_name, svc.name)
            state.tasks = ServiceTasks(region)
            self.services[key] = state
        return state

    def new_revision(
        self, region: str, account: str, svc: Any, task_definition: str
    ) -> ServiceRevision:
        arn = (
            f"arn:aws:ecs:{region}:{account}:service-revision/{svc.cluster_name}/{svc.name}/"
            f"{new_revision_number()}"
        )
        revision = ServiceRevision(
            arn=arn,
            service_arn=svc.arn,
            cluster_arn=svc.cluster_arn,
            task_definition=self.task_definition_arn(region, account, task_definition),
            created_at=self.clock.wall(),
            load_balancers=copy.deepcopy(list(svc.load_balancers or [])),
            launch_type=svc.launch_type,
            platform_version=getattr(svc, "platform_version", None),
            network_configuration=copy.deepcopy(getattr(svc, "network_configuration", None))
            or None,
        )
        self.revisions[arn] = revision
        return revision

    # --- starting deployments ---------------------------------------------------------------
    def adopt(
        self,
        region: str,
        account: str,
        svc: Any,
        task_definition: str,
        desired: int,
        running: int,
        deployment_id: str | None = None,
    ) -> ServiceState:
        """Take a service over as it runs now (one revision serving production)."""
        state = self.state_for(region, account, svc)
        if not state.runs:
            revision = self.new_revision(region, account, svc, task_definition)
            revision.target_groups = [r.blue for r in routes_of(svc.load_balancers or [])]
            revision.production_rules = [
                r.production_rule for r in routes_of(svc.load_balancers or [])
            ]
            wall = self.clock.wall()
            state.runs = [
                RevisionRun(
                    revision,
                    deployment_id or new_ecs_deployment_id(),
                    desired,
                    running,
                    max(0, desired - running),
                    created_at=wall,
                    updated_at=wall,
                    rollout_state="COMPLETED" if running >= desired else "IN_PROGRESS",
                )
            ]
        return state

    def create(self, region: str, account: str, svc: Any) -> ServiceDeployment:
        """CreateService of a native service: its first deployment scales the first revision up
        in the production target group; there is nothing to shift (§6 reading: no hooks run
        at creation)."""
        state = self.state_for(region, account, svc)
        revision = self.new_revision(region, account, svc, str(svc.task_definition))
        routes = routes_of(svc.load_balancers or [])
        revision.target_groups = [r.blue for r in routes]
        revision.production_rules = [r.production_rule for r in routes]
        existing = svc.deployments[0]["id"] if svc.deployments else new_ecs_deployment_id()
        target = RevisionRun(revision, existing, int(svc.desired_count), 0, 0)
        target.created_at = target.updated_at = self.clock.wall()
        state.runs = [target]
        plan = [Step("SCALE_UP", "scale-up"), Step("CLEAN_UP", "clean-up")]
        d = self._deployment(state, svc, target, [], [], plan)
        d.initial = True
        self._publish(state, svc)
        return d

    def start(self, region: str, account: str, svc: Any) -> ServiceDeployment:
        """UpdateService that starts a deployment (§2): the deployment in flight, if any, is
        superseded (STOP_REQUESTED → STOPPED [SD]); the new one starts PENDING."""
        state = self.state_for(region, account, svc)
        for old in state.deployments:
            if old.active and old.status != "STOP_REQUESTED":
                old.status = "STOP_REQUESTED"
                old.stop_request = "SUPERSEDED"
                old.updated_at = self.clock.wall()
                for hook in old.hooks:  # its hookIds die [TS]
                    if hook.status in ("AWAITING_ACTION", "IN_PROGRESS"):
                        hook.status = "FAILED"
        routes = routes_of(svc.load_balancers or [])
        revision = self.new_revision(region, account, svc, str(svc.task_definition))
        revision.target_groups = [r.green for r in routes]
        revision.production_rules = [r.production_rule for r in routes]
        target = RevisionRun(revision, new_ecs_deployment_id(), int(svc.desired_count))
        target.created_at = target.updated_at = self.clock.wall()
        sources = [run for run in state.runs if run.desired > 0 or run.running > 0]
        plan: list[Step] = []
        if len(sources) > 1:  # only with more than one ACTIVE revision [HOOKS]
            plan.append(Step("RECONCILE_SERVICE", "reconcile"))
        plan += [
            Step("PRE_SCALE_UP", "check-routes"),
            Step("SCALE_UP", "scale-up"),
            Step("POST_SCALE_UP"),
            Step("TEST_TRAFFIC_SHIFT", "test-shift"),
            Step("POST_TEST_TRAFFIC_SHIFT"),
        ]
        config = copy.deepcopy(getattr(svc, "deployment_configuration", None) or {})
        for percent, wait in shift_plan(config):
            plan.append(Step("PRE_PRODUCTION_TRAFFIC_SHIFT"))
            plan.append(Step("PRODUCTION_TRAFFIC_SHIFT", "prod-shift", percent, wait))
        bake = float(config.get("bakeTimeInMinutes") or 0) * 60.0
        plan += [
            Step("POST_PRODUCTION_TRAFFIC_SHIFT"),
            Step("BAKE_TIME", wait=bake),
            Step("CLEAN_UP", "clean-up"),
        ]
        state.runs.insert(0, target)
        d = self._deployment(state, svc, target, sources, routes, plan)
        self._publish(state, svc)
        return d

    def _deployment(
        self,
        state: ServiceState,
        svc: Any,
        target: RevisionRun,
        sources: list[RevisionRun],
        routes: list[Route],
        plan: list[Step],
    ) -> ServiceDeployment:
        config = copy.deepcopy(getattr(svc, "deployment_configuration", None) or {})
        arn = (
            f"arn:aws:ecs:{state.region}:{state.account}:service-deployment/{svc.cluster_name}/"
            f"{svc.name}/{new_deployment_suffix()}"
        )
        alarms = config.get("alarms") or {}
        wall = round(self.clock.wall(), 3)  # AWS timestamps carry milliseconds
        d = ServiceDeployment(
            arn=arn,
            region=state.region,
            cluster=svc.cluster_name,
            cluster_arn=svc.cluster_arn,
            service=svc.name,
            service_arn=svc.arn,
            created_at=wall,
            updated_at=wall,
            config=config,
            target=target,
            sources=list(sources),
            routes=routes,
            plan=plan,
            alarm_names=list(alarms.get("alarmNames") or []),
            alarms_enabled=bool(alarms.get("enable")) and bool(alarms.get("alarmNames")),
            alarm_rollback=bool(alarms.get("rollback")),
        )
        d.alarm_status = "MONITORING" if d.alarms_enabled else "DISABLED"
        state.deployments.append(d)
        self.deployments[arn] = d
        return d

    # --- control --------------------------------------------------------------------------------
    def request_rollback(self, d: ServiceDeployment) -> None:
        d.status = "ROLLBACK_REQUESTED"
        d.stop_request = "ROLLBACK"
        d.updated_at = self.clock.wall()

    # --- driving --------------------------------------------------------------------------------
    def tick(self) -> None:
        for key, state in list(self.services.items()):
            found = self.moto_service(state.region, state.cluster, state.service)
            if found is None or found[1].status != "ACTIVE":
                if found is not None:
                    state.tasks.sync(found[1], [])
                del self.services[key]
                continue
            svc = found[1]
            firing = self._poll_alarms(state)
            for d in list(state.deployments):
                if d.active:
                    self._step(state, svc, d, firing)
            self._follow_desired(state, svc)
            self._publish(state, svc)

    def _follow_desired(self, state: ServiceState, svc: Any) -> None:
        """With no deployment in flight, the serving revision follows desiredCount."""
        if state.current is not None or len(state.runs) != 1:
            return
        run = state.runs[0]
        desired = int(svc.desired_count)
        if run.desired != desired or run.running != desired:
            run.desired, run.running, run.pending = desired, desired, 0
            run.updated_at = self.clock.wall()

    def _step(
        self, state: ServiceState, svc: Any, d: ServiceDeployment, firing: set[str] | None
    ) -> None:
        now = self.clock.now()
        wall = self.clock.wall()
        try:
            if d.status == "STOP_REQUESTED":
                self._finish(
                    state,
                    svc,
                    d,
                    "STOPPED",
                    d.status_reason
                    or (
                        "Service deployment stopped because a newer service deployment started."
                        if d.stop_request == "SUPERSEDED"
                        else "Service deployment stopped."
                    ),
                )
                return
            if d.status == "ROLLBACK_REQUESTED":
                self._begin_rollback(d, "Service deployment rolled back because of a user request.")
            if d.status == "PENDING":
                d.status, d.started_at, d.updated_at = "IN_PROGRESS", wall, wall
                if d.alarms_enabled:  # §4: an alarm already in ALARM at start is ignored
                    d.ignored_alarms = set(self._alarms_in_alarm(d.region, d.alarm_names))
            if d.status == "IN_PROGRESS" and not d.rolling_back:
                self._watch(d, firing, now)
            self._advance(state, svc, d, now)
        except DeploymentFailed as failure:
            self._fail(state, svc, d, failure)

    def _watch(self, d: ServiceDeployment, firing: set[str] | None, now: float) -> None:
        stage_index = (
            [s.stage for s in d.plan].index(ALARM_WATCHED_UNTIL)
            if any(s.stage == ALARM_WATCHED_UNTIL for s in d.plan)
            else len(d.plan)
        )
        if d.step >= stage_index:
            return
        if d.alarms_enabled and firing:
            tripped = [
                n for n in d.alarm_names if n in firing and n not in (d.ignored_alarms or ())
            ]
            if tripped:
                d.triggered = tripped
                d.alarm_status = "TRIGGERED"
                raise DeploymentFailed(
                    "Service deployment rolled back because the following alarm(s) went into "
                    f"ALARM state: {', '.join(tripped)}."
                    if d.alarm_rollback
                    else "Service deployment stopped because the following alarm(s) went into "
                    f"ALARM state: {', '.join(tripped)}.",
                    rollback=d.alarm_rollback,
                )
        if d.green_since is not None and not self.faults.green_healthy(d.green_since, now):
            d.target.running, d.target.pending = 0, d.target.desired
            raise DeploymentFailed(
                "Service deployment rolled back because the tasks of the target service "
                "revision failed their load balancer health checks."
            )

    def _advance(self, state: ServiceState, svc: Any, d: ServiceDeployment, now: float) -> None:
        if d.step < 0:
            self._enter(d, 0, now)
        while d.step < len(d.plan):
            step = d.plan[d.step]
            if d.step_phase == "enter":
                if not self._act(state, svc, d, step, now):
                    return
                d.step_phase, d.step_started = "hooks", now
                d.hooks = []
                self._start_hooks(d, step.stage, now)
            if d.step_phase == "hooks":
                if not self._hooks_done(d, now):
                    return
                d.step_phase, d.step_started = "wait", now
            if d.step_phase == "wait" and now - d.step_started < step.wait:
                return
            if d.step + 1 >= len(d.plan):
                self._complete(state, svc, d)
                return
            self._enter(d, d.step + 1, now)
            return  # one stage per tick: every stage is observable

    def _enter(self, d: ServiceDeployment, index: int, now: float) -> None:
        d.step, d.step_phase, d.step_started = index, "enter", now
        d.stage = d.plan[index].stage
        d.updated_at = self.clock.wall()

    # --- actions --------------------------------------------------------------------------------
    def _act(
        self, state: ServiceState, svc: Any, d: ServiceDeployment, step: Step, now: float
    ) -> bool:
        action = step.action
        if action == "scale-up":
            return self._scale_up(d, now)
        if action == "check-routes":
            self._check_routes(d)
        elif action == "reconcile":
            self._route_all(d, production=0.0, test=0.0)
            for run in d.sources[1:]:  # the superseded deployments' green scaled in
                run.desired = run.running = run.pending = 0
            state.runs = [r for r in state.runs if r is d.target or r is d.sources[0]]
        elif action == "test-shift":
            self._route_all(d, test=100.0)
        elif action == "prod-shift":
            self._route_all(d, production=step.percent)
        elif action == "clean-up":
            for run in d.sources:
                run.desired = run.running = run.pending = 0
            state.runs = [d.target]
            if not d.initial:
                svc.load_balancers = _swapped(svc.load_balancers or [])
        elif action == "rollback-production":
            self._route_all(d, production=0.0)
        elif action == "rollback-test":
            self._route_all(d, test=0.0)
        elif action == "rollback-clean-up":
            d.target.desired = d.target.running = d.target.pending = 0
            state.runs = [r for r in state.runs if r is not d.target]
            if d.sources:
                svc.task_definition = d.sources[0].revision.task_definition
        return True

    def _scale_up(self, d: ServiceDeployment, now: float) -> bool:
        green = d.target
        if d.scale_started is None:
            d.scale_started = now
            green.pending, green.running = green.desired, 0
        elapsed = now - d.scale_started
        if not self.faults.green_ever_healthy():
            green.running, green.pending = 0, green.desired
            green.failed = math.floor(elapsed / TASK_FAIL_SECONDS)
            if elapsed >= GREEN_HEALTH_TIMEOUT:
                raise DeploymentFailed(
                    "Service deployment rolled back because the tasks of the target service "
                    "revision failed to become healthy."
                )
            return False
        if green.desired:
            started = math.floor(green.desired * elapsed / TASK_START_SECONDS)
            green.running = min(green.desired, max(green.running, started))
        green.pending = green.desired - green.running
        green.updated_at = self.clock.wall()
        if green.running < green.desired:
            return False
        green.rollout_state = "COMPLETED" if d.initial else green.rollout_state
        d.green_since = now
        return True

    def _elbv2(self, region: str) -> Any:
        return self.client_factory("elbv2", region)

    def _check_routes(self, d: ServiceDeployment) -> None:
        """The production rule must exist and forward to both target groups, else the
        deployment rolls back for invalid networking configuration [TS]."""
        elbv2 = self._elbv2(d.region)
        for route in d.routes:
            weights = self._read_weights(elbv2, route.production_rule)
            if weights is None or not {route.blue, route.green} <= set(weights):
                raise DeploymentFailed(
                    "Service deployment rolled back because of invalid networking "
                    f"configuration. The production listener rule {route.production_rule} must "
                    f"forward to both target groups {route.blue} and {route.green}."
                )

    @staticmethod
    def _read_weights(elbv2: Any, arn: str) -> dict[str, int] | None:
        try:
            if ":listener-rule/" in arn:
                actions = elbv2.describe_rules(RuleArns=[arn])["Rules"][0].get("Actions", [])
            else:
                actions = elbv2.describe_listeners(ListenerArns=[arn])["Listeners"][0].get(
                    "DefaultActions", []
                )
        except Exception:
            return None
        for action in actions:
            if action.get("Type") != "forward":
                continue
            groups = (action.get("ForwardConfig") or {}).get("TargetGroups") or []
            if groups:
                return {g["TargetGroupArn"]: int(g.get("Weight", 1)) for g in groups}
            if action.get("TargetGroupArn"):
                return {action["TargetGroupArn"]: 1}
        return {}

    def _route_all(
        self, d: ServiceDeployment, production: float | None = None, test: float | None = None
    ) -> None:
        """Set green's share on every production (and/or test) rule of the deployment."""
        elbv2 = self._elbv2(d.region)
        for route in d.routes:
            if production is not None:
                _route(elbv2, route.production_rule, route, production)
            if test is not None and route.test_rule:
                _route(elbv2, route.test_rule, route, test)
        if production is not None:
            d.production_weight = production
        if test is not None:
            d.test_weight = test
        d.updated_at = self.clock.wall()

    # --- hooks ----------------------------------------------------------------------------------
    def _start_hooks(self, d: ServiceDeployment, stage: str, now: float) -> None:
        if d.initial:
            return
        for hook in d.config.get("lifecycleHooks") or []:
            if not isinstance(hook, dict) or stage not in (hook.get("lifecycleStages") or []):
                continue
            target_type = hook.get("targetType", "AWS_LAMBDA")
            timeout = hook.get("timeoutConfiguration") or {}
            seconds = float(timeout.get("timeoutInMinutes", DEFAULT_HOOK_TIMEOUT_MINUTES)) * 60
            kind = "pause" if target_type == "PAUSE" else "lambda"
            d.hooks.append(
                HookRun(
                    hook_id=f"ecs-{kind}-{new_deployment_suffix()}",
                    target_type=target_type,
                    target_arn=hook.get("hookTargetArn") if target_type != "PAUSE" else None,
                    stage=stage,
                    started=now,
                    timeout_seconds=seconds,
                    timeout_action=str(timeout.get("action", "ROLLBACK")),
                    expires_at=self.clock.wall() + self.clock.wall_seconds(seconds),
                    status="AWAITING_ACTION" if target_type == "PAUSE" else "IN_PROGRESS",
                )
            )

    def _hooks_done(self, d: ServiceDeployment, now: float) -> bool:
        """All hooks of the stage passed (True), some still run (False); a failure raises.
        Hooks at a stage run in parallel and all must pass [PAUSE]."""
        mode = self.hooks_mode()
        for hook in d.hooks:
            elapsed = now - hook.started
            if hook.status == "IN_PROGRESS":  # a Lambda hook answers per the sandbox setting
                fails = self.faults.hook_fails(hook.stage) or mode == "fail"
                if elapsed >= HOOK_REPORT_SECONDS and (fails or mode == "succeed"):
                    hook.status = "FAILED" if fails else "SUCCEEDED"
            if (
                hook.status in ("IN_PROGRESS", "AWAITING_ACTION")
                and elapsed >= hook.timeout_seconds
            ):
                hook.status = "TIMED_OUT"
            if hook.status == "FAILED":
                if hook.action == "ROLLBACK":
                    raise DeploymentFailed(
                        "Service deployment rolled back because of a ROLLBACK action on the "
                        f"{hook.stage} pause hook {hook.hook_id}."
                    )
                raise DeploymentFailed(
                    "Service deployment rolled back because hook execution failure(s) detected "
                    f"at {hook.stage}: {hook.hook_id}."
                )
            if hook.status == "TIMED_OUT" and hook.timeout_action == "ROLLBACK":
                kind = "pause" if hook.target_type == "PAUSE" else "lambda"
                raise DeploymentFailed(
                    f"Service deployment rolled back because {hook.stage} {kind} hook timed out."
                )
        return all(h.status in ("SUCCEEDED", "TIMED_OUT") for h in d.hooks)

    # --- alarms ---------------------------------------------------------------------------------
    def _alarms_in_alarm(self, region: str, names: list[str]) -> list[str]:
        if not names:
            return []
        cloudwatch = self.client_factory("cloudwatch", region)
        found: list[str] = []
        for start in range(0, len(names), 100):
            alarms = cloudwatch.describe_alarms(AlarmNames=names[start : start + 100])
            found += [
                a["AlarmName"]
                for a in alarms.get("MetricAlarms", [])
                if a.get("StateValue") == "ALARM"
            ]
        return found

    def _poll_alarms(self, state: ServiceState) -> set[str] | None:
        """One DescribeAlarms per service and poll interval for its deployments in flight;
        None when not due (a missed poll: §4 notes throttling can miss one)."""
        names: dict[str, None] = {}
        for d in state.deployments:
            if d.status == "IN_PROGRESS" and d.alarms_enabled and not d.rolling_back:
                names.update(dict.fromkeys(d.alarm_names))
        if not names:
            return None
        key = f"{state.region}/{state.cluster}/{state.service}"
        wall = time.monotonic()
        if wall - self._last_alarm_poll.get(key, 0.0) < ALARM_POLL_WALL_SECONDS:
            return None
        self._last_alarm_poll[key] = wall
        try:
            return set(self._alarms_in_alarm(state.region, list(names)))
        except Exception:
            return None

    # --- ending ---------------------------------------------------------------------------------
    def _fail(
        self, state: ServiceState, svc: Any, d: ServiceDeployment, failure: DeploymentFailed
    ) -> None:
        for hook in d.hooks:
            if hook.status in ("IN_PROGRESS", "AWAITING_ACTION"):
                hook.status = "FAILED"
        if d.rolling_back:
            self._finish(state, svc, d, "ROLLBACK_FAILED", failure.reason)
            return
        if failure.rollback:
            self._begin_rollback(d, failure.reason)
            return
        d.status = "STOP_REQUESTED"
        d.status_reason = failure.reason

    def _begin_rollback(self, d: ServiceDeployment, reason: str) -> None:
        """ROLLBACK_IN_PROGRESS: production and test back on blue, hooks at
        PRODUCTION_/TEST_TRAFFIC_SHIFT run again [LAM], green scaled in (a weight flip, no
        relaunch [BLOG])."""
        wall = self.clock.wall()
        d.status, d.status_reason, d.updated_at = "ROLLBACK_IN_PROGRESS", reason, wall
        d.rolling_back = True
        d.rollback = {"reason": reason, "startedAt": wall}
        if d.sources:
            d.rollback["serviceRevisionArn"] = d.sources[0].revision.arn
        if d.alarm_status == "MONITORING":
            d.alarm_status = "MONITORING_COMPLETE"
        if d.started_at is None:
            d.started_at = wall
        d.plan = [
            Step("PRODUCTION_TRAFFIC_SHIFT", "rollback-production"),
            Step("TEST_TRAFFIC_SHIFT", "rollback-test"),
            Step("CLEAN_UP", "rollback-clean-up"),
        ]
        d.step, d.step_phase = -1, "enter"
        d.hooks = []

    def _complete(self, state: ServiceState, svc: Any, d: ServiceDeployment) -> None:
        if d.rolling_back:
            self._finish(state, svc, d, "ROLLBACK_SUCCESSFUL", d.status_reason)
            return
        if d.alarm_status == "MONITORING":
            d.alarm_status = "MONITORING_COMPLETE"
        d.target.rollout_state = "COMPLETED"
        self._finish(state, svc, d, "SUCCESSFUL", None)

    def _finish(
        self, state: ServiceState, svc: Any, d: ServiceDeployment, status: str, reason: str | None
    ) -> None:
        wall = self.clock.wall()
        d.status, d.updated_at, d.finished_at = status, wall, wall
        if reason:
            d.status_reason = reason
        if status == "STOPPED":
            d.stopped_at = wall
            # A stopped deployment's green keeps its tasks until the next deployment reconciles
            # them (§6 question 4); one that had none leaves no revision behind.
            if d.target.running == 0 and d.target.pending == 0:
                state.runs = [r for r in state.runs if r is not d.target]
            if d.alarm_status == "MONITORING":
                d.alarm_status = "MONITORING_COMPLETE"
        if status == "ROLLBACK_SUCCESSFUL" and d.sources:
            d.sources[0].rollout_state = "COMPLETED"

    # --- what DescribeServices shows --------------------------------------------------------------
    def _publish(self, state: ServiceState, svc: Any) -> None:
        current = state.current
        runs = list(state.runs)
        if current is not None and current.rolling_back and current.sources:
            primary = current.sources[0]
            runs = [primary] + [r for r in runs if r is not primary]
        elif current is not None and current.target in runs:
            runs = [current.target] + [r for r in runs if r is not current.target]
        wall = self.clock.wall()
        deployments: list[JsonDict] = []
        for index, run in enumerate(runs):
            deployments.append(
                {
                    "id": run.deployment_id,
                    "status": "PRIMARY" if index == 0 else "ACTIVE",
                    "taskDefinition": run.revision.task_definition,
                    "desiredCount": run.desired,
                    "pendingCount": run.pending,
                    "runningCount": run.running,
                    "failedTasks": run.failed,
                    "createdAt": _stamp(run.created_at or wall),
                    "updatedAt": _stamp(run.updated_at or wall),
                    "launchType": svc.launch_type,
                    "rolloutState": run.rollout_state,
                    "rolloutStateReason": f"ECS deployment {run.deployment_id} "
                    + ("completed." if run.rollout_state == "COMPLETED" else "in progress."),
                }
            )
        svc.deployments = deployments
        svc.running_count = sum(r.running for r in runs)
        svc.pending_count = sum(r.pending for r in runs)
        svc.current_service_revisions = [r.summary() for r in runs]
        if state.deployments:
            svc.current_service_deployment = state.deployments[-1].arn
        state.tasks.sync(svc, deployments)


def _stamp(epoch: float) -> Any:
    import datetime

    return datetime.datetime.fromtimestamp(epoch, datetime.UTC)


def _route(elbv2: Any, arn: str, route: Route, green_percent: float) -> None:
    blue_weight, green_weight = rule_weights(green_percent)
    action = {
        "Type": "forward",
        "ForwardConfig": {
            "TargetGroups": [
                {"TargetGroupArn": route.blue, "Weight": blue_weight},
                {"TargetGroupArn": route.green, "Weight": green_weight},
            ]
        },
    }
    if ":listener-rule/" in arn:
        elbv2.modify_rule(RuleArn=arn, Actions=[action])
    else:  # NLB: the listener itself [M:AdvancedConfiguration]
        elbv2.modify_listener(ListenerArn=arn, DefaultActions=[action])


def _swapped(load_balancers: list[Any]) -> list[Any]:
    """After a deployment the target groups swap roles (§2; §6 question 6 reading: the
    service's loadBalancers show the swap, so the next deployment's green is this one's blue)."""
    swapped = copy.deepcopy(load_balancers)
    for lb in swapped:
        advanced = lb.get("advancedConfiguration") if isinstance(lb, dict) else None
        if isinstance(advanced, dict) and advanced.get("alternateTargetGroupArn"):
            lb["targetGroupArn"], advanced["alternateTargetGroupArn"] = (
                advanced["alternateTargetGroupArn"],
                lb["targetGroupArn"],
            )
    return swapped
