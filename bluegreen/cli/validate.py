"""`bluegreen validate`: schema and semantic checks of the spec and its templates."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from bluegreen.cli.context import options
from bluegreen.cli.options import ConfigsOpt, ImageOpt, OfflineOpt, VarOpt, VarsFileOpt

if TYPE_CHECKING:
    from bluegreen.cli.context import Options
    from bluegreen.cli.multi import Sessions
    from bluegreen.cli.render import Flags
    from bluegreen.errors import BluegreenError
    from bluegreen.render.release import Rendered
    from bluegreen.spec.model import Spec


def validate(
    ctx: typer.Context,
    image: ImageOpt = None,
    var: VarOpt = None,
    vars_file: VarsFileOpt = None,
    offline: OfflineOpt = False,
    config: ConfigsOpt = None,
) -> None:
    """Check the spec file and its templates: schema, unknown keys, durations, template
    rendering, the task definition and AppSpec schemas, image references (and their tags in
    ECR), container names, the load balancer's container port, Fargate cpu/memory sizes,
    essential containers, hook names. Lists every problem found and exits 2 when there are
    any. Reads AWS (live service, ECR) unless --offline; never writes.

    With several specs (-c repeated, or a folder) every spec is checked in this one process,
    each problem names its file, and the exit is 2 when any spec has one.
    """
    from bluegreen.cli.render import parse_flags
    from bluegreen.errors import UsageError, flatten, raise_problems
    from bluegreen.release.fanout import spec_files

    opts = options(ctx)
    flags = parse_flags(image, var)
    paths = list(config or [opts.config])
    if len(paths) == 1 and not paths[0].is_dir():
        _validate_one(opts, paths[0], flags, vars_file, offline)
        return
    try:
        files = spec_files(paths)
    except UsageError as exc:
        raise_problems([*flags.problems, *flatten(exc)], subject=", ".join(map(str, paths)))
        raise  # pragma: no cover - raise_problems raised
    _validate_many(opts, files, flags, vars_file, offline)


def _checked(
    opts: Options,
    path: Path,
    flags: Flags,
    vars_file: list[Path] | None,
    offline: bool,
    sessions: Sessions | None = None,
) -> tuple[Spec | None, Rendered | None, list[BluegreenError]]:
    """(spec, rendered, problems) for one spec file: every problem found, none raised. With
    `sessions`, AWS is read through one session per region (specs may live in several)."""
    from bluegreen.cli.render import load, render_spec
    from bluegreen.errors import UsageError, flatten

    problems: list[BluegreenError] = list(flags.problems)
    try:
        spec = load(opts, path)
    except UsageError as exc:
        return None, None, [*problems, *flatten(exc)]
    if problems:
        return spec, None, problems
    aws = None
    if sessions is not None and not offline:
        from bluegreen.cli.multi import aws_for

        aws = aws_for(opts, spec, sessions)
    try:
        return spec, render_spec(opts, spec, flags, vars_file, offline, aws), []
    except UsageError as exc:
        return spec, None, flatten(exc)


def _validate_one(
    opts: Options, path: Path, flags: Flags, vars_file: list[Path] | None, offline: bool
) -> None:
    from bluegreen.errors import raise_problems

    out = opts.out()
    spec, rendered, problems = _checked(opts, path, flags, vars_file, offline)
    if spec is None or rendered is None:
        raise_problems(problems, subject=spec.display if spec else str(path))
        return  # pragma: no cover - raise_problems raised
    for notice in rendered.notices:
        out.warn(notice)
    checks = findings(spec, rendered, vars_file, offline)
    if opts.json:
        out.json({"valid": True, "spec": spec.display, "env": spec.env, "checks": checks})
        return
    for check in checks:
        out.text(f"ok  {check}")


def _validate_many(
    opts: Options, files: list[Path], flags: Flags, vars_file: list[Path] | None, offline: bool
) -> None:
    """A line per valid spec as it is checked, then every problem of every spec (exit 2) or
    the count of valid specs."""
    from bluegreen.errors import raise_problems
    from bluegreen.spec.yaml import display_path

    out = opts.out()
    raise_problems(flags.problems, subject="--image/--var")  # the same for every spec: once
    problems: list[BluegreenError] = []
    notices: list[str] = []  # a notice a spec (offline tags, say) is noise when listed 1,000 times
    sessions: Sessions = {}
    invalid = 0
    for path in files:
        spec, rendered, found = _checked(opts, path, flags, vars_file, offline, sessions)
        if spec is None or rendered is None:
            invalid += 1
            problems += found
            continue
        notices += [f"{spec.display}: {notice}" for notice in rendered.notices]
        checks = findings(spec, rendered, vars_file, offline)
        if opts.json:
            out.json(
                {
                    "valid": True,
                    "spec": spec.display,
                    "env": spec.env,
                    "checks": checks,
                    "notices": rendered.notices,
                }
            )
        else:
            out.text(f"ok  {display_path(path)}: {spec.cluster}/{spec.service}")
    if opts.verbose or len(notices) <= 3:
        for notice in notices:
            out.warn(notice)
    else:
        out.warn(f"{len(notices)} notices, the first: {notices[0]} (-v lists every one)")
    valid = len(files) - invalid
    summary = f"{len(files)} specs: {valid} valid, {invalid} with problems"
    if problems:
        out.text(summary)
        raise_problems(problems, subject=f"{invalid} of {len(files)} specs")
    out.emit({"valid": True, "specs": len(files)}, summary)


def findings(
    spec: Spec, rendered: Rendered, vars_files: list[Path] | None, offline: bool
) -> list[str]:
    from bluegreen.spec.yaml import display_path

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
