"""`bluegreen rollback`: in flight, stop with rollback; finished, redeploy the previous
revision."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from bluegreen.cli.context import options

if TYPE_CHECKING:
    from bluegreen.aws.session import Aws
    from bluegreen.cli.context import Options
    from bluegreen.spec.model import Spec


def rollback(
    ctx: typer.Context,
    timeout: Annotated[
        str | None, typer.Option("--timeout", help="Give up (exit 3) after this long.")
    ] = None,
) -> None:
    """Return production to the previous revision. While a deployment is in flight it is
    stopped with rollback; after a finished release the previous task definition (from the
    journal, else CodeDeploy's history) is deployed again through CodeDeploy. Follows it to the
    end; exit 0 when production runs the previous revision.

    Rolling (ECS-controller) service: while a rollout is in progress, UpdateService back to the
    revision it replaces (the ACTIVE deployment's), or follow the circuit breaker's own
    rollback. After a finished release: the revision the journal recorded before the live one,
    else the family's newest ACTIVE revision older than the live one."""
    from bluegreen.cli.live import Reporter
    from bluegreen.cli.release_common import load_rolling, load_target
    from bluegreen.engines.codedeploy.apply import follow
    from bluegreen.engines.codedeploy.ops import (
        find_deployment,
        follow_settings,
        redeploy_previous,
        stop,
    )
    from bluegreen.errors import UsageError
    from bluegreen.spec.load import parse_duration

    opts = options(ctx)
    from bluegreen.cli.release_common import load_native

    if load_native(opts) is not None:
        from bluegreen.cli import native

        native.rollback(opts, timeout)
        return
    rolling = load_rolling(opts)
    if rolling is not None:
        _rolling_rollback(opts, *rolling, timeout)
        return
    aws, spec, target, journal = load_target(opts)
    assert spec is not None
    reporter = Reporter(opts, verb="rollback")
    try:
        in_flight: str | None = find_deployment(aws, target, journal)
    except UsageError:
        in_flight = None
    if in_flight is not None:
        from bluegreen.engines.codedeploy.ops import is_active

        if not is_active(aws, in_flight):
            in_flight = None
    if in_flight is not None:
        reason = "rolled back by request"
        reporter.out.text(f"{in_flight} is in flight: stopping it with rollback")
        stop(aws, target, in_flight, journal, rollback=True, reason=reason)
        settings = follow_settings(aws, target, in_flight, spec, journal)
        settings.alarms, settings.checks = [], []
        settings.requested_stop = (True, reason)
    else:
        started = redeploy_previous(aws, spec, target, journal, reporter.notify)
        settings = follow_settings(aws, target, started.deployment_id, spec, journal)
        settings.task_definition_arn = started.task_definition_arn
    settings.timeout_seconds = parse_duration(timeout, "--timeout") if timeout else None
    outcome = follow(aws, settings, reporter.sink, journal)
    reporter.finish(outcome)


def _rolling_rollback(opts: Options, aws: Aws, spec: Spec, timeout: str | None) -> None:
    from bluegreen.cli.following import following
    from bluegreen.engines.rolling import rollout as rolling
    from bluegreen.engines.rolling.ops import rollback as rolling_rollback
    from bluegreen.journal import Journal, journal_path
    from bluegreen.spec.load import parse_duration

    limit = (
        parse_duration(timeout, "--timeout")
        if timeout
        else spec.timeout_seconds or rolling.DEFAULT_TIMEOUT
    )
    with following(opts, "rollback") as f:
        outcome = rolling_rollback(
            aws,
            spec,
            Journal(journal_path(spec.path)),
            f.out,
            timeout=limit,
            loop=f.loop(rolling.Loop),
        )
    f.finish(outcome)


def register(app: typer.Typer) -> None:
    app.command("rollback")(rollback)
