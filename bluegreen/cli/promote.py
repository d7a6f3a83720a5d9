"""`bluegreen promote --from ENV --to ENV`: release to one environment exactly the image
digests live in another."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from bluegreen.cli.context import options
from bluegreen.cli.options import DryRunOpt, NoWaitOpt, RollbackOpt, WaitForWindowOpt

if TYPE_CHECKING:
    from bluegreen.cli.multi import Sessions


def promote(
    ctx: typer.Context,
    source: Annotated[
        str, typer.Option("--from", help="Environment whose live images are promoted.")
    ],
    target: Annotated[str, typer.Option("--to", help="Environment released with them.")],
    dry_run: DryRunOpt = False,
    no_wait: NoWaitOpt = False,
    timeout: Annotated[
        str | None, typer.Option("--timeout", help="Release timeout (90s, 30m, 1h).")
    ] = None,
    rollback: RollbackOpt = False,
    wait_for_window: WaitForWindowOpt = False,
) -> None:
    """Read the task definition live in the --from environment's service, map each container
    to its image digest, and deploy the --to environment with exactly those (same release path
    as `deploy`). Refused while the source is mid-deployment, or when a source image has no
    digest that can be resolved. Exit codes as for `deploy`.
    """
    from bluegreen.cli.live import Reporter, cancel_on_signals
    from bluegreen.cli.multi import Stamped, aws_for
    from bluegreen.engines.codedeploy.follow import CancelFlag
    from bluegreen.engines.rolling.rollout import Loop
    from bluegreen.release.fanout import ReleaseRequest, gate_window
    from bluegreen.release.promote import promote as run_promote
    from bluegreen.spec.load import load_spec, parse_duration

    opts = options(ctx)
    source_spec = load_spec(opts.config, source)
    target_spec = load_spec(opts.config, target)
    request = ReleaseRequest(
        timeout_seconds=parse_duration(timeout, "--timeout") if timeout else None,
        dry_run=dry_run,
        wait=not no_wait,
        rollback=rollback,
    )
    out = Stamped(opts.out())
    if not dry_run:
        gate_window(target_spec, out, wait=wait_for_window)
    sessions: Sessions = {}  # one AWS session per region and role
    source_aws = aws_for(opts, source_spec, sessions)
    target_aws = aws_for(opts, target_spec, sessions)
    reporter = Reporter(opts, verb="promote")
    cancel = CancelFlag()
    loop = Loop(sleep=cancel.sleep, cancelled=lambda: cancel.is_set)
    with cancel_on_signals(cancel):
        outcome = run_promote(
            source_spec, target_spec, source_aws, target_aws, out, request, loop=loop, cancel=cancel
        )
    reporter.finish(outcome)


def register(app: typer.Typer) -> None:
    app.command("promote")(promote)
