"""`migrate --to ecs`: move the spec's CODE_DEPLOY service onto ECS-native blue/green in place,
reusing its target groups and listeners (reference ../shared/reference/ecs-native-bluegreen.md
§5, doc keys MIG, MIG2, IAMLB, UPD, TSM).

The plan is a pure function of what was read (`read_state` → `build_plan`); `--dry-run` prints
it and writes nothing. Apply runs the plan's steps in order, each one first checking whether it
is already done (a rerun continues where a failed run stopped), each write journalled (intent
before, result after). The steps:

1. the infrastructure role for load balancers (trusting ecs.amazonaws.com, with the
   AmazonECSInfrastructureRolePolicyForLoadBalancers managed policy), unless `--role-arn`;
2. the production and 3. test listener RULES: every path (`/*`) forwarded to both target
   groups, the serving one weight 1 and the other 0. They are created BESIDE the listeners'
   default forwards, at the lowest precedence (after every existing rule): a request that
   reached the default action (the serving target group) now matches the rule, which sends it
   to that same target group, so production never moves; the default actions are left as
   they are (unreachable behind `/*`; deleting the rule is the undo). Replacing the default
   forward instead would need a moment where the listener forwards elsewhere, or a rule first
   anyway.
4. one UpdateService: deploymentController ECS, the strategy derived from the group's
   deployment config, bake time from its termination wait, its alarms (rollback per its
   auto-rollback), and loadBalancers[].advancedConfiguration (the serving target group stays
   `targetGroupArn`, the other becomes `alternateTargetGroupArn`);
5. verify: the service reads back as planned and production still forwards to the same group;
6. with `--delete-codedeploy`: the deployment group, and the application once it has no group.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from bluegreen.errors import BluegreenError, PreflightError, ResourceNotFound

if TYPE_CHECKING:
    from bluegreen.aws.codedeploy import DeploymentGroup
    from bluegreen.aws.session import Aws
    from bluegreen.engines.model import Output
    from bluegreen.spec.model import Spec

MARKER_TAG = "bluegreen:migrate"
MAX_BAKE_MINUTES = 1440
ALB_PROTOCOLS = ("HTTP", "HTTPS")
# CodeDeploy ECS lifecycle events (AppSpec Hooks) and the ECS lifecycle stage where the same
# check runs natively [HOOKS; MIG].
HOOK_STAGES = {
    "BeforeInstall": "PRE_SCALE_UP",
    "AfterInstall": "POST_SCALE_UP",
    "AfterAllowTestTraffic": "POST_TEST_TRAFFIC_SHIFT",
    "BeforeAllowTraffic": "PRE_PRODUCTION_TRAFFIC_SHIFT",
    "AfterAllowTraffic": "POST_PRODUCTION_TRAFFIC_SHIFT",
}
# Step names (the journal's `action` is `migrate:<step>`)
ROLE, PROD_RULE, TEST_RULE, UPDATE, VERIFY, DELETE = (
    "infrastructure-role",
    "production-rule",
    "test-rule",
    "update-service",
    "verify",
    "delete-codedeploy",
)


@dataclass(frozen=True)
class MigrateRequest:
    role_arn: str | None = None
    dry_run: bool = False
    delete_codedeploy: bool = False
    drop_hooks: bool = False


@dataclass(frozen=True)
class RuleStep:
    label: str  # production | test
    listener: str
    existing: str | None  # a rule that already forwards to both groups (reused)
    priority: int  # for a new rule: after every existing one


@dataclass(frozen=True)
class HookNote:
    event: str
    function: str
    stage: str | None


@dataclass(frozen=True)
class MigratePlan:
    cluster: str
    service: str
    application: str
    deployment_group: str
    controller: str  # CODE_DEPLOY, or ECS when the switch is already done
    task_definition: str | None
    serving: str  # target group ARN production forwards to
    alternate: str
    container_name: str
    container_port: int
    rules: tuple[RuleStep, ...]
    role_arn: str
    role_name: str
    create_role: bool
    attach_policy: bool
    deployment_configuration: Mapping[str, Any]
    source_config: str
    hooks: tuple[HookNote, ...]
    delete_codedeploy: bool
    codedeploy_exists: bool
    drop_hooks: bool = False
    notices: tuple[str, ...] = ()
    done_rules: Mapping[str, str] = field(default_factory=dict)  # label -> rule ARN

    @property
    def switched(self) -> bool:
        return self.controller == "ECS"

    @property
    def strategy(self) -> str:
        return str(self.deployment_configuration.get("strategy"))

    def rule_arn(self, label: str) -> str | None:
        for rule in self.rules:
            if rule.label == label:
                return rule.existing or self.done_rules.get(label)
        return None

    def load_balancers(self) -> list[dict[str, Any]]:
        advanced: dict[str, Any] = {
            "alternateTargetGroupArn": self.alternate,
            "productionListenerRule": self.rule_arn("production"),
            "roleArn": self.role_arn,
        }
        test = self.rule_arn("test")
        if test:
            advanced["testListenerRule"] = test
        return [
            {
                "targetGroupArn": self.serving,
                "containerName": self.container_name,
                "containerPort": self.container_port,
                "advancedConfiguration": advanced,
            }
        ]

    def steps(self) -> list[dict[str, Any]]:
        """Every change in order: what it does, and whether it is already done."""
        out: list[dict[str, Any]] = []
        if self.create_role or self.attach_policy:
            what = (
                f"create IAM role {self.role_name} trusting ecs.amazonaws.com"
                if self.create_role
                else f"IAM role {self.role_name}"
            )
            out.append(
                {
                    "step": ROLE,
                    "change": f"{what}; attach AmazonECSInfrastructureRolePolicyForLoadBalancers",
                    "resource": self.role_arn,
                    "done": False,
                }
            )
        for rule in self.rules:
            step = PROD_RULE if rule.label == "production" else TEST_RULE
            weights = f"{_short(self.serving)} weight 1, {_short(self.alternate)} weight 0"
            if rule.existing:
                change = f"reuse {rule.label} listener rule (forwards to both: {weights})"
            else:
                change = (
                    f"create {rule.label} listener rule, priority {rule.priority}, path /*: "
                    f"forward to {weights} (beside the listener's default forward)"
                )
            out.append(
                {
                    "step": step,
                    "change": change,
                    "resource": rule.existing or rule.listener,
                    "done": bool(rule.existing),
                }
            )
        out.append(
            {
                "step": UPDATE,
                "change": "UpdateService: deploymentController ECS, strategy "
                f"{self.strategy}, loadBalancers[0].advancedConfiguration (alternate "
                f"{_short(self.alternate)}, the rules, role {self.role_name})",
                "resource": f"{self.cluster}/{self.service}",
                "done": self.switched,
            }
        )
        out.append(
            {
                "step": VERIFY,
                "change": "read back: controller ECS, the strategy, advancedConfiguration; "
                f"production still on {_short(self.serving)}",
                "resource": f"{self.cluster}/{self.service}",
                "done": False,
            }
        )
        if self.delete_codedeploy:
            out.append(
                {
                    "step": DELETE,
                    "change": f"delete CodeDeploy deployment group {self.deployment_group} (and "
                    f"application {self.application} once it has no group)",
                    "resource": f"{self.application}/{self.deployment_group}",
                    "done": not self.codedeploy_exists,
                }
            )
        return out

    def untouched(self) -> list[str]:
        out = [
            f"target groups {_short(self.serving)} and {_short(self.alternate)} (reused)",
            "the listeners and their default actions (left as they are)",
            "the running tasks and task definition "
            + (self.task_definition.rsplit("/", 1)[-1] if self.task_definition else "-"),
            "the CloudWatch alarms (only named in the service's deployment alarms)",
            "the spec file: the ECS-native engine reads no `codedeploy:` block and takes the "
            "strategy from the service, so `bluegreen deploy` works with it unchanged",
        ]
        if not self.delete_codedeploy:
            out.append(
                f"CodeDeploy application {self.application} and group {self.deployment_group} "
                "(kept; `--delete-codedeploy` deletes them)"
            )
        return out

    def json(self) -> dict[str, Any]:
        return {
            "event": "plan",
            "verb": "migrate",
            "to": "ecs",
            "cluster": self.cluster,
            "service": self.service,
            "controller": self.controller,
            "productionTargetGroup": self.serving,
            "alternateTargetGroup": self.alternate,
            "deploymentConfiguration": dict(self.deployment_configuration),
            "derivedFrom": self.source_config,
            "loadBalancers": self.load_balancers(),
            "roleArn": self.role_arn,
            "passRole": pass_role_statement(self.role_arn),
            "hooksNotCarriedOver": [
                {
                    "event": h.event,
                    "function": h.function,
                    "nativeStage": h.stage,
                    "lifecycleHook": _hook_entry(h),
                }
                for h in self.hooks
            ],
            "steps": self.steps(),
            "untouched": self.untouched(),
            "specChange": None,
            "notices": list(self.notices),
        }

    def lines(self) -> list[str]:
        conf = self.deployment_configuration
        out = [
            f"migrate {self.cluster}/{self.service} from CODE_DEPLOY to ECS-native "
            f"{self.strategy}"
            + (" (the controller switch is already done)" if self.switched else ""),
            f"  strategy from {self.source_config}: {_strategy_text(conf)}; bake time "
            f"{conf.get('bakeTimeInMinutes')} min (the group's termination wait)",
        ]
        alarms = conf.get("alarms")
        if alarms:
            out.append(
                f"  alarms {', '.join(alarms['alarmNames'])}: deployment alarms, rollback "
                f"{'on' if alarms['rollback'] else 'off'} (the group's auto-rollback)"
            )
        out.append(f"  production stays on {_short(self.serving)} throughout")
        out.append("  changes, in order:")
        for n, step in enumerate(self.steps(), 1):
            state = " (already done)" if step["done"] else ""
            out.append(f"    {n}. {step['change']}{state}")
        out.append("  not touched:")
        out += [f"    - {u}" for u in self.untouched()]
        out.append(
            f"  IAM: the caller needs iam:PassRole on {self.role_arn} "
            "(condition iam:PassedToService = ecs.amazonaws.com)"
            + (", and iam:CreateRole / iam:AttachRolePolicy" if self.create_role else "")
        )
        if self.hooks:
            out.append(
                "  CodeDeploy hooks NOT carried over (ECS calls a Lambda hook and reads its "
                "return value; no PutLifecycleEventHookExecutionStatus):"
            )
            for h in self.hooks:
                where = f"the {h.stage} lifecycle stage" if h.stage else "no native stage"
                out.append(f"    - {h.event} → {h.function}: rewrite it for {where}")
            out.append(
                "    then add them to the service's deploymentConfiguration.lifecycleHooks "
                "(roleArn: a role trusting ecs.amazonaws.com allowed lambda:InvokeFunction)"
                + (
                    "; --drop-hooks given: migrating without them"
                    if self.drop_hooks
                    else "; migrate refuses until you pass --drop-hooks"
                )
            )
        out += [f"  note: {n}" for n in self.notices]
        return out


def _short(arn: str) -> str:
    return arn.split(":", 5)[-1]


def _strategy_text(conf: Mapping[str, Any]) -> str:
    strategy = conf.get("strategy")
    if strategy == "CANARY":
        c = conf.get("canaryConfiguration") or {}
        return (
            f"CANARY {c.get('canaryPercent'):g}% then 100% after "
            f"{c.get('canaryBakeTimeInMinutes')} min"
        )
    if strategy == "LINEAR":
        c = conf.get("linearConfiguration") or {}
        return (
            f"LINEAR steps of {c.get('stepPercent'):g}%, {c.get('stepBakeTimeInMinutes')} min apart"
        )
    return "BLUE_GREEN (all at once)"


def _hook_entry(h: HookNote) -> dict[str, Any] | None:
    if h.stage is None:
        return None
    return {
        "targetType": "AWS_LAMBDA",
        "hookTargetArn": h.function,
        "roleArn": "<role trusting ecs.amazonaws.com, allowed lambda:InvokeFunction>",
        "lifecycleStages": [h.stage],
    }


def pass_role_statement(role_arn: str) -> dict[str, Any]:
    return {
        "Effect": "Allow",
        "Action": "iam:PassRole",
        "Resource": role_arn,
        "Condition": {"StringEquals": {"iam:PassedToService": "ecs.amazonaws.com"}},
    }


def role_name_for(cluster: str, service: str) -> str:
    return f"ecsInfrastructureRole-{cluster}-{service}"[:64]


def strategy_from_group(
    routing_type: str, percentage: int, interval: int, bake: int, where: str
) -> dict[str, Any]:
    """The native deploymentConfiguration members for a CodeDeploy traffic routing: canary →
    CANARY, linear → LINEAR, all-at-once → BLUE_GREEN, bake time from the termination wait."""
    if not 0 <= bake <= MAX_BAKE_MINUTES:
        raise PreflightError(
            f"the group's termination wait is {bake} minutes; ECS bakes at most "
            f"{MAX_BAKE_MINUTES} (bakeTimeInMinutes)",
            where=where,
            hint="lower terminationWaitTimeInMinutes on the deployment group, then rerun",
        )
    if routing_type != "AllAtOnce" and interval > MAX_BAKE_MINUTES:
        raise PreflightError(
            f"the group's deployment config waits {interval} minutes between steps; ECS "
            f"bakes a step at most {MAX_BAKE_MINUTES}",
            where=where,
        )
    if routing_type == "TimeBasedCanary":
        return {
            "strategy": "CANARY",
            "canaryConfiguration": {
                "canaryPercent": float(percentage),
                "canaryBakeTimeInMinutes": interval,
            },
            "bakeTimeInMinutes": bake,
        }
    if routing_type == "TimeBasedLinear":
        if percentage < 3:
            raise PreflightError(
                f"the group's deployment config shifts {percentage}% a step; ECS takes a "
                "linear step of 3% to 100%",
                where=where,
                hint="point the group at a linear config of at least 3%, then rerun",
            )
        return {
            "strategy": "LINEAR",
            "linearConfiguration": {
                "stepPercent": float(percentage),
                "stepBakeTimeInMinutes": interval,
            },
            "bakeTimeInMinutes": bake,
        }
    return {"strategy": "BLUE_GREEN", "bakeTimeInMinutes": bake}


# --- reads and the plan ----------------------------------------------------------------------
def plan_migration(spec: Spec, aws: Aws, request: MigrateRequest) -> MigratePlan:
    """Everything read, every precondition checked, no write: PreflightError (exit 2) naming
    the first thing that is wrong."""
    from bluegreen.aws import codedeploy, ecs, elbv2, iam
    from bluegreen.aws.ecs_native import forward_weights
    from bluegreen.engines import EngineKind, engine_kind

    where = f"ECS service {spec.cluster}/{spec.service}"
    svc = ecs.describe_service_raw(aws, spec.cluster, spec.service)
    live = ecs.live_service(svc, cluster=spec.cluster, service=spec.service)
    controller = live.deployment_controller
    kind = engine_kind(controller, live.deployment_strategy)
    conf = live.deployment_configuration
    app, group_name = spec.codedeploy.application, spec.codedeploy.deployment_group
    group = _group_or_none(aws, app, group_name)
    if kind in (EngineKind.ROLLING, EngineKind.ECS_NATIVE):
        advanced = [(lb.get("advancedConfiguration") or {}) for lb in live.load_balancers]
        if kind is EngineKind.ECS_NATIVE and advanced and all(advanced):
            return _already_switched(spec, svc, group, request)
        raise PreflightError(
            f"the service already uses the ECS deployment controller (strategy "
            f"{conf.get('strategy') or 'ROLLING'}"
            + ("" if advanced and all(advanced) else ", no advancedConfiguration")
            + "); migrate moves CODE_DEPLOY services",
            where=where,
            hint="an ECS service changes strategy with `aws ecs update-service "
            "--deployment-configuration strategy=... --load-balancers ...advancedConfiguration...`",
        )
    if kind is not EngineKind.CODEDEPLOY:
        raise PreflightError(
            f"the service uses the {controller} deployment controller; migrate moves "
            "CODE_DEPLOY services",
            where=where,
        )
    if group is None:
        raise PreflightError(
            f"CodeDeploy deployment group {app}/{group_name} not found",
            where=f"{spec.display}: codedeploy.deployment_group",
            hint="migrate reads the group's target groups, listeners, config and alarms: fix "
            "`codedeploy.application`/`deployment_group` in the spec",
        )
    busy = codedeploy.active_deployments(aws, app, group_name)
    if busy:
        raise PreflightError(
            f"CodeDeploy deployment {busy[0]} is in flight; ECS changes the deployment "
            "controller only with no deployment in flight",
            where=f"CodeDeploy deployment group {app}/{group_name}",
            hint=f"let it finish (`bluegreen watch {busy[0]}`) or stop it (`bluegreen stop "
            f"{busy[0]}`), then rerun",
        )
    task_sets = list(svc.get("taskSets") or [])
    primary = [t for t in task_sets if t.get("status") == "PRIMARY"]
    if len(task_sets) != 1 or len(primary) != 1:
        states = ", ".join(f"{t.get('id')} {t.get('status')}" for t in task_sets) or "none"
        raise PreflightError(
            f"the service has {len(task_sets)} task set(s) ({states}); ECS changes the "
            "deployment controller only with exactly one, PRIMARY, task set",
            where=where,
            hint="finish or roll back the deployment that left them, then rerun",
        )
    ts = primary[0]
    balancers = list(ts.get("loadBalancers") or svc.get("loadBalancers") or [])
    if not balancers or not balancers[0].get("targetGroupArn"):
        raise PreflightError("the primary task set has no target group", where=where)
    lb = balancers[0]
    serving = str(lb["targetGroupArn"])
    try:
        groups = elbv2.target_groups(aws, list(group.target_groups))
    except ResourceNotFound as exc:
        raise PreflightError(
            exc.message, where=f"CodeDeploy deployment group {app}/{group_name}"
        ) from exc
    arns = [groups[n].arn for n in group.target_groups]
    if len(arns) != 2 or serving not in arns:
        raise PreflightError(
            f"the primary task set's target group {_short(serving)} is not one of the "
            f"group's pair ({', '.join(group.target_groups)})",
            where=f"CodeDeploy deployment group {app}/{group_name}",
        )
    alternate = next(a for a in arns if a != serving)
    if not group.prod_listeners:
        raise PreflightError(
            "the deployment group has no production listener",
            where=f"CodeDeploy deployment group {app}/{group_name}",
        )
    rules: list[RuleStep] = []
    notices: list[str] = []
    for label, listeners in (("production", group.prod_listeners), ("test", group.test_listeners)):
        if not listeners:
            continue
        listener_arn = listeners[0]
        listener = elbv2.listener_record(aws, listener_arn)
        at = f"{label} listener {listener_arn}"
        if listener is None:
            raise PreflightError(f"the {label} listener does not exist", where=at)
        if str(listener.get("Protocol")) not in ALB_PROTOCOLS:
            raise PreflightError(
                f"the {label} listener is {listener.get('Protocol')} (a Network Load "
                "Balancer): ECS-native blue/green names NLB listeners, not rules, which "
                "migrate does not set up",
                where=at,
            )
        lb_arn = str(listener.get("LoadBalancerArn"))
        for tg in (serving, alternate):
            owners = set(groups_by_arn(groups)[tg].load_balancer_arns)
            if owners - {lb_arn}:
                raise PreflightError(
                    f"target group {_short(tg)} is used by another load balancer; a rule of "
                    f"this listener cannot forward to it",
                    where=at,
                )
        existing_rules = elbv2.listener_rules(aws, listener_arn)
        reuse: str | None = None
        for rule in existing_rules:
            if rule.get("IsDefault"):
                continue
            weights = forward_weights(rule)
            if set(weights) == {serving, alternate}:
                if label == "production" and not (weights[serving] > 0 and weights[alternate] == 0):
                    raise PreflightError(
                        f"listener rule {rule.get('RuleArn')} forwards to both target groups "
                        f"but not all to {_short(serving)} (weights {weights}): reusing it "
                        "would move production",
                        where=at,
                        hint="set its weights to serving 1, other 0, then rerun",
                    )
                reuse = str(rule.get("RuleArn"))
                break
        if reuse is None and label == "production":
            default = forward_weights({"Actions": listener.get("DefaultActions") or []})
            forwarded = {tg for tg, w in default.items() if w > 0}
            if forwarded != {serving}:
                raise PreflightError(
                    f"the production listener's default action forwards to "
                    f"{', '.join(_short(t) for t in forwarded) or 'no target group'}, not the "
                    f"primary task set's {_short(serving)}",
                    where=at,
                    hint="finish or roll back the CodeDeploy deployment that left it so",
                )
        priorities = [
            int(r["Priority"]) for r in existing_rules if str(r.get("Priority", "")).isdigit()
        ]
        rules.append(RuleStep(label, listener_arn, reuse, max(priorities, default=0) + 1))
    # the infrastructure role
    if request.role_arn:
        role = iam.get_role(aws, request.role_arn)
        if role is None:
            raise PreflightError(f"IAM role {request.role_arn} does not exist", where="--role-arn")
        if not iam.trusts(role, iam.ECS_PRINCIPAL):
            raise PreflightError(
                f"IAM role {request.role_arn} does not trust ecs.amazonaws.com",
                where="--role-arn",
                hint="add ecs.amazonaws.com to its trust policy (sts:AssumeRole)",
            )
        role_name = str(role.get("RoleName"))
        role_arn = str(role.get("Arn"))
        create_role = attach = False
        if iam.LOAD_BALANCERS_POLICY not in iam.attached_policies(aws, role_name):
            notices.append(
                f"{role_name} has no AmazonECSInfrastructureRolePolicyForLoadBalancers "
                "attached: make sure it grants the same ELB permissions"
            )
    else:
        role_name = role_name_for(spec.cluster, spec.service)
        role = iam.get_role(aws, role_name)
        if role is not None and not iam.trusts(role, iam.ECS_PRINCIPAL):
            raise PreflightError(
                f"IAM role {role_name} exists and does not trust ecs.amazonaws.com",
                where=f"IAM role {role_name}",
                hint="pass the infrastructure role with --role-arn, or fix that role's trust",
            )
        create_role = role is None
        attach = create_role or iam.LOAD_BALANCERS_POLICY not in iam.attached_policies(
            aws, role_name
        )
        account = _account_of(serving)
        role_arn = str(role["Arn"]) if role else f"arn:aws:iam::{account}:role/{role_name}"
    # the strategy, bake time and alarms from the group
    config, source = _group_routing(aws, group)
    gwhere = f"CodeDeploy deployment group {app}/{group_name}"
    deployment_configuration = strategy_from_group(
        config[0], config[1], config[2], group.termination_wait_minutes, gwhere
    )
    if group.alarms_enabled and group.alarms:
        from bluegreen.aws.cloudwatch import missing_alarms

        missing = missing_alarms(aws, group.alarms)
        if missing:
            raise PreflightError(
                f"the group's alarm{'s' if len(missing) > 1 else ''} {', '.join(missing)} not "
                "found",
                where=gwhere,
                hint="create them, or remove them from the group's alarm configuration",
            )
        deployment_configuration["alarms"] = {
            "alarmNames": list(group.alarms),
            "enable": True,
            "rollback": group.auto_rollback_enabled
            and "DEPLOYMENT_STOP_ON_ALARM" in group.auto_rollback_events,
        }
    if spec.codedeploy.deployment_config and spec.codedeploy.deployment_config != source:
        notices.append(
            f"the spec's codedeploy.deployment_config ({spec.codedeploy.deployment_config}) "
            f"differs from the group's ({source}); the strategy follows the group. Change it "
            "for one release with `deploy --deployment-config`"
        )
    hooks = tuple(
        HookNote(event, function, HOOK_STAGES.get(event))
        for event, function in sorted(spec.codedeploy.hooks.items())
    )
    return MigratePlan(
        cluster=spec.cluster,
        service=spec.service,
        application=app,
        deployment_group=group_name,
        controller=controller,
        task_definition=ts.get("taskDefinition"),
        serving=serving,
        alternate=alternate,
        container_name=str(lb.get("containerName")),
        container_port=int(lb.get("containerPort") or 0),
        rules=tuple(rules),
        role_arn=role_arn,
        role_name=role_name,
        create_role=create_role,
        attach_policy=attach,
        deployment_configuration=deployment_configuration,
        source_config=source,
        hooks=hooks,
        delete_codedeploy=request.delete_codedeploy,
        codedeploy_exists=True,
        drop_hooks=request.drop_hooks,
        notices=tuple(notices),
    )


def groups_by_arn(groups: Mapping[str, Any]) -> dict[str, Any]:
    return {g.arn: g for g in groups.values()}


def _account_of(arn: str) -> str:
    parts = arn.split(":")
    return parts[4] if len(parts) > 4 else ""


def _group_or_none(aws: Aws, app: str, group: str) -> DeploymentGroup | None:
    from bluegreen.aws import codedeploy

    try:
        return codedeploy.deployment_group(aws, app, group)
    except ResourceNotFound:
        return None
    except BluegreenError as exc:
        # CodeDeploy answers a missing application or group with its own exceptions
        if "DoesNotExist" in exc.message or "does not exist" in exc.message.lower():
            return None
        raise


def _group_routing(aws: Aws, group: DeploymentGroup) -> tuple[tuple[str, int, int], str]:
    from bluegreen.aws import codedeploy
    from bluegreen.engines.codedeploy.configs import PREDEFINED, TrafficRouting

    name = group.deployment_config or "CodeDeployDefault.ECSAllAtOnce"
    routing = PREDEFINED.get(name)
    if routing is None:
        found = codedeploy.deployment_config(aws, name)
        if found is None:
            raise PreflightError(
                f"the group's deployment config {name} does not exist",
                where=f"CodeDeploy deployment group {group.application}/{group.name}",
            )
        routing = TrafficRouting.from_aws(found)
    return (routing.type, routing.percentage, routing.interval_minutes), name


def _already_switched(
    spec: Spec, svc: Mapping[str, Any], group: DeploymentGroup | None, request: MigrateRequest
) -> MigratePlan:
    """The controller switch is done (a rerun after it, or after a failure past it): what is
    left is the verification and, when asked, the CodeDeploy deletion."""
    lb = (svc.get("loadBalancers") or [{}])[0]
    advanced = lb.get("advancedConfiguration") or {}
    conf = dict(svc.get("deploymentConfiguration") or {})
    rules = [
        RuleStep("production", "", str(advanced.get("productionListenerRule")), 0),
    ]
    if advanced.get("testListenerRule"):
        rules.append(RuleStep("test", "", str(advanced["testListenerRule"]), 0))
    role_arn = str(advanced.get("roleArn"))
    return MigratePlan(
        cluster=spec.cluster,
        service=spec.service,
        application=spec.codedeploy.application,
        deployment_group=spec.codedeploy.deployment_group,
        controller="ECS",
        task_definition=svc.get("taskDefinition"),
        serving=str(lb.get("targetGroupArn")),
        alternate=str(advanced.get("alternateTargetGroupArn")),
        container_name=str(lb.get("containerName")),
        container_port=int(lb.get("containerPort") or 0),
        rules=tuple(rules),
        role_arn=role_arn,
        role_name=role_arn.rsplit("/", 1)[-1],
        create_role=False,
        attach_policy=False,
        deployment_configuration={
            k: v
            for k, v in conf.items()
            if k
            in (
                "strategy",
                "bakeTimeInMinutes",
                "canaryConfiguration",
                "linearConfiguration",
                "alarms",
            )
        },
        source_config="the service (already switched)",
        hooks=(),
        delete_codedeploy=request.delete_codedeploy,
        codedeploy_exists=group is not None,
    )


# --- apply ---------------------------------------------------------------------------------
@dataclass
class Progress:
    done: list[str] = field(default_factory=list)
    created: list[str] = field(default_factory=list)


def migrate(spec: Spec, aws: Aws, out: Output, request: MigrateRequest) -> MigratePlan:
    """Plan, print, and (unless --dry-run) apply; returns the plan as applied."""
    plan = plan_migration(spec, aws, request)
    out.emit(plan.json(), "\n".join(plan.lines()))
    if request.dry_run:
        out.emit(
            {"event": "result", "dryRun": True, "status": "DryRun"},
            "dry run: nothing was changed",
        )
        return plan
    if plan.hooks and not request.drop_hooks:
        raise PreflightError(
            "the spec's CodeDeploy hooks ("
            + ", ".join(f"{h.event} → {h.function}" for h in plan.hooks)
            + ") cannot be carried over: ECS-native releases would run without them",
            where=f"{spec.display}: codedeploy.hooks",
            hint="rewrite them as ECS Lambda lifecycle hooks (see the plan), or pass "
            "--drop-hooks to migrate without them and add the hooks afterwards",
        )
    from bluegreen.journal import Journal, journal_path

    journal = Journal(journal_path(spec.path))
    progress = Progress()
    steps = [s for s in plan.steps() if not s["done"]]
    current = ""
    try:
        for step in steps:
            current = str(step["step"])
            plan = _run_step(aws, journal, out, plan, current, progress)
    except BluegreenError as exc:
        exc.hint = _failure_hint(plan, current, progress, exc.hint)
        exc.message = f"migrate stopped at step {current}: {exc.message}"
        raise
    out.emit(
        {
            "event": "result",
            "status": "Migrated",
            "controller": "ECS",
            "strategy": plan.strategy,
            "productionTargetGroup": plan.serving,
            "steps": progress.done,
        },
        f"migrated: {spec.cluster}/{spec.service} is released by ECS-native "
        f"{plan.strategy} now; `bluegreen deploy` goes through it with the same spec",
    )
    return plan


def _failure_hint(plan: MigratePlan, step: str, progress: Progress, hint: str | None) -> str:
    done = "; ".join(progress.done) or "nothing"
    undo = []
    for arn in progress.created:
        if ":listener-rule/" in arn:
            undo.append(f"aws elbv2 delete-rule --rule-arn {arn}")
        elif ":role/" in arn:
            name = arn.rsplit("/", 1)[-1]
            undo.append(
                f"aws iam detach-role-policy --role-name {name} --policy-arn "
                "arn:aws:iam::aws:policy/AmazonECSInfrastructureRolePolicyForLoadBalancers; "
                f"aws iam delete-role --role-name {name}"
            )
    switched = step in (VERIFY, DELETE)
    parts = [
        f"done before the failure: {done}",
        f"production still forwards to {_short(plan.serving)}",
        "fix the cause and rerun `bluegreen migrate --to ecs` to finish: every step checks "
        "whether it is already done",
    ]
    if switched:
        parts.append("the controller switch is done and cannot be undone in place (§5)")
    elif undo:
        parts.append("or undo: " + " && ".join(undo))
    if hint:
        parts.append(hint)
    return "; ".join(parts)


def _record(journal: Any, kind: str, plan: MigratePlan, step: str, **fields: Any) -> None:
    journal.append(
        kind,
        action=f"migrate:{step}",
        cluster=plan.cluster,
        service=plan.service,
        **fields,
    )


def _run_step(
    aws: Aws, journal: Any, out: Output, plan: MigratePlan, step: str, progress: Progress
) -> MigratePlan:
    from bluegreen.aws import ecs_native, elbv2, iam
    from bluegreen.journal import DONE, INTENT

    def report(what: str, **extra: Any) -> None:
        progress.done.append(what)
        out.emit({"event": "step", "step": step, "done": what, **extra}, f"  done: {what}")

    if step == ROLE:
        if plan.create_role and iam.get_role(aws, plan.role_name) is None:
            _record(journal, INTENT, plan, step, role=plan.role_name)
            arn = iam.create_service_role(
                aws,
                plan.role_name,
                iam.ECS_PRINCIPAL,
                f"ECS infrastructure role for the load balancers of {plan.cluster}/{plan.service}",
                {MARKER_TAG: f"{plan.cluster}/{plan.service}"},
            )
            progress.created.append(arn)
            _record(journal, DONE, plan, step, role=arn)
            report(f"created IAM role {plan.role_name}", roleArn=arn)
        if iam.LOAD_BALANCERS_POLICY not in iam.attached_policies(aws, plan.role_name):
            _record(journal, INTENT, plan, step, attach=iam.LOAD_BALANCERS_POLICY)
            iam.attach_policy(aws, plan.role_name, iam.LOAD_BALANCERS_POLICY)
            _record(journal, DONE, plan, step, attach=iam.LOAD_BALANCERS_POLICY)
            report(
                f"attached AmazonECSInfrastructureRolePolicyForLoadBalancers to {plan.role_name}"
            )
        return plan
    if step in (PROD_RULE, TEST_RULE):
        label = "production" if step == PROD_RULE else "test"
        rule = next(r for r in plan.rules if r.label == label)
        _record(journal, INTENT, plan, step, listener=rule.listener, priority=rule.priority)
        arn = elbv2.create_forward_rule(
            aws,
            rule.listener,
            rule.priority,
            [(plan.serving, 1), (plan.alternate, 0)],
            {MARKER_TAG: f"{plan.cluster}/{plan.service}"},
        )
        progress.created.append(arn)
        _record(journal, DONE, plan, step, rule=arn)
        report(f"created the {label} listener rule {arn}", ruleArn=arn)
        return replace(plan, done_rules={**plan.done_rules, label: arn})
    if step == UPDATE:
        balancers = plan.load_balancers()
        _record(
            journal,
            INTENT,
            plan,
            step,
            deploymentConfiguration=dict(plan.deployment_configuration),
            loadBalancers=balancers,
        )
        ecs_native.switch_to_ecs_controller(
            aws,
            plan.cluster,
            plan.service,
            deployment_configuration=dict(plan.deployment_configuration),
            load_balancers=balancers,
        )
        _record(journal, DONE, plan, step, controller="ECS", strategy=plan.strategy)
        report(f"UpdateService: deploymentController ECS, strategy {plan.strategy}")
        return replace(plan, controller="ECS")
    if step == VERIFY:
        problems = verify_switched(aws, plan)
        if problems:
            from bluegreen.errors import AwsError

            raise AwsError(
                "the service does not read back as planned: " + "; ".join(problems),
                where=f"ECS service {plan.cluster}/{plan.service}",
            )
        report("verified: controller ECS, strategy, advancedConfiguration; production unmoved")
        return plan
    if step == DELETE:
        from bluegreen.aws import codedeploy

        _record(journal, INTENT, plan, step, group=plan.deployment_group)
        if codedeploy.group_names(aws, plan.application) is not None:
            if plan.deployment_group in (codedeploy.group_names(aws, plan.application) or []):
                codedeploy.delete_deployment_group(aws, plan.application, plan.deployment_group)
            if not codedeploy.group_names(aws, plan.application):
                codedeploy.delete_application(aws, plan.application)
        _record(journal, DONE, plan, step, group=plan.deployment_group)
        report(
            f"deleted CodeDeploy group {plan.deployment_group} and application {plan.application}"
        )
        return plan
    raise AssertionError(step)  # pragma: no cover - the steps are the plan's


def verify_switched(aws: Aws, plan: MigratePlan) -> list[str]:
    """What differs between the live service and the plan (empty: as planned)."""
    from bluegreen.aws import ecs, ecs_native

    svc = ecs.describe_service_raw(aws, plan.cluster, plan.service)
    problems: list[str] = []
    live = ecs.live_service(svc, cluster=plan.cluster, service=plan.service)
    if live.deployment_controller != "ECS":
        problems.append(f"deploymentController is {live.deployment_controller}")
    conf = live.deployment_configuration
    if conf.get("strategy") != plan.strategy:
        problems.append(f"strategy is {conf.get('strategy')}, not {plan.strategy}")
    lbs = svc.get("loadBalancers") or []
    advanced = (lbs[0].get("advancedConfiguration") or {}) if lbs else {}
    planned = plan.load_balancers()[0]["advancedConfiguration"]
    for key, value in planned.items():
        if advanced.get(key) != value:
            problems.append(f"advancedConfiguration.{key} is {advanced.get(key)}, not {value}")
    prod = plan.rule_arn("production")
    if prod:
        weights = ecs_native.forward_weights(ecs_native.describe_rules(aws, [prod]).get(prod) or {})
        serving = {tg for tg, w in weights.items() if w > 0}
        if serving - {plan.serving, plan.alternate} or not serving:
            problems.append(f"the production rule forwards to {weights}")
    return problems


def half_migrated(aws: Aws, spec: Spec, live_svc: Mapping[str, Any]) -> str | None:
    """What a half-done migration left (for `doctor`), or None: rules of migrate's beside a
    CODE_DEPLOY service, or an ECS controller with a native strategy and no
    advancedConfiguration."""
    from bluegreen.aws import elbv2
    from bluegreen.aws.ecs import live_service
    from bluegreen.engines import EngineKind, engine_kind

    live = live_service(dict(live_svc), cluster=spec.cluster, service=spec.service)
    kind = engine_kind(live.deployment_controller, live.deployment_strategy)
    if kind is EngineKind.ECS_NATIVE:
        lbs = live.load_balancers
        if lbs and not all(lb.get("advancedConfiguration") for lb in lbs):
            return (
                f"the controller is ECS with strategy {live.deployment_strategy} but the load "
                "balancer has no advancedConfiguration"
            )
        return None
    if kind is not EngineKind.CODEDEPLOY:
        return None
    group = _group_or_none(aws, spec.codedeploy.application, spec.codedeploy.deployment_group)
    if group is None:
        return None
    found: list[str] = []
    for listener in (*group.prod_listeners, *group.test_listeners):
        for rule in elbv2.listener_rules(aws, listener):
            if not rule.get("IsDefault") and elbv2.has_tag(
                aws, str(rule.get("RuleArn")), MARKER_TAG
            ):
                found.append(str(rule.get("RuleArn")))
    if found:
        return (
            f"migrate's listener rule(s) {', '.join(found)} exist but the controller is still "
            "CODE_DEPLOY"
        )
    return None


__all__: Sequence[str] = ("MigratePlan", "MigrateRequest", "migrate", "plan_migration")
