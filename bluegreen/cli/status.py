"""`bluegreen status`: the live service, its task sets, and the current or last deployment."""

from __future__ import annotations

import typer

from bluegreen.cli.context import options


def status(ctx: typer.Context) -> None:
    """Show the service's task definition and task sets, and the current (or last) deployment
    with its lifecycle events and traffic weights. For a rolling (ECS-controller) service: task
    counts, deployments with their rollout state, the circuit breaker and the last events.
    Writes nothing."""
    from bluegreen.cli.release_common import load_rolling, load_target
    from bluegreen.engines.codedeploy.ops import status as load_status

    opts = options(ctx)
    from bluegreen.cli.release_common import load_native

    if load_native(opts) is not None:
        from bluegreen.cli import native

        native.status(opts)
        return
    rolling = load_rolling(opts)
    if rolling is not None:
        from bluegreen.engines.rolling.ops import status as rolling_status
        from bluegreen.engines.rolling.ops import status_lines

        data = rolling_status(*rolling)
        opts.out().emit({"event": "status", **data}, "\n".join(status_lines(data)))
        return
    aws, spec, target, _journal = load_target(opts)
    assert spec is not None
    data = load_status(aws, spec, target)
    out = opts.out()
    if opts.json:
        out.json({"event": "status", **data})
        return
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


def register(app: typer.Typer) -> None:
    app.command("status")(status)
