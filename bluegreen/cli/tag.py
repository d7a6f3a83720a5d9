"""`bluegreen tag`: add a tag to the exact image in ECR (no docker pull or push)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from bluegreen.cli.context import options

if TYPE_CHECKING:
    from bluegreen.spec.model import Spec


def tag(
    ctx: typer.Context,
    image: Annotated[
        list[str],
        typer.Option(
            "--image",
            metavar="CONTAINER=REF",
            help="The image to tag (repeatable); CONTAINER alone takes the spec's image.",
        ),
    ],
    as_tag: Annotated[str, typer.Option("--as", metavar="TAG", help="The tag to add.")],
    force: Annotated[
        bool, typer.Option("--force", help="Move the tag when it names another image.")
    ] = False,
) -> None:
    """Add TAG to the exact image (by tag or digest) in ECR, through BatchGetImage and PutImage
    of the same manifest. Idempotent: a tag that already names the image is left alone. A tag
    naming another image is an error (exit 2) unless --force moves it."""
    from bluegreen.aws.ecr import retag
    from bluegreen.errors import UsageError
    from bluegreen.spec.images import parse_image

    opts = options(ctx)
    out = opts.out()
    refs: dict[str, str] = {}
    from_spec: list[str] = []
    for value in image:
        name, sep, text = value.partition("=")
        if not name.strip() or (sep and not text.strip()):
            raise UsageError(f"--image {value!r} is not CONTAINER=REF", where="--image")
        if sep:
            refs[name.strip()] = text.strip()
        else:
            from_spec.append(name.strip())
    region: str | None = None
    spec: Spec | None = None  # its role_arn applies when it is read
    if from_spec:
        from bluegreen.render.release import render_release
        from bluegreen.spec.load import load_spec

        spec = load_spec(opts.config, opts.env)
        region = spec.region
        rendered = render_release(spec)
        for name in from_spec:
            if name not in rendered.images:
                raise UsageError(
                    f"the spec has no image for container {name!r}",
                    where="--image",
                    hint="known containers: " + ", ".join(sorted(rendered.images)),
                )
            refs[name] = rendered.images[name]
    parsed = {name: parse_image(ref, where=f"--image {name}") for name, ref in refs.items()}
    for name, ref in parsed.items():  # check them all before the first write
        if not ref.is_ecr:
            raise UsageError(f"{ref} is not in a private ECR registry", where=f"--image {name}")
    aws = opts.aws(region, spec)
    from bluegreen.engines.tagging import check_tags

    # every image found and free to take the tag (or --force) before the first write
    check_tags(
        aws,
        parsed,
        as_tag,
        where="--as",
        hint="choose another tag, or move it with --force",
        force=force,
    )
    results = []
    for name, ref in parsed.items():
        done = retag(aws, ref, as_tag, force=force)
        item = {
            "container": name,
            "repository": done.repository,
            "digest": done.digest,
            "tag": done.tag,
            "status": done.status,
            "previous": done.previous,
        }
        results.append(item)
        verb = {
            "tagged": "tagged",
            "unchanged": "already tagged",
            "moved": f"moved the tag (from {done.previous}) to",
        }[done.status]
        out.emit({"event": "tag", **item}, f"{name}: {verb} {ref.name}@{done.digest} as {as_tag}")
    out.json({"event": "result", "images": results})


def register(app: typer.Typer) -> None:
    app.command("tag")(tag)
