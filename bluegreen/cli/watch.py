"""`bluegreen watch [ID]`: follow an in-flight deployment (re-attach after a crash)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from bluegreen.cli.context import options

if TYPE_CHECKING:
    from bluegreen.cli.context import Options


def watch(
    ctx: typer.Context,
    deployment_id: Annotated[
        str | None,
        typer.Argument(
            help="Deployment id. Default: the group's active deployment, else the journal's "
            "last in-flight one."
        ),
    ] = None,
    on_cancel: Annotated[
        str | None,
        typer.Option("--on-cancel", help="On SIGINT/SIGTERM: detach (default) or rollback."),
    ] = None,
    timeout: Annotated[
        str | None, typer.Option("--timeout", help="Stop with rollback after this long.")
    ] = None,
) -> None:
    """Follow a deployment to its end (and its rollback deployment, if one starts), with the
    same live view, alarm and metric checks and exit codes as `deploy`."""
    from bluegreen.cli.live import Reporter, cancel_on_signals, resolve_on_cancel
    from bluegreen.cli.release_common import engine_kind, load_engine, load_target
    from bluegreen.engines import EngineKind, pick
    from bluegreen.engines.codedeploy.follow import CancelFlag
    from bluegreen.engines.codedeploy.ops import find_deployment, follow_settings
    from bluegreen.spec.load import parse_duration

    opts = options(ctx)
    kind = engine_kind(load_engine(opts))
    ways = {
        EngineKind.CODEDEPLOY: "",
        EngineKind.ROLLING: "rolling",
        EngineKind.ECS_NATIVE: "native",
    }
    way = pick(ways, kind, "watch")
    if way == "rolling":
        _rolling(opts, deployment_id, on_cancel, timeout)
        return
    if way == "native":
        from bluegreen.cli import native

        native.watch(opts, deployment_id, on_cancel, timeout)
        return
    aws, spec, target, journal = load_target(opts, deployment_id)
    dep = deployment_id or find_deployment(
        aws,
        target,
        journal,
        reattach=True,
        hint="nothing to watch; start a release with `bluegreen deploy`, or see "
        "`bluegreen history`",
    )
    settings = follow_settings(aws, target, dep, spec, journal)
    settings.on_cancel = resolve_on_cancel(on_cancel) if on_cancel else "detach"
    settings.timeout_seconds = parse_duration(timeout, "--timeout") if timeout else None
    reporter = Reporter(opts, verb="watch")
    reporter.out.text(f"watching {dep} on {target.application}/{target.group_name}")
    cancel = CancelFlag()
    settings.cancel = cancel
    with cancel_on_signals(cancel):
        outcome = reporter.follow(aws, settings, journal)
    reporter.finish(outcome)


def _rolling(
    opts: Options, deployment_id: str | None, on_cancel: str | None, timeout: str | None
) -> None:
    from bluegreen.cli.following import following
    from bluegreen.cli.live import resolve_on_cancel
    from bluegreen.cli.release_common import load_rolling
    from bluegreen.engines.rolling import rollout as rolling
    from bluegreen.engines.rolling.ops import watch_in_flight
    from bluegreen.spec.load import parse_duration

    found = load_rolling(opts)
    assert found is not None
    aws, spec = found
    with following(opts, "watch") as f:
        outcome = watch_in_flight(
            aws,
            spec,
            f.out,
            deployment_id=deployment_id,
            timeout=parse_duration(timeout, "--timeout") if timeout else None,
            loop=f.loop(rolling.Loop),
            on_cancel=resolve_on_cancel(on_cancel) if on_cancel else "detach",
        )
    f.finish(outcome)


def register(app: typer.Typer) -> None:
    app.command("watch")(watch)
