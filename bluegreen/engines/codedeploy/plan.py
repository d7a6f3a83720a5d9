"""The release plan: plain data that `--dry-run` prints and `apply` executes.

Every check happens while planning (spec, images, service, CodeDeploy application and group,
target groups, listeners, alarms, deployment config); nothing is written.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bluegreen.engines.codedeploy.configs import (
    ConfigChoice,
    TrafficRouting,
    default_timeout,
    parse_config,
)
from bluegreen.engines.codedeploy.rollback_settings import merge_rollback
from bluegreen.errors import PreflightError
from bluegreen.render.redact import redact_task_definition
from bluegreen.render.taskdef import same_task_definition

if TYPE_CHECKING:
    from bluegreen.aws.codedeploy import DeploymentGroup
    from bluegreen.aws.model import LiveService
    from bluegreen.aws.session import Aws
    from bluegreen.engines.codedeploy.follow import SharedReads
    from bluegreen.engines.tagging import TagPlan
    from bluegreen.spec.model import Spec

# Keys of a described task definition that are also register-task-definition input.


@dataclass(frozen=True)
class DeployOptions:
    image_overrides: Mapping[str, str] = field(default_factory=dict)
    var_overrides: Mapping[str, str] = field(default_factory=dict)
    vars_files: Sequence[Path] = ()
    deployment_config: str | None = None
    timeout_seconds: float | None = None
    verify: list[str] | None = None
    tag_as: str | None = None  # --tag-as: a tag, or git-sha


@dataclass(frozen=True)
class ReleasePlan:
    strategy: str  # codedeploy
    cluster: str
    service: str
    application: str
    deployment_group: str
    group: DeploymentGroup
    task_definition: dict[str, Any]  # register-task-definition input
    register: bool  # False: identical to the family's latest ACTIVE revision
    task_definition_arn: str | None  # known when not registering
    appspec: dict[str, Any]  # TaskDefinition is a placeholder until registration
    images: dict[str, str]
    config: ConfigChoice
    routing: TrafficRouting | None
    create_config: bool
    auto_rollback: dict[str, Any]
    alarm_override: dict[str, Any] | None
    alarms: list[str]
    timeout_seconds: float
    timeout_derived: bool
    verify: list[str] | None
    verify_timeout: float
    test_listener: str | None
    prod_listener: str | None
    notices: list[str]
    previous_task_definition_arn: str | None
    tags: TagPlan | None = None  # --tag-as

    def to_json(self) -> dict[str, Any]:
        return {
            "event": "plan",
            "strategy": self.strategy,
            "cluster": self.cluster,
            "service": self.service,
            "application": self.application,
            "deploymentGroup": self.deployment_group,
            "registerTaskDefinition": self.register,
            "taskDefinitionArn": self.task_definition_arn,
            "taskDefinition": redact_task_definition(self.task_definition),
            "appspec": self.appspec,
            "images": self.images,
            "deploymentConfig": self.config.name,
            "createDeploymentConfig": self.create_config,
            "trafficRouting": self.routing.to_aws() if self.routing else None,
            "autoRollbackConfiguration": self.auto_rollback,
            "overrideAlarmConfiguration": self.alarm_override,
            "timeoutSeconds": self.timeout_seconds,
            "verify": self.verify,
            "previousTaskDefinitionArn": self.previous_task_definition_arn,
            "tagAs": self.tags.json() if self.tags else None,
            "notices": self.notices,
        }

    def lines(self) -> list[str]:
        out = [
            f"plan: blue/green release of {self.cluster}/{self.service} through CodeDeploy "
            f"{self.application}/{self.deployment_group}",
        ]
        if self.register:
            out.append(
                f"  register task definition {self.task_definition.get('family')} (new revision)"
            )
        else:
            out.append(
                f"  task definition unchanged: reuse {self.task_definition_arn} "
                "(identical to the latest ACTIVE revision)"
            )
        for name, ref in sorted(self.images.items()):
            out.append(f"  image {name}: {ref}")
        if self.tags is not None:
            out.extend(self.tags.lines())
        cfg = self.config.name + (" (create)" if self.create_config else "")
        out.append(f"  deployment config: {cfg}")
        if self.alarms:
            out.append(f"  alarms: {', '.join(self.alarms)}")
        on = self.auto_rollback.get("enabled")
        events = (", ".join(self.auto_rollback.get("events", [])) if on else "") or "off"
        out.append(f"  auto-rollback: {events}")
        if self.verify:
            out.append(f"  verify: {' '.join(self.verify)} (when test traffic reaches green)")
        how = "derived from the group's waits" if self.timeout_derived else "given"
        out.append(f"  timeout: {self.timeout_seconds:g}s ({how})")
        out.extend(f"  note: {n}" for n in self.notices)
        return out


def plan_release(
    aws: Aws,
    spec: Spec,
    opts: DeployOptions,
    *,
    live: LiveService | None = None,
    shared: SharedReads | None = None,
) -> ReleasePlan:
    """Preflight every input and the AWS setup, then return the plan. Writes nothing.

    `live`: the service as the caller has just described it (else it is described here);
    `shared`: a fan-out's shared reads, which check the target groups, listeners and alarms
    of the preflights running side by side in a few calls."""
    from bluegreen.aws import ecs

    if live is None:
        live = ecs.describe_service(aws, spec.cluster, spec.service)
    strategy = strategy_for(live, spec)
    if strategy != "codedeploy":  # pragma: no cover - strategy_for raises for the others
        raise PreflightError(f"no release strategy {strategy}")
    return _plan_codedeploy(aws, spec, opts, live, shared)


def strategy_for(live: LiveService, spec: Spec) -> str:
    """The strategy name when `engines.select` gives the service to CodeDeploy; exit 2
    otherwise."""
    from bluegreen.engines import EngineKind, select

    kind = select(live)
    if kind is EngineKind.CODEDEPLOY:
        return str(kind)
    raise PreflightError(
        f"the service is released by {kind.label}, not CodeDeploy blue/green",
        where=f"ECS service {spec.cluster}/{spec.service}",
        hint="release it through `bluegreen deploy` (it picks the engine), or recreate the "
        "service with deploymentController CODE_DEPLOY for CodeDeploy blue/green",
    )


def _plan_codedeploy(
    aws: Aws, spec: Spec, opts: DeployOptions, live: LiveService, shared: SharedReads | None
) -> ReleasePlan:
    from bluegreen.aws import cloudwatch, codedeploy, ecs, elbv2
    from bluegreen.render.release import render_for_deploy

    cd = spec.codedeploy
    app_where = f"CodeDeploy application {cd.application}"
    platform = (
        shared.application_platform(cd.application)
        if shared is not None
        else codedeploy.application_platform(aws, cd.application)
    )
    if platform != "ECS":
        raise PreflightError(
            f"compute platform is {platform or 'unknown'}, not ECS",
            where=app_where,
            hint="an ECS blue/green release needs an application created with "
            "--compute-platform ECS",
        )
    group = codedeploy.deployment_group(aws, cd.application, cd.deployment_group)
    group_where = f"CodeDeploy deployment group {cd.application}/{cd.deployment_group}"
    if group.cluster != spec.cluster or group.service != spec.service:
        raise PreflightError(
            f"the group targets {group.cluster}/{group.service}, not {spec.cluster}/{spec.service}",
            where=group_where,
            hint="fix codedeploy.application / codedeploy.deployment_group in the spec",
        )
    if len(group.target_groups) != 2 or not group.prod_listeners:
        raise PreflightError(
            "the group has no target group pair with a production listener",
            where=group_where,
            hint="configure loadBalancerInfo.targetGroupPairInfoList with two target groups "
            "and a prodTrafficRoute",
        )
    listeners = [*group.prod_listeners, *group.test_listeners]
    hidden = elbv2.rules_forwarding_to(aws, group.prod_listeners, list(group.target_groups))
    if hidden:
        # I5: CodeDeploy moves the listener's default action only; traffic these rules match
        # would stay where it is while the release reports success
        raise PreflightError(
            f"listener rule{'s' if len(hidden) > 1 else ''} {', '.join(hidden)} forward"
            f"{'' if len(hidden) > 1 else 's'} production traffic to the group's target groups: "
            "CodeDeploy shifts only the listener's default action, so that traffic would not "
            "move; nothing was changed",
            where=group_where,
            hint="a half-done `bluegreen migrate --to ecs` leaves such rules: finish it with "
            "`bluegreen migrate --to ecs` (or delete the rules to stay on CodeDeploy)",
        )
    rollback = merge_rollback(spec, group)
    spec_alarms = list(spec.rollback.alarms)
    if shared is not None:
        missing = shared.preflight(list(group.target_groups), listeners, spec_alarms)
    else:
        elbv2.target_groups(aws, list(group.target_groups))
        elbv2.listeners(aws, listeners)
        missing = cloudwatch.missing_alarms(aws, spec_alarms)
    if missing:
        raise PreflightError(
            f"alarm {', '.join(missing)} does not exist",
            where=spec.where(("rollback", "alarms")),
            hint="create the alarm, or remove it from rollback.alarms",
        )

    # deployment config
    raw = opts.deployment_config or cd.deployment_config or group.deployment_config
    where = (
        "--deployment-config"
        if opts.deployment_config
        else spec.where(("codedeploy", "deployment_config"))
    )
    choice = parse_config(raw or "CodeDeployDefault.ECSAllAtOnce", where)
    create = False
    routing = choice.routing
    if choice.shorthand is not None:
        existing = codedeploy.deployment_config(aws, choice.name)
        if existing is None:
            create = True
        elif choice.routing and TrafficRouting.from_aws(existing) != choice.routing:
            raise PreflightError(
                f"deployment config {choice.name} exists with a different traffic routing",
                where=where,
            )
    elif choice.name not in _predefined():
        existing = codedeploy.deployment_config(aws, choice.name)
        if existing is None:
            raise PreflightError(
                f"deployment config {choice.name} does not exist",
                where=where,
                hint="use a CodeDeployDefault.ECS* name, or a shorthand such as canary:10%/5m",
            )
        routing = TrafficRouting.from_aws(existing)

    # rendering (images resolved to digests)
    rendered = render_for_deploy(
        spec,
        aws,
        live,
        image_overrides=opts.image_overrides,
        var_overrides=opts.var_overrides,
        vars_files=opts.vars_files,
    )
    from bluegreen.engines.tagging import plan_tags

    tags = plan_tags(aws, rendered.images, opts.tag_as, spec.path.parent)
    td = rendered.task_definition
    family = str(td.get("family", ""))
    register = True
    td_arn: str | None = None
    latest = _latest_active(aws, family)
    if latest is not None and same_task_definition(td, latest):
        register = False
        td_arn = str(latest.get("taskDefinitionArn"))

    # timeout
    ready_wait = group.ready_wait_minutes if group.ready_action == "STOP_DEPLOYMENT" else 0
    derived = opts.timeout_seconds is None and spec.timeout_seconds is None
    timeout = (
        opts.timeout_seconds
        if opts.timeout_seconds is not None
        else spec.timeout_seconds
        if spec.timeout_seconds is not None
        else default_timeout(
            ready_wait_minutes=ready_wait,
            termination_wait_minutes=group.termination_wait_minutes,
            routing=routing,
        )
    )
    verify = (
        opts.verify if opts.verify is not None else (spec.verify.command if spec.verify else None)
    )
    verify_timeout = spec.verify.timeout_seconds if spec.verify else 300.0
    if verify:
        from bluegreen.engines.codedeploy.verify_gate import check_verify_gate

        check_verify_gate(
            group,
            "--verify" if opts.verify is not None else spec.where(("verify",)),
            verify_timeout,
        )
    if math.isnan(timeout) or timeout <= 0:
        raise PreflightError("the timeout must be positive", where="--timeout")
    del ecs
    return ReleasePlan(
        strategy="codedeploy",
        cluster=spec.cluster,
        service=spec.service,
        application=cd.application,
        deployment_group=cd.deployment_group,
        group=group,
        task_definition=td,
        register=register,
        task_definition_arn=td_arn,
        appspec=rendered.appspec,
        images=rendered.images,
        config=choice,
        routing=routing,
        create_config=create,
        auto_rollback=rollback.auto_rollback,
        alarm_override=rollback.alarm_override,
        alarms=rollback.alarms,
        timeout_seconds=float(timeout),
        timeout_derived=derived,
        verify=verify,
        verify_timeout=verify_timeout,
        test_listener=group.test_listeners[0] if group.test_listeners else None,
        prod_listener=group.prod_listeners[0] if group.prod_listeners else None,
        notices=list(rendered.notices),
        previous_task_definition_arn=live.task_definition_arn,
        tags=tags,
    )


def _predefined() -> set[str]:
    from bluegreen.engines.codedeploy.configs import PREDEFINED

    return set(PREDEFINED)


def _latest_active(aws: Aws, family: str) -> dict[str, Any] | None:
    """The family's latest ACTIVE revision, or None when the family has none."""
    from bluegreen.aws import ecs
    from bluegreen.errors import AwsError

    try:
        td = ecs.describe_task_definition(aws, family)
    except AwsError:
        return None
    if td.get("status", "ACTIVE") != "ACTIVE":
        return None
    return td
