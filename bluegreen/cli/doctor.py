"""`bluegreen doctor`: preflight of the AWS setup, with the fix for each finding."""

from __future__ import annotations

import typer

from bluegreen.cli.context import options


def doctor(ctx: typer.Context) -> None:
    """Check the AWS setup the spec releases into, and say how to fix each problem.

    Checks the service's deployment controller against the strategy; the CodeDeploy
    application (ECS platform) and deployment group (service, cluster, blue/green style,
    target group pair, production and test listeners, service role); rollback alarms;
    min/max healthy percent against desiredCount for rolling updates; image tags and digest
    pinning; Fargate cpu/memory sizes. Reads only.

    Exit codes: 0 when no finding is an error (warnings allowed); 2 when the setup is invalid
    (nothing was changed); 4 when AWS could not be read.
    """
    from bluegreen.errors import PreflightError
    from bluegreen.release.doctor import ERROR, OK, WARN, run_doctor
    from bluegreen.spec.load import load_spec

    opts = options(ctx)
    out = opts.out()
    spec = load_spec(opts.config, opts.env)
    findings = run_doctor(opts.aws(spec.region, spec), spec)
    for f in findings:
        text = f"{f.level:<5} {f.check}: {f.message}"
        if f.fix and f.level != OK:
            text += f"\n      fix: {f.fix}"
        out.emit({"event": "finding", **f.to_json()}, text)
    errors = sum(1 for f in findings if f.level == ERROR)
    warnings = sum(1 for f in findings if f.level == WARN)
    out.json({"event": "result", "ok": errors == 0, "errors": errors, "warnings": warnings})
    if errors:
        raise PreflightError(
            f"{errors} error(s), {warnings} warning(s) in the AWS setup",
            where=f"{spec.cluster}/{spec.service}",
            hint="apply the fixes above, then run `bluegreen doctor` again",
        )
    out.text(f"no errors, {warnings} warning(s)")


def register(app: typer.Typer) -> None:
    app.command("doctor")(doctor)
