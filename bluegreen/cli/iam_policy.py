"""`bluegreen iam-policy`: the least-privilege IAM policy for what the spec uses."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated

import typer

from bluegreen.cli.context import options
from bluegreen.cli.options import ImageOpt, VarOpt


class Strategy(StrEnum):
    both = "both"
    blue_green = "blue-green"
    rolling = "rolling"
    ecs_native = "ecs-native"


def iam_policy(
    ctx: typer.Context,
    account: Annotated[
        str | None,
        typer.Option(
            help="Account id of the ARNs (else asked of STS with the current credentials)."
        ),
    ] = None,
    strategy: Annotated[
        Strategy,
        typer.Option(
            help="Which release path to allow: CodeDeploy blue/green, rolling, ECS-native, or "
            "both (CodeDeploy and rolling, plus ECS-native when the live service uses it)."
        ),
    ] = Strategy.both,
    image: ImageOpt = None,
    var: VarOpt = None,
    migrate: Annotated[
        bool,
        typer.Option(
            "--migrate",
            help="Add what `bluegreen migrate --to ecs` needs (listener rules, the "
            "infrastructure role it creates, the controller switch, --delete-codedeploy).",
        ),
    ] = False,
    run: Annotated[
        bool,
        typer.Option(
            "--run",
            help="Add what `bluegreen run` needs: ecs:RunTask of the family and ecs:StopTask, "
            "in the spec's cluster.",
        ),
    ] = False,
) -> None:
    """Print the least-privilege IAM policy (JSON) for the features the spec uses.

    Scoped to the spec's cluster, service, CodeDeploy application and deployment group, the
    task-definition family, the ECR repositories of its images, its alarms, and iam:PassRole
    on the task's roles (only to ecs-tasks.amazonaws.com). With --output json the policy is
    the result line.
    """
    from bluegreen.cli.diff import pairs
    from bluegreen.errors import UsageError
    from bluegreen.release import iam
    from bluegreen.render.release import render_release
    from bluegreen.spec.load import load_spec

    opts = options(ctx)
    out = opts.out()
    if account is not None and not (account.isdigit() and len(account) == 12):
        raise UsageError(
            f"--account {account!r} is not a 12-digit AWS account id", where="--account"
        )
    spec = load_spec(opts.config, opts.env)
    aws = opts.aws(spec.region, spec)
    live = None
    if account is None:  # online: the live service gives the AppSpec's defaults
        from bluegreen.aws.ecs import describe_service
        from bluegreen.errors import ResourceNotFound

        try:
            live = describe_service(aws, spec.cluster, spec.service)
        except ResourceNotFound:
            live = None  # the policy is often made before the service exists
    rendered = render_release(
        spec,
        image_overrides=pairs(image, "--image"),
        var_overrides=pairs(var, "--var"),
        live=live,
        aws=aws if account is None else None,  # lookups read AWS as the rest does
        no_aws="iam-policy --account reads no AWS",
    )
    region = opts.region or spec.region or aws.region_name
    if not region:
        raise UsageError(
            "no region: the ARNs need one",
            where="--region",
            hint="pass --region, put `region:` in the spec, or set AWS_REGION",
        )
    lookup = account is None
    if account is None:
        from bluegreen.aws.iam import caller_account

        account = caller_account(aws)
    strategies = {
        Strategy.both: iam.STRATEGIES,
        Strategy.blue_green: (iam.CODEDEPLOY_BG,),
        Strategy.rolling: (iam.ROLLING,),
        Strategy.ecs_native: (iam.ECS_NATIVE,),
    }[strategy]
    if strategy is Strategy.both and live is not None:
        from bluegreen.engines import EngineKind, engine_kind

        if engine_kind(live.deployment_controller, live.deployment_strategy) is (
            EngineKind.ECS_NATIVE
        ):
            strategies = (*strategies, iam.ECS_NATIVE)
    # ECS-native: the roles UpdateService passes to ECS (load balancers' infrastructure role,
    # Lambda hooks' roles), when the live service is known
    passed = [
        str(r)
        for r in [
            *(
                (lb.get("advancedConfiguration") or {}).get("roleArn")
                for lb in (live.load_balancers if live else [])
            ),
            *(
                h.get("roleArn")
                for h in (live.deployment_configuration.get("lifecycleHooks") or [] if live else [])
            ),
        ]
        if r
    ]
    result = iam.policy_for(
        spec,
        rendered.task_definition,
        rendered.images,
        account=account,
        region=region,
        strategies=strategies,
        account_lookup=lookup,
        infrastructure_roles=passed,
        migrate=migrate,
        run=run,
        lookups=rendered.lookups,
        assume_role=opts.role_for(spec),
    )
    for note in result.notes:
        out.warn(note)
    if opts.json:
        out.json(result.policy)
    else:
        out.text(json.dumps(result.policy, indent=2))


def register(app: typer.Typer) -> None:
    app.command("iam-policy")(iam_policy)
