"""Rolling updates for ECS-controller services, on the sandbox clock.

moto stores services but never moves their deployments: a new task definition or
`forceNewDeployment` changes a record and nothing else. This engine watches moto's in-process
ECS models and plays the rollout out: the new deployment (PRIMARY) starts tasks while the old
one (ACTIVE) drains, `rolloutState` goes IN_PROGRESS → COMPLETED, and the service's
runningCount/pendingCount follow. With the `unhealthy-green` fault the new tasks keep failing;
a deployment circuit breaker then marks the rollout FAILED and, with rollback on, returns the
service to the previous task definition. moto has no API that sets these counts, so this
module edits its models directly, and only here.
"""

from __future__ import annotations

import copy
import datetime
import json
import math
import secrets
import threading
from dataclasses import dataclass, field
from typing import Any

from bluegreen.sandbox.clock import SandboxClock
from bluegreen.sandbox.faults import FaultRegistry

ROLL_SECONDS = 60.0  # simulated seconds for a rollout to replace every task
TASK_FAIL_SECONDS = 20.0  # simulated seconds per failed launch of an unhealthy task
UNSTABLE_AFTER = 2  # failed launches before ECS posts that the service cannot start tasks
UNSTABLE_MESSAGE = (
    "is unable to consistently start tasks successfully. For more information, see the "
    "Troubleshooting section of the Amazon ECS Developer Guide."
)
MAX_FAILURE_THRESHOLD = 200
# A circuit breaker's rollback deployment is COMPLETED once the service is steady again, not in
# the instant of the trip: meanwhile ECS lists it beside the FAILED deployment. How long that
# takes is not published; the sandbox holds it IN_PROGRESS this many simulated seconds (an
# assumption) even when the previous revision's tasks still run.
ROLLBACK_SETTLE_SECONDS = 30.0


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _new_id() -> str:
    return f"ecs-svc/{secrets.randbelow(10**19):019d}"


def _revision(task_definition: str) -> str:
    """family:revision, whether given as an ARN or not."""
    return task_definition.rsplit("/", 1)[-1]


def failure_threshold(desired: int) -> int:
    """Failed tasks before the circuit breaker trips (half the desired count, 3 to 200)."""
    return min(MAX_FAILURE_THRESHOLD, max(3, math.ceil(desired * 0.5)))


@dataclass
class Rollout:
    """What the engine knows about one service between ticks."""

    task_definition: str
    primary_id: str
    started: float  # simulated
    replaces: dict[str, Any] | None = None  # the deployment being replaced (ACTIVE)
    judged: bool = True  # new tasks subject to the unhealthy-green fault
    good: set[str] = field(default_factory=set)  # task definitions that completed a rollout
    last_primary: dict[str, Any] = field(default_factory=dict)
    throttled: bool = False  # the "unable to consistently start tasks" event was posted
    settles: float = 0.0  # simulated time before which the rollout is not COMPLETED


class RollingEngine:
    def __init__(self, *, clock: SandboxClock, faults: FaultRegistry) -> None:
        self.clock = clock
        self.faults = faults
        self._lock = threading.Lock()
        self._rollouts: dict[tuple[str, str, str], Rollout] = {}
        self._configs: dict[tuple[str, str, str], dict[str, Any]] = {}
        self._tasks: dict[tuple[str, str, str], ServiceTasks] = {}

    def reset(self) -> None:
        with self._lock:
            self._rollouts.clear()
            self._configs.clear()
            self._tasks.clear()

    def note_create_service(self, region: str, raw: bytes) -> None:
        """moto drops CreateService's deploymentConfiguration; keep it to apply to the model."""
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            return
        config = body.get("deploymentConfiguration") if isinstance(body, dict) else None
        if not isinstance(config, dict):
            return
        cluster = str(body.get("cluster") or "default").rsplit("/", 1)[-1]
        key = (region, cluster, str(body.get("serviceName", "")))
        with self._lock:
            self._configs[key] = config
            self._rollouts.pop(key, None)

    def apply_noted(self) -> None:
        """Give services just created the deploymentConfiguration their request carried."""
        from moto.ecs.models import ecs_backends

        with self._lock:
            for account in list(ecs_backends.keys()):
                for region, backend in list(ecs_backends[account].items()):
                    for svc in list(backend.services.values()):
                        self._apply_config(region, svc)

    def _apply_config(self, region: str, svc: Any) -> None:
        config = self._configs.pop((region, svc.cluster_name, svc.name), None)
        if config is not None and not getattr(svc, "deployment_configuration", None):
            svc.deployment_configuration = config

    def publish_task_sets(
        self, region: str, cluster: str, service: str, counts: dict[str, tuple[int, int, int]]
    ) -> None:
        """Show the CodeDeploy engine's task counts (task set ARN → desired, pending, running)
        on moto's task sets and service, as DescribeTaskSets/DescribeServices report them."""
        from moto.ecs.models import ecs_backends

        with self._lock:
            for account in list(ecs_backends.keys()):
                backend = (
                    ecs_backends[account].get(region) if region in ecs_backends[account] else None
                )
                svc: Any = backend.services.get(f"{cluster}:{service}") if backend else None
                if svc is None:
                    continue
                running = pending = 0
                for task_set in svc.task_sets:
                    if task_set.task_set_arn not in counts:
                        continue
                    desired, waiting, up = counts[task_set.task_set_arn]
                    task_set.computed_desired_count = desired
                    task_set.pending_count, task_set.running_count = waiting, up
                    task_set.stabilityStatus = "STABILIZING" if waiting else "STEADY_STATE"
                    running, pending = running + up, pending + waiting
                svc.running_count, svc.pending_count = running, pending

    def tick(self) -> None:
        from moto.ecs.models import ecs_backends

        with self._lock:
            for account in list(ecs_backends.keys()):
                regions = ecs_backends[account]
                for region in list(regions.keys()):
                    backend = regions[region]
                    for service in list(backend.services.values()):
                        self._step(region, service)

    # --- one service ----------------------------------------------------------------------------
    def _step(self, region: str, svc: Any) -> None:
        if svc.deployment_controller.get("type", "ECS") != "ECS":
            return
        if svc.status != "ACTIVE":
            tasks = self._tasks.get((region, svc.cluster_name, svc.name))
            if tasks is not None:
                tasks.sync(svc, [])
            return
        if not svc.deployments:
            return
        key = (region, svc.cluster_name, svc.name)
        self._apply_config(region, svc)
        config = getattr(svc, "deployment_configuration", None) or {}
        if config.get("strategy", "ROLLING") != "ROLLING":
            return  # BLUE_GREEN/LINEAR/CANARY: the ECS-native engine (sandbox/ecs_native)
        now = self.clock.now()
        primary = svc.deployments[0]
        rollout = self._rollouts.get(key)
        if rollout is None:
            rollout = Rollout(svc.task_definition, primary["id"], now, judged=False)
            self._rollouts[key] = rollout
        elif svc.task_definition != rollout.task_definition or primary["id"] != rollout.primary_id:
            svc.task_definition = self._arn(region, svc)
            primary = self._start(svc, rollout, primary, now)
        if primary.get("rolloutState") == "IN_PROGRESS":
            self._progress(svc, rollout, primary, now)
        elif len(svc.deployments) == 1:
            primary["desiredCount"] = svc.desired_count
            primary["runningCount"] = svc.desired_count
            primary["pendingCount"] = 0
            svc.running_count, svc.pending_count = svc.desired_count, 0
        rollout.last_primary = copy.deepcopy(primary)
        tasks = self._tasks.get(key)
        if tasks is None:
            tasks = self._tasks[key] = ServiceTasks(region)
        tasks.sync(svc, svc.deployments)

    @staticmethod
    def _arn(region: str, svc: Any) -> str:
        """UpdateService may name the task definition as family:revision; ECS reports ARNs."""
        if str(svc.task_definition).startswith("arn:"):
            return str(svc.task_definition)
        from moto.ecs.models import ecs_backends

        try:
            backend = ecs_backends[svc._account_id][region]
            return str(backend.describe_task_definition(svc.task_definition).arn)
        except Exception:
            return str(svc.task_definition)

    def _start(
        self, svc: Any, rollout: Rollout, primary: dict[str, Any], now: float
    ) -> dict[str, Any]:
        """A new task definition or forceNewDeployment: a new PRIMARY deployment starts and
        the previous one becomes ACTIVE."""
        old = copy.deepcopy(rollout.last_primary or primary)
        old["status"] = "ACTIVE"
        if primary["id"] == rollout.primary_id:
            deployment_id = _new_id()
        else:
            deployment_id = primary["id"]
            old["id"] = rollout.primary_id
        new = self._deployment(svc, deployment_id, svc.task_definition)
        svc.deployments = [new, old]
        # Green tasks are the fault's target: a new revision, or fresh tasks forced for the
        # same one. Going back to a revision that already completed here starts known-good
        # tasks.
        forced = svc.task_definition == rollout.task_definition
        rollout.judged = forced or _revision(svc.task_definition) not in rollout.good
        rollout.task_definition = svc.task_definition
        rollout.primary_id = deployment_id
        rollout.started = now
        rollout.replaces = old
        rollout.throttled = False
        rollout.settles = 0.0
        return new

    def _deployment(self, svc: Any, deployment_id: str, task_definition: str) -> dict[str, Any]:
        stamp = _now()
        return {
            "id": deployment_id,
            "status": "PRIMARY",
            "taskDefinition": task_definition,
            "desiredCount": svc.desired_count,
            "pendingCount": svc.desired_count,
            "runningCount": 0,
            "failedTasks": 0,
            "createdAt": stamp,
            "updatedAt": stamp,
            "launchType": svc.launch_type,
            "rolloutState": "IN_PROGRESS",
            "rolloutStateReason": f"ECS deployment {deployment_id} in progress.",
        }

    def _progress(self, svc: Any, rollout: Rollout, new: dict[str, Any], now: float) -> None:
        desired = int(svc.desired_count)
        elapsed = now - rollout.started
        old = svc.deployments[1] if len(svc.deployments) > 1 else None
        # unhealthy-green: new tasks never pass, or stop passing `after_seconds` in.
        healthy = not rollout.judged or self.faults.green_healthy(rollout.started, now)
        if healthy:
            started = math.floor(desired * elapsed / ROLL_SECONDS)
            running = min(desired, max(int(new.get("runningCount", 0)), started))
            new["runningCount"], new["pendingCount"] = running, desired - running
            if old is not None:
                left = min(int(old.get("runningCount", 0)), max(0, desired - running))
                old["runningCount"], old["pendingCount"] = left, 0
                old["desiredCount"] = left
            if running >= desired and now >= rollout.settles:
                rollout.good.add(_revision(str(new["taskDefinition"])))
                new["rolloutState"] = "COMPLETED"
                new["rolloutStateReason"] = f"ECS deployment {new['id']} completed."
                svc.deployments = [new]
                svc.events.insert(0, self._event(svc, "has reached a steady state."))
        else:
            failed = math.floor(elapsed / TASK_FAIL_SECONDS)
            new["failedTasks"] = failed
            new["runningCount"], new["pendingCount"] = 0, desired
            if failed >= UNSTABLE_AFTER and not rollout.throttled:
                # ECS throttles the launches of a service whose tasks keep failing and says so
                # (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/service-event-messages-list.html,
                # "service (service-name) is unable to consistently start tasks successfully")
                rollout.throttled = True
                svc.events.insert(0, self._event(svc, UNSTABLE_MESSAGE))
            breaker = (getattr(svc, "deployment_configuration", None) or {}).get(
                "deploymentCircuitBreaker", {}
            )
            if breaker.get("enable") and failed >= failure_threshold(desired):
                self._trip(svc, rollout, new, old, bool(breaker.get("rollback")), now)
        new["updatedAt"] = _now()
        svc.running_count = sum(int(d.get("runningCount", 0)) for d in svc.deployments)
        svc.pending_count = sum(int(d.get("pendingCount", 0)) for d in svc.deployments)

    def _trip(
        self,
        svc: Any,
        rollout: Rollout,
        failed: dict[str, Any],
        old: dict[str, Any] | None,
        rollback: bool,
        now: float,
    ) -> None:
        failed["rolloutState"] = "FAILED"
        failed["rolloutStateReason"] = "ECS deployment circuit breaker: tasks failed to start."
        svc.events.insert(
            0,
            self._event(
                svc, f"deployment {failed['id']} deployment failed: tasks failed to start."
            ),
        )
        if not rollback or old is None:
            return
        back = self._deployment(svc, _new_id(), old["taskDefinition"])
        back["runningCount"] = int(old.get("runningCount", 0))
        back["pendingCount"] = svc.desired_count - back["runningCount"]
        back["rolloutStateReason"] = (
            f"ECS deployment circuit breaker: rolling back to deploymentId {old['id']}."
        )
        failed["status"] = "ACTIVE"
        svc.task_definition = old["taskDefinition"]
        svc.deployments = [back, failed]
        rollout.task_definition = svc.task_definition
        rollout.primary_id = back["id"]
        rollout.started = now
        rollout.replaces = failed
        rollout.judged = False  # the previous revision's tasks are known good
        rollout.settles = now + ROLLBACK_SETTLE_SECONDS

    @staticmethod
    def _event(svc: Any, text: str) -> dict[str, Any]:
        return {
            "id": secrets.token_hex(16),
            "createdAt": _now(),
            "message": f"(service {svc.name}) {text}",
        }


# --- the service's tasks --------------------------------------------------------------------------
STOPPED_KEPT = 50  # stopped tasks of a service that stay visible to DescribeTasks/ListTasks
_TASK_CLASS: Any = None


def held_task_class() -> Any:
    """moto's Task, with its state held by the sandbox's engines: moto moves a RunTask task one
    state towards STOPPED on each describe; a service's tasks follow its deployments instead,
    and one-off tasks (sandbox/tasks.py) the sandbox clock."""
    global _TASK_CLASS
    if _TASK_CLASS is None:
        from moto.ecs.models import Task

        class HeldTask(Task):
            @property
            def status(self) -> str | None:
                return self._status

            @status.setter
            def status(self, value: str) -> None:
                self._status = value

            def advance(self) -> None:
                return None

        _TASK_CLASS = HeldTask
    return _TASK_CLASS


class ServiceTasks:
    """A rolling service's tasks in moto's task store, following its deployments: each
    deployment has as many tasks as its running and pending counts (`startedBy` the
    deployment id, `group` service:<name>, as ECS reports them), tasks it no longer needs are
    stopped with the scheduler's reason, and failed launches show as stopped tasks
    (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/stopped-task-errors.html)."""

    def __init__(self, region: str) -> None:
        self.region = region
        self.live: dict[str, list[Any]] = {}  # deployment id -> its tasks, oldest first
        self.failed: dict[str, int] = {}  # deployment id -> failed launches shown
        self.stopped: list[Any] = []

    def sync(self, svc: Any, deployments: list[dict[str, Any]]) -> None:
        from moto.ecs.models import ecs_backends

        backend = ecs_backends[svc._account_id][self.region]
        cluster = backend.clusters.get(svc.cluster_name)
        if cluster is None:
            return
        wanted = {str(d["id"]): d for d in deployments}
        for deployment_id in [d for d in self.live if d not in wanted]:
            for task in self.live.pop(deployment_id):
                self._stop(
                    backend, task, f"Scaling activity initiated by (deployment {deployment_id})"
                )
        for deployment_id, deployment in wanted.items():
            tasks = self.live.setdefault(deployment_id, [])
            running = int(deployment.get("runningCount", 0))
            pending = int(deployment.get("pendingCount", 0))
            failed = int(deployment.get("failedTasks", 0))
            while self.failed.get(deployment_id, 0) < failed:
                self.failed[deployment_id] = self.failed.get(deployment_id, 0) + 1
                if tasks:
                    self._stop(
                        backend,
                        tasks.pop(),
                        "Task failed to start",
                        code="TaskFailedToStart",
                    )
            while len(tasks) > running + pending:
                reason = f"Scaling activity initiated by (deployment {deployment_id})"
                self._stop(backend, tasks.pop(0), reason)
            while len(tasks) < running + pending:
                task = self._start(backend, cluster, svc, deployment)
                if task is None:
                    break
                tasks.append(task)
            for index, task in enumerate(tasks):
                state = "RUNNING" if index < running else "PENDING"
                if task.last_status != state:
                    task.last_status = state
                    for container in task.containers:
                        container.last_status = state
                    if state == "RUNNING":
                        task.started_at = _now()
        while len(self.stopped) > STOPPED_KEPT:
            old = self.stopped.pop(0)
            backend.tasks.get(old.cluster_name, {}).pop(old.task_arn, None)

    def _start(self, backend: Any, cluster: Any, svc: Any, deployment: dict[str, Any]) -> Any:
        try:
            definition = backend.describe_task_definition(str(deployment["taskDefinition"]))
            network = getattr(svc, "network_configuration", None) or None
            task = held_task_class()(
                cluster,
                definition,
                None,
                None,
                backend,
                group=f"service:{svc.name}",
                launch_type=svc.launch_type or "",
                started_by=str(deployment["id"]),
                networking_configuration=network,
                platform_version=getattr(svc, "platform_version", None),
            )
        except Exception:  # a task definition gone or a network moto cannot place: no task
            return None
        task.last_status = "PENDING"
        task.created_at = _now()
        for container in task.containers:
            container.task_arn = task.task_arn  # moto names the task definition here
            container.last_status = "PENDING"
        backend.tasks.setdefault(cluster.name, {})[task.task_arn] = task
        return task

    def _stop(
        self, backend: Any, task: Any, reason: str, code: str = "ServiceSchedulerInitiated"
    ) -> None:
        stamp = _now()
        task.desired_status = "STOPPED"
        task.last_status = "STOPPED"
        task.stopped_reason = reason
        task.stop_code = code
        task.stopping_at = task.stopped_at = task.execution_stopped_at = stamp
        for container in task.containers:
            container.last_status = "STOPPED"
        self.stopped.append(task)
