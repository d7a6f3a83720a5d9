"""ECS-native releases, the plan: everything up to the first write, reads only.

Preflight before any write (reference ../shared/reference/ecs-native-bluegreen.md §1):
- the strategy and its configuration (the service's own, or `--deployment-config` for this
  release) are valid as ECS takes them;
- every load balancer has its advancedConfiguration; both target groups exist; the production
  (and test) listener rule exists and forwards to both target groups; the infrastructure role
  exists;
- the lifecycle hooks' roles exist; `--verify` needs a PAUSE hook at POST_TEST_TRAFFIC_SHIFT
  (where bluegreen runs the command while test traffic is on green and answers the hook), else
  the release is refused with the exact change to make (I1);
- the spec's alarms exist; they are merged into the service's deployment alarms with rollback
  (never fewer than the service had, I4); metric checks are read by the follow loop (green
  against blue);
- no service deployment is in flight (an UpdateService would supersede it).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bluegreen.engines.model import revision
from bluegreen.errors import PreflightError, UsageError
from bluegreen.render.taskdef import same_task_definition

if TYPE_CHECKING:
    from bluegreen.aws.model import LiveService
    from bluegreen.aws.session import Aws
    from bluegreen.engines.tagging import TagPlan
    from bluegreen.spec.model import MetricCheck, Spec

DEFAULT_TIMEOUT = 3600.0
VERIFY_STAGE = "POST_TEST_TRAFFIC_SHIFT"
PAUSED = "paused"
# The lifecycle stages in order [HIW; M:ServiceDeploymentLifecycleStage]: `--wait-until` and
# the follow loop compare positions (polls may skip stages).
STAGES = (
    "RECONCILE_SERVICE",
    "PRE_SCALE_UP",
    "SCALE_UP",
    "POST_SCALE_UP",
    "TEST_TRAFFIC_SHIFT",
    "POST_TEST_TRAFFIC_SHIFT",
    "PRE_PRODUCTION_TRAFFIC_SHIFT",
    "PRODUCTION_TRAFFIC_SHIFT",
    "POST_PRODUCTION_TRAFFIC_SHIFT",
    "BAKE_TIME",
    "CLEAN_UP",
)
STRATEGY_KEYS = ("strategy", "linearConfiguration", "canaryConfiguration")


@dataclass(frozen=True)
class NativeRequest:
    """What `deploy` asks of an ECS-native release."""

    image_overrides: Mapping[str, str] = field(default_factory=dict)
    var_overrides: Mapping[str, str] = field(default_factory=dict)
    vars_files: Sequence[Path] = ()
    deployment_config: str | None = None  # all-at-once | canary:P%/Nm | linear:P%/Nm
    dry_run: bool = False
    wait: bool = True
    timeout: float | None = None
    on_cancel: str = "rollback"
    tag_as: str | None = None
    verify: Sequence[str] | None = None
    wait_until: str | None = None  # a lifecycle stage, or `paused`


def strategy_for(value: str, where: str = "--deployment-config") -> dict[str, Any]:
    """The deploymentConfiguration members a `--deployment-config` value sets on an ECS-native
    service: BLUE_GREEN, CANARY (canaryPercent, canaryBakeTimeInMinutes) or LINEAR
    (stepPercent, stepBakeTimeInMinutes), with ECS's ranges [M:Linear/CanaryConfiguration]."""
    from bluegreen.engines.codedeploy.configs import parse_config

    choice = parse_config(value, where)
    routing = choice.routing
    if routing is None:
        raise UsageError(
            f"{value!r} is a CodeDeploy deployment config; an ECS-native service takes a strategy",
            where=where,
            hint="use all-at-once (BLUE_GREEN), canary:P%/Nm (CANARY) or linear:P%/Nm (LINEAR)",
        )
    minutes = routing.interval_minutes
    if routing.type != "AllAtOnce" and minutes > 1440:
        raise UsageError(
            f"ECS bakes a step at most 1440 minutes, got {minutes}",
            where=where,
            hint="e.g. canary:10%/5m or linear:10%/1m",
        )
    if routing.type == "TimeBasedCanary":
        return {
            "strategy": "CANARY",
            "canaryConfiguration": {
                "canaryPercent": float(routing.percentage),
                "canaryBakeTimeInMinutes": minutes,
            },
        }
    if routing.type == "TimeBasedLinear":
        if routing.percentage < 3:
            raise UsageError(
                f"ECS takes a linear step of 3% to 100%, got {routing.percentage}%",
                where=where,
                hint="e.g. linear:10%/1m",
            )
        return {
            "strategy": "LINEAR",
            "linearConfiguration": {
                "stepPercent": float(routing.percentage),
                "stepBakeTimeInMinutes": minutes,
            },
        }
    return {"strategy": "BLUE_GREEN"}


def check_strategy(conf: Mapping[str, Any], where: str) -> None:
    """PreflightError for a strategy configuration ECS would refuse."""
    strategy = conf.get("strategy")
    bake = conf.get("bakeTimeInMinutes")
    if bake is not None and not 0 <= int(bake) <= 1440:
        raise PreflightError(f"bakeTimeInMinutes {bake} is outside 0..1440", where=where)
    if strategy == "LINEAR":
        step = float((conf.get("linearConfiguration") or {}).get("stepPercent", 10.0))
        if not 3.0 <= step <= 100.0:
            raise PreflightError(f"linear stepPercent {step} is outside 3..100", where=where)
    if strategy == "CANARY":
        pct = float((conf.get("canaryConfiguration") or {}).get("canaryPercent", 5.0))
        if not 0.1 <= pct <= 100.0:
            raise PreflightError(f"canaryPercent {pct} is outside 0.1..100", where=where)


def pause_hook_entry() -> dict[str, Any]:
    """The lifecycle hook `--verify` needs: a PAUSE at POST_TEST_TRAFFIC_SHIFT (its timeout
    action ROLLBACK: when nobody answers, production stays on blue)."""
    return {
        "targetType": "PAUSE",
        "lifecycleStages": [VERIFY_STAGE],
        "timeoutConfiguration": {"timeoutInMinutes": 60, "action": "ROLLBACK"},
    }


def has_verify_hook(conf: Mapping[str, Any]) -> bool:
    return any(
        isinstance(h, Mapping)
        and h.get("targetType") == "PAUSE"
        and VERIFY_STAGE in (h.get("lifecycleStages") or [])
        for h in conf.get("lifecycleHooks") or []
    )


def check_wait_until(value: str | None, verify: bool) -> str | None:
    """`--wait-until`: a lifecycle stage name (any case) or `paused`."""
    if value is None:
        return None
    if value.lower() == PAUSED:
        if verify:
            raise UsageError(
                "--wait-until paused cannot be used with --verify: verify answers the pause itself",
                where="--wait-until",
            )
        return PAUSED
    stage = value.upper().replace("-", "_")
    if stage not in STAGES:
        raise UsageError(
            f"--wait-until {value!r} is not an ECS lifecycle stage",
            where="--wait-until",
            hint="one of: paused, " + ", ".join(STAGES),
        )
    return stage


@dataclass(frozen=True)
class NativePlan:
    cluster: str
    service: str
    current_task_definition: str | None
    task_definition: dict[str, Any]
    reuse_task_definition: str | None
    images: Mapping[str, str]
    strategy: str
    # deploymentConfiguration sent with UpdateService: the service's own with the release's
    # strategy and alarms merged in
    deployment_configuration: Mapping[str, Any]
    alarms: tuple[str, ...]
    verify: tuple[str, ...] | None
    verify_timeout: float
    timeout: float
    wait_until: str | None
    production_rules: tuple[str, ...]
    target_groups: tuple[str, ...]  # (blue: serving now, green: the one shifted to) per LB
    metrics: tuple[MetricCheck, ...] = ()  # rollback.metrics, green against blue
    notices: tuple[str, ...] = ()
    tags: TagPlan | None = None

    @property
    def no_change(self) -> bool:
        return (
            self.reuse_task_definition is not None
            and self.reuse_task_definition == self.current_task_definition
        )

    def json(self) -> dict[str, Any]:
        from bluegreen.render.redact import redact_task_definition

        conf = self.deployment_configuration
        return {
            "event": "plan",
            "strategy": "ecs-native",
            "deploymentStrategy": self.strategy,
            "cluster": self.cluster,
            "service": self.service,
            "currentTaskDefinition": self.current_task_definition,
            "registerTaskDefinition": self.reuse_task_definition is None,
            "taskDefinitionArn": self.reuse_task_definition,
            "family": self.task_definition.get("family"),
            "taskDefinition": redact_task_definition(self.task_definition),
            "images": dict(self.images),
            "deploymentConfiguration": {k: conf[k] for k in conf if k != "lifecycleHooks"},
            "alarms": list(self.alarms),
            "verify": self.verify is not None,
            "waitUntil": self.wait_until,
            "noChange": self.no_change,
            "tagAs": self.tags.json() if self.tags else None,
        }

    def lines(self) -> list[str]:
        conf = self.deployment_configuration
        target = (
            f"reuse {revision(self.reuse_task_definition)} (identical to the rendered one)"
            if self.reuse_task_definition
            else f"register a new revision of {self.task_definition.get('family')}"
        )
        shift = {
            "BLUE_GREEN": "production 0→100% at once",
            "CANARY": "production {canaryPercent:g}%, then 100% after {canaryBakeTimeInMinutes} "
            "min".format(
                **{
                    "canaryPercent": 5.0,
                    "canaryBakeTimeInMinutes": 10,
                    **(conf.get("canaryConfiguration") or {}),
                }
            ),
            "LINEAR": "production in steps of {stepPercent:g}%, {stepBakeTimeInMinutes} min "
            "apart".format(
                **{
                    "stepPercent": 10.0,
                    "stepBakeTimeInMinutes": 6,
                    **(conf.get("linearConfiguration") or {}),
                }
            ),
        }.get(self.strategy, self.strategy)
        out = [
            f"ECS-native {self.strategy} release of {self.cluster}/{self.service}",
            f"  task definition: {revision(self.current_task_definition)} -> {target}",
        ]
        out += [f"  image {name}: {ref}" for name, ref in sorted(self.images.items())]
        if self.tags is not None:
            out += self.tags.lines()
        out.append(f"  {shift}; bake time {conf.get('bakeTimeInMinutes', '-')} min")
        if self.alarms:
            out.append(
                f"  alarms {', '.join(self.alarms)}: in ALARM during the deployment → ECS rolls "
                "production back to blue (set as the service's deployment alarms, with rollback)"
            )
        if self.verify is not None:
            out.append(
                f"  verify: runs at the {VERIFY_STAGE} pause hook while test traffic is on green;"
                " it passes → CONTINUE, it fails → ROLLBACK (production never moved)"
            )
        if self.wait_until:
            out.append(f"  returns once the deployment reaches {self.wait_until}, left running")
        if self.no_change:
            out.append("  no change: the service already runs this revision")
        out += [f"  note: {n}" for n in self.notices]
        return out


def merged_configuration(
    conf: Mapping[str, Any], strategy: Mapping[str, Any] | None, alarms: Sequence[str]
) -> dict[str, Any]:
    """The service's deploymentConfiguration with the release's strategy (when given) and
    alarms merged in: never fewer alarms than the service had, rollback never switched off
    (I4). A strategy change drops the other strategy's configuration (§6 question 1: ECS may
    refuse a linearConfiguration under CANARY)."""
    out = dict(conf)
    if strategy is not None:
        out = {k: v for k, v in out.items() if k not in STRATEGY_KEYS} | dict(strategy)
        # bakeTimeInMinutes "must be provided" for BLUE_GREEN [M]; §6 question 1 leaves open
        # whether a default applies, so a release that switches strategy sends one (0: none)
        out.setdefault("bakeTimeInMinutes", 0)
    if alarms:
        have = conf.get("alarms") or {}
        names = list(dict.fromkeys([*(have.get("alarmNames") or []), *alarms]))
        out["alarms"] = {"alarmNames": names, "enable": True, "rollback": True}
    return out


def check_routes(aws: Aws, live: LiveService, where: str) -> tuple[list[str], list[str]]:
    """Both target groups, the production and test rules (forwarding to both), the
    infrastructure role: PreflightError naming the first that is wrong. Returns the
    production rules and the target groups."""
    from bluegreen.aws import ecs_native
    from bluegreen.aws.iam import get_role

    if not live.load_balancers:
        raise PreflightError(
            "the service has no load balancer: ECS-native blue/green shifts nothing without one",
            where=where,
            hint="add loadBalancers with advancedConfiguration (alternate target group, "
            "production and test listener rules, the infrastructure role)",
        )
    prod_rules: list[str] = []
    groups: list[str] = []
    for index, lb in enumerate(live.load_balancers):
        at = f"{where}: loadBalancers[{index}]"
        advanced = lb.get("advancedConfiguration") or {}
        blue, green = lb.get("targetGroupArn"), advanced.get("alternateTargetGroupArn")
        prod, test = advanced.get("productionListenerRule"), advanced.get("testListenerRule")
        role = advanced.get("roleArn")
        if not (blue and green and prod and role):
            raise PreflightError(
                "the load balancer has no complete advancedConfiguration (alternate target "
                "group, production listener rule, infrastructure role)",
                where=at,
                hint="aws ecs update-service --load-balancers "
                "'targetGroupArn=...,containerName=...,containerPort=...,advancedConfiguration="
                "{alternateTargetGroupArn=...,productionListenerRule=...,testListenerRule=...,"
                "roleArn=...}'",
            )
        found = ecs_native.target_group_arns(aws, [blue, green])
        for arn in (blue, green):
            if arn not in found:
                raise PreflightError(f"target group {arn} not found", where=at)
        rules = ecs_native.describe_rules(aws, [r for r in (prod, test) if r])
        for label, rule in (("production", prod), ("test", test)):
            if not rule:
                continue
            if rule not in rules:
                raise PreflightError(f"the {label} listener rule {rule} not found", where=at)
            weights = ecs_native.forward_weights(rules[rule])
            if not {blue, green} <= set(weights):
                raise PreflightError(
                    f"the {label} listener rule {rule} does not forward to both target groups "
                    f"(it forwards to {', '.join(weights) or 'none'}): ECS rolls such a "
                    "deployment back as an invalid networking configuration",
                    where=at,
                    hint="make the rule's forward action list both target groups, the serving "
                    "one with weight 1 and the other 0",
                )
        if get_role(aws, str(role)) is None:
            raise PreflightError(
                f"the infrastructure role {role} does not exist",
                where=at,
                hint="create it trusting ecs.amazonaws.com with "
                "AmazonECSInfrastructureRolePolicyForLoadBalancers",
            )
        prod_rules.append(str(prod))
        groups += [str(blue), str(green)]
    return prod_rules, groups


def check_hooks(aws: Aws, conf: Mapping[str, Any], where: str) -> None:
    from bluegreen.aws.iam import get_role

    for index, hook in enumerate(conf.get("lifecycleHooks") or []):
        at = f"{where}: deploymentConfiguration.lifecycleHooks[{index}]"
        if hook.get("targetType", "AWS_LAMBDA") == "PAUSE":
            continue
        role = hook.get("roleArn")
        if not hook.get("hookTargetArn") or not role:
            raise PreflightError("the Lambda hook has no hookTargetArn or roleArn", where=at)
        if get_role(aws, str(role)) is None:
            raise PreflightError(f"the hook's role {role} does not exist", where=at)


def plan(
    spec: Spec,
    aws: Aws,
    request: NativeRequest,
    *,
    live: LiveService | None = None,
) -> NativePlan:
    """Render, resolve and preflight an ECS-native release (no writes here)."""
    from bluegreen.aws import ecs, ecs_native
    from bluegreen.engines import EngineKind, select
    from bluegreen.render.release import render_for_deploy

    where = f"ECS service {spec.cluster}/{spec.service}"
    if live is None:
        live = ecs.describe_service(aws, spec.cluster, spec.service)
    kind = select(live)
    if kind is not EngineKind.ECS_NATIVE:
        raise PreflightError(f"the service is released by {kind.label}", where=where)
    verify = request.verify or (spec.verify.command if spec.verify else None)
    wait_until = check_wait_until(request.wait_until, bool(verify))
    strategy = (
        strategy_for(request.deployment_config) if request.deployment_config is not None else None
    )
    conf = live.deployment_configuration
    alarms = tuple(dict.fromkeys(spec.rollback.alarms))
    merged = merged_configuration(conf, strategy, alarms)
    check_strategy(merged, f"{where}: deploymentConfiguration")
    if verify and not has_verify_hook(conf):
        hooks = [*(conf.get("lifecycleHooks") or []), pause_hook_entry()]
        raise PreflightError(
            "--verify gates an ECS-native release through a PAUSE lifecycle hook at "
            f"{VERIFY_STAGE} (bluegreen runs the command while test traffic is on green and "
            "answers the hook); the service has none, so production would shift before verify "
            "could act",
            where=f"{where}: deploymentConfiguration.lifecycleHooks",
            hint="add the hook: aws ecs update-service --cluster "
            f"{spec.cluster} --service {spec.service} --deployment-configuration "
            f"'{json.dumps({**conf, 'lifecycleHooks': hooks}, separators=(',', ':'))}' "
            f"(the entry: {json.dumps(pause_hook_entry(), separators=(',', ':'))})",
        )
    prod_rules, groups = check_routes(aws, live, where)
    check_hooks(aws, conf, where)
    if alarms:
        from bluegreen.aws.cloudwatch import missing_alarms

        missing = missing_alarms(aws, alarms)
        if missing:
            raise PreflightError(
                f"alarm{'s' if len(missing) > 1 else ''} {', '.join(missing)} not found",
                where=f"{spec.display}: rollback.alarms",
                hint="create the alarm, or fix its name in the spec",
            )
    busy = ecs_native.list_deployments(
        aws, spec.cluster, spec.service, statuses=ecs_native.IN_FLIGHT, limit=1
    )
    if busy:
        arn = busy[0].get("serviceDeploymentArn")
        raise PreflightError(
            f"service deployment {arn} is in flight ({busy[0].get('status')}); a new release "
            "would supersede it",
            where=where,
            hint=f"follow it with `bluegreen watch {arn}`, or stop it with `bluegreen stop`",
        )
    rendered = render_for_deploy(
        spec,
        aws,
        live,
        image_overrides=request.image_overrides,
        var_overrides=request.var_overrides,
        vars_files=request.vars_files,
    )
    from bluegreen.engines.tagging import plan_tags

    tags = plan_tags(aws, rendered.images, request.tag_as, spec.path.parent)
    td = rendered.task_definition
    family = str(td.get("family", ""))
    reuse: str | None = None
    latest = ecs.latest_task_definition(aws, family) if family else None
    if latest is not None and same_task_definition(latest, td):
        reuse = str(latest.get("taskDefinitionArn"))
    timeout = request.timeout or spec.timeout_seconds or DEFAULT_TIMEOUT
    return NativePlan(
        cluster=spec.cluster,
        service=spec.service,
        current_task_definition=live.task_definition_arn,
        task_definition=td,
        reuse_task_definition=reuse,
        images=dict(rendered.images),
        strategy=str(merged.get("strategy")),
        deployment_configuration=merged,
        alarms=alarms,
        verify=tuple(verify) if verify else None,
        verify_timeout=spec.verify.timeout_seconds if spec.verify else 300.0,
        timeout=timeout,
        wait_until=wait_until,
        production_rules=tuple(prod_rules),
        target_groups=tuple(groups),
        metrics=tuple(spec.rollback.metrics),
        notices=tuple(rendered.notices),
        tags=tags,
    )
