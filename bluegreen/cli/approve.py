"""`bluegreen approve [ID] [--terminate-now]`: let a waiting deployment continue."""

from __future__ import annotations

from typing import Annotated

import typer

from bluegreen.cli.context import options


def approve(
    ctx: typer.Context,
    deployment_id: Annotated[
        str | None, typer.Argument(help="Deployment id. Default: the group's active deployment.")
    ] = None,
    terminate_now: Annotated[
        bool,
        typer.Option(
            "--terminate-now",
            help="End the termination wait now (TERMINATION_WAIT) instead of the ready wait.",
        ),
    ] = False,
) -> None:
    """ContinueDeployment: reroute production traffic for a group that waits in Ready
    (STOP_DEPLOYMENT), or with --terminate-now end the wait before the original task set is
    terminated."""
    from bluegreen.cli.release_common import engine_kind, load_engine, load_target
    from bluegreen.engines import EngineKind, pick
    from bluegreen.engines.codedeploy.ops import approve as approve_deployment
    from bluegreen.engines.codedeploy.ops import find_deployment

    opts = options(ctx)
    # CodeDeploy deployments wait for approval (a ready wait or a termination wait), ECS-native
    # ones at a PAUSE lifecycle hook
    kind = engine_kind(load_engine(opts))
    if pick({EngineKind.CODEDEPLOY: False, EngineKind.ECS_NATIVE: True}, kind, "approve"):
        from bluegreen.cli import native

        native.approve(opts, deployment_id)
        return
    aws, _spec, target, journal = load_target(opts, deployment_id)
    dep = deployment_id or find_deployment(
        aws,
        target,
        journal,
        hint="nothing waits for approval; start a release with `bluegreen deploy`",
    )
    wait = approve_deployment(aws, target, dep, journal, terminate_now=terminate_now)
    opts.out().emit(
        {"event": "approved", "deploymentId": dep, "waitType": wait},
        f"approved {dep} ({wait}); follow it with `bluegreen watch {dep}`",
    )


def register(app: typer.Typer) -> None:
    app.command("approve")(approve)
