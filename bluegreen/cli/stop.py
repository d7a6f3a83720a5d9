"""`bluegreen stop [ID] [--no-rollback]`: stop an in-flight deployment."""

from __future__ import annotations

from typing import Annotated

import typer

from bluegreen.cli.context import options


def stop(
    ctx: typer.Context,
    deployment_id: Annotated[
        str | None, typer.Argument(help="Deployment id. Default: the group's active deployment.")
    ] = None,
    no_rollback: Annotated[
        bool,
        typer.Option("--no-rollback", help="Stop without rolling back (green keeps its share)."),
    ] = False,
) -> None:
    """Stop a deployment (with rollback unless --no-rollback) and follow it until production
    is back on the original task set. Exit 0 when stopped as asked, 1 when the rollback failed."""
    from bluegreen.cli.live import Reporter
    from bluegreen.cli.release_common import load_target
    from bluegreen.release.deploy import follow
    from bluegreen.release.operations import find_deployment, follow_settings
    from bluegreen.release.operations import stop as stop_deployment

    opts = options(ctx)
    aws, spec, target, journal = load_target(opts, deployment_id)
    dep = deployment_id or find_deployment(
        aws, target, journal, hint="nothing to stop; `bluegreen history` lists past deployments"
    )
    rollback = not no_rollback
    reason = "stopped by request" + ("" if rollback else " (no rollback)")
    reporter = Reporter(opts, verb="stop")
    reporter.out.text(f"stopping {dep}" + (" with rollback" if rollback else ""))
    stop_deployment(aws, target, dep, journal, rollback=rollback, reason=reason)
    settings = follow_settings(aws, target, dep, spec, journal)
    settings.alarms, settings.checks = [], []
    settings.requested_stop = (rollback, reason)
    outcome = follow(aws, settings, reporter.sink, journal)
    reporter.finish(outcome)


def register(app: typer.Typer) -> None:
    app.command("stop")(stop)
