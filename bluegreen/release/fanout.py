"""Releasing one spec or several: release windows, then the releases side by side.

- `collect_specs`: repeated `--config` paths and folders of specs, loaded and validated up front.
- `gate_window`: outside the spec's release window a release is refused (exit 2) naming the
  next opening, or waits for it (`--wait-for-window`); clock and sleep are injected.
- `fan_out`: every spec is planned first, `max_parallel` preflights at a time (reads only;
  nothing is written unless every spec's preflight passed, and the failures are reported
  together in the order the specs were given), then the releases run with at most
  `max_parallel` at a time, their events interleaved in one view (text lines prefixed with
  `[cluster/service]`, JSON events carrying `"service"`), and one combined result whose exit
  code is the worst one.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bluegreen.engines.model import Outcome
from bluegreen.errors import (
    BluegreenError,
    ExitCode,
    OutsideWindowError,
    Problems,
    SpecError,
    UsageError,
    raise_problems,
)

if TYPE_CHECKING:
    from bluegreen.aws.model import LiveService
    from bluegreen.aws.session import Aws
    from bluegreen.engines.codedeploy.follow import CancelFlag, SharedReads
    from bluegreen.engines.codedeploy.plan import DeployOptions
    from bluegreen.engines.model import Output
    from bluegreen.engines.rolling.rollout import Loop
    from bluegreen.spec.model import Spec

SPEC_SUFFIXES = (".yaml", ".yml")

# A release to run: planned (no writes yet), then run with an output of its own.
Runner = Callable[["Output"], Outcome]
Prepare = Callable[["Spec"], Runner]


# --- specs --------------------------------------------------------------------------------------
def spec_files(paths: Sequence[Path]) -> list[Path]:
    """The spec files named: files as given, folders expanded to their *.yaml/*.yml files."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(
                p for p in path.iterdir() if p.is_file() and p.name.endswith(SPEC_SUFFIXES)
            )
            if not found:
                raise SpecError(
                    "the folder holds no spec files (*.yaml, *.yml)",
                    where=str(path),
                    hint="pass spec files with --config, or a folder of them",
                )
            files.extend(found)
        else:
            files.append(path)
    unique: dict[Path, Path] = {}  # the same file named twice (or by a folder too): once
    for f in files:
        unique.setdefault(f.resolve(), f)
    return list(unique.values())


def collect_specs(paths: Sequence[Path], env: str | None) -> list[Spec]:
    """Load every spec; all problems are reported together (exit 2) before anything runs."""
    from bluegreen.spec.load import load_spec

    specs: list[Spec] = []
    problems: list[BluegreenError] = []
    for path in spec_files(paths):
        try:
            specs.append(load_spec(path, env))
        except UsageError as exc:
            problems.append(exc)
    raise_problems(problems, subject=f"{len(paths)} spec path(s)")
    seen: dict[tuple[str | None, str, str], Path] = {}
    for spec in specs:
        key = (spec.region, spec.cluster, spec.service)
        if key in seen:
            raise SpecError(
                f"service {spec.cluster}/{spec.service} is named by two specs "
                f"({seen[key]} and {spec.path})",
                where=str(spec.path),
                hint="one release per service at a time",
            )
        seen[key] = spec.path
    return specs


def label(spec: Spec) -> str:
    return f"{spec.cluster}/{spec.service}"


# --- release windows ----------------------------------------------------------------------------
@dataclass(frozen=True)
class WallClock:
    """The wall clock and sleep `gate_window` uses (injected in tests)."""

    now: Callable[[], dt.datetime] = field(default=lambda: dt.datetime.now(dt.UTC))
    sleep: Callable[[float], None] = time.sleep
    max_sleep: float = 60.0  # re-check at least this often while waiting


def gate_window(spec: Spec, out: Output, *, wait: bool, clock: WallClock | None = None) -> None:
    """Return when a release may start now; OutsideWindowError (exit 2) when it may not."""
    from bluegreen.spec.windows import check, parse_windows, require_open

    if not spec.windows:
        return
    clock = clock or WallClock()
    windows = parse_windows(spec.windows, where=f"{spec.display}: windows")
    announced: dt.datetime | None = None
    while True:
        now = clock.now()
        found = check(windows, now)
        if found.open:
            if announced is not None:
                out.emit({"event": "window", "open": True, "reason": found.reason}, found.reason)
            return
        if not wait:
            try:
                require_open(windows, now)
            except OutsideWindowError as exc:
                exc.where = f"{spec.display}: windows"
                raise
        opens = found.next_open
        assert opens is not None  # check() raises when no window ever opens
        when = opens.strftime("%a %Y-%m-%d %H:%M %Z")
        if announced != opens:
            announced = opens
            out.emit(
                {
                    "event": "window",
                    "open": False,
                    "reason": found.reason,
                    "nextOpen": opens.isoformat(),
                },
                f"{found.reason}: waiting until {when}",
            )
        remaining = (opens - now).total_seconds()
        clock.sleep(max(0.0, min(remaining, clock.max_sleep)))


# --- fan-out ------------------------------------------------------------------------------------
class PrefixedOutput:
    """One release's view of a shared output: a label on every line, one writer at a time."""

    def __init__(self, base: Output, name: str, lock: threading.Lock) -> None:
        self.base = base
        self.name = name
        self.lock = lock
        self.json_mode = bool(getattr(base, "json_mode", False))

    def text(self, line: str = "") -> None:
        with self.lock:
            self.base.text(f"[{self.name}] {line}")

    def json(self, obj: dict[str, Any]) -> None:
        with self.lock:
            self.base.json({**obj, "service": self.name})

    def emit(self, obj: dict[str, Any], text: str | None) -> None:
        with self.lock:
            self.base.emit(
                {**obj, "service": self.name}, None if text is None else f"[{self.name}] {text}"
            )


def worst(codes: Sequence[int]) -> int:
    """The exit code of several releases: the worst one (the highest code; 0 when all passed)."""
    return max(codes, default=ExitCode.OK)


@dataclass(frozen=True)
class FanOutResult:
    results: dict[str, Outcome]  # label -> outcome, in spec order

    @property
    def exit_code(self) -> int:
        return worst([o.exit_code for o in self.results.values()])

    def result(self) -> dict[str, Any]:
        failed = [name for name, o in self.results.items() if o.exit_code != ExitCode.OK]
        return {
            "event": "result",
            "deploymentId": None,
            "status": "Failed" if failed else "Succeeded",
            "taskDefinitionArn": None,
            "rolledBack": any(o.rolled_back for o in self.results.values()),
            "exitCode": self.exit_code,
            "deployments": [
                {"service": name, **{k: v for k, v in o.result().items() if k != "event"}}
                for name, o in self.results.items()
            ],
        }

    def lines(self) -> list[str]:
        out = []
        for name, o in self.results.items():
            state = "ok" if o.exit_code == ExitCode.OK else f"exit {o.exit_code}"
            out.append(f"  {name}: {state}: {o.reason}")
        return out


def fan_out(
    specs: Sequence[Spec], prepare: Prepare, out: Output, *, max_parallel: int
) -> FanOutResult:
    """Plan every release, then run them `max_parallel` at a time; one combined result."""
    if max_parallel < 1:
        raise UsageError(
            f"--max-parallel must be at least 1, got {max_parallel}", where="--max-parallel"
        )
    runners: list[tuple[str, Runner]] = []
    problems: list[BluegreenError] = []
    for spec, prepared in zip(specs, preflight(specs, prepare, max_parallel), strict=True):
        if isinstance(prepared, BluegreenError):
            if prepared.where is None:
                prepared.where = label(spec)
            problems.append(prepared)
        else:
            runners.append((label(spec), prepared))
    if problems:
        subject = f"{len(specs)} releases (nothing was changed)"
        non_usage = [p for p in problems if not isinstance(p, UsageError)]
        if non_usage and len(problems) > 1:
            # Every failure named, in spec order; the exit code of the first that is not bad
            # input (an AWS or setup failure says more than a usage code would).
            raise type(non_usage[0])(Problems(problems, subject=subject).message) from non_usage[0]
        raise_problems(problems, subject=subject)
    lock = threading.Lock()

    def run(item: tuple[str, Runner]) -> Outcome:
        name, runner = item
        view = PrefixedOutput(out, name, lock)
        try:
            outcome = runner(view)
        except BluegreenError as exc:
            outcome = Outcome("", "Error", False, exc.exit_code, exc.render(), None, None)
        except KeyboardInterrupt:
            outcome = Outcome("", "Cancelled", False, ExitCode.CANCELLED, "cancelled", None, None)
        word = "succeeded" if outcome.exit_code == ExitCode.OK else f"exit {outcome.exit_code}"
        view.emit(
            {**outcome.result(), "event": "serviceResult"},
            f"{word}: {outcome.reason}",
        )
        return outcome

    with ThreadPoolExecutor(max_workers=max_parallel, thread_name_prefix="release") as pool:
        outcomes = list(pool.map(run, runners))
    return FanOutResult({name: o for (name, _), o in zip(runners, outcomes, strict=True)})


def preflight(
    specs: Sequence[Spec], prepare: Prepare, max_parallel: int
) -> list[Runner | BluegreenError]:
    """Every spec's plan (reads only), `max_parallel` at a time: a runner or its error, in
    spec order. Each preflight runs to its end, so every failing spec is known; an error
    that is not a BluegreenError (a bug) is re-raised once all have ended."""

    def one(spec: Spec) -> Runner | BluegreenError:
        try:
            return prepare(spec)
        except BluegreenError as exc:
            return exc

    if max_parallel <= 1 or len(specs) <= 1:
        return [one(spec) for spec in specs]
    workers = min(max_parallel, len(specs))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="preflight") as pool:
        futures = [pool.submit(one, spec) for spec in specs]
    return [f.result() for f in futures]


# --- one release, whatever the service's deployment controller ----------------------------------
@dataclass(frozen=True)
class ReleaseRequest:
    """The `deploy` flags that apply to every spec of a (fanned-out) release."""

    image_overrides: dict[str, str] = field(default_factory=dict)
    var_overrides: dict[str, str] = field(default_factory=dict)
    vars_files: tuple[Path, ...] = ()
    deployment_config: str | None = None
    timeout_seconds: float | None = None
    verify: list[str] | None = None
    dry_run: bool = False
    wait: bool = True
    rollback: bool = False  # rolling: back to the previous revision when ECS does not
    queue: bool = False  # CodeDeploy: wait for an active deployment to end first
    on_cancel: str = "rollback"  # rollback | detach on SIGINT/SIGTERM
    tag_as: str | None = None  # --tag-as: a tag, or git-sha
    wait_until: str | None = None  # --wait-until: a lifecycle stage, or `paused`
    force: bool = False  # --force: release the revision already live again (CodeDeploy)
    ask_on_cancel: bool = False  # --on-cancel unset on a terminal: ask (a single release)

    def deploy_options(self) -> DeployOptions:
        """What a CodeDeploy plan takes of this request."""
        from bluegreen.engines.codedeploy.plan import DeployOptions

        return DeployOptions(
            image_overrides=self.image_overrides,
            var_overrides=self.var_overrides,
            vars_files=self.vars_files,
            deployment_config=self.deployment_config,
            timeout_seconds=self.timeout_seconds,
            verify=self.verify,
            tag_as=self.tag_as,
        )


def prepare_release(
    spec: Spec,
    aws: Aws,
    request: ReleaseRequest,
    *,
    loop: Loop | None = None,
    cancel: CancelFlag | None = None,
    shared: SharedReads | None = None,
    live: LiveService | None = None,
) -> Runner:
    """Plan the release of one spec (every check, no writes) and return what carries it out.

    `engines.select` on the live service chooses the engine: a rolling update, or a
    CodeDeploy blue/green deployment watched by the monitor; any other is refused (exit 2).
    `shared`: the reads a fan-out's monitors and rolling watches share.
    """
    from bluegreen.aws import ecs
    from bluegreen.engines import EngineKind, select
    from bluegreen.engines.rolling import rollout as rolling

    if live is None:
        live = ecs.describe_service(aws, spec.cluster, spec.service)
    kind = select(live)
    if kind is EngineKind.ECS_NATIVE:
        return prepare_native(spec, aws, request, live, loop=loop)
    if request.wait_until is not None:
        from bluegreen.errors import PreflightError

        raise PreflightError(
            f"--wait-until is available for ECS-native services and a single CodeDeploy "
            f"release; this service is released by {kind.label}"
            + (" in a release of several specs" if kind is EngineKind.CODEDEPLOY else ""),
            where="--wait-until",
            hint="deploy with --no-wait and follow it with `bluegreen watch`",
        )
    if kind is EngineKind.ROLLING:
        rolling_request = rolling.RollingRequest(
            image_overrides=request.image_overrides,
            var_overrides=request.var_overrides,
            vars_files=request.vars_files,
            dry_run=request.dry_run,
            wait=request.wait,
            timeout=request.timeout_seconds,
            rollback=request.rollback,
            on_cancel=request.on_cancel,
            tag_as=request.tag_as,
            verify=request.verify,
        )
        p = rolling.plan(spec, aws, rolling_request, live=live)
        watch_loop = loop
        if shared is not None and cancel is not None:
            # the fan-out's watches wake on one grid and read their services in one batch
            base = loop or rolling.Loop()
            sleep = shared.sleeper(cancel, base.clock, cadence=base.poll)
            watch_loop = dataclasses.replace(base, describe=shared.service, sleep=sleep)

        def run_rolling(out: Output) -> Outcome:
            return rolling.apply(p, spec, aws, out, rolling_request, loop=watch_loop)

        return run_rolling
    return prepare_codedeploy(spec, aws, request, cancel=cancel, shared=shared, live=live)


def prepare_native(
    spec: Spec,
    aws: Aws,
    request: ReleaseRequest,
    live: LiveService,
    *,
    loop: Loop | None = None,
) -> Runner:
    """An ECS-native release (BLUE_GREEN | LINEAR | CANARY): planned here, no writes."""
    from bluegreen.engines.ecs_native import apply as native
    from bluegreen.engines.ecs_native.plan import NativeRequest, plan

    native_request = NativeRequest(
        image_overrides=request.image_overrides,
        var_overrides=request.var_overrides,
        vars_files=request.vars_files,
        deployment_config=request.deployment_config,
        dry_run=request.dry_run,
        wait=request.wait,
        timeout=request.timeout_seconds,
        on_cancel=request.on_cancel,
        tag_as=request.tag_as,
        verify=request.verify,
        wait_until=request.wait_until,
    )
    p = plan(spec, aws, native_request, live=live)
    native_loop = (
        native.Loop(clock=loop.clock, sleep=loop.sleep, cancelled=loop.cancelled, rest=loop.rest)
        if loop is not None
        else native.Loop()
    )

    def run_native(out: Output) -> Outcome:
        return native.apply(p, spec, aws, out, native_request, loop=native_loop)

    return run_native


def prepare_codedeploy(
    spec: Spec,
    aws: Aws,
    request: ReleaseRequest,
    *,
    cancel: CancelFlag | None = None,
    reuse: str | None = None,
    shared: SharedReads | None = None,
    live: LiveService | None = None,
) -> Runner:
    """A CodeDeploy blue/green release; `reuse`: deploy that registered revision as it is;
    `live`: the service as just described (not read again)."""
    from bluegreen.aws.iam import who
    from bluegreen.engines.codedeploy.apply import FollowSettings, apply, follow
    from bluegreen.engines.codedeploy.follow import CancelFlag
    from bluegreen.engines.codedeploy.plan import plan_release
    from bluegreen.journal import Journal, journal_path

    plan = plan_release(aws, spec, request.deploy_options(), live=live, shared=shared)
    if reuse is not None:
        plan = dataclasses.replace(plan, register=False, task_definition_arn=reuse)
    flag = cancel or CancelFlag()

    def run_codedeploy(out: Output) -> Outcome:
        from bluegreen.engines.model import Event

        out.emit(plan.to_json(), "\n".join(plan.lines()))
        if request.dry_run:
            return Outcome.dry_run()

        def notify(event: Event) -> None:
            out.emit(event.json(), event.text)

        def sink(events: Sequence[Event], state: object) -> None:
            del state
            for event in events:
                notify(event)

        journal = Journal(journal_path(spec.path))
        started_at = time.monotonic()
        started = apply(
            aws,
            plan,
            journal,
            notify,
            spec_folder=spec.path.parent,
            queue=request.queue,
            deadline=started_at + plan.timeout_seconds,
            cancel=flag,
            caller=who if shared is None else shared.who,
        )
        if not request.wait:
            return Outcome.started(started.deployment_id, started.task_definition_arn)
        settings = FollowSettings.for_release(
            plan, spec, started, started_at, on_cancel=request.on_cancel, cancel=flag, shared=shared
        )
        return follow(aws, settings, sink, journal)

    return run_codedeploy
