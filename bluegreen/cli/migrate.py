"""`bluegreen migrate --to ecs`: move the spec's CODE_DEPLOY service onto ECS-native blue/green."""

from __future__ import annotations

from typing import Annotated

import typer

from bluegreen.cli.context import options


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
) -> None:
    """Move the spec's CODE_DEPLOY service onto ECS-native blue/green in place, reusing its
    target groups and listeners: production and test listener rules forwarding to both target
    groups, the infrastructure role, then one UpdateService (controller ECS, the strategy
    derived from the deployment group's config, bake time, alarms, advancedConfiguration).
    Production stays on the same target group throughout. A rerun continues where a failed
    run stopped. Exit 0 migrated (or dry run), 2 refused (nothing changed), 4 AWS error.
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
    spec = load_spec(opts.config, opts.env)
    request = MigrateRequest(
        role_arn=role_arn,
        dry_run=dry_run,
        delete_codedeploy=delete_codedeploy,
        drop_hooks=drop_hooks,
    )
    run_migrate(spec, opts.aws(spec.region), opts.out(), request)


def register(app: typer.Typer) -> None:
    app.command("migrate")(migrate)
