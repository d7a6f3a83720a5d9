"""Registration of the verbs. Keep this module light: verb modules import only typer at the
top level, and load the use cases (boto3, jinja2, jsonschema) inside the command body, so that
`bluegreen --help` starts fast."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    # Each line adds one verb module's commands; a verb is registered only once it works.
    from bluegreen.cli import sandbox

    app.add_typer(sandbox.app)
    from bluegreen.cli import cleanup, diff, doctor, iam_policy, init, tag

    cleanup.register(app)
    diff.register(app)
    doctor.register(app)
    iam_policy.register(app)
    init.register(app)
    tag.register(app)
    from bluegreen.cli import render, validate

    render.register(app)
    validate.register(app)
    from bluegreen.cli import approve, deploy, history, rollback, status, stop, watch

    for verb in (deploy, watch, status, stop, rollback, approve, history):
        verb.register(app)
    from bluegreen.cli import promote, redeploy

    redeploy.register(app)
    promote.register(app)
    del app
