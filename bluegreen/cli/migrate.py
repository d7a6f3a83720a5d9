"""`bluegreen migrate --to ecs`: move the spec's CODE_DEPLOY service onto ECS-native blue/green."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from bluegreen.cli.context import options
from bluegreen.cli.options import ConfigsOpt

if TYPE_CHECKING:
    from bluegreen.cli.context import Options
    from bluegreen.cli.multi import Sessions
    from bluegreen.release.migrate import MigrateRequest


def migrate(
    ctx: typer.Context,
    to: Annotated[str, typer.Option("--to", help="The engine to move to: ecs.")],
    role_arn: Annotated[
        str | None,
        typer.Option(
            "--role-arn",
            help="The infrastructure role for load balancers (trusting ecs.amazonaws.com); "
            "default: create ecsInfrastructureRole-<cluster>-<service>.",
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the plan; write nothing.")
    ] = False,
    delete_codedeploy: Annotated[
        bool,
        typer.Option(
            "--delete-codedeploy",
            help="Delete the CodeDeploy deployment group (and the application once it has "
            "no group) after the switch.",
        ),
    ] = False,
    drop_hooks: Annotated[
        bool,
        typer.Option(
            "--drop-hooks",
            help="Migrate although the spec's CodeDeploy hooks cannot be carried over.",
        ),
    ] = False,
    config: ConfigsOpt = None,
) -> None:
    """Move the spec's CODE_DEPLOY service onto ECS-native blue/green in place, reusing its
    target groups and listeners: production and test listener rules forwarding to both target
    groups, the infrastructure role, then one UpdateService (controller ECS, the strategy
    derived from the deployment group's config, bake time, alarms, advancedConfiguration).
    Production stays on the same target group throughout. A rerun continues where a failed
    run stopped. Exit 0 migrated (or dry run), 2 refused (nothing changed), 4 AWS error.

    Several specs (-c repeated, or a folder): every service is planned and checked first, and
    nothing is written unless all of them can be migrated; then they are migrated one after
    another (a failure stops there, and a rerun continues).
    """
    from bluegreen.errors import UsageError
    from bluegreen.release.migrate import MigrateRequest
    from bluegreen.release.migrate import migrate as run_migrate
    from bluegreen.spec.load import load_spec

    if to.lower() != "ecs":
        raise UsageError(
            f"--to {to!r}: migrate moves services onto ECS-native blue/green only",
            where="--to",
            hint="use --to ecs",
        )
    opts = options(ctx)
    request = MigrateRequest(
        role_arn=role_arn,
        dry_run=dry_run,
        delete_codedeploy=delete_codedeploy,
        drop_hooks=drop_hooks,
    )
    if not config:
        spec = load_spec(opts.config, opts.env)
        run_migrate(spec, opts.aws(spec.region, spec), opts.out(), request)
        return
    _several(opts, config, request)


def _several(opts: Options, paths: list[Path], request: MigrateRequest) -> None:
    """Plan every spec's migration (no writes) and refuse them all together when any cannot
    be migrated; then migrate them in turn."""
    from bluegreen.cli.multi import aws_for
    from bluegreen.errors import BluegreenError, UsageError, flatten, raise_problems
    from bluegreen.release.fanout import collect_specs
    from bluegreen.release.migrate import migrate as run_migrate
    from bluegreen.release.migrate import plan_migration

    specs = collect_specs(paths, opts.env)
    if len(specs) > 1 and request.role_arn is not None:
        raise UsageError(
            "--role-arn names one service's infrastructure role; with several specs each "
            "service gets the role migrate creates for it",
            where="--role-arn",
            hint="migrate the services one at a time with --role-arn, or drop it",
        )
    cache: Sessions = {}
    problems: list[BluegreenError] = []
    for spec in specs:
        try:
            plan_migration(spec, aws_for(opts, spec, cache), request)
        except BluegreenError as exc:
            problems += flatten(exc)
    raise_problems(problems, subject=f"the migration of {len(specs)} services")
    for spec in specs:
        run_migrate(spec, aws_for(opts, spec, cache), opts.out(), request)


def register(app: typer.Typer) -> None:
    app.command("migrate")(migrate)
