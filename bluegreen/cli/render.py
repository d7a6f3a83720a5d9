"""`bluegreen render`: print the task definition and AppSpec a release would send."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from bluegreen.cli.context import Options, options
from bluegreen.cli.options import ImageOpt, OfflineOpt, VarOpt, VarsFileOpt

if TYPE_CHECKING:
    from bluegreen.aws.session import Aws
    from bluegreen.render.release import Rendered
    from bluegreen.spec.model import Spec


@dataclass
class Flags:
    images: dict[str, str] = field(default_factory=dict)
    variables: dict[str, str] = field(default_factory=dict)
    problems: list[Any] = field(default_factory=list)  # UsageErrors, reported together


# How a malformed --var argument is named: its value may be a secret.
_HIDDEN_ARGUMENT = "an argument (not shown: it may hold a secret)"


def parse_flags(image: list[str] | None, var: list[str] | None) -> Flags:
    """`--image C=REF` / `--var K=V` -> mappings; malformed or repeated ones are problems."""
    from bluegreen.errors import UsageError

    flags = Flags()
    for flag, values, into in (("--image", image, flags.images), ("--var", var, flags.variables)):
        example = (
            "--image web=123456789012.dkr.ecr.us-east-1.amazonaws.com/web:1.2"
            if (flag == "--image")
            else "--var log_level=debug"
        )
        for value in values or []:
            key, sep, val = value.partition("=")
            key = key.strip()
            if not sep or not key:
                # a --var's value may be a secret: its argument is never quoted
                shown = repr(value) if flag == "--image" else _HIDDEN_ARGUMENT
                flags.problems.append(
                    UsageError(f"{shown} is not NAME=VALUE", where=flag, hint=f"e.g. {example}")
                )
            elif flag == "--image" and not val.strip():
                flags.problems.append(
                    UsageError(f"{value!r} has no image reference", where=f"{flag} {key}")
                )
            elif key in into and into[key] != val:
                both = f" ({into[key]!r}, {val!r})" if flag == "--image" else ""
                flags.problems.append(
                    UsageError(
                        f"{key!r} is given twice with different values{both}",
                        where=f"{flag} {key}",
                        hint="give each name once",
                    )
                )
            else:
                into[key] = val.strip() if flag == "--image" else val
    return flags


def load(opts: Options, path: Path | None = None) -> Spec:
    """The spec at `path` (default: --config) for --env, with --region applied."""
    from dataclasses import replace

    from bluegreen.spec.load import load_spec

    spec = load_spec(path or opts.config, opts.env)
    return replace(spec, region=opts.region) if opts.region else spec


def render_spec(
    opts: Options,
    spec: Spec,
    flags: Flags,
    vars_files: list[Path] | None,
    offline: bool,
    aws: Aws | None = None,
) -> Rendered:
    """Render for the CLI: online reads (live service, ECR digests) unless offline; through
    `aws` when given, else the run's session."""
    from bluegreen.render.release import render_release

    if offline:
        return render_release(
            spec,
            image_overrides=flags.images,
            var_overrides=flags.variables,
            vars_files=tuple(vars_files or ()),
            no_aws="--offline reads no AWS",
        )
    from bluegreen.aws.ecr import EcrResolver
    from bluegreen.aws.ecs import describe_service

    aws = aws or opts.aws(spec.region, spec)
    live = describe_service(aws, spec.cluster, spec.service)
    return render_release(
        spec,
        image_overrides=flags.images,
        var_overrides=flags.variables,
        vars_files=tuple(vars_files or ()),
        resolver=EcrResolver(aws),
        live=live,
        aws=aws,
    )


def appspec_yaml(appspec: dict[str, Any]) -> str:
    import io

    from ruamel.yaml import YAML

    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.sort_base_mapping_type_on_output = False  # type: ignore[assignment]
    buf = io.StringIO()
    yaml.dump(appspec, buf)
    return buf.getvalue()


def render(
    ctx: typer.Context,
    image: ImageOpt = None,
    var: VarOpt = None,
    vars_file: VarsFileOpt = None,
    offline: OfflineOpt = False,
) -> None:
    """Print the task definition (register-task-definition input) and the AppSpec a release
    would send: templates rendered, images applied and pinned to digests, both validated.
    Real values are shown; secrets (by name or by shape) are redacted. Reads AWS (the live
    service for AppSpec defaults, ECR for digests) unless --offline; never writes.

    With --output json: one line {"taskDefinition": {...}, "appspec": {...}}.
    """
    import json

    from bluegreen.errors import raise_problems
    from bluegreen.render.redact import redact_task_definition

    opts = options(ctx)
    out = opts.out()
    flags = parse_flags(image, var)
    raise_problems(flags.problems, subject="the command line")
    spec = load(opts)
    rendered = render_spec(opts, spec, flags, vars_file, offline)
    for notice in rendered.notices:
        out.warn(notice)
    td = redact_task_definition(rendered.task_definition)
    if opts.json:
        out.json({"taskDefinition": td, "appspec": rendered.appspec})
        return
    out.text("# task definition (register-task-definition input)")
    out.text(json.dumps(td, indent=2))
    out.text("# appspec")
    out.text(appspec_yaml(rendered.appspec).rstrip("\n"))


def register(app: typer.Typer) -> None:
    app.command("render")(render)
