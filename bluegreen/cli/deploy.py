"""`bluegreen deploy`: the release, with the traffic shift watched and automatic rollback."""

from __future__ import annotations

from typing import Annotated

import typer

from bluegreen.cli.context import options
from bluegreen.cli.options import (
    ConfigsOpt,
    DryRunOpt,
    ImageOpt,
    NoWaitOpt,
    RollbackOpt,
    VarOpt,
    VarsFileOpt,
    WaitForWindowOpt,
)


def deploy(
    ctx: typer.Context,
    image: ImageOpt = None,
    var: VarOpt = None,
    vars_file: VarsFileOpt = None,
    deployment_config: Annotated[
        str | None,
        typer.Option(
            "--deployment-config",
            help="CodeDeploy config name, or all-at-once | canary:P%/Nm | linear:P%/Nm.",
        ),
    ] = None,
    dry_run: DryRunOpt = False,
    no_wait: NoWaitOpt = False,
    timeout: Annotated[
        str | None,
        typer.Option(
            "--timeout",
            help="Stop and roll back after this long (90s, 30m, 1h). "
            "Default: the group's waits + the config's duration + 10m, 30m..6h.",
        ),
    ] = None,
    verify: Annotated[
        str | None,
        typer.Option(
            "--verify",
            help="Command run (no shell) when test traffic reaches green; failure rolls back. "
            "Gets BLUEGREEN_TEST_URL and BLUEGREEN_DEPLOYMENT_ID. CodeDeploy: the group must "
            "wait before rerouting (STOP_DEPLOYMENT), else the deploy is refused (exit 2).",
        ),
    ] = None,
    on_cancel: Annotated[
        str | None,
        typer.Option(
            "--on-cancel",
            help="On SIGINT/SIGTERM: rollback (default without a TTY) or detach.",
        ),
    ] = None,
    queue: Annotated[
        bool, typer.Option("--queue", help="Wait for an active deployment to end first.")
    ] = False,
    config: ConfigsOpt = None,
    max_parallel: Annotated[
        int, typer.Option("--max-parallel", help="Releases at a time with several specs.")
    ] = 4,
    rollback: RollbackOpt = False,
    tag_as: Annotated[
        str | None,
        typer.Option(
            "--tag-as",
            metavar="TAG",
            help="Before registering, add TAG in ECR to the exact image (digest) of every ECR "
            "image of the release (no pull/push; other registries are skipped with a notice). "
            "TAG may be git-sha: the full SHA of HEAD of the spec's checkout (exit 2 outside a "
            "checkout; uncommitted changes are allowed and noted). A TAG naming another image "
            "is exit 2 before any write. --dry-run only lists it.",
        ),
    ] = None,
    wait_for_window: WaitForWindowOpt = False,
    wait_until: Annotated[
        str | None,
        typer.Option(
            "--wait-until",
            metavar="STAGE",
            help="Return exit 0 once the deployment reaches STAGE, leaving it running "
            "(`bluegreen watch` follows it later): an ECS lifecycle stage such as "
            "POST_TEST_TRAFFIC_SHIFT, a CodeDeploy lifecycle event such as "
            "AfterAllowTestTraffic, or `paused` (a PAUSE hook, or CodeDeploy's ready wait, "
            "awaits action).",
        ),
    ] = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="CodeDeploy: release even when the service already runs exactly this "
            "revision (else that is skipped with a notice, exit 0).",
        ),
    ] = False,
) -> None:
    """Release the spec's service, the strategy chosen by its deployment controller.

    CODE_DEPLOY: preflight everything, register the task definition (reused when unchanged),
    start a CodeDeploy blue/green deployment and watch the traffic shift until it ends. Alarms,
    metric checks, --verify, --timeout and Ctrl-C stop it and roll back. ECS: a rolling update.
    Exit 0 succeeded, 1 failed or rolled back, 2 bad input, 3 timed out, 130 cancelled.
    """
    from bluegreen.cli import multi

    opts = options(ctx)
    request = multi.request_from_flags(
        image=image,
        var=var,
        vars_file=vars_file,
        deployment_config=deployment_config,
        dry_run=dry_run,
        no_wait=no_wait,
        timeout=timeout,
        verify=verify,
        queue=queue,
        rollback=rollback,
        on_cancel=on_cancel,
        tag_as=tag_as,
        wait_until=wait_until,
        force=force,
    )
    multi.release(
        opts,
        configs=config,
        request=request,
        max_parallel=max_parallel,
        wait_for_window=wait_for_window,
    )


def register(app: typer.Typer) -> None:
    app.command("deploy")(deploy)
