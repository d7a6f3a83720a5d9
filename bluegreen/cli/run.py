"""`bluegreen run`: a one-off task of the spec's rendered task definition."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from bluegreen.cli.context import options
from bluegreen.cli.options import ImageOpt, VarOpt, VarsFileOpt

if TYPE_CHECKING:
    from bluegreen.cli.context import Out
    from bluegreen.release.run import RunOutcome


def run(
    ctx: typer.Context,
    command: Annotated[
        str | None,
        typer.Option(
            "--command",
            metavar="CMD",
            help="Command for the container instead of the task definition's (split like a "
            'shell would, never run by one), e.g. --command "./manage.py migrate --noinput".',
        ),
    ] = None,
    container: Annotated[
        str | None,
        typer.Option(
            "--container",
            metavar="NAME",
            help="Container the overrides apply to (default: the spec's load balancer "
            "container, else the first essential one).",
        ),
    ] = None,
    env_override: Annotated[
        list[str] | None,
        typer.Option(
            "--env-override",
            metavar="KEY=VALUE",
            help="Environment variable for that container (repeatable; values never shown).",
        ),
    ] = None,
    cpu: Annotated[
        str | None, typer.Option("--cpu", help="Task CPU override (ECS units, or '1 vCPU').")
    ] = None,
    memory: Annotated[
        str | None, typer.Option("--memory", help="Task memory override (MiB, or '2 GB').")
    ] = None,
    image: ImageOpt = None,
    var: VarOpt = None,
    vars_file: VarsFileOpt = None,
    wait: Annotated[
        bool,
        typer.Option(
            "--wait/--no-wait", help="Wait for the task to stop and judge its exit codes."
        ),
    ] = True,
    timeout: Annotated[
        str | None,
        typer.Option(
            "--timeout",
            help="Stop the task and exit 3 when it runs longer (90s, 30m, 1h; default the "
            "spec's timeout, else 1h).",
        ),
    ] = None,
) -> None:
    """Run a one-off task of the rendered task definition (e.g. database migrations before
    a release) on the spec's cluster, placed like the service's tasks (its subnets, security
    groups, launch type or capacity providers). The task definition is rendered, pinned and
    checked as `deploy` does, and registered unless an identical revision exists.
    Exit 0 every essential container exited 0, 1 one failed, 2 bad input (nothing started),
    3 timed out (task stopped), 4 AWS error, 130 cancelled (task stopped).
    """
    from bluegreen.cli.diff import pairs
    from bluegreen.cli.live import cancel_on_signals
    from bluegreen.engines.codedeploy.follow import CancelFlag
    from bluegreen.engines.verify import split_command
    from bluegreen.release.run import RunRequest
    from bluegreen.release.run import run as run_task
    from bluegreen.spec.load import load_spec, parse_duration

    opts = options(ctx)
    request = RunRequest(
        image_overrides=pairs(image, "--image"),
        var_overrides=pairs(var, "--var"),
        vars_files=tuple(vars_file or ()),
        command=split_command(command, "--command") if command is not None else None,
        container=container,
        environment=pairs(env_override, "--env-override"),
        cpu=cpu,
        memory=memory,
        wait=wait,
        timeout=parse_duration(timeout, "--timeout") if timeout else None,
    )
    spec = load_spec(opts.config, opts.env)
    aws = opts.aws(spec.region, spec)
    out = opts.out()
    cancel = CancelFlag()
    with cancel_on_signals(cancel):
        outcome = run_task(
            spec, aws, out, request, sleep=cancel.sleep, cancelled=lambda: cancel.is_set
        )
    finish(out, outcome)


def finish(out: Out, outcome: RunOutcome) -> None:
    """Print the result (the last JSON line) and raise the error that gives the exit code."""
    from bluegreen.errors import Cancelled, DeploymentFailed, DeploymentTimeout, ExitCode

    lines = [f"run: {outcome.reason}"]
    for c in outcome.containers:
        code = "-" if c.exit_code is None else str(c.exit_code)
        extra = f" ({c.reason})" if c.reason else ""
        lines.append(
            f"  container {c.name}{' (essential)' if c.essential else ''}: exit {code}{extra}"
        )
    if outcome.stopped_reason:
        lines.append(
            f"  stopped: {outcome.stopped_reason}"
            + (f" [{outcome.stop_code}]" if outcome.stop_code else "")
        )
    out.emit(outcome.result(), "\n".join(lines))
    where = f"task {outcome.task_arn}" if outcome.task_arn else None
    if outcome.exit_code == ExitCode.OK:
        return
    if outcome.exit_code == ExitCode.TIMEOUT:
        raise DeploymentTimeout(outcome.reason, where=where)
    if outcome.exit_code == ExitCode.CANCELLED:
        raise Cancelled(outcome.reason, where=where)
    raise DeploymentFailed(
        outcome.reason,
        where=where,
        hint="the task's logs say why (its log configuration names where they are)",
    )


def register(app: typer.Typer) -> None:
    app.command("run")(run)
