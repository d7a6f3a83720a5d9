"""`bluegreen history [--limit N]`: recent deployments from CodeDeploy and the local journal."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from bluegreen.cli.context import options

if TYPE_CHECKING:
    from bluegreen.aws.session import Aws
    from bluegreen.cli.context import Options
    from bluegreen.release.spec import Spec


def history(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="How many.")] = 10,
) -> None:
    """Who deployed what, when, and how it ended: CodeDeploy's deployments of the group merged
    with the journal (image digests, result). For a rolling (ECS-controller) service: the
    journal's rolling releases and the deployments ECS lists. JSON: one object per deployment."""
    from bluegreen.cli.release_common import load_rolling, load_target
    from bluegreen.release.operations import history as load_history

    opts = options(ctx)
    rolling = load_rolling(opts)
    if rolling is not None:
        _rolling_history(opts, *rolling, limit)
        return
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


def _rolling_history(opts: Options, aws: Aws, spec: Spec, limit: int) -> None:
    from bluegreen.release.journal import Journal, journal_path
    from bluegreen.release.rolling import revision
    from bluegreen.release.rolling_ops import history as rolling_history

    rows = rolling_history(aws, spec, Journal(journal_path(spec.path)), limit)
    out = opts.out()
    if opts.json:
        for row in rows:
            out.json({"event": "deployment", **row})
        return
    if not rows:
        out.text(f"no rolling releases of {spec.cluster}/{spec.service}")
        return
    for row in rows:
        head = (
            f"{row['deploymentId'] or '-'}  {row['status'] or '?':<10} {row['created'] or '':<32}"
        )
        out.text(f"{head} {row['who'] or ''}")
        prev = row.get("previousTaskDefinitionArn")
        change = f"{revision(prev)} -> " if prev else ""
        out.text(f"    task definition {change}{revision(row.get('taskDefinitionArn'))}")
        for name, ref in sorted((row.get("images") or {}).items()):
            out.text(f"    image {name}: {ref}")
        if row.get("rollbackOf"):
            out.text(f"    rollback of {row['rollbackOf']}")
        if row.get("result"):
            out.text(f"    {row['result']}")


def register(app: typer.Typer) -> None:
    app.command("history")(history)
