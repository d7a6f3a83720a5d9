"""The ECS blue/green engine: each deployment moves through an explicit progression of phases
(models.Phase), one small step per tick of the sandbox clock.

BeforeInstall → Install → AfterInstall → AllowTestTraffic → AfterAllowTestTraffic →
[Ready wait] → BeforeAllowTraffic → AllowTraffic → AfterAllowTraffic → [termination wait] →
original task set drained and deleted → Succeeded. Failures, alarms and stop requests end a
deployment early and, when the rollback settings say so, start a rollback deployment that
routes production back to the original task set and removes the replacement.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bluegreen.sandbox.clock import SandboxClock
from bluegreen.sandbox.codedeploy.actions import AwsActions
from bluegreen.sandbox.codedeploy.models import (
    ECS_LIFECYCLE_EVENTS,
    Deployment,
    DeploymentConfig,
    DeploymentGroup,
    HookExecution,
    LastDeployment,
    LifecycleEvent,
    Phase,
    RegionState,
    TaskSet,
    new_deployment_id,
)
from bluegreen.sandbox.faults import FaultRegistry

TASK_START_SECONDS = 30.0  # simulated seconds for replacement tasks to start and pass checks
INSTALL_HEALTH_TIMEOUT = 600.0  # simulated seconds before an unhealthy Install fails
HOOK_REPORT_SECONDS = 2.0  # simulated seconds before an auto-reporting hook answers
HOOK_TIMEOUT_SECONDS = 3600.0  # a hook must report within one hour
DRAIN_SECONDS = 30.0  # simulated seconds to drain the original task set
ALARM_POLL_WALL_SECONDS = 0.05  # poll alarms at most this often (wall time)

HOOK_PHASES = {
    Phase.BEFORE_INSTALL: (Phase.INSTALL, "BeforeInstall"),
    Phase.AFTER_INSTALL: (Phase.ALLOW_TEST_TRAFFIC, "AfterInstall"),
    Phase.AFTER_ALLOW_TEST_TRAFFIC: (Phase.READY_WAIT, "AfterAllowTestTraffic"),
    Phase.BEFORE_ALLOW_TRAFFIC: (Phase.ALLOW_TRAFFIC, "BeforeAllowTraffic"),
    Phase.AFTER_ALLOW_TRAFFIC: (Phase.TERMINATION_WAIT, "AfterAllowTraffic"),
}


@dataclass(frozen=True)
class AlarmPoll:
    """One tick's read of a region's alarms: the deployments it was read for, the alarms
    found in ALARM, or the error the read ended in."""

    due: frozenset[str]
    firing: frozenset[str]
    error: Exception | None


ROLLBACK_EVENTS = ("BeforeAllowTraffic", "AllowTraffic", "AfterAllowTraffic")


class DeploymentError(Exception):
    """Ends a deployment as Failed with an errorInformation code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class Engine:
    def __init__(
        self,
        *,
        clock: SandboxClock,
        faults: FaultRegistry,
        hooks_mode: Callable[[], str],
        actions: Callable[[str], AwsActions],
        configs: Callable[[RegionState, str], DeploymentConfig | None],
        publish: Callable[[str, str, str, dict[str, tuple[int, int, int]]], None] | None = None,
    ) -> None:
        self.clock = clock
        self.faults = faults
        self.hooks_mode = hooks_mode
        self.actions = actions
        self.configs = configs
        self.publish = publish
        self.hook_executions: dict[str, HookExecution] = {}

    # --- driving --------------------------------------------------------------------------------
    def tick(self, states: dict[str, RegionState]) -> None:
        for state in states.values():
            deployments = [d for d in state.deployments.values() if d.active]
            poll = self._poll_alarms(deployments)
            for deployment in deployments:
                if deployment.active:
                    self.step(state, deployment, poll)

    def step(self, state: RegionState, d: Deployment, poll: AlarmPoll | None = None) -> None:
        try:
            if d.phase is not Phase.ROLLBACK and d.phase is not Phase.CREATED:
                self._watch_alarms(state, d, poll or self._poll_alarms([d]))
            if d.active:
                self._advance(state, d)
            self._publish(d)
        except DeploymentError as exc:
            self.end(state, d, "Failed", exc.code, exc.message, "DEPLOYMENT_FAILURE")
        except Exception as exc:  # an AWS call on moto failed: the deployment fails, visibly
            message = f"{type(exc).__name__}: {exc}"
            self.end(state, d, "Failed", "INTERNAL_ERROR", message, "DEPLOYMENT_FAILURE")

    def _publish(self, d: Deployment) -> None:
        if self.publish is not None and d.task_sets:
            counts = {ts.arn: (ts.desired, ts.pending, ts.running) for ts in d.task_sets}
            self.publish(d.region, d.cluster, d.service, counts)

    def _advance(self, state: RegionState, d: Deployment) -> None:
        phase = d.phase
        if phase is Phase.CREATED:
            self._start(d)
        elif phase in HOOK_PHASES:
            self._hook_phase(d)
        elif phase is Phase.INSTALL:
            self._install(state, d)
        elif phase is Phase.ALLOW_TEST_TRAFFIC:
            self._allow_test_traffic(d)
        elif phase is Phase.READY_WAIT:
            self._ready_wait(state, d)
        elif phase is Phase.ALLOW_TRAFFIC:
            self._allow_traffic(state, d)
        elif phase is Phase.TERMINATION_WAIT:
            self._termination_wait(d)
        elif phase is Phase.TERMINATE:
            self._terminate(state, d)
        elif phase is Phase.ROLLBACK:
            self._rollback(state, d)

    def _enter(self, d: Deployment, phase: Phase) -> None:
        d.phase = phase
        d.phase_started = self.clock.now()
        d.target_updated = self.clock.wall()

    def _begin_event(self, d: Deployment, name: str) -> None:
        ev = d.event(name)
        if ev.status == "Pending":
            ev.status = "InProgress"
            ev.start_time = self.clock.wall()
            d.target_updated = ev.start_time

    def _finish_event(self, d: Deployment, name: str, status: str = "Succeeded") -> None:
        ev = d.event(name)
        if ev.start_time is None:
            ev.start_time = self.clock.wall()
        ev.status = status
        ev.end_time = self.clock.wall()
        d.target_updated = ev.end_time

    # --- phases ---------------------------------------------------------------------------------
    def _start(self, d: Deployment) -> None:
        d.status = "InProgress"
        d.start_time = self.clock.wall()
        d.target_status = "InProgress"
        d.events = [LifecycleEvent(name) for name in ECS_LIFECYCLE_EVENTS]
        self._enter(d, Phase.BEFORE_INSTALL)

    def _hook_phase(self, d: Deployment) -> None:
        next_phase, event = HOOK_PHASES[d.phase]
        self._begin_event(d, event)
        function = d.appspec.hooks.get(event) if d.appspec else None
        if function is not None:
            outcome = self._hook_outcome(d, event, function)
            if outcome is None:
                return
            if outcome != "Succeeded":
                self._finish_event(d, event, "Failed")
                d.event(event).message = outcome
                d.event(event).error_code = "ScriptFailed"
                raise DeploymentError("HOOK_EXECUTION_FAILURE", outcome)
        self._finish_event(d, event)
        if next_phase is Phase.READY_WAIT and not _waits_when_ready(d):
            next_phase = Phase.BEFORE_ALLOW_TRAFFIC
        if next_phase is Phase.TERMINATION_WAIT:
            d.termination_wait_started = True
        if next_phase is Phase.READY_WAIT:
            d.status = "Ready"
            d.target_status = "Ready"
        self._enter(d, next_phase)

    def _hook_outcome(self, d: Deployment, event: str, function: str) -> str | None:
        """None while the hook runs; "Succeeded" or a failure message once it is done."""
        now = self.clock.now()
        hook = d.hook
        if hook is None or hook.event != event:
            hook = HookExecution(
                id=str(uuid.uuid4()),
                deployment_id=d.id,
                event=event,
                function=function,
                started_at=now,
            )
            d.hook = hook
            self.hook_executions[hook.id] = hook
        elapsed = now - hook.started_at
        if hook.status in ("Succeeded", "Failed"):
            d.hook = None
            if hook.status == "Succeeded":
                return "Succeeded"
            return f"The {event} hook {function} reported Failed."
        mode = self.hooks_mode()
        if self.faults.hook_fails(event) or mode == "fail":
            if elapsed >= HOOK_REPORT_SECONDS:
                hook.status = "Failed"
                d.hook = None
                return f"The {event} hook {function} reported Failed."
            return None
        if mode == "succeed" and elapsed >= HOOK_REPORT_SECONDS:
            hook.status = "Succeeded"
            d.hook = None
            return "Succeeded"
        if elapsed >= HOOK_TIMEOUT_SECONDS:
            hook.status = "Failed"
            d.hook = None
            return f"The {event} hook {function} did not report a status within one hour."
        return None

    def _install(self, state: RegionState, d: Deployment) -> None:
        self._begin_event(d, "Install")
        if not d.task_sets:
            self._create_task_sets(state, d)
        green = d.task_set("Green")
        assert green is not None
        now = self.clock.now()
        elapsed = now - green.started_at
        if not self.faults.green_ever_healthy():
            green.pending, green.running = green.desired, 0
            if elapsed >= INSTALL_HEALTH_TIMEOUT:
                self._finish_event(d, "Install", "Failed")
                raise DeploymentError(
                    "ECS_UPDATE_ERROR",
                    "The replacement task set did not become healthy: its tasks failed the "
                    f"health checks of target group {green.target_group_name}.",
                )
            return
        if green.desired:
            green.running = min(
                green.desired, math.floor(green.desired * elapsed / TASK_START_SECONDS)
            )
        green.pending = green.desired - green.running
        if green.running >= green.desired:
            green.healthy_since = now
            self._finish_event(d, "Install")
            self._enter(d, Phase.AFTER_INSTALL)

    def _create_task_sets(self, state: RegionState, d: Deployment) -> None:
        group = state.groups[(d.application, d.group)]
        actions = self.actions(d.region)
        svc = actions.describe_service(d.cluster, d.service)
        if svc is None:
            raise DeploymentError(
                "INVALID_ECS_SERVICE", f"The ECS service {d.service} in {d.cluster} is gone."
            )
        d.service_arn = svc["serviceArn"]
        arns = actions.target_group_arns(group.target_group_names)
        weights = actions.listener_weights(group.prod_listeners[0])
        names = group.target_group_names
        serving = [n for n in names if weights.get(arns[n], 0) > 0]
        existing = [
            ts for ts in actions.task_sets(d.cluster, d.service) if ts["status"] != "DRAINING"
        ]
        primary = next((ts for ts in existing if ts["status"] == "PRIMARY"), None)
        primary_groups = [
            n
            for n in names
            for lb in (primary or {}).get("loadBalancers") or []
            if lb.get("targetGroupArn") == arns[n]
        ]
        blue_name = (primary_groups or serving or names)[0]
        green_name = names[1] if blue_name == names[0] else names[0]
        if primary is not None and len(existing) > 1:
            existing = self._remove_stale_replacements(d, existing, primary, arns, blue_name)
        assert d.appspec is not None
        spec = d.appspec
        desired = int(svc.get("desiredCount", 0))
        if primary is None:
            lb = (svc.get("loadBalancers") or [{}])[0]
            primary = self._create_task_set(
                actions,
                d,
                existing,
                task_definition=svc["taskDefinition"],
                target_group_arn=arns[blue_name],
                container_name=lb.get("containerName", spec.container_name),
                container_port=int(lb.get("containerPort", spec.container_port)),
                svc=svc,
            )
            actions.make_primary(d.cluster, d.service, primary["taskSetArn"])
            existing.append(primary)
        blue = TaskSet(
            arn=primary["taskSetArn"],
            identifier=primary["id"],
            label="Blue",
            target_group_name=blue_name,
            target_group_arn=arns[blue_name],
            desired=desired,
            running=desired,
            status="PRIMARY",
            weight=100.0,
        )
        created = self._create_task_set(
            actions,
            d,
            existing,
            task_definition=spec.task_definition,
            target_group_arn=arns[green_name],
            container_name=spec.container_name,
            container_port=spec.container_port,
            appspec=spec,
            svc=svc,
        )
        green = TaskSet(
            arn=created["taskSetArn"],
            identifier=created["id"],
            label="Green",
            target_group_name=green_name,
            target_group_arn=arns[green_name],
            desired=desired,
            pending=desired,
            started_at=self.clock.now(),
        )
        d.task_sets = [blue, green]

    def _remove_stale_replacements(
        self,
        d: Deployment,
        existing: list[dict[str, Any]],
        primary: dict[str, Any],
        arns: dict[str, str],
        blue_name: str,
    ) -> list[dict[str, Any]]:
        """A deployment stopped without a rollback leaves its replacement task set (and the
        traffic it was given) behind. An ECS deployment has exactly one original and one
        replacement task set (ECSTaskSet.taskSetLabel Blue | Green:
        https://docs.aws.amazon.com/codedeploy/latest/APIReference/API_ECSTaskSet.html), so
        before installing, production and test traffic go back to the primary (original) task
        set and the left-over replacement is deleted, rather than a second replacement being
        stacked into its target group. (AWS's pages do not describe this case; the sandbox
        keeps the model's two-task-set invariant.)"""
        actions = self.actions(d.region)
        others = [arn for name, arn in arns.items() if name != blue_name]
        routes = {arns[blue_name]: 100} | dict.fromkeys(others, 0)
        listeners = _group_prod_listeners(d) + _group_test_listeners(d)
        actions.route(listeners, routes)
        for stale in existing:
            if stale is not primary:
                actions.delete_task_set(d.cluster, d.service, stale["taskSetArn"])
        return [primary]

    @staticmethod
    def _create_task_set(
        actions: AwsActions,
        d: Deployment,
        existing: list[dict[str, Any]],
        **params: Any,
    ) -> dict[str, Any]:
        """Create a task set; when ECS refuses, remove any half-made set it left behind and
        fail the deployment."""
        try:
            return actions.create_task_set(d.cluster, d.service, **params)
        except Exception as exc:
            known = {ts["taskSetArn"] for ts in existing}
            for leftover in actions.task_sets(d.cluster, d.service):
                if leftover["taskSetArn"] not in known:
                    actions.delete_task_set(d.cluster, d.service, leftover["taskSetArn"])
            raise DeploymentError(
                "ECS_UPDATE_ERROR", f"Creating a task set for {d.target_id} failed: {exc}"
            ) from exc

    def _allow_test_traffic(self, d: Deployment) -> None:
        self._begin_event(d, "AllowTestTraffic")
        self._check_green(d)
        listeners = _group_test_listeners(d)
        blue, green = d.task_set("Blue"), d.task_set("Green")
        if listeners and blue and green:
            routes = {blue.target_group_arn: 0, green.target_group_arn: 100}
            self.actions(d.region).route(listeners, routes)
        self._finish_event(d, "AllowTestTraffic")
        self._enter(d, Phase.AFTER_ALLOW_TEST_TRAFFIC)

    def _ready_wait(self, state: RegionState, d: Deployment) -> None:
        if d.continue_requested == "READY_WAIT":
            d.continue_requested = None
            d.status = "InProgress"
            d.target_status = "InProgress"
            self._enter(d, Phase.BEFORE_ALLOW_TRAFFIC)
            return
        ready = d.blue_green.get("deploymentReadyOption", {})
        wait = float(ready.get("waitTimeInMinutes", 0)) * 60.0
        if self.clock.now() - d.phase_started >= wait:
            self.end(
                state,
                d,
                "Stopped",
                "TIMEOUT",
                "The deployment was stopped because nobody continued it within the ready "
                f"wait of {ready.get('waitTimeInMinutes', 0)} minutes.",
                "DEPLOYMENT_STOP_ON_REQUEST",
            )

    def _allow_traffic(self, state: RegionState, d: Deployment) -> None:
        ev = d.event("AllowTraffic")
        now = self.clock.now()
        if ev.status == "Pending":
            self._begin_event(d, "AllowTraffic")
            d.shift_step, d.shift_due = 0, now
        self._check_green(d)
        config = self.configs(state, d.config_name)
        plan = config.shift_plan() if config else [(0.0, 100)]
        if now < d.shift_due:
            return
        percent = plan[d.shift_step][1]
        self._shift(d, percent)
        d.shift_step += 1
        if d.shift_step < len(plan):
            d.shift_due = now + plan[d.shift_step][0]
            return
        blue, green = d.task_set("Blue"), d.task_set("Green")
        if blue and green:
            self.actions(d.region).make_primary(d.cluster, d.service, green.arn)
            green.status, blue.status = "PRIMARY", "ACTIVE"
        self._finish_event(d, "AllowTraffic")
        self._enter(d, Phase.AFTER_ALLOW_TRAFFIC)

    def _shift(self, d: Deployment, green_percent: int) -> None:
        blue, green = d.task_set("Blue"), d.task_set("Green")
        if blue is None or green is None:
            return
        group_listeners = _group_prod_listeners(d)
        routes = {blue.target_group_arn: 100 - green_percent, green.target_group_arn: green_percent}
        self.actions(d.region).route(group_listeners, routes)
        blue.weight, green.weight = float(100 - green_percent), float(green_percent)
        d.target_updated = self.clock.wall()

    def _check_green(self, d: Deployment) -> None:
        green = d.task_set("Green")
        if green is None or green.healthy_since is None:
            return
        if not self.faults.green_healthy(green.healthy_since, self.clock.now()):
            green.running, green.pending = 0, green.desired
            current = next((e for e in d.events if e.status == "InProgress"), None)
            if current is not None:
                self._finish_event(d, current.name, "Failed")
            raise DeploymentError(
                "ECS_UPDATE_ERROR",
                f"The replacement task set's tasks became unhealthy in target group "
                f"{green.target_group_name}.",
            )

    def _termination_wait(self, d: Deployment) -> None:
        option = d.blue_green.get("terminateBlueInstancesOnDeploymentSuccess", {})
        wait = float(option.get("terminationWaitTimeInMinutes", 0)) * 60.0
        skip = d.continue_requested == "TERMINATION_WAIT"
        if skip or self.clock.now() - d.phase_started >= wait:
            d.continue_requested = None
            self._enter(d, Phase.TERMINATE)

    def _terminate(self, state: RegionState, d: Deployment) -> None:
        option = d.blue_green.get("terminateBlueInstancesOnDeploymentSuccess", {})
        blue = d.task_set("Blue")
        if blue is not None and option.get("action", "TERMINATE") == "TERMINATE":
            if blue.status != "DRAINING":
                blue.status = "DRAINING"
            elapsed = self.clock.now() - d.phase_started
            blue.running = max(0, blue.desired - math.floor(blue.desired * elapsed / DRAIN_SECONDS))
            blue.desired = blue.running if elapsed >= DRAIN_SECONDS else blue.desired
            if elapsed < DRAIN_SECONDS:
                return
            self.actions(d.region).delete_task_set(d.cluster, d.service, blue.arn)
            d.task_sets = [ts for ts in d.task_sets if ts is not blue]
        self.end(state, d, "Succeeded")

    def _rollback(self, state: RegionState, d: Deployment) -> None:
        """A rollback deployment: production and test traffic back to the original task set,
        the original made primary again, the replacement removed."""
        if d.start_time is None:
            d.status, d.start_time, d.target_status = "InProgress", self.clock.wall(), "InProgress"
            d.events = [LifecycleEvent(name) for name in ROLLBACK_EVENTS]
        blue, green = d.task_set("Blue"), d.task_set("Green")
        for name in ROLLBACK_EVENTS:
            self._begin_event(d, name)
            if name == "AllowTraffic" and blue is not None and green is not None:
                actions = self.actions(d.region)
                routes = {blue.target_group_arn: 100, green.target_group_arn: 0}
                listeners = _group_prod_listeners(d) + _group_test_listeners(d)
                actions.route(listeners, routes)
                actions.make_primary(d.cluster, d.service, blue.arn)
                actions.delete_task_set(d.cluster, d.service, green.arn)
                blue.status, blue.weight = "PRIMARY", 100.0
                d.task_sets = [blue]
            self._finish_event(d, name)
        self.end(state, d, "Succeeded")

    # --- alarms -------------------------------------------------------------------------------
    def _poll_alarms(self, deployments: list[Deployment]) -> AlarmPoll:
        """One DescribeAlarms (per 100 names) for the alarms of every deployment of a region
        that is due for a poll, instead of a call per deployment."""
        wall = time.monotonic()
        due: set[str] = set()
        names: dict[str, None] = {}
        region = None
        for d in deployments:
            if d.phase is Phase.ROLLBACK or d.phase is Phase.CREATED:
                continue
            config = d.override_alarms if d.override_alarms is not None else d.alarm_configuration
            if not config.get("enabled") or not config.get("alarms"):
                continue
            if wall - d.last_alarm_poll < ALARM_POLL_WALL_SECONDS:
                continue
            d.last_alarm_poll = wall
            due.add(d.id)
            names.update(dict.fromkeys(a["name"] for a in config["alarms"]))
            region = d.region
        if region is None:
            return AlarmPoll(frozenset(), frozenset(), None)
        firing: set[str] = set()
        wanted = list(names)
        try:
            for start in range(0, len(wanted), 100):  # DescribeAlarms takes 100 names a call
                firing.update(self.actions(region).alarms_in_alarm(wanted[start : start + 100]))
        except Exception as exc:  # each deployment decides (ignorePollAlarmFailure)
            return AlarmPoll(frozenset(due), frozenset(), exc)
        return AlarmPoll(frozenset(due), frozenset(firing), None)

    def _watch_alarms(self, state: RegionState, d: Deployment, poll: AlarmPoll) -> None:
        if d.id not in poll.due:
            return  # no alarms, or not due for a poll yet
        config = d.override_alarms if d.override_alarms is not None else d.alarm_configuration
        if poll.error is not None:
            if config.get("ignorePollAlarmFailure"):
                return
            raise poll.error
        firing = [a["name"] for a in config["alarms"] if a["name"] in poll.firing]
        if firing:
            self.end(
                state,
                d,
                "Stopped",
                "ALARM_ACTIVE",
                "One or more alarms have been activated according to the Amazon CloudWatch "
                "metrics you selected, and the affected deployments have been stopped. "
                f"Activated alarms: <{', '.join(firing)}>",
                "DEPLOYMENT_STOP_ON_ALARM",
            )

    # --- ending ---------------------------------------------------------------------------------
    def end(
        self,
        state: RegionState,
        d: Deployment,
        status: str,
        code: str | None = None,
        message: str | None = None,
        rollback_event: str | None = None,
        rollback: bool | None = None,
    ) -> Deployment | None:
        """Finish `d` with `status`; start and return a rollback deployment when due."""
        wall = self.clock.wall()
        d.status, d.complete_time, d.phase = status, wall, Phase.DONE
        d.target_status = "Succeeded" if status == "Succeeded" else "Failed"
        d.target_updated = wall
        if code:
            d.error_code, d.error_message = code, message
        if d.hook is not None:
            d.hook.status = (
                "Failed" if d.hook.status not in ("Succeeded", "Failed") else d.hook.status
            )
            d.hook = None
        for ev in d.events:
            if ev.status == "InProgress":
                ev.status, ev.end_time = ("Failed", wall)
            elif ev.status == "Pending" and status != "Succeeded":
                ev.status = "Skipped"
        group = state.groups.get((d.application, d.group))
        if group is not None:
            record = LastDeployment(d.id, status, d.create_time, wall)
            group.last_attempted = record
            if status == "Succeeded":
                group.last_successful = record
        if rollback is None:
            auto = d.auto_rollback
            rollback = bool(
                rollback_event and auto.get("enabled") and rollback_event in auto.get("events", [])
            )
        if not rollback or d.rollback_of is not None:
            return None
        return self._start_rollback(state, d, group)

    def _start_rollback(
        self, state: RegionState, d: Deployment, group: DeploymentGroup | None
    ) -> Deployment:
        rollback_id = new_deployment_id()
        message = f"Rollback deployment {rollback_id} started to roll back deployment {d.id}."
        d.rollback_info = {"rollbackDeploymentId": rollback_id, "rollbackMessage": message}
        blue, green = d.task_set("Blue"), d.task_set("Green")
        task_sets = []
        if blue is not None and green is not None:
            task_sets = [
                TaskSet(**{**vars(blue), "status": blue.status}),
                TaskSet(**{**vars(green), "status": green.status}),
            ]
        r = Deployment(
            id=rollback_id,
            application=d.application,
            group=d.group,
            region=d.region,
            config_name=d.config_name,
            # the last revision that succeeded (none for a group's first deployment), never
            # the one being rolled back
            revision=d.previous_revision,
            appspec=d.appspec,
            create_time=self.clock.wall(),
            cluster=d.cluster,
            service=d.service,
            auto_rollback=d.auto_rollback,
            alarm_configuration=d.alarm_configuration,
            override_alarms=d.override_alarms,
            deployment_style=d.deployment_style,
            blue_green=d.blue_green,
            load_balancer_info=d.load_balancer_info,
            creator="codeDeployRollback",
            rollback_info={
                "rollbackTriggeringDeploymentId": d.id,
                "rollbackMessage": f"Deployment {rollback_id} rolls back deployment {d.id}.",
            },
            previous_revision=d.revision,
            service_arn=d.service_arn,
            task_sets=task_sets,
            rollback_of=d,
        )
        r.phase = Phase.ROLLBACK
        state.deployments[r.id] = r
        if group is not None:
            group.last_attempted = LastDeployment(r.id, r.status, r.create_time)
            group.target_revision = d.previous_revision
        return r


def _waits_when_ready(d: Deployment) -> bool:
    ready = d.blue_green.get("deploymentReadyOption", {})
    return bool(ready.get("actionOnTimeout") == "STOP_DEPLOYMENT")


def _pair(d: Deployment) -> dict[str, object]:
    pairs = d.load_balancer_info.get("targetGroupPairInfoList") or [{}]
    pair: dict[str, object] = pairs[0]
    return pair


def _group_prod_listeners(d: Deployment) -> list[str]:
    route = _pair(d).get("prodTrafficRoute") or {}
    assert isinstance(route, dict)
    return list(route.get("listenerArns", []))


def _group_test_listeners(d: Deployment) -> list[str]:
    route = _pair(d).get("testTrafficRoute") or {}
    assert isinstance(route, dict)
    return list(route.get("listenerArns", []))
