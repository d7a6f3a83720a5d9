"""`bluegreen init`: scaffold bluegreen.yaml and its templates."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bluegreen.cli.context import options


def init(
    ctx: typer.Context,
    folder: Annotated[
        Path, typer.Option("--dir", help="Folder to write into.", file_okay=False)
    ] = Path("."),
    force: Annotated[bool, typer.Option("--force", help="Overwrite existing files.")] = False,
    from_service: Annotated[
        str | None,
        typer.Option(
            "--from-service",
            metavar="CLUSTER/SERVICE",
            help="Start from a live ECS service and the task definition it runs.",
        ),
    ] = None,
    from_compose: Annotated[
        Path | None,
        typer.Option("--from-compose", metavar="FILE", help="Start from a docker-compose service."),
    ] = None,
    compose_service: Annotated[
        str | None,
        typer.Option("--service", help="The compose service (needed when the file has several)."),
    ] = None,
    cluster: Annotated[
        str, typer.Option(help="ECS cluster to write into the spec (example and compose).")
    ] = "default",
    name: Annotated[
        str | None,
        typer.Option(help="ECS service name (default: the compose service, or `web`)."),
    ] = None,
) -> None:
    """Write bluegreen.yaml, taskdef.json.j2 and a commented appspec.yaml.j2.

    Refuses to overwrite existing files unless --force. --from-service reads the live
    service (images go to `images:`, environment values to `vars` unless they look like
    secrets, which are left out and listed). --from-compose converts one compose service;
    every key it cannot convert is listed. Check the result with `bluegreen validate`.
    """
    from bluegreen.errors import UsageError
    from bluegreen.release import scaffold

    opts = options(ctx)
    out = opts.out()
    if from_service and from_compose:
        raise UsageError(
            "--from-service and --from-compose exclude each other", where="--from-service"
        )
    if compose_service and not from_compose:
        raise UsageError("--service only applies with --from-compose", where="--service")
    if from_service:
        aws = opts.aws()
        model = scaffold.service_model(aws, from_service, opts.region or aws.region_name)
    elif from_compose:
        model = scaffold.compose_model(from_compose, compose_service, cluster, name, opts.region)
    else:
        model = scaffold.example_model(cluster, name or "web", opts.region)
    written = scaffold.write_files(folder, scaffold.files_for(model), force=force)
    for note in model.notes:
        out.warn(note)
    if model.unsupported:
        out.warn("not converted (unsupported): " + ", ".join(model.unsupported))
    out.emit(
        {
            "dir": str(folder),
            "files": [str(p) for p in written],
            "unsupported": model.unsupported,
            "notes": model.notes,
        },
        "wrote " + ", ".join(str(p) for p in written),
    )


def register(app: typer.Typer) -> None:
    app.command("init")(init)
