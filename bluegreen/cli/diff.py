"""`bluegreen diff`: the rendered task definition against the live one, secrets redacted."""

from __future__ import annotations

from typing import Annotated

import typer

from bluegreen.cli.context import options
from bluegreen.cli.options import ImageOpt, VarOpt, VarsFileOpt


def pairs(values: list[str] | None, flag: str) -> dict[str, str]:
    """`["web=nginx:1", ...]` -> `{"web": "nginx:1"}`; UsageError naming the flag otherwise."""
    from bluegreen.errors import UsageError

    out: dict[str, str] = {}
    for value in values or []:
        key, sep, val = value.partition("=")
        if not sep or not key.strip():
            # a --var's value may be a secret: its argument is never quoted
            shown = (
                repr(value)
                if flag == "--image"
                else "an argument (not shown: it may hold a secret)"
            )
            raise UsageError(
                f"{flag} {shown} is not NAME=VALUE", where=flag, hint=f"e.g. {flag} web=..."
            )
        out[key.strip()] = val
    return out


def diff(
    ctx: typer.Context,
    image: ImageOpt = None,
    var: VarOpt = None,
    vars_file: VarsFileOpt = None,
    exit_code: Annotated[
        bool,
        typer.Option(
            "--exit-code", help="Exit 1 when there are differences (like `git diff --exit-code`)."
        ),
    ] = False,
) -> int:
    """Show what a release would change: the rendered task definition (images resolved to
    digests as `deploy` does) against the one the service runs now, as a unified diff with
    secrets redacted (by their name or their shape; other values shown as they are).

    Exits 0 whether or not there are differences; with --exit-code a difference exits 1.
    With --output json the result line is {"changed": bool, "diff": "..."}. Writes nothing.
    """
    from bluegreen.release.diff import diff_release
    from bluegreen.spec.load import load_spec

    opts = options(ctx)
    out = opts.out()
    spec = load_spec(opts.config, opts.env)
    images = pairs(image, "--image")
    variables = pairs(var, "--var")
    aws = opts.aws(spec.region, spec)
    result = diff_release(
        aws,
        spec,
        image_overrides=images,
        var_overrides=variables,
        vars_files=tuple(vars_file or ()),
    )
    for note in result.notes:
        out.warn(note)
    if opts.json:
        out.json({"changed": result.changed, "diff": result.diff})
    elif result.changed:
        out.text(result.diff.rstrip("\n"))
    else:
        out.text(f"no differences: {spec.service} runs {result.live_arn}")
    return 1 if exit_code and result.changed else 0


def register(app: typer.Typer) -> None:
    app.command("diff")(diff)
