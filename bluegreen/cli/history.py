"""`bluegreen history [--limit N]`: recent deployments from CodeDeploy and the local journal."""

from __future__ import annotations

from typing import Annotated

import typer

from bluegreen.cli.context import options


def history(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="How many.")] = 10,
) -> None:
    """Who deployed what, when, and how it ended: CodeDeploy's deployments of the group merged
    with the journal (image digests, result). JSON: one object per deployment."""
    from bluegreen.cli.release_common import load_target
    from bluegreen.release.operations import history as load_history

    opts = options(ctx)
    aws, _spec, target, journal = load_target(opts)
    rows = load_history(aws, target, journal, limit)
    out = opts.out()
    if opts.json:
        for row in rows:
            out.json({"event": "deployment", **row})
        return
    if not rows:
        out.text(f"no deployments on {target.application}/{target.group_name}")
        return
    for row in rows:
        head = f"{row['deploymentId']}  {row['status'] or '?':<10} {row['created'] or '':<32}"
        out.text(f"{head} {row['who'] or ''}")
        if row.get("taskDefinitionArn"):
            out.text(f"    task definition {row['taskDefinitionArn']}")
        for name, ref in sorted((row.get("images") or {}).items()):
            out.text(f"    image {name}: {ref}")
        if row.get("rollbackOf"):
            out.text(f"    rollback of {row['rollbackOf']}")
        if row.get("rollbackDeploymentId"):
            out.text(f"    rolled back by {row['rollbackDeploymentId']}")
        if row.get("error"):
            out.text(f"    error: {row['error']}")


def register(app: typer.Typer) -> None:
    app.command("history")(history)
