"""`bluegreen cleanup`: deregister old task-definition revisions, never live or rollback ones."""

from __future__ import annotations

from typing import Annotated

import typer

from bluegreen.cli.context import options


def cleanup(
    ctx: typer.Context,
    keep: Annotated[
        int, typer.Option("--keep", help="How many of the newest ACTIVE revisions to keep.")
    ],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would happen; change nothing.")
    ] = False,
    delete: Annotated[
        bool,
        typer.Option("--delete", help="Also delete INACTIVE revisions (DeleteTaskDefinitions)."),
    ] = False,
) -> None:
    """Deregister ACTIVE revisions of the spec's task-definition family beyond the newest N.

    Never touches a revision that a service of the cluster runs (task definition,
    deployments, task sets), the rollback target (the revision before the service's current
    one), or one an in-flight CodeDeploy deployment names. --delete also deletes the
    deregistered and other unused INACTIVE revisions.
    """
    from bluegreen.release.cleanup import plan_cleanup, run_cleanup, short
    from bluegreen.spec.load import load_spec

    opts = options(ctx)
    out = opts.out()
    if keep < 1:  # bad input: exit 2 before reading anything
        plan_cleanup("", active=[], inactive=[], keep=keep, in_use={}, current=None, delete=False)
    spec = load_spec(opts.config, opts.env)
    result = run_cleanup(
        opts.aws(spec.region, spec), spec, keep=keep, dry_run=dry_run, delete=delete
    )
    plan = result.plan
    would = "would " if dry_run else ""
    out.text(
        f"{plan.family}: keeping the newest {len(plan.keep)}: "
        + (", ".join(short(a) for a in plan.keep) or "(none)")
    )
    for arn, reasons in plan.protected.items():
        out.text(f"keep {short(arn)}: {'; '.join(reasons)}")
    for arn in plan.deregister:
        out.text(f"{would}deregister {short(arn)}")
    for arn in plan.delete:
        out.text(f"{would}delete {short(arn)}")
    for arn, reason in result.delete_failures.items():
        out.warn(f"ECS did not delete {short(arn)}: {reason}")
    if not plan.deregister and not plan.delete:
        out.text("nothing to clean up")
    out.json(
        {
            "event": "result",
            "family": plan.family,
            "dryRun": dry_run,
            "kept": plan.keep,
            "protected": [{"arn": a, "reasons": r} for a, r in plan.protected.items()],
            "deregister": plan.deregister,
            "delete": plan.delete,
            "deregistered": result.deregistered,
            "deleted": result.deleted,
            "deleteFailures": result.delete_failures,
        }
    )


def register(app: typer.Typer) -> None:
    app.command("cleanup")(cleanup)
