"""`bluegreen sandbox …`: run the offline AWS, build a demo stack in it, inject faults.

Only typer and the standard library are imported here at module level; the server, moto and
boto3 are loaded inside the commands so that `bluegreen --help` stays fast.
"""

from __future__ import annotations

import os
import re
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from bluegreen.cli.context import Out, options
from bluegreen.errors import UsageError
from bluegreen.sandbox import StackKind

if TYPE_CHECKING:
    from bluegreen.sandbox.stack import SandboxControl

app = typer.Typer(
    name="sandbox",
    help="The offline AWS (moto + bluegreen's CodeDeploy engine) for rehearsals and tests.",
    no_args_is_help=True,
)
# The AWS service a fault applies to (throttle, latency).
FaultServiceOpt = Annotated[
    str | None, typer.Option(help="ecs, codedeploy, elbv2, cloudwatch, …; default all.")
]
fault_app = typer.Typer(
    name="fault",
    help="Inject faults into the running sandbox named by AWS_ENDPOINT_URL.",
    no_args_is_help=True,
)
app.add_typer(fault_app)

DEFAULT_REGION = "us-east-1"
DUMMY_KEY = "sandbox"  # the sandbox accepts any credentials; these are not secrets
UNSET = ("AWS_PROFILE", "AWS_SESSION_TOKEN")


class HookMode(StrEnum):
    succeed = "succeed"
    fail = "fail"
    wait = "wait"


class HookEvent(StrEnum):
    BeforeInstall = "BeforeInstall"
    AfterInstall = "AfterInstall"
    AfterAllowTestTraffic = "AfterAllowTestTraffic"
    BeforeAllowTraffic = "BeforeAllowTraffic"
    AfterAllowTraffic = "AfterAllowTraffic"


# --- sandbox up --------------------------------------------------------------------------------
def env_exports(url: str, region: str) -> tuple[dict[str, str], list[str]]:
    """The variables a shell needs to use the sandbox, and the ones it must unset."""
    env = {
        "AWS_ENDPOINT_URL": url,
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_ACCESS_KEY_ID": DUMMY_KEY,
        "AWS_SECRET_ACCESS_KEY": DUMMY_KEY,
    }
    return env, list(UNSET)


def export_lines(env: dict[str, str], unset: list[str]) -> list[str]:
    import shlex

    lines = [f"export {name}={shlex.quote(value)}" for name, value in env.items()]
    return lines + [f"unset {name}" for name in unset]


@app.command()
def up(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to listen on (loopback only).")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option(min=0, max=65535, help="Port to listen on (0: any free port).")
    ] = 4566,
    time_scale: Annotated[
        float,
        typer.Option("--time-scale", help="Simulated seconds per wall second (60: 5m in 5s)."),
    ] = 1.0,
    hooks: Annotated[
        HookMode, typer.Option(help="How lifecycle hooks answer (wait: until you report).")
    ] = HookMode.succeed,
    env_file: Annotated[
        Path | None,
        typer.Option("--env-file", help="Also write the export lines to this file."),
    ] = None,
    allow_non_loopback: Annotated[
        bool,
        typer.Option(
            "--allow-non-loopback", help="Allow a non-loopback --host (no authentication!)."
        ),
    ] = False,
    background: Annotated[
        bool,
        typer.Option(
            "--background",
            help="Start the sandbox as a background process and return once it answers "
            "(the exports printed and the --env-file written by then); stop it with `kill PID`.",
        ),
    ] = False,
    log_file: Annotated[
        Path | None,
        typer.Option(
            "--log-file", help="With --background: where its log goes (default: a temp file)."
        ),
    ] = None,
) -> None:
    """Run the sandbox in the foreground and print the exports a shell needs to use it (the
    --env-file is written before they are printed). With --background it runs as a background
    process, and the command returns once the sandbox answers requests."""
    opts = options(ctx)
    out = opts.out()
    if not time_scale > 0 or time_scale == float("inf"):
        raise UsageError(
            f"the time scale must be a positive number, got {time_scale}", where="--time-scale"
        )
    if log_file is not None and not background:
        raise UsageError("--log-file goes with --background", where="--log-file")
    from bluegreen.sandbox.server import SandboxServer, check_bind

    check_bind(host, allow_non_loopback)
    _check_port(host, port)
    if background:
        child = [
            *(["--region", opts.region] if opts.region else []),
            "sandbox",
            "up",
            "--host",
            host,
            "--port",
            str(port),
            "--time-scale",
            repr(time_scale),
            "--hooks",
            hooks.value,
            *(["--allow-non-loopback"] if allow_non_loopback else []),
        ]
        started = _start_in_background(child, log_file)
        _announce(out, started.url, opts.region, env_file, time_scale, hooks, started)
        return
    server = SandboxServer(
        host,
        port,
        time_scale=time_scale,
        hooks=hooks.value,
        allow_non_loopback=allow_non_loopback,
    )
    with _stop_signals() as stop:
        try:
            server.start()
        except (OSError, SystemExit) as exc:  # werkzeug exits when the port is taken
            raise _cannot_listen(host, port, exc) from exc
        try:
            _announce(out, server.url, opts.region, env_file, time_scale, hooks)
            while not stop.wait(0.5):
                pass
        finally:
            server.stop()
    typer.echo("bluegreen sandbox stopped", err=True)


def _announce(
    out: Out,
    url: str,
    region_option: str | None,
    env_file: Path | None,
    time_scale: float,
    hooks: HookMode,
    background: Background | None = None,
) -> None:
    """Write the env file, then print the exports and say where the sandbox listens (a shell
    that waits for the output can source the file at once)."""
    region = region_option or DEFAULT_REGION
    env, unset = env_exports(url, region)
    lines = export_lines(env, unset)
    if env_file is not None:
        _write_env_file(env_file, lines)
    if out.json_mode:
        extra = {"pid": background.pid, "log": str(background.log)} if background else {}
        out.json({"endpoint": url, "region": region, "env": env, "unset": unset, **extra})
    else:
        for line in lines:
            out.text(line)
    settings = f"time scale {time_scale:g}, hooks {hooks.value}"
    if background is None:
        typer.echo(f"bluegreen sandbox listening on {url} ({settings}); Ctrl-C to stop", err=True)
    else:
        typer.echo(
            f"bluegreen sandbox listening on {url} ({settings}) in the background: pid "
            f"{background.pid}, log {background.log}; stop it with `kill {background.pid}`",
            err=True,
        )


@dataclass(frozen=True)
class Background:
    pid: int
    url: str
    log: Path


READY_TIMEOUT = 60.0  # seconds a background sandbox may take to answer


def _start_in_background(args: list[str], log_file: Path | None) -> Background:
    """Start `bluegreen ARGS` (a foreground `sandbox up`) as a detached process (its own
    session: the shell's Ctrl-C and exit do not stop it); return once its control endpoint
    answers. The child says where it listens through a private env file (port 0 picks one)."""
    import subprocess
    import sys
    import tempfile
    import time

    folder = Path(tempfile.mkdtemp(prefix="bluegreen-sandbox-"))
    private = folder / "sandbox.env"
    log = log_file or folder / "sandbox.log"
    try:  # never through a symlink
        fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o600)
    except OSError as exc:
        raise UsageError(f"cannot write the log: {exc.strerror or exc}", where=str(log)) from exc
    with os.fdopen(fd, "ab") as handle:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bluegreen", *args, "--env-file", str(private)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=handle,
            start_new_session=True,
        )
    deadline = time.monotonic() + READY_TIMEOUT
    url: str | None = None
    while True:
        if url is None and private.exists():
            url = _endpoint_of(private)
        if url is not None and _answers(url):
            private.unlink(missing_ok=True)
            return Background(proc.pid, url, log)
        code = proc.poll()
        if code is not None or time.monotonic() > deadline:
            if code is None:
                proc.kill()
                proc.wait()
            tail = _tail(log)
            raise UsageError(
                "the background sandbox "
                + (f"exited with {code}" if code is not None else "did not answer in time")
                + (f": {tail}" if tail else ""),
                where=str(log),
                hint="run `bluegreen sandbox up` in the foreground to see why",
            )
        time.sleep(0.05)


def _endpoint_of(env_file: Path) -> str | None:
    """AWS_ENDPOINT_URL from an env file `sandbox up` wrote (None while it is not complete)."""
    import shlex

    for line in env_file.read_text(encoding="utf-8").splitlines():
        name, _, value = line.removeprefix("export ").partition("=")
        if line.startswith("export ") and name == "AWS_ENDPOINT_URL":
            return shlex.split(value)[0]
    return None


def _answers(url: str) -> bool:
    """Whether the sandbox's control endpoint answers (GET /_sandbox/info)."""
    import urllib.request

    try:
        with urllib.request.urlopen(f"{url}/_sandbox/info", timeout=2) as resp:  # noqa: S310
            return int(resp.status) == 200
    except OSError:
        return False


def _tail(log: Path) -> str:
    """The last lines of the child's log, for the error."""
    try:
        lines = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    except OSError:
        return ""
    return " / ".join(lines[-3:])


def _cannot_listen(host: str, port: int, exc: BaseException) -> UsageError:
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "address in use"
    return UsageError(
        f"cannot listen on {host}:{port}: {reason}",
        where="--port",
        hint="pick another --port (0 takes any free one)",
    )


def _check_port(host: str, port: int) -> None:
    """Fail early and clearly when the address cannot be bound (the server binds it again)."""
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise UsageError(f"cannot resolve {host!r}: {exc}", where="--host") from exc
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            raise _cannot_listen(host, port, exc) from exc


def _write_env_file(path: Path, lines: list[str]) -> None:
    """Write the env file whole or not at all (a shell sourcing it never reads half of it): a
    temporary file next to it, renamed over it (a symlink there is replaced, not followed)."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        temporary.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
        os.replace(temporary, path)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise UsageError(
            f"cannot write the env file: {exc.strerror or exc}", where=str(path)
        ) from exc


@contextmanager
def _stop_signals() -> Iterator[threading.Event]:
    """An event set by SIGINT or SIGTERM (Ctrl-C, `kill`) while the block runs."""
    stop = threading.Event()

    def handler(signum: int, frame: Any) -> None:
        del signum, frame
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


# --- sandbox stack -----------------------------------------------------------------------------
@app.command()
def stack(
    ctx: typer.Context,
    directory: Annotated[
        Path, typer.Option("--dir", help="Where to write bluegreen.yaml and taskdef.json.j2.")
    ] = Path("."),
    name: Annotated[str, typer.Option(help="Short name of the stack and its service.")] = "web",
    kind: Annotated[
        StackKind,
        typer.Option(
            help="codedeploy: CodeDeploy blue/green (CODE_DEPLOY controller); rolling: an "
            "ECS-controller service with rolling updates; ecs-native: an ECS-controller service "
            "with the BLUE_GREEN strategy on listener rules."
        ),
    ] = StackKind.codedeploy,
) -> None:
    """Create a complete demo stack in the sandbox and write a ready bluegreen.yaml."""
    opts = options(ctx)
    out = opts.out()
    from bluegreen.sandbox.stack import create_stack

    result = create_stack(opts.aws(), directory, name, kind=kind)
    repository = result.image.rsplit(":", 1)[0]
    if kind is StackKind.rolling:
        details = [
            f"  service     {result.cluster}/{result.service} (ECS controller, rolling updates, "
            "circuit breaker and alarms with rollback)",
            f"  image       {result.image} in ECR repository {result.repository}",
            "  listener    production :80 on the target group",
        ]
    elif kind is StackKind.ecs_native:
        details = [
            f"  service     {result.cluster}/{result.service} (ECS controller, BLUE_GREEN "
            "strategy, bake time and alarms with rollback)",
            f"  image       {result.image} in ECR repository {result.repository}",
            "  listeners   production :80 and test :8080, each with a rule forwarding to both "
            "target groups",
        ]
    else:
        details = [
            f"  service     {result.cluster}/{result.service} (CODE_DEPLOY controller)",
            f"  codedeploy  {result.application} / {result.deployment_group}",
            f"  image       {result.image} in ECR repository {result.repository}",
            "  listeners   production :80 and test :8080, both on the blue target group",
        ]
    out.emit(
        result.to_json(),
        "\n".join(
            [
                f"created the demo stack {name!r} in the sandbox:",
                *details,
                f"wrote {result.directory / 'bluegreen.yaml'} and taskdef.json.j2",
                f"next: cd {result.directory} && bluegreen deploy --image web={repository}:<tag>",
            ]
        ),
    )


# --- sandbox fault -----------------------------------------------------------------------------
_SERVICE_RE = re.compile(r"^[a-z][a-z0-9-]*$")


def _control() -> SandboxControl:
    from bluegreen.sandbox.stack import SandboxControl, endpoint_from_env

    control = SandboxControl(endpoint_from_env(os.environ))
    control.info()
    return control


def _service(service: str | None) -> str | None:
    if service is None:
        return None
    if not _SERVICE_RE.match(service):
        raise UsageError(
            f"{service!r} is not an AWS service name",
            where="--service",
            hint="e.g. ecs, codedeploy, elbv2, cloudwatch, ecr (or a SigV4 signing name)",
        )
    return service


def _add(ctx: typer.Context, fault: dict[str, Any]) -> None:
    out = options(ctx).out()
    answer = _control().add_fault(fault)
    fault_id = str(answer.get("id", "?"))
    out.emit(answer or fault, f"added fault {fault_id}: {describe_fault(answer or fault)}")


def describe_fault(fault: dict[str, Any]) -> str:
    kind = fault.get("kind")
    service = fault.get("service") or "all services"
    if kind == "throttle" and fault.get("realistic"):
        return f"throttle {service} as AWS's token buckets would"
    if kind == "access-denied":
        how = "expired credentials" if fault.get("mode") == "expired" else "access denied"
        limit = f", {fault['count']} requests" if fault.get("count") else ""
        return f"{fault.get('operation')} on {service}: {how}{limit}"
    if kind == "throttle":
        limit = f", {fault['count']} requests" if fault.get("count") else ""
        return f"throttle {service} at rate {fault.get('rate')}{limit}"
    if kind == "latency":
        return f"latency {fault.get('ms')} ms on {service}"
    if kind == "unhealthy-green":
        after = fault.get("after_seconds")
        if after is None:
            return "green tasks never become healthy"
        return f"green tasks turn unhealthy after {after:g} simulated seconds"
    if kind == "hook-fail":
        return f"lifecycle hook {fault.get('event') or 'every event'} fails"
    if kind == "task-exit":
        which = (
            f"container {fault['container']}" if fault.get("container") else "essential container"
        )
        after = fault.get("after_seconds")
        when = f" after {after:g} simulated seconds" if after is not None else ""
        return f"one-off tasks: the {which} exits with code {fault.get('exit_code')}{when}"
    return str(kind)


@fault_app.command()
def throttle(
    ctx: typer.Context,
    rate: Annotated[
        float | None, typer.Option(help="Share of requests throttled, in (0, 1].")
    ] = None,
    service: FaultServiceOpt = None,
    count: Annotated[
        int | None, typer.Option(help="Throttle only this many requests, then stop.")
    ] = None,
    realistic: Annotated[
        bool,
        typer.Option(
            "--realistic",
            help="AWS's per-account token buckets per action family instead of a rate.",
        ),
    ] = False,
) -> None:
    """Answer a share of requests with a throttling error, or throttle as AWS's token
    buckets would (--realistic)."""
    if realistic:
        if rate is not None or count is not None:
            raise UsageError(
                "--realistic throttles by AWS's token buckets; it takes no --rate or --count",
                where="--realistic",
            )
        fault: dict[str, Any] = {"kind": "throttle", "realistic": True}
        if _service(service):
            fault["service"] = service
        _add(ctx, fault)
        return
    if rate is None:
        raise UsageError(
            "Missing option '--rate' (a share of requests), or pass --realistic", where="--rate"
        )
    if not 0.0 < rate <= 1.0:
        raise UsageError(f"the throttling rate must be in (0, 1], got {rate:g}", where="--rate")
    if count is not None and count < 1:
        raise UsageError(f"the count must be at least 1, got {count}", where="--count")
    fault = {"kind": "throttle", "rate": rate}
    if count is not None:
        fault["count"] = count
    if _service(service):
        fault["service"] = service
    _add(ctx, fault)


@fault_app.command()
def latency(
    ctx: typer.Context,
    ms: Annotated[int, typer.Option(help="Milliseconds added to each request.")],
    service: FaultServiceOpt = None,
) -> None:
    """Delay every request by a fixed number of milliseconds."""
    if ms < 0 or ms > 600_000:
        raise UsageError(f"the latency must be between 0 and 600000 ms, got {ms}", where="--ms")
    fault: dict[str, Any] = {"kind": "latency", "ms": ms}
    if _service(service):
        fault["service"] = service
    _add(ctx, fault)


@fault_app.command("unhealthy-green")
def unhealthy_green(
    ctx: typer.Context,
    after: Annotated[
        str | None,
        typer.Option(help="Healthy this long first (90s, 5m; simulated time); default never."),
    ] = None,
) -> None:
    """Make the replacement (green) tasks unhealthy, at once or after a while."""
    fault: dict[str, Any] = {"kind": "unhealthy-green"}
    if after is not None:
        from bluegreen.spec.load import parse_duration

        fault["after_seconds"] = parse_duration(after, "--after")
    _add(ctx, fault)


@fault_app.command("hook-fail")
def hook_fail(
    ctx: typer.Context,
    event: Annotated[
        HookEvent | None, typer.Option(help="Lifecycle event whose hook fails; default all.")
    ] = None,
) -> None:
    """Make lifecycle hooks report Failed."""
    fault: dict[str, Any] = {"kind": "hook-fail"}
    if event is not None:
        fault["event"] = event.value
    _add(ctx, fault)


@fault_app.command("task-exit")
def task_exit(
    ctx: typer.Context,
    code: Annotated[int, typer.Option(help="Exit code of the essential container, 1-255.")] = 1,
    container: Annotated[
        str | None,
        typer.Option(help="Only tasks whose essential container has this name; default all."),
    ] = None,
    after: Annotated[
        str | None,
        typer.Option(help="Run this long first (90s, 5m; simulated time); default 30s."),
    ] = None,
) -> None:
    """Make one-off tasks (RunTask, e.g. `bluegreen run`) fail: their essential container
    exits with CODE."""
    if not 1 <= code <= 255:
        raise UsageError(f"the exit code must be from 1 to 255, got {code}", where="--code")
    fault: dict[str, Any] = {"kind": "task-exit", "code": code}
    if container is not None:
        fault["container"] = container
    if after is not None:
        from bluegreen.spec.load import parse_duration

        fault["after_seconds"] = parse_duration(after, "--after")
    _add(ctx, fault)


_OPERATION_RE = re.compile(r"^[A-Z][A-Za-z0-9]*$")


@fault_app.command("access-denied")
def access_denied(
    ctx: typer.Context,
    operation: Annotated[
        str, typer.Option(help="The API operation refused (UpdateService, CreateDeployment, …).")
    ],
    service: FaultServiceOpt = None,
    expired: Annotated[
        bool,
        typer.Option(
            "--expired", help="Refuse as expired credentials (ExpiredTokenException) instead."
        ),
    ] = False,
    count: Annotated[
        int | None, typer.Option(help="Refuse only this many requests, then stop.")
    ] = None,
) -> None:
    """Refuse an operation as AccessDenied, or as signed with expired credentials."""
    if not _OPERATION_RE.match(operation):
        raise UsageError(
            f"{operation!r} is not an API operation name",
            where="--operation",
            hint="operations are spelled as in the API: UpdateService, CreateDeployment, …",
        )
    if count is not None and count < 1:
        raise UsageError(f"the count must be at least 1, got {count}", where="--count")
    fault: dict[str, Any] = {
        "kind": "access-denied",
        "operation": operation,
        "mode": "expired" if expired else "denied",
    }
    if count is not None:
        fault["count"] = count
    if _service(service):
        fault["service"] = service
    _add(ctx, fault)


@fault_app.command("list")
def list_faults(ctx: typer.Context) -> None:
    """Show the faults in force."""
    out = options(ctx).out()
    faults = _control().faults()
    if out.json_mode:
        out.json({"faults": faults})
        return
    if not faults:
        out.text("no faults")
    for fault in faults:
        out.text(f"{fault.get('id', '?')}  {describe_fault(fault)}")


@fault_app.command()
def clear(ctx: typer.Context) -> None:
    """Remove every fault."""
    out = options(ctx).out()
    _control().clear_faults()
    out.emit({"faults": []}, "cleared all faults")
