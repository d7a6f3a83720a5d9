"""`bluegreen status`: the live service, its task sets, and the current or last deployment."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import typer

from bluegreen.cli.context import options

if TYPE_CHECKING:
    from bluegreen.cli.context import Options


def status(ctx: typer.Context) -> None:
    """Show the service's task definition and task sets, and the current (or last) deployment
    with its lifecycle events and traffic weights. For a rolling (ECS-controller) service: task
    counts, deployments with their rollout state, the circuit breaker and the last events.
    Writes nothing."""
    from bluegreen.cli.release_common import load_rolling, load_target
    from bluegreen.engines.codedeploy.ops import status as load_status

    opts = options(ctx)
    from bluegreen.cli.release_common import load_native

    native = load_native(opts)
    if native is not None:
        from bluegreen.engines.ecs_native import ops

        data = ops.status(*native)
        show(opts, data, ops.status_lines(data))
        return
    rolling = load_rolling(opts)
    if rolling is not None:
        from bluegreen.engines.rolling.ops import status as rolling_status
        from bluegreen.engines.rolling.ops import status_lines

        data = rolling_status(*rolling)
        show(opts, data, status_lines(data))
        return
    aws, spec, target, _journal = load_target(opts)
    assert spec is not None
    data = load_status(aws, spec, target)
    out = opts.out()
    if opts.json:
        out.json({"event": "status", **data, "flags": flags(data)})
        return
    for line in flag_lines(flags(data)):
        out.text(line)
    out.text(f"service {data['cluster']}/{data['service']} ({data['deploymentController']})")
    out.text(f"  task definition {data['taskDefinitionArn']}")
    for ts in data["taskSets"]:
        scale = ts.get("scale") or {}
        out.text(
            f"  task set {ts['id']} {ts['status']} {ts['taskDefinitionArn']} "
            f"scale {scale.get('value', '?')}% running {ts.get('running')}/{ts.get('desired')}"
        )
    dep = data["deployment"]
    if dep is None:
        out.text("  no deployments yet")
        return
    state = "in flight" if dep["active"] else "last"
    out.text(f"{state} deployment {dep['deploymentId']}: {dep['status']}")
    for e in dep["lifecycle"]:
        out.text(f"  {e['name']:<24}{e['status']}")
    for t in dep["taskSets"]:
        out.text(
            f"  {t['label']:<6}{t['status']:<9} weight {t['weight']:g}% "
            f"running {t['running']}/{t['desired']} ({t['targetGroup']})"
        )
    if dep.get("error"):
        out.text(f"  error: {dep['error']}")


def show(opts: Options, data: Mapping[str, Any], lines: list[str]) -> None:
    """A status with its flags: the JSON object (`flags` added), or the flags' lines first and
    then `lines`."""
    found = flags(data)
    opts.out().emit(
        {"event": "status", **data, "flags": found}, "\n".join([*flag_lines(found), *lines])
    )


def flag_lines(found: list[dict[str, str]]) -> list[str]:
    """The flags as text, before anything else a status prints."""
    lines: list[str] = []
    for flag in found:
        lines.append(f"!! {flag['message']}")
        lines.append(f"   what to do: {flag['fix']}")
    return lines


def flags(data: Mapping[str, Any]) -> list[dict[str, str]]:
    """What a status must not let anyone miss, for every engine: production traffic split
    between two target groups (a half-shifted production: `split`), and what is left over from
    a deployment outside one (more task sets than the primary; more ECS deployments than the
    primary: `leftover`). Each flag: `kind`, `message`, `fix` (the commands to run)."""
    if "circuitBreaker" in data:
        return _rolling_flags(data)
    found: list[dict[str, str]] = []
    dep = data.get("deployment") or {}
    dep_id = str(dep.get("deploymentId") or "")
    active = bool(dep.get("active"))
    weights = data.get("productionListenerWeights") or data.get("productionRuleWeights") or {}
    for where, groups in weights.items():
        serving = {tg: w for tg, w in (groups or {}).items() if w}
        if len(serving) < 2:
            continue
        total = sum(serving.values())
        split = " / ".join(f"{_name(tg)} {100 * w / total:g} %" for tg, w in serving.items())
        if active:
            short = dep_id.rsplit("/", 1)[-1]
            fix = (
                f"deployment {short} is {dep.get('status')}: watch it (`bluegreen watch`), "
                "roll back (`bluegreen rollback`) or stop it (`bluegreen stop`)"
            )
        else:
            fix = (
                "no deployment is in flight: put production back on the previous revision "
                "with `bluegreen rollback`, or release again with `bluegreen deploy`"
            )
        found.append(
            {
                "kind": "split",
                "message": f"production traffic is split: {split} ({_name(where)})",
                "fix": fix,
            }
        )
    sets = data.get("taskSets") or []
    if not active and len(sets) > 1:
        extra = [str(ts.get("id")) for ts in sets if ts.get("status") != "PRIMARY"]
        found.append(
            {
                "kind": "leftover",
                "message": f"{len(sets)} task sets outside a deployment (only the PRIMARY one "
                f"should remain): {', '.join(extra)}",
                "fix": "once no listener forwards to them, delete them: `aws ecs "
                f"delete-task-set --cluster {data.get('cluster')} --service "
                f"{data.get('service')} --task-set ID`",
            }
        )
    return found


def _rolling_flags(data: Mapping[str, Any]) -> list[dict[str, str]]:
    from bluegreen.engines.model import revision

    deps = data.get("deployments") or []
    if len(deps) < 2:
        return []
    serving = ", ".join(
        f"{revision(d.get('taskDefinitionArn'))} {d.get('running')} running" for d in deps
    )
    if data.get("inFlight"):
        return [
            {
                "kind": "split",
                "message": f"a rollout is in flight: {len(deps)} revisions serve production "
                f"({serving})",
                "fix": "watch it (`bluegreen watch`), roll back (`bluegreen rollback`) or stop "
                "it (`bluegreen stop`)",
            }
        ]
    return [
        {
            "kind": "leftover",
            "message": f"{len(deps)} ECS deployments outside a rollout (only the PRIMARY one "
            f"should remain): {serving}",
            "fix": "a rollout ended without replacing every task: return to the previous "
            "revision with `bluegreen rollback`, or release again with `bluegreen deploy`",
        }
    ]


def _name(arn: str) -> str:
    """A target group's or listener's name from its ARN (`.../targetgroup/NAME/ID`)."""
    parts = str(arn).split("/")
    if "targetgroup" in str(arn) and len(parts) >= 3:
        return parts[-2]
    if ":listener-rule/" in str(arn):
        return f"rule {parts[-1]}"
    if ":listener/" in str(arn) and len(parts) >= 4:
        return f"listener {parts[-3]}:{parts[-1]}"
    return str(arn)


def register(app: typer.Typer) -> None:
    app.command("status")(status)
