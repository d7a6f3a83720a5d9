"""`bluegreen validate`: schema and semantic checks of the spec and its templates."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from bluegreen.cli.context import options
from bluegreen.cli.options import ImageOpt, OfflineOpt, VarOpt, VarsFileOpt

if TYPE_CHECKING:
    from bluegreen.release.render import Rendered
    from bluegreen.release.spec import Spec


def validate(
    ctx: typer.Context,
    image: ImageOpt = None,
    var: VarOpt = None,
    vars_file: VarsFileOpt = None,
    offline: OfflineOpt = False,
) -> None:
    """Check the spec file and its templates: schema, unknown keys, durations, template
    rendering, the task definition and AppSpec schemas, image references (and their tags in
    ECR), container names, the load balancer's container port, Fargate cpu/memory sizes,
    essential containers, hook names. Lists every problem found and exits 2 when there are
    any. Reads AWS (live service, ECR) unless --offline; never writes.
    """
    from bluegreen.cli.render import load, parse_flags, render_spec
    from bluegreen.errors import UsageError
    from bluegreen.release import flatten, raise_problems

    opts = options(ctx)
    out = opts.out()
    flags = parse_flags(image, var)
    problems: list[Any] = list(flags.problems)
    try:
        spec = load(opts)
    except UsageError as exc:
        raise_problems([*problems, *flatten(exc)], subject=str(opts.config))
        raise  # pragma: no cover - raise_problems raised
    try:
        rendered = render_spec(opts, spec, flags, vars_file, offline) if not problems else None
    except UsageError as exc:
        problems += flatten(exc)
        rendered = None
    if problems or rendered is None:
        raise_problems(problems, subject=spec.display)
        return  # pragma: no cover - raise_problems raised
    for notice in rendered.notices:
        out.warn(notice)
    checks = findings(spec, rendered, vars_file, offline)
    if opts.json:
        out.json({"valid": True, "spec": spec.display, "env": spec.env, "checks": checks})
        return
    for check in checks:
        out.text(f"ok  {check}")


def findings(
    spec: Spec, rendered: Rendered, vars_files: list[Path] | None, offline: bool
) -> list[str]:
    from bluegreen.release.spec import display_path

    td = rendered.task_definition
    containers = [c.get("name") for c in td.get("containerDefinitions", [])]
    pinned = [c for c, ref in rendered.images.items() if "@" in ref]
    env = f" (environment {spec.env})" if spec.env else ""
    out = [
        f"spec {spec.display}{env}: cluster {spec.cluster}, service {spec.service}",
        f"task definition {display_path(spec.task_definition)}: family {td.get('family')}, "
        f"{len(containers)} container(s): {', '.join(str(c) for c in containers)}",
        f"images: {len(rendered.images)} container image(s), {len(pinned)} pinned by digest"
        + (" (offline: ECR tags not resolved)" if offline else ""),
    ]
    props: dict[str, Any] = {}
    if rendered.appspec:
        props = rendered.appspec["Resources"][0]["TargetService"]["Properties"]
        lb = props["LoadBalancerInfo"]
        out.append(
            f"load balancer: container {lb['ContainerName']} port {lb['ContainerPort']} "
            "is in its portMappings"
        )
    if "FARGATE" in (td.get("requiresCompatibilities") or []):
        out.append(f"fargate: cpu {td.get('cpu')} / memory {td.get('memory')} is a valid size")
    if props:
        hooks = [next(iter(h)) for h in rendered.appspec.get("Hooks", [])]
        name = display_path(spec.appspec) if spec.appspec else "default AppSpec template"
        out.append(
            f"appspec {name}: TaskDefinition {props['TaskDefinition']}, "
            + (f"hooks {', '.join(hooks)}" if hooks else "no hooks")
        )
    out.append(
        f"codedeploy: application {spec.codedeploy.application}, group "
        f"{spec.codedeploy.deployment_group}, config "
        f"{spec.codedeploy.deployment_config or '(the group default)'}"
    )
    for path in vars_files or []:
        out.append(f"vars file {display_path(Path(path))}")
    return out


def register(app: typer.Typer) -> None:
    app.command("validate")(validate)
