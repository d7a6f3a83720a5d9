"""`run`: a one-off task of the spec's task definition (database migrations before a release,
a backfill, a smoke job), placed like the service's own tasks.

The task definition is rendered, pinned and checked exactly as `deploy` renders it, then
registered (or an identical registered revision reused). RunTask starts one task on the
spec's cluster with the service's placement: its awsvpc network configuration (subnets,
security groups, public IP), its launch type or capacity provider strategy and its platform
version, read from DescribeServices (from the primary task set when the service record has
none, as on CODE_DEPLOY and EXTERNAL services). Everything up to RunTask is checked first: a
bad spec, template, image, override or a service with no placement to copy is exit 2 with
nothing written.

Waiting, the task is described with a growing cadence until it STOPPED; then each
container's exit code decides: 0 when every essential container exited 0, 1 when one exited
non-zero or stopped with no exit code. A timeout (3) and a cancel (130) stop the task with
StopTask first. Output never carries a secret: overrides given with --env-override are named,
never shown, and the command and what ECS reports are redacted.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bluegreen.engines.model import Output, revision
from bluegreen.errors import ExitCode, PreflightError, UsageError
from bluegreen.render.redact import redact_text

if TYPE_CHECKING:
    from bluegreen.aws.model import TaskRun
    from bluegreen.aws.session import Aws
    from bluegreen.engines.tagging import TagPlan
    from bluegreen.journal import Journal
    from bluegreen.spec.model import Spec

DEFAULT_TIMEOUT = 3600.0  # seconds a task may run when neither --timeout nor the spec says
STARTED_BY = "bluegreen-run"  # RunTask's startedBy: ListTasks(startedBy=...) finds our tasks
POLL_FIRST = 0.25  # seconds before the first DescribeTasks; doubled up to POLL_MAX
POLL_MAX = 6.0
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_TASK_SIZE = re.compile(r"[0-9]+|[0-9]+(?:\.[0-9]+)?\s*(?:vcpu|gb)", re.IGNORECASE)


@dataclass(frozen=True)
class RunRequest:
    image_overrides: Mapping[str, str] = field(default_factory=dict)
    var_overrides: Mapping[str, str] = field(default_factory=dict)
    vars_files: Sequence[Path] = ()
    command: Sequence[str] | None = None  # argv, never run through a shell
    container: str | None = None  # the container the overrides apply to
    environment: Mapping[str, str] = field(default_factory=dict)  # --env-override
    cpu: str | None = None  # task-level size overrides (ECS units or "1 vCPU")
    memory: str | None = None
    wait: bool = True
    timeout: float | None = None  # seconds; None: the spec's timeout, else DEFAULT_TIMEOUT


@dataclass(frozen=True)
class ContainerExit:
    name: str
    essential: bool
    exit_code: int | None
    reason: str | None  # ECS's reason, redacted

    def json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "essential": self.essential}
        out["exitCode"] = self.exit_code
        if self.reason:
            out["reason"] = self.reason
        return out


@dataclass(frozen=True)
class RunOutcome:
    """The end of a `run`: the exit code, why, and what the result line carries."""

    exit_code: int
    reason: str
    task_arn: str | None
    task_definition_arn: str | None
    status: str  # the task's last status (STOPPED, or where it was when left running)
    stop_code: str | None = None
    stopped_reason: str | None = None
    containers: tuple[ContainerExit, ...] = ()

    def result(self) -> dict[str, Any]:
        return {
            "event": "result",
            "taskArn": self.task_arn,
            "taskDefinitionArn": self.task_definition_arn,
            "status": self.status,
            "stopCode": self.stop_code,
            "stoppedReason": self.stopped_reason,
            "containers": [c.json() for c in self.containers],
            "exitCode": self.exit_code,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class Placement:
    """Where the service's tasks run, as RunTask takes it."""

    network_configuration: dict[str, Any] | None
    launch_type: str | None
    capacity_provider_strategy: list[dict[str, Any]]
    platform_version: str | None

    def params(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.network_configuration:
            out["networkConfiguration"] = self.network_configuration
        if self.capacity_provider_strategy:
            out["capacityProviderStrategy"] = self.capacity_provider_strategy
        elif self.launch_type:
            out["launchType"] = self.launch_type
        if self.platform_version and (
            self.launch_type == "FARGATE"
            or any(
                str(s.get("capacityProvider", "")).startswith("FARGATE")
                for s in self.capacity_provider_strategy
            )
        ):
            out["platformVersion"] = self.platform_version
        return out

    def describe(self) -> str:
        net = (self.network_configuration or {}).get("awsvpcConfiguration") or {}
        how = (
            "capacity providers "
            + ", ".join(str(s.get("capacityProvider")) for s in self.capacity_provider_strategy)
            if self.capacity_provider_strategy
            else f"launch type {self.launch_type or 'the cluster default'}"
        )
        if not net:
            return how
        return (
            f"{how}; subnets {', '.join(net.get('subnets') or [])}; security groups "
            f"{', '.join(net.get('securityGroups') or []) or '-'}; public IP "
            f"{net.get('assignPublicIp', 'DISABLED')}"
        )


def placement_of(service: Mapping[str, Any]) -> Placement:
    """The service's placement; its PRIMARY task set's where the service record has none (a
    CODE_DEPLOY or EXTERNAL service keeps them on its task sets)."""
    primary: Mapping[str, Any] = next(
        (ts for ts in service.get("taskSets") or [] if ts.get("status") == "PRIMARY"), {}
    )

    def pick(key: str) -> Any:
        return service.get(key) or primary.get(key) or None

    return Placement(
        network_configuration=pick("networkConfiguration"),
        launch_type=pick("launchType"),
        capacity_provider_strategy=list(pick("capacityProviderStrategy") or []),
        platform_version=pick("platformVersion"),
    )


@dataclass(frozen=True)
class _RevisionPlan:
    """What `engines.revision.ready_revision` reads to register or reuse the revision."""

    cluster: str
    service: str
    task_definition: dict[str, Any]
    reuse_task_definition: str | None
    tags: TagPlan | None = None
    no_change: bool = False

    def json(self) -> dict[str, Any]:
        return {}

    def lines(self) -> list[str]:
        return []


def default_container(td: Mapping[str, Any], spec: Spec) -> str:
    """The container the overrides apply to unless --container names one: the spec's load
    balancer container when it is essential, else the first essential container."""
    containers = [c for c in td.get("containerDefinitions") or [] if isinstance(c, dict)]
    essential = [str(c.get("name")) for c in containers if c.get("essential", True) is not False]
    if spec.load_balancer is not None and spec.load_balancer.container_name in essential:
        return spec.load_balancer.container_name
    if essential:
        return essential[0]
    return str(containers[0].get("name")) if containers else ""


def check_request(request: RunRequest) -> None:
    """What the overrides must be, before anything is read (exit 2, naming the flag)."""
    problems: list[UsageError] = []
    for name in request.environment:
        if not _ENV_NAME.fullmatch(name):
            problems.append(
                UsageError(
                    f"{name!r} is not an environment variable name",
                    where=f"--env-override {name}",
                    hint="names are letters, digits and '_', not starting with a digit",
                )
            )
    for flag, value in (("--cpu", request.cpu), ("--memory", request.memory)):
        if value is not None and not _TASK_SIZE.fullmatch(value.strip()):
            problems.append(
                UsageError(
                    f"{value!r} is not a task size",
                    where=flag,
                    hint=f"e.g. {flag} 1024 (ECS units / MiB) or {flag} "
                    + ("'1 vCPU'" if flag == "--cpu" else "'2 GB'"),
                )
            )
    if request.command is not None and not list(request.command):
        problems.append(UsageError("the command is empty", where="--command"))
    if request.timeout is not None and request.timeout <= 0:
        problems.append(UsageError("the timeout must be positive", where="--timeout"))
    from bluegreen.errors import raise_problems

    raise_problems(problems, subject="the command line")


def _overrides(request: RunRequest, container: str) -> dict[str, Any]:
    override: dict[str, Any] = {}
    if request.command is not None:
        override["command"] = list(request.command)
    if request.environment:
        override["environment"] = [
            {"name": k, "value": v} for k, v in sorted(request.environment.items())
        ]
    out: dict[str, Any] = {}
    if override:
        out["containerOverrides"] = [{"name": container, **override}]
    if request.cpu is not None:
        out["cpu"] = request.cpu.strip()
    if request.memory is not None:
        out["memory"] = request.memory.strip()
    return out


def shown_command(argv: Sequence[str]) -> list[str]:
    """The command as output shows it: credential-looking text and the argument after a
    secret-looking flag (`--password X`) masked."""
    from bluegreen.render.redact import MASK, secret_places

    hidden = {path[0] for path in secret_places(list(argv)) if path}
    return [MASK if i in hidden else redact_text(a) for i, a in enumerate(argv)]


def run(
    spec: Spec,
    aws: Aws,
    out: Output,
    request: RunRequest,
    *,
    journal: Journal | None = None,
    sleep: Callable[[float], None] = time.sleep,
    cancelled: Callable[[], bool] = lambda: False,
    clock: Callable[[], float] = time.monotonic,
) -> RunOutcome:
    """Render, check, register (or reuse), RunTask, and follow the task to its end."""
    from bluegreen.aws import ecs
    from bluegreen.engines.revision import ready_revision
    from bluegreen.journal import DONE, INTENT, Journal, journal_path
    from bluegreen.render.release import render_for_deploy
    from bluegreen.render.taskdef import same_task_definition

    check_request(request)
    where = f"{spec.cluster}/{spec.service}"
    service = ecs.describe_service_raw(aws, spec.cluster, spec.service)
    live = ecs.live_service(service, cluster=spec.cluster, service=spec.service)
    rendered = render_for_deploy(
        spec,
        aws,
        live,
        image_overrides=request.image_overrides,
        var_overrides=request.var_overrides,
        vars_files=request.vars_files,
    )
    td = rendered.task_definition
    names = [str(c.get("name")) for c in td.get("containerDefinitions") or []]
    container = request.container or default_container(td, spec)
    if container not in names:
        raise UsageError(
            f"no container named {container!r} in the task definition "
            f"{spec.task_definition.name}; its containers: {', '.join(names) or '(none)'}",
            where="--container",
        )
    placement = placement_of(service)
    if td.get("networkMode") == "awsvpc" and not placement.network_configuration:
        raise PreflightError(
            "the task definition uses the awsvpc network mode, but the service has no network "
            "configuration to copy (subnets, security groups)",
            where=where,
            hint="give the service a networkConfiguration (aws ecs update-service "
            "--network-configuration ...)",
        )
    family = str(td.get("family", ""))
    latest = ecs.latest_task_definition(aws, family) if family else None
    reuse = (
        str(latest.get("taskDefinitionArn"))
        if latest is not None and same_task_definition(latest, td)
        else None
    )
    overrides = _overrides(request, container)
    _plan(out, spec, reuse, container, request, placement, rendered.notices)

    # the first write
    journal = journal or Journal(journal_path(spec.path))
    plan = _RevisionPlan(spec.cluster, spec.service, td, reuse)
    arn = ready_revision(aws, plan, journal, out)
    assert arn is not None  # no_change is False: a revision is always there to run
    essential = {
        str(c.get("name")): c.get("essential", True) is not False
        for c in td.get("containerDefinitions") or []
    }
    params: dict[str, Any] = {
        "cluster": spec.cluster,
        "taskDefinition": arn,
        "count": 1,
        "startedBy": STARTED_BY,
        "clientToken": uuid.uuid4().hex,  # a retried RunTask starts no second task
        **placement.params(),
    }
    if overrides:
        params["overrides"] = overrides
    if cancelled():  # a signal before the task started: nothing to stop
        return RunOutcome(ExitCode.CANCELLED, "cancelled before the task started", None, arn, "")
    journal.append(INTENT, action="RunTask", cluster=spec.cluster, taskDefinitionArn=arn)
    task = ecs.run_task(aws, params)
    journal.append(DONE, action="RunTask", taskArn=task.task_arn, cluster=spec.cluster)
    out.emit(
        {"event": "started", "taskArn": task.task_arn, "taskDefinitionArn": arn},
        f"started task {task.task_arn} of {revision(arn)}",
    )
    if not request.wait:
        return RunOutcome(
            ExitCode.OK,
            f"started task {task.task_arn}; it runs on without bluegreen watching",
            task.task_arn,
            arn,
            task.last_status or "PROVISIONING",
        )
    timeout = request.timeout or spec.timeout_seconds or DEFAULT_TIMEOUT
    return _follow(aws, out, spec.cluster, task, arn, essential, timeout, sleep, cancelled, clock)


def _plan(
    out: Output,
    spec: Spec,
    reuse: str | None,
    container: str,
    request: RunRequest,
    placement: Placement,
    notices: Sequence[str],
) -> None:
    command = shown_command(request.command) if request.command is not None else None
    env_names = sorted(request.environment)
    out.json(
        {
            "event": "plan",
            "strategy": "run",
            "cluster": spec.cluster,
            "service": spec.service,
            "registerTaskDefinition": reuse is None,
            "taskDefinitionArn": reuse,
            "container": container,
            "command": command,
            "environmentOverrides": env_names,  # names only: the values may be secrets
            "cpu": request.cpu,
            "memory": request.memory,
            "placement": placement.params(),
            "notices": list(notices),
        }
    )
    if getattr(out, "json_mode", False):
        return
    what = f"reuse {revision(reuse)} (identical)" if reuse else "register a new revision"
    out.text(f"run a one-off task of {spec.cluster}/{spec.service}: {what}")
    out.text(f"  container {container}" + (f": command {command}" if command else ""))
    if env_names:
        out.text(f"  environment overrides (values not shown): {', '.join(env_names)}")
    if request.cpu or request.memory:
        out.text(f"  task size: cpu {request.cpu or '-'}, memory {request.memory or '-'}")
    out.text(f"  placed like the service: {placement.describe()}")
    for notice in notices:
        out.text(f"  note: {notice}")


def _follow(
    aws: Aws,
    out: Output,
    cluster: str,
    task: TaskRun,
    arn: str,
    essential: Mapping[str, bool],
    timeout: float,
    sleep: Callable[[float], None],
    cancelled: Callable[[], bool],
    clock: Callable[[], float],
) -> RunOutcome:
    from bluegreen.aws import ecs

    started = clock()
    delay = POLL_FIRST
    seen = task.last_status
    while not task.stopped:
        if cancelled():
            return _stop(aws, out, cluster, task, arn, ExitCode.CANCELLED, "cancelled")
        left = timeout - (clock() - started)
        if left <= 0:
            return _stop(
                aws,
                out,
                cluster,
                task,
                arn,
                ExitCode.TIMEOUT,
                f"timed out after {_seconds(timeout)} with the task {task.last_status}",
            )
        sleep(min(delay, left))
        delay = min(POLL_MAX, delay * 2)
        if cancelled():
            continue  # stop it at the top of the loop
        task = ecs.describe_task(aws, cluster, task.task_arn)
        if task.last_status != seen:
            seen = task.last_status
            out.emit(
                {"event": "task", "taskArn": task.task_arn, "lastStatus": task.last_status},
                f"task {task.last_status}",
            )
    return _ended(task, arn, essential)


def _seconds(value: float) -> str:
    return f"{value:g}s"


def _stop(
    aws: Aws, out: Output, cluster: str, task: TaskRun, arn: str, code: int, why: str
) -> RunOutcome:
    """StopTask (timeout or cancel): the task is not left running unwatched."""
    from bluegreen.aws import ecs

    stopped = ecs.stop_task(aws, cluster, task.task_arn, f"bluegreen run: {why}")
    out.emit(
        {"event": "stopped", "taskArn": task.task_arn, "reason": why},
        f"stopped task {task.task_arn} ({why})",
    )
    return RunOutcome(
        code,
        f"{why}; task {task.task_arn} stopped",
        task.task_arn,
        arn,
        stopped.last_status or "STOPPED",
        stopped.stop_code,
        _safe(stopped.stopped_reason),
    )


def _safe(text: str | None) -> str | None:
    return redact_text(text) if text else None


def _ended(task: TaskRun, arn: str, essential: Mapping[str, bool]) -> RunOutcome:
    """The outcome of a STOPPED task: 0 when every essential container exited 0."""
    containers = tuple(
        ContainerExit(c.name, essential.get(c.name, True), c.exit_code, _safe(c.reason))
        for c in task.containers
    )
    stopped_reason = _safe(task.stopped_reason)
    failed = [c for c in containers if c.essential and c.exit_code != 0]
    if not containers:
        failed_text = f"the task stopped with no container reported ({stopped_reason or '?'})"
        code = ExitCode.FAILED
    elif failed:
        parts = []
        for c in failed:
            if c.exit_code is None:
                why = c.reason or stopped_reason or task.stop_code or "no reason given"
                parts.append(f"container {c.name!r} stopped with no exit code: {why}")
            else:
                parts.append(f"container {c.name!r} exited with code {c.exit_code}")
        failed_text = "; ".join(parts)
        if stopped_reason:
            failed_text += f" ({stopped_reason})"
        code = ExitCode.FAILED
    else:
        codes = ", ".join(f"{c.name} {c.exit_code}" for c in containers)
        failed_text = f"task succeeded: exit codes {codes}"
        code = ExitCode.OK
    return RunOutcome(
        code,
        failed_text,
        task.task_arn,
        arn,
        task.last_status or "STOPPED",
        task.stop_code,
        stopped_reason,
        containers,
    )
