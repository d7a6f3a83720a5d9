"""`deploy`'s release pipeline (`release()`): one spec or several (repeated `--config` or a
folder), release windows, the live service read once, the engine `engines.select` picks, and
the combined result of a fan-out.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bluegreen.aws.model import LiveService
    from bluegreen.aws.session import Aws
    from bluegreen.cli.context import Options
    from bluegreen.engines.model import Output
    from bluegreen.release.fanout import FanOutResult, ReleaseRequest
    from bluegreen.spec.model import Spec

    # AWS sessions of a run by (region, role, external id)
    Sessions = dict[tuple[str | None, str | None, str | None], Aws]


class Stamped:
    """The release's output with the live view's time stamps on event lines (text mode)."""

    def __init__(self, out: Output) -> None:
        import time

        self.out = out
        self.json_mode = bool(getattr(out, "json_mode", False))
        self._clock = time.monotonic
        self._started = time.monotonic()

    def text(self, line: str = "") -> None:
        self.out.text(line)

    def json(self, obj: dict[str, Any]) -> None:
        self.out.json(obj)

    def emit(self, obj: dict[str, Any], text: str | None) -> None:
        if text is not None and not self.json_mode:
            text = f"[{self._clock() - self._started:6.1f}s] {text}"
        self.out.emit(obj, text)


def aws_for(opts: Options, spec: Spec, cache: Sessions) -> Aws:
    """One AWS session per region and role (the specs of a fan-out may live in different
    regions and accounts)."""
    region = opts.region or spec.region
    role = opts.role_for(spec)
    key = (region, role, spec.external_id if role else None)
    if key not in cache:
        cache[key] = opts.new_aws(region, spec)
    return cache[key]


def request_from_flags(
    *,
    image: list[str] | None,
    var: list[str] | None,
    vars_file: list[Path] | None,
    deployment_config: str | None,
    dry_run: bool,
    no_wait: bool,
    timeout: str | None,
    verify: str | None,
    queue: bool,
    rollback: bool,
    on_cancel: str | None = None,
    tag_as: str | None = None,
    wait_until: str | None = None,
    force: bool = False,
) -> ReleaseRequest:
    from bluegreen.cli.diff import pairs
    from bluegreen.engines.verify import split_command
    from bluegreen.release.fanout import ReleaseRequest
    from bluegreen.spec.load import parse_duration

    return ReleaseRequest(
        image_overrides=pairs(image, "--image"),
        var_overrides=pairs(var, "--var"),
        vars_files=tuple(vars_file or ()),
        deployment_config=deployment_config,
        timeout_seconds=parse_duration(timeout, "--timeout") if timeout else None,
        verify=split_command(verify) if verify else None,
        dry_run=dry_run,
        wait=not no_wait,
        rollback=rollback,
        queue=queue,
        on_cancel=_on_cancel(on_cancel),
        tag_as=tag_as,
        wait_until=wait_until,
        force=force,
        ask_on_cancel=on_cancel is None and _asks_on_cancel(),
    )


def _asks_on_cancel() -> bool:
    from bluegreen.cli.live import resolve_on_cancel

    return resolve_on_cancel(None) == "ask"


def _on_cancel(given: str | None) -> str:
    """--on-cancel for rolling updates and fan-outs: rollback (the default) or detach."""
    from bluegreen.cli.live import resolve_on_cancel

    mode = resolve_on_cancel(given)
    return "rollback" if mode == "ask" else mode


def release(
    opts: Options,
    *,
    configs: list[Path] | None,
    request: ReleaseRequest,
    max_parallel: int,
    wait_for_window: bool,
) -> None:
    """The release pipeline, for one spec or many: every spec loaded once and checked against
    its release window, the live service read once, `engines.select` on it, then the engine's
    release (raises for a non-zero exit)."""
    from bluegreen.aws import ecs
    from bluegreen.cli.live import Reporter, cancel_on_signals
    from bluegreen.engines import EngineKind, select
    from bluegreen.engines.codedeploy.follow import CancelFlag
    from bluegreen.engines.rolling import rollout as rolling
    from bluegreen.errors import PreflightError
    from bluegreen.release.fanout import (
        collect_specs,
        gate_window,
        prepare_release,
    )
    from bluegreen.release.notify import Notifier

    paths = list(configs or [opts.config])
    specs = collect_specs(paths, opts.env)
    out = Stamped(opts.out())
    for spec in specs:
        if request.dry_run:
            _window_notice(spec, out)
        else:
            gate_window(spec, out, wait=wait_for_window)
    cache: Sessions = {}
    if len(specs) == 1:
        spec = specs[0]
        aws = aws_for(opts, spec, cache)
        live = ecs.describe_service(aws, spec.cluster, spec.service)
        if select(live) is EngineKind.CODEDEPLOY:
            if request.rollback:
                raise PreflightError(
                    "--rollback is for rolling updates; a CODE_DEPLOY service rolls back "
                    "through the deployment group (spec `rollback.on_failure`)",
                    where="--rollback",
                )
            _codedeploy(opts, spec, aws, live, request)
            return
        cancel = CancelFlag()
        loop = rolling.Loop(sleep=cancel.sleep, cancelled=lambda: cancel.is_set)
        reporter = Reporter(opts, verb="deploy")
        with cancel_on_signals(cancel):
            runner = prepare_release(spec, aws, request, loop=loop, cancel=cancel, live=live)
            runner = Notifier.for_spec(spec, dry_run=request.dry_run).runner(
                runner, previous=live.task_definition_arn
            )
            reporter.start_live()
            try:
                outcome = runner(reporter.output(out))
            finally:
                reporter.stop_live()
        reporter.finish(outcome)
        return
    result = _fan_out(opts, specs, request, max_parallel, cache)
    out.emit(result.result(), "\n".join([f"release of {len(specs)} services:", *result.lines()]))
    _raise_for(result)


def _codedeploy(
    opts: Options, spec: Spec, aws: Aws, live: LiveService, request: ReleaseRequest
) -> None:
    """One CodeDeploy blue/green release with the live view: plan (the service as just read),
    skip when the revision is already live (unless --force), apply, follow."""
    import time

    from bluegreen.cli.live import Reporter, asker, cancel_on_signals
    from bluegreen.engines.codedeploy.apply import FollowSettings, apply
    from bluegreen.engines.codedeploy.follow import CancelFlag
    from bluegreen.engines.codedeploy.plan import plan_release
    from bluegreen.engines.model import Outcome
    from bluegreen.journal import Journal, journal_path
    from bluegreen.release.notify import Notifier

    reporter = Reporter(opts, verb="deploy")
    out = opts.out()
    plan = plan_release(aws, spec, request.deploy_options(), live=live)
    if plan.previous_task_definition_arn:  # the live view labels the task sets with these
        from bluegreen.engines.model import revision

        reporter.panel.revisions["Blue"] = revision(plan.previous_task_definition_arn)
    if request.wait_until is not None:
        from bluegreen.engines.codedeploy.machine import wait_until_problem
        from bluegreen.errors import UsageError

        problem = wait_until_problem(
            request.wait_until, plan.group.ready_action == "STOP_DEPLOYMENT"
        )
        if problem is not None:
            raise UsageError(
                problem,
                where="--wait-until",
                hint="a CodeDeploy lifecycle event (e.g. AfterAllowTestTraffic), or `paused` on "
                "a group that waits before rerouting",
            )
    if request.dry_run:
        out.emit(plan.to_json(), "\n".join(plan.lines()))
        out.json(Outcome.dry_run(plan.task_definition_arn).result())
        return
    for line in plan.lines():
        out.text(line)
    journal = Journal(journal_path(spec.path))
    running = plan.previous_task_definition_arn
    if not request.force and not plan.register and running == plan.task_definition_arn:
        if plan.tags is not None:
            # --tag-as names what the service runs: tagged even when nothing is released
            from bluegreen.engines.tagging import apply_tags

            apply_tags(aws, plan.tags, journal, out.emit)
        reporter.finish(
            Outcome(
                "",
                "Skipped",
                False,
                0,
                f"already live: {spec.cluster}/{spec.service} runs {running}; nothing was "
                "released (--force releases it again)",
                None,
                running,
            )
        )
        return
    started_at = time.monotonic()
    cancel = CancelFlag()
    notifier = Notifier.for_spec(spec, dry_run=request.dry_run)  # the spec's notify: webhooks
    reporter.observers.append(notifier.observe)
    with notifier.release(previous=running), cancel_on_signals(cancel):
        started = apply(
            aws,
            plan,
            journal,
            reporter.notify,
            spec_folder=spec.path.parent,
            queue=request.queue,
            deadline=started_at + plan.timeout_seconds,
            cancel=cancel,
        )
        if not request.wait:
            if plan.verify:
                out.warn("--no-wait: the verify command does not run (nobody watches the shift)")
            detached = Outcome.started(started.deployment_id, started.task_definition_arn)
            notifier.end(detached)
            reporter.finish(detached)
            return
        settings = FollowSettings.for_release(
            plan,
            spec,
            started,
            started_at,
            on_cancel=request.on_cancel,
            cancel=cancel,
            ask=asker(reporter) if request.ask_on_cancel else None,
        )
        settings.wait_until = request.wait_until
        outcome = reporter.follow(aws, settings, journal)
        notifier.end(outcome)
    reporter.finish(outcome)


def _fan_out(
    opts: Options,
    specs: list[Spec],
    request: ReleaseRequest,
    max_parallel: int,
    cache: Sessions,
) -> FanOutResult:
    import threading

    from bluegreen.cli.live import cancel_on_signals
    from bluegreen.engines.codedeploy.follow import CancelFlag, SharedReads
    from bluegreen.engines.rolling import rollout as rolling
    from bluegreen.release.fanout import Runner, fan_out, prepare_release
    from bluegreen.release.notify import Notifier

    cancel = CancelFlag()
    loop = rolling.Loop(sleep=cancel.sleep, cancelled=lambda: cancel.is_set)
    # One session, client set and batch of monitor reads per region, shared by the releases
    # (the preflights run side by side, hence the lock).
    lock = threading.Lock()
    shared: dict[int, SharedReads] = {}

    def prepare(spec: Spec) -> Runner:
        with lock:
            aws = aws_for(opts, spec, cache)
            reads = shared.setdefault(id(aws), SharedReads(aws))
        runner = prepare_release(spec, aws, request, loop=loop, cancel=cancel, shared=reads)
        return Notifier.for_spec(spec, dry_run=request.dry_run).runner(runner)

    with cancel_on_signals(cancel):
        return fan_out(specs, prepare, Stamped(opts.out()), max_parallel=max_parallel)


def _window_notice(spec: Spec, out: Output) -> None:
    """For --dry-run: say whether the window is open, without refusing."""
    import datetime as dt

    from bluegreen.spec.windows import check, parse_windows

    if not spec.windows:
        return
    found = check(
        parse_windows(spec.windows, where=f"{spec.display}: windows"), dt.datetime.now(dt.UTC)
    )
    text = found.reason if found.open else f"{found.reason}; a real deploy would be refused now"
    out.emit({"event": "window", "open": found.open, "reason": found.reason}, text)


def _raise_for(result: FanOutResult) -> None:
    from bluegreen.errors import (
        AwsError,
        Cancelled,
        DeploymentFailed,
        DeploymentTimeout,
        ExitCode,
        UsageError,
    )

    code = result.exit_code
    if code == ExitCode.OK:
        return
    failed = [name for name, o in result.results.items() if o.exit_code != ExitCode.OK]
    message = (
        f"{len(failed)} of {len(result.results)} releases did not succeed: {', '.join(failed)}"
    )
    errors = {
        ExitCode.FAILED: DeploymentFailed,
        ExitCode.USAGE: UsageError,
        ExitCode.TIMEOUT: DeploymentTimeout,
        ExitCode.AWS: AwsError,
        ExitCode.CANCELLED: Cancelled,
    }
    raise errors.get(code, DeploymentFailed)(message)
