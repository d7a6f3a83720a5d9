"""`bluegreen redeploy`: the revision the service runs, on fresh tasks."""

from __future__ import annotations

from typing import Annotated

import typer

from bluegreen.cli.context import options
from bluegreen.cli.options import NoWaitOpt


def redeploy(
    ctx: typer.Context,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print what would happen; write nothing.")
    ] = False,
    no_wait: NoWaitOpt = False,
    timeout: Annotated[
        str | None,
        typer.Option("--timeout", help="Give up watching after this long (90s, 30m, 1h)."),
    ] = None,
) -> None:
    """Start fresh tasks of the task definition the service runs now (the
    --force-new-deployment path: a re-pushed mutable tag is pulled again). ECS-controller
    services get a rolling deployment; CODE_DEPLOY services a blue/green deployment of the same
    revision. Exit 0 succeeded, 1 failed or rolled back, 2 bad input, 3 timed out.
    """
    from bluegreen.cli.following import following
    from bluegreen.engines.rolling.rollout import Loop
    from bluegreen.release.redeploy import RedeployRequest
    from bluegreen.release.redeploy import redeploy as run_redeploy
    from bluegreen.spec.load import load_spec, parse_duration

    opts = options(ctx)
    spec = load_spec(opts.config, opts.env)
    request = RedeployRequest(
        dry_run=dry_run,
        wait=not no_wait,
        timeout=parse_duration(timeout, "--timeout") if timeout else None,
    )
    aws = opts.aws(spec.region, spec)
    with following(opts, "redeploy") as f:
        outcome = run_redeploy(spec, aws, f.out, request, loop=f.loop(Loop), cancel=f.cancel)
    f.finish(outcome)


def register(app: typer.Typer) -> None:
    app.command("redeploy")(redeploy)
