"""Registration of the verbs. Keep this module light: verb modules import only typer at the
top level, and load the use cases (boto3, jinja2, jsonschema) inside the command body, so that
`bluegreen --help` starts fast."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add every verb, in the order of a release's life (the order `--help` lists them in)."""
    from bluegreen.cli import (
        approve,
        cleanup,
        deploy,
        diff,
        doctor,
        history,
        iam_policy,
        init,
        migrate,
        promote,
        redeploy,
        render,
        rollback,
        run,
        sandbox,
        status,
        stop,
        tag,
        validate,
        watch,
    )

    for verb in (
        # write and check the release
        init,
        render,
        validate,
        diff,
        doctor,
        iam_policy,
        # release and follow it
        deploy,
        watch,
        status,
        approve,
        stop,
        rollback,
        history,
        # the other paths
        redeploy,
        promote,
        tag,
        cleanup,
        migrate,
        run,
    ):
        verb.register(app)
    app.add_typer(sandbox.app)
