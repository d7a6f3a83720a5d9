"""One-off tasks (RunTask) on the sandbox clock.

moto answers RunTask with a task already RUNNING, one container (the task definition's first,
its `taskArn` the task definition's ARN) with `exitCode` 0 from the start, and moves the task
one state towards STOPPED on every DescribeTasks (DEACTIVATING, STOPPING, DEPROVISIONING,
STOPPED), never setting desiredStatus, stopCode or stoppedAt. ECS instead runs the task:
PROVISIONING/PENDING, RUNNING while its essential container runs, then STOPPED with
desiredStatus STOPPED, stopCode EssentialContainerExited, stoppedReason "Essential container
in task exited" and each container's exit code
(https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-lifecycle-explanation.html,
https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_Task.html). StopTask stops it
with stopCode UserInitiated and the caller's reason
(https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_StopTask.html).

So the tasks RunTask starts are taken over here: every container of the task definition, the
state held by this engine and moved on the sandbox clock (PENDING for PENDING_SECONDS, RUNNING
for RUN_SECONDS), and the `task-exit` fault makes the essential container exit with a chosen
code. Tasks a service runs (sandbox.rolling) are never touched. moto has no API that moves a
task, so this module edits moto's models directly, like sandbox.rolling.
"""

from __future__ import annotations

import datetime
import json
import threading
from dataclasses import dataclass
from typing import Any

from bluegreen.sandbox.clock import SandboxClock
from bluegreen.sandbox.corrections import ECS_PREFIX, StartResponse, WSGIApp, call_moto
from bluegreen.sandbox.faults import FaultRegistry
from bluegreen.sandbox.rolling import held_task_class

PENDING_SECONDS = 10.0  # simulated seconds from RunTask to RUNNING (image pull, ENI)
RUN_SECONDS = 30.0  # simulated seconds the essential container runs before it exits
STOPPED_KEPT = 200  # stopped one-off tasks that stay visible to DescribeTasks/ListTasks
ESSENTIAL_EXITED = "Essential container in task exited"


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


@dataclass
class Tracked:
    task: Any  # moto's task model
    started: float  # simulated time of RunTask
    essential: str  # the container whose exit ends the task
    exit_code: int  # what the essential container exits with
    run_seconds: float


class OneOffTasks:
    """The tasks RunTask started, moved along the sandbox clock until they stop."""

    def __init__(self, *, clock: SandboxClock, faults: FaultRegistry, moto_app: WSGIApp) -> None:
        self.clock = clock
        self.faults = faults
        self._moto = moto_app
        self._lock = threading.Lock()
        self._running: dict[str, Tracked] = {}
        self._stopped: list[Any] = []

    def reset(self) -> None:
        with self._lock:
            self._running.clear()
            self._stopped.clear()

    # --- requests -------------------------------------------------------------------------
    def run_task(
        self, environ: dict[str, Any], start_response: StartResponse, raw: bytes
    ) -> list[bytes]:
        """RunTask through moto, then the started tasks taken over (PENDING, every container
        of the task definition, no exit code yet) and answered as they now are."""
        answer = call_moto(self._moto, environ, raw)
        body = answer.json()
        arns = [str(t.get("taskArn")) for t in body.get("tasks") or [] if isinstance(t, dict)]
        if answer.code != 200 or not arns:
            return answer.send(start_response)
        cluster = str((body["tasks"][0] or {}).get("clusterArn") or "default")
        with self._lock:
            for arn in arns:
                self._adopt(arn)
        fresh = self._describe(environ, cluster, arns)
        if fresh is not None:
            body["tasks"] = fresh
        return answer.send(start_response, json.dumps(body).encode())

    def stop_task(
        self, environ: dict[str, Any], start_response: StartResponse, raw: bytes
    ) -> list[bytes]:
        """StopTask through moto; a one-off task of ours then stops as ECS stops it (stopCode
        UserInitiated, desiredStatus STOPPED, its containers stopped) and is answered so."""
        with self._lock:  # held across moto's stop, or a tick could take the task first
            answer = call_moto(self._moto, environ, raw)
            body = answer.json()
            task = body.get("task")
            if answer.code != 200 or not isinstance(task, dict):
                return answer.send(start_response)
            arn = str(task.get("taskArn"))
            tracked = self._running.pop(arn, None)
            if tracked is None:
                return answer.send(start_response)
            reason = tracked.task.stopped_reason or "Task stopped by user"
            self._stop(tracked.task, "UserInitiated", reason, None, None)
        fresh = self._describe(environ, str(task.get("clusterArn") or "default"), [arn])
        if fresh:
            body["task"] = fresh[0]
        return answer.send(start_response, json.dumps(body).encode())

    def _describe(
        self, environ: dict[str, Any], cluster: str, arns: list[str]
    ) -> list[dict[str, Any]] | None:
        described = call_moto(
            self._moto,
            environ,
            json.dumps({"cluster": cluster, "tasks": arns}).encode(),
            ECS_PREFIX + "DescribeTasks",
        )
        tasks = described.json().get("tasks") if described.code == 200 else None
        return [t for t in tasks if isinstance(t, dict)] if isinstance(tasks, list) else None

    # --- the models -----------------------------------------------------------------------
    def _find(self, arn: str) -> Any:
        from moto.ecs.models import ecs_backends

        for account in list(ecs_backends.keys()):
            for backend in list(ecs_backends[account].values()):
                for tasks in list(backend.tasks.values()):
                    if arn in tasks:
                        return backend, tasks[arn]
        return None, None

    def _adopt(self, arn: str) -> None:
        from moto.ecs import models

        make_container: Any = models.Container  # moto's model, untyped here
        backend, task = self._find(arn)
        if task is None:
            return
        definition = backend.describe_task_definition(task.task_definition_arn)
        task.__class__ = held_task_class()
        task.last_status = "PENDING"
        task.desired_status = "RUNNING"
        task.stopped_reason = None
        task.created_at = _now()
        containers = []
        essential = ""
        for spec in definition.container_definitions:
            container = make_container(definition)
            container.task_arn = task.task_arn  # moto names the task definition here
            container.name = spec.get("name")
            container.image = spec.get("image")
            container.cpu = spec.get("cpu", 0)
            container.memory = spec.get("memory")
            container.command = spec.get("command")
            container.environment = spec.get("environment")
            container.last_status = "PENDING"
            container.exitCode = None
            if not essential and spec.get("essential", True) is not False:
                essential = str(container.name)
            containers.append(container)
        if containers:
            task.containers = containers
        code, after = self.faults.task_exit(essential) or (0, None)
        self._running[arn] = Tracked(
            task,
            self.clock.now(),
            essential,
            code,
            RUN_SECONDS if after is None else after,
        )

    def tick(self) -> None:
        now = self.clock.now()
        with self._lock:
            for arn, tracked in list(self._running.items()):
                task = tracked.task
                if task.last_status == "STOPPED":  # stopped some other way (moto's StopTask)
                    del self._running[arn]
                    continue
                age = now - tracked.started
                if age >= PENDING_SECONDS + tracked.run_seconds:
                    del self._running[arn]
                    self._stop(
                        task,
                        "EssentialContainerExited",
                        ESSENTIAL_EXITED,
                        tracked.essential,
                        tracked.exit_code,
                    )
                elif age >= PENDING_SECONDS and task.last_status != "RUNNING":
                    task.last_status = "RUNNING"
                    task.started_at = _now()
                    for container in task.containers:
                        container.last_status = "RUNNING"
            while len(self._stopped) > STOPPED_KEPT:
                old = self._stopped.pop(0)
                backend, _ = self._find(old.task_arn)
                if backend is not None:
                    backend.tasks.get(old.cluster_name, {}).pop(old.task_arn, None)

    def _stop(
        self, task: Any, code: str, reason: str, essential: str | None, exit_code: int | None
    ) -> None:
        stamp = _now()
        task.desired_status = "STOPPED"
        task.last_status = "STOPPED"
        task.stop_code = code
        task.stopped_reason = reason
        task.stopping_at = task.stopped_at = task.execution_stopped_at = stamp
        for container in task.containers:
            container.last_status = "STOPPED"
            if essential is not None:
                # the essential container exits; ECS stops the others, which exit as well
                container.exitCode = exit_code if container.name == essential else 0
        self._stopped.append(task)
