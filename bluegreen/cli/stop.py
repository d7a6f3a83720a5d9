"""`bluegreen stop [ID] [--no-rollback]`: stop an in-flight deployment."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from bluegreen.cli.context import options

if TYPE_CHECKING:
    from bluegreen.cli.context import Options


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
    is back on the original task set. Exit 0 when stopped as asked, 1 when the rollback failed.
    Rolling service: the rollout in flight is returned to the revision it replaces (ECS has no
    stop for a rolling update, so --no-rollback is refused)."""
    from bluegreen.cli.release_common import engine_kind, load_engine
    from bluegreen.engines import EngineKind, pick

    opts = options(ctx)
    found = load_engine(opts)
    from bluegreen.cli import native

    ways = {
        EngineKind.CODEDEPLOY: _codedeploy,
        EngineKind.ROLLING: _rolling,
        EngineKind.ECS_NATIVE: native.stop,
    }
    pick(ways, engine_kind(found), "stop")(opts, deployment_id, not no_rollback)


def _rolling(opts: Options, deployment_id: str | None, rollback: bool) -> None:
    from bluegreen.cli.following import following
    from bluegreen.cli.release_common import load_rolling
    from bluegreen.engines.rolling import rollout as rolling
    from bluegreen.engines.rolling.ops import stop as rolling_stop
    from bluegreen.journal import Journal, journal_path

    found = load_rolling(opts)
    assert found is not None
    aws, spec = found
    with following(opts, "stop") as f:
        outcome = rolling_stop(
            aws,
            spec,
            Journal(journal_path(spec.path)),
            f.out,
            deployment_id=deployment_id,
            rollback_too=rollback,
            timeout=spec.timeout_seconds or rolling.DEFAULT_TIMEOUT,
            loop=f.loop(rolling.Loop),
        )
    f.finish(outcome)


def _codedeploy(opts: Options, deployment_id: str | None, rollback: bool) -> None:
    from bluegreen.cli.live import Reporter
    from bluegreen.cli.release_common import load_target
    from bluegreen.engines.codedeploy.apply import follow
    from bluegreen.engines.codedeploy.ops import find_deployment, follow_settings
    from bluegreen.engines.codedeploy.ops import stop as stop_deployment

    aws, spec, target, journal = load_target(opts, deployment_id)
    dep = deployment_id or find_deployment(
        aws, target, journal, hint="nothing to stop; `bluegreen history` lists past deployments"
    )
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
