"""`bluegreen history [--limit N]`: recent deployments from CodeDeploy and the local journal."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

import typer

from bluegreen.cli.context import options

if TYPE_CHECKING:
    from bluegreen.aws.session import Aws
    from bluegreen.cli.context import Options
    from bluegreen.spec.model import Spec


def history(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="How many.")] = 10,
) -> None:
    """Who deployed what, when, and how it ended: CodeDeploy's deployments of the group merged
    with the journal (image digests, result). For a rolling (ECS-controller) service: the
    journal's rolling releases and the deployments ECS lists. JSON: one object per deployment."""
    from bluegreen.cli.release_common import load_rolling, load_target
    from bluegreen.engines.codedeploy.ops import history as load_history

    opts = options(ctx)
    from bluegreen.cli.release_common import load_native

    if load_native(opts) is not None:
        from bluegreen.cli import native

        _print_rows(
            opts,
            native.history(opts, limit),
            "no service deployments",
            "-",
            _native_lines,
        )
        return
    rolling = load_rolling(opts)
    if rolling is not None:
        _rolling_history(opts, *rolling, limit)
        return
    aws, _spec, target, journal = load_target(opts)
    rows = load_history(aws, target, journal, limit)
    none = f"no deployments on {target.application}/{target.group_name}"
    _print_rows(opts, rows, none, "", _codedeploy_lines)


def _native_lines(row: dict[str, Any]) -> list[str]:
    """The text lines under an ECS-native service deployment's head line."""
    prev = row.get("previousTaskDefinitionArn")
    lines = [f"task definition {prev + ' -> ' if prev else ''}{row.get('taskDefinitionArn')}"]
    lines += _images_and_origin(row)
    if row.get("result"):
        lines.append(str(row["result"]))
    return lines


def _codedeploy_lines(row: dict[str, Any]) -> list[str]:
    """The text lines under a CodeDeploy deployment's head line."""
    lines = []
    if row.get("taskDefinitionArn"):
        lines.append(f"task definition {row['taskDefinitionArn']}")
    lines += _images_and_origin(row)
    if row.get("rollbackDeploymentId"):
        lines.append(f"rolled back by {row['rollbackDeploymentId']}")
    if row.get("error"):
        lines.append(f"error: {row['error']}")
    return lines


def _rolling_history(opts: Options, aws: Aws, spec: Spec, limit: int) -> None:
    from bluegreen.engines.model import revision
    from bluegreen.engines.rolling.ops import history as rolling_history
    from bluegreen.journal import Journal, journal_path

    def lines(row: dict[str, Any]) -> list[str]:
        prev = row.get("previousTaskDefinitionArn")
        change = f"{revision(prev)} -> " if prev else ""
        out = [f"task definition {change}{revision(row.get('taskDefinitionArn'))}"]
        out += _images_and_origin(row)
        if row.get("result"):
            out.append(f"{row['result']}")
        return out

    rows = rolling_history(aws, spec, Journal(journal_path(spec.path)), limit)
    _print_rows(opts, rows, f"no rolling releases of {spec.cluster}/{spec.service}", "-", lines)


def _images_and_origin(row: dict[str, Any]) -> list[str]:
    """The image lines of a row, then the deployment it rolled back, if any."""
    lines = [f"image {name}: {ref}" for name, ref in sorted((row.get("images") or {}).items())]
    if row.get("rollbackOf"):
        lines.append(f"rollback of {row['rollbackOf']}")
    return lines


def _print_rows(
    opts: Options,
    rows: list[dict[str, Any]],
    none: str,
    no_id: str,
    lines: Callable[[dict[str, Any]], list[str]],
) -> None:
    """History rows as JSON objects, or as text: `none` when there are none, else per row a head
    line (id, or `no_id` without one; status; creation time; who) and its `lines`, indented."""
    out = opts.out()
    rows = [with_times(row) for row in rows]
    if opts.json:
        for row in rows:
            out.json({"event": "deployment", **row})
        return
    if not rows:
        out.text(none)
        return
    for row in rows:
        created = moment(row.get("created"))
        when = local_time(created) if created is not None else ""
        took = row.get("durationSeconds")
        span = f" (took {duration(took)})" if took is not None else ""
        head = f"{row['deploymentId'] or no_id}  {row['status'] or '?':<10} {when}{span}"
        out.text(f"{head}  {row['who'] or ''}".rstrip())
        config = row.get("deploymentConfig") or row.get("strategy")
        for line in ([f"config {config}"] if config else []) + lines(row):
            out.text(f"    {line}")


def moment(value: Any) -> dt.datetime | None:
    """A time as history rows carry it (a datetime, an ISO string, epoch seconds) as an aware
    datetime (a naive one is UTC); None when there is none."""
    if isinstance(value, dt.datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return dt.datetime.fromtimestamp(float(value), dt.UTC)
    if isinstance(value, str) and value:
        try:
            found = dt.datetime.fromisoformat(value)
        except ValueError:
            return None
        return found if found.tzinfo is not None else found.replace(tzinfo=dt.UTC)
    return None


def with_times(row: dict[str, Any]) -> dict[str, Any]:
    """The row with `created` and `completed` as UTC ISO timestamps and `durationSeconds`
    (None while it runs or when a time is unknown)."""
    created, completed = moment(row.get("created")), moment(row.get("completed"))
    row = dict(row)
    for key, value in (("created", created), ("completed", completed)):
        if value is not None:
            row[key] = value.astimezone(dt.UTC).isoformat()
    took = (completed - created).total_seconds() if created and completed else None
    row["durationSeconds"] = round(took, 3) if took is not None else None
    return row


def local_time(value: dt.datetime) -> str:
    """`2026-12-01 14:05:03 +01:00`: the time in the user's local zone."""
    local = value.astimezone()
    offset = local.strftime("%z")
    return f"{local:%Y-%m-%d %H:%M:%S} {offset[:3]}:{offset[3:]}"


def duration(seconds: float) -> str:
    s = max(0, round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


def register(app: typer.Typer) -> None:
    app.command("history")(history)
