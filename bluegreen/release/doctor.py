"""`doctor`: a preflight of the AWS setup a spec releases into; reads only.

Each finding has a level (error | warn | ok), what was checked, what was found and the fix.
The checks that only need data (min/max percent, Fargate sizes, image pinning) are pure
functions; `run_doctor` gathers the data through the gateways.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bluegreen.errors import BluegreenError, ResourceNotFound

if TYPE_CHECKING:
    from bluegreen.aws.model import LiveService
    from bluegreen.aws.session import Aws
    from bluegreen.spec.model import Spec

ERROR, WARN, OK = "error", "warn", "ok"


@dataclass(frozen=True)
class Finding:
    level: str
    check: str
    message: str
    fix: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"level": self.level, "check": self.check, "message": self.message, "fix": self.fix}


def rolling_percent(desired: int, minimum: int, maximum: int) -> Finding:
    """Can a rolling update make progress with these min/max healthy percents?"""
    check = "rolling-update"
    room_up = math.floor(desired * maximum / 100) - desired  # extra tasks it may start
    room_down = desired - math.ceil(desired * minimum / 100)  # tasks it may stop first
    if desired == 0:
        return Finding(OK, check, "desiredCount is 0: nothing to replace")
    if room_up <= 0 and room_down <= 0:
        return Finding(
            ERROR,
            check,
            f"minimumHealthyPercent {minimum} / maximumPercent {maximum} with desiredCount "
            f"{desired}: ECS can neither start a new task first nor stop an old one, so the "
            "rolling update never makes progress",
            "set maximumPercent 200 (start new tasks first: 100/200), or minimumHealthyPercent "
            "50 (replace half at a time: 50/200); for a single task that cannot run twice "
            "(e.g. a fixed host port on EC2) use 0/200",
        )
    if room_up <= 0 and desired == 1:
        return Finding(
            WARN,
            check,
            f"{minimum}/{maximum} with one task: the old task stops before the new one runs "
            "(downtime on each release)",
            "use minimumHealthyPercent 100 / maximumPercent 200 when two copies can run at once",
        )
    return Finding(
        OK,
        check,
        f"minimumHealthyPercent {minimum} / maximumPercent {maximum} with desiredCount "
        f"{desired}: up to {max(room_up, 0)} extra, {max(room_down, 0)} stopped at a time",
    )


FARGATE_SIZES: dict[int, range] = {
    256: range(512, 2049, 512),  # 512, 1024, 2048 (1536 is not valid: see below)
    512: range(1024, 4097, 1024),
    1024: range(2048, 8193, 1024),
    2048: range(4096, 16385, 1024),
    4096: range(8192, 30721, 1024),
    8192: range(16384, 61441, 4096),
    16384: range(32768, 122881, 8192),
}


def fargate_size(td: Mapping[str, Any], what: str) -> Finding | None:
    if "FARGATE" not in (td.get("requiresCompatibilities") or []):
        return None
    check = "fargate-size"
    try:
        cpu, memory = int(str(td.get("cpu"))), int(str(td.get("memory")))
    except ValueError:
        return Finding(
            ERROR,
            check,
            f"{what}: Fargate needs task-level cpu and memory, got cpu {td.get('cpu')!r} "
            f"and memory {td.get('memory')!r}",
            'set `cpu` and `memory` on the task definition, e.g. "256" and "512"',
        )
    allowed = [m for m in FARGATE_SIZES.get(cpu, range(0)) if not (cpu == 256 and m == 1536)]
    if memory in allowed:
        return Finding(OK, check, f"{what}: cpu {cpu} / memory {memory} is a valid Fargate size")
    if cpu not in FARGATE_SIZES:
        fix = "cpu must be one of " + ", ".join(str(c) for c in FARGATE_SIZES)
    else:
        fix = f"with cpu {cpu}, memory is one of {allowed[0]}..{allowed[-1]} (MiB)"
    return Finding(
        ERROR, check, f"{what}: cpu {cpu} / memory {memory} is not a Fargate task size", fix
    )


def image_pinning(spec_images: Mapping[str, str], pin_digests: bool) -> list[Finding]:
    from bluegreen.spec.images import parse_image

    out: list[Finding] = []
    for name, text in sorted(spec_images.items()):
        try:
            ref = parse_image(text, where=f"images.{name}")
        except BluegreenError as exc:
            out.append(Finding(ERROR, "image", exc.render()))
            continue
        if ref.digest:
            out.append(Finding(OK, "image", f"{name}: pinned by digest in the spec"))
        elif pin_digests:
            out.append(
                Finding(
                    OK,
                    "image",
                    f"{name}: tag {ref.tag or 'latest'} is resolved to "
                    "its digest at deploy (pin_digests)",
                )
            )
        else:
            out.append(
                Finding(
                    WARN,
                    "image",
                    f"{name}: mutable tag {ref.tag or 'latest'} and pin_digests is off; with "
                    "ECS_IMAGE_PULL_BEHAVIOR=once or prefer-cached the agent may run a cached "
                    "older image, and a redeploy may pull a different one",
                    "set `pin_digests: true` (the default), or use immutable tags",
                )
            )
    return out


def live_image_findings(td: Mapping[str, Any]) -> list[Finding]:
    from bluegreen.spec.images import parse_image

    out: list[Finding] = []
    for c in td.get("containerDefinitions") or []:
        try:
            ref = parse_image(str(c.get("image", "")))
        except BluegreenError:
            continue
        if not ref.digest:
            out.append(
                Finding(
                    WARN,
                    "live-image",
                    f"the running revision's container {c.get('name')} uses the tag "
                    f"{ref.tag or 'latest'}: new tasks (scaling, redeploy, replacement) may "
                    "pull another image than the running ones",
                    "release through bluegreen so the revision carries the digest",
                )
            )
    return out


def _name(name_or_arn: str) -> str:
    return name_or_arn.rsplit("/", 1)[-1]


def run_doctor(aws: Aws, spec: Spec) -> list[Finding]:
    from bluegreen.aws.ecs import describe_service_raw, describe_task_definition

    findings: list[Finding] = []
    where = f"{spec.cluster}/{spec.service}"
    try:
        svc = describe_service_raw(aws, spec.cluster, spec.service)
    except ResourceNotFound as exc:
        return [
            Finding(
                ERROR,
                "service",
                exc.message,
                # what exists there (a did-you-mean), when the gateway could list it
                (f"{exc.hint}; " if exc.hint else "")
                + "create the service, or fix `cluster`/`service` in the spec",
            )
        ]
    from bluegreen.aws.ecs import live_service
    from bluegreen.engines import EngineKind, select
    from bluegreen.errors import UnsupportedEngine

    codedeploy_given = "codedeploy" in spec.data
    try:
        kind: EngineKind | None = select(
            live_service(svc, cluster=spec.cluster, service=spec.service)
        )
    except UnsupportedEngine as exc:
        kind = None
        findings.append(Finding(ERROR, "controller", exc.message, exc.hint))
    if kind is EngineKind.CODEDEPLOY:
        findings.append(Finding(OK, "controller", f"{where} uses CodeDeploy blue/green"))
        findings += _codedeploy(aws, spec)
    elif kind is EngineKind.ROLLING:
        if codedeploy_given:
            findings.append(
                Finding(
                    WARN,
                    "controller",
                    f"the spec configures `codedeploy` but {where} uses the ECS controller: "
                    "deploy will do a rolling update, not blue/green",
                    "recreate the service with deploymentController CODE_DEPLOY and a "
                    "deployment group, or remove `codedeploy` from the spec",
                )
            )
        else:
            findings.append(Finding(OK, "controller", f"{where} uses rolling updates (ECS)"))
        findings += _rolling(svc)
    elif kind is EngineKind.ECS_NATIVE:
        strategy = (svc.get("deploymentConfiguration") or {}).get("strategy")
        findings.append(
            Finding(OK, "controller", f"{where} uses ECS-native blue/green (strategy {strategy})")
        )
        findings += _native(aws, live_service(svc, cluster=spec.cluster, service=spec.service))
    findings += _half_migrated(aws, spec, svc)
    findings += _alarms(aws, spec, findings)
    findings += image_pinning(spec.images, spec.pin_digests)
    rendered_td = _rendered(aws, spec, findings)
    if rendered_td is not None:
        size = fargate_size(rendered_td, "the rendered task definition")
        if size:
            findings.append(size)
    if svc.get("taskDefinition"):
        live = describe_task_definition(aws, str(svc["taskDefinition"]))
        findings += live_image_findings(live)
    return findings


def _half_migrated(aws: Aws, spec: Spec, svc: Mapping[str, Any]) -> list[Finding]:
    """A `migrate --to ecs` that stopped midway: its listener rules (in front of the
    listeners' default actions, where CodeDeploy shifts traffic) beside a CODE_DEPLOY
    controller, or a native strategy without advancedConfiguration."""
    from bluegreen.release.migrate import half_migrated

    found = half_migrated(aws, spec, svc)
    if found is None:
        return []
    from bluegreen.aws.ecs import live_service
    from bluegreen.engines import EngineKind, engine_kind

    live = live_service(dict(svc), cluster=spec.cluster, service=spec.service)
    on_codedeploy = (
        engine_kind(live.deployment_controller, live.deployment_strategy) is EngineKind.CODEDEPLOY
    )
    fix = (
        "finish it with `bluegreen migrate --to ecs` (it continues where it stopped), or "
        "delete those rules to go back to CodeDeploy"
        if on_codedeploy
        else "add loadBalancers[].advancedConfiguration (alternateTargetGroupArn, "
        "productionListenerRule, testListenerRule, roleArn) with `aws ecs update-service`"
    )
    what = (
        "; a CodeDeploy release now moves the listener's default action, which those rules "
        "hide: production would not move"
        if on_codedeploy
        else ""
    )
    return [Finding(ERROR, "migration", f"half-migrated: {found}{what}", fix)]


def _rendered(aws: Aws, spec: Spec, findings: list[Finding]) -> dict[str, Any] | None:
    from bluegreen.render.release import render_release

    try:
        return render_release(spec, aws=aws).task_definition
    except BluegreenError as exc:
        # Fargate sizes and the rest of the template checks are reported by rendering itself
        findings.append(Finding(ERROR, "templates", exc.render(), "bluegreen validate"))
        return None


def _rolling(svc: Mapping[str, Any]) -> list[Finding]:
    config = svc.get("deploymentConfiguration") or {}
    desired = int(svc.get("desiredCount", 0) or 0)
    minimum = int(config.get("minimumHealthyPercent", 100))
    maximum = int(config.get("maximumPercent", 200))
    out = [rolling_percent(desired, minimum, maximum)]
    breaker = config.get("deploymentCircuitBreaker") or {}
    if not breaker.get("enable"):
        out.append(
            Finding(
                WARN,
                "circuit-breaker",
                "the deployment circuit breaker is off: a failing rolling update retries "
                "forever instead of failing",
                "enable deploymentCircuitBreaker {enable: true, rollback: true} on the service",
            )
        )
    return out


def _native(aws: Aws, live: LiveService) -> list[Finding]:
    """ECS-native: the target groups, listener rules, infrastructure role and hooks the
    release's preflight checks, and whether `--verify` can gate (a PAUSE hook at
    POST_TEST_TRAFFIC_SHIFT)."""
    from bluegreen.engines.ecs_native.plan import (
        VERIFY_STAGE,
        check_hooks,
        check_routes,
        check_strategy,
        has_verify_hook,
        pause_hook_entry,
    )
    from bluegreen.errors import PreflightError

    where = f"ECS service {live.cluster}/{live.service}"
    out: list[Finding] = []
    conf = live.deployment_configuration
    for name, check in (
        ("strategy", lambda: check_strategy(conf, f"{where}: deploymentConfiguration")),
        ("routes", lambda: check_routes(aws, live, where)),
        ("hooks", lambda: check_hooks(aws, conf, where)),
    ):
        try:
            check()
        except PreflightError as exc:
            out.append(Finding(ERROR, name, exc.message, exc.hint))
        else:
            out.append(Finding(OK, name, f"{where}: {name} fit an ECS-native release"))
    if not has_verify_hook(conf):
        out.append(
            Finding(
                WARN,
                "verify-hook",
                f"no PAUSE lifecycle hook at {VERIFY_STAGE}: `deploy --verify` is refused",
                "add to deploymentConfiguration.lifecycleHooks: "
                + json.dumps(pause_hook_entry(), separators=(",", ":")),
            )
        )
    return out


def _codedeploy(aws: Aws, spec: Spec) -> list[Finding]:
    from bluegreen.aws import doctor as gw
    from bluegreen.aws.iam import get_role

    out: list[Finding] = []
    app, group = spec.codedeploy.application, spec.codedeploy.deployment_group
    info = gw.application(aws, app)
    if info is None:
        return [
            Finding(
                ERROR,
                "codedeploy-application",
                f"CodeDeploy application {app} does not exist",
                f"aws deploy create-application --application-name {app} "
                "--compute-platform ECS (or set codedeploy.application)",
            )
        ]
    platform = info.get("computePlatform")
    if platform != "ECS":
        out.append(
            Finding(
                ERROR,
                "codedeploy-application",
                f"CodeDeploy application {app} is for {platform}, not ECS",
                "create an application with --compute-platform ECS",
            )
        )
    else:
        out.append(Finding(OK, "codedeploy-application", f"application {app} (ECS)"))
    dg = gw.deployment_group_info(aws, app, group)
    if dg is None:
        out.append(
            Finding(
                ERROR,
                "deployment-group",
                f"deployment group {app}/{group} does not exist",
                "create it for the service with its two target groups and listeners",
            )
        )
        return out
    services = dg.get("ecsServices") or []
    names = [(s.get("clusterName"), s.get("serviceName")) for s in services]
    if (_name(spec.cluster), _name(spec.service)) not in names:
        out.append(
            Finding(
                ERROR,
                "deployment-group",
                f"deployment group {group} deploys {names or 'no ECS service'}, not "
                f"{_name(spec.cluster)}/{_name(spec.service)}",
                "point codedeploy.deployment_group at the group of this service",
            )
        )
    else:
        out.append(
            Finding(OK, "deployment-group", f"group {group} deploys {spec.cluster}/{spec.service}")
        )
    style = dg.get("deploymentStyle") or {}
    if (
        style.get("deploymentType", "BLUE_GREEN") != "BLUE_GREEN"
        or style.get("deploymentOption", "WITH_TRAFFIC_CONTROL") != "WITH_TRAFFIC_CONTROL"
    ):
        out.append(
            Finding(
                ERROR,
                "deployment-group",
                f"group {group} is not BLUE_GREEN WITH_TRAFFIC_CONTROL",
                "ECS deployment groups need deploymentStyle BLUE_GREEN / WITH_TRAFFIC_CONTROL",
            )
        )
    out += _traffic(aws, dg, group)
    out += _group_rollback(aws, spec, dg)
    role = dg.get("serviceRoleArn")
    if not role:
        out.append(Finding(ERROR, "service-role", f"group {group} has no service role", None))
    elif get_role(aws, str(role)) is None:
        out.append(
            Finding(
                ERROR,
                "service-role",
                f"the group's service role {role} does not exist",
                "create it with the AWSCodeDeployRoleForECS policy, trusting "
                "codedeploy.amazonaws.com",
            )
        )
    else:
        out.append(Finding(OK, "service-role", f"service role {_name(str(role))} exists"))
    return out


def _traffic(aws: Aws, dg: Mapping[str, Any], group: str) -> list[Finding]:
    from bluegreen.aws import doctor as gw

    out: list[Finding] = []
    pairs = (dg.get("loadBalancerInfo") or {}).get("targetGroupPairInfoList") or []
    if not pairs:
        return [
            Finding(
                ERROR,
                "target-groups",
                f"group {group} has no target group pair",
                "add loadBalancerInfo.targetGroupPairInfoList with two target groups",
            )
        ]
    pair = pairs[0]
    names = [str(t.get("name")) for t in pair.get("targetGroups") or []]
    arns = gw.target_group_arns(aws, names)
    missing = [n for n in names if n not in arns]
    if len(names) != 2:
        out.append(
            Finding(
                ERROR,
                "target-groups",
                f"group {group} has {len(names)} target group(s); blue/green needs a pair",
                "list exactly two target groups (blue and green) in the group",
            )
        )
    elif missing:
        out.append(
            Finding(
                ERROR,
                "target-groups",
                "target group " + ", ".join(missing) + " does not exist",
                "create it, or fix the group's target group pair",
            )
        )
    else:
        out.append(Finding(OK, "target-groups", "target groups " + " and ".join(names) + " exist"))
    wanted = set(arns.values())
    for route, label, required in (
        ("prodTrafficRoute", "production listener", True),
        ("testTrafficRoute", "test listener", False),
    ):
        listeners = list((pair.get(route) or {}).get("listenerArns") or [])
        if not listeners:
            if required:
                out.append(
                    Finding(
                        ERROR,
                        "listeners",
                        f"group {group} has no {label}",
                        "set prodTrafficRoute.listenerArns on the group",
                    )
                )
            else:
                out.append(
                    Finding(
                        WARN,
                        "listeners",
                        f"group {group} has no {label}: `verify` and AfterAllowTestTraffic "
                        "hooks cannot reach green before production traffic does",
                        "add a test listener (e.g. port 8443) and set testTrafficRoute",
                    )
                )
            continue
        for arn in listeners:
            forwards = gw.listener_forwards(aws, arn)
            if forwards is None:
                out.append(
                    Finding(
                        ERROR,
                        "listeners",
                        f"{label} {arn} does not exist",
                        "fix the group's traffic route",
                    )
                )
            elif wanted and not forwards & wanted:
                out.append(
                    Finding(
                        ERROR,
                        "listeners",
                        f"{label} {arn} forwards to none of the group's target groups",
                        "make its default action forward to the blue target group",
                    )
                )
            else:
                out.append(Finding(OK, "listeners", f"{label} routes to the pair"))
    return out


def _group_rollback(aws: Aws, spec: Spec, dg: dict[str, Any]) -> list[Finding]:
    """The group's auto-rollback and alarms as a release of this spec uses them (merged with
    the spec's `rollback` by the one rule of `merge_rollback`), and whether `verify` gates."""
    from bluegreen.aws.cloudwatch import missing_alarms
    from bluegreen.aws.codedeploy import parse_group
    from bluegreen.engines.codedeploy.rollback_settings import STOP_ON_ALARM, merge_rollback
    from bluegreen.engines.codedeploy.verify_gate import problem, ready_wait_fix, verify_can_gate

    app, name = spec.codedeploy.application, spec.codedeploy.deployment_group
    group = parse_group(app, name, dg)
    merged = merge_rollback(spec, group)
    out: list[Finding] = []
    update = (
        f"aws deploy update-deployment-group --application-name {app} "
        f"--current-deployment-group-name {name}"
    )
    if group.auto_rollback_enabled and group.auto_rollback_events:
        out.append(
            Finding(
                OK,
                "auto-rollback",
                f"group {name} rolls back on {', '.join(group.auto_rollback_events)}",
            )
        )
    else:
        out.append(
            Finding(
                WARN,
                "auto-rollback",
                f"group {name} has no automatic rollback"
                + (
                    f"; releases of this spec add {', '.join(merged.events)}"
                    if merged.events
                    else ": a failed or stopped deployment leaves production where it stopped"
                ),
                f"{update} --auto-rollback-configuration "
                "enabled=true,events=DEPLOYMENT_FAILURE,DEPLOYMENT_STOP_ON_ALARM",
            )
        )
    if group.alarms_enabled and group.alarms:
        # the spec's own alarms are checked (and reported) with rollback.alarms
        missing = [
            a for a in missing_alarms(aws, list(group.alarms)) if a not in spec.rollback.alarms
        ]
        if missing:
            out.append(
                Finding(
                    ERROR,
                    "group-alarms",
                    f"group {name} names alarm {', '.join(missing)}, which does not exist: "
                    "CodeDeploy cannot poll it and stops every deployment",
                    "create the alarm in CloudWatch, or remove it from the group's "
                    "alarmConfiguration",
                )
            )
        else:
            out.append(
                Finding(
                    OK,
                    "group-alarms",
                    f"group {name} stops deployments on alarms {', '.join(group.alarms)}",
                )
            )
    if merged.alarms and STOP_ON_ALARM not in merged.events:
        out.append(
            Finding(
                WARN,
                "auto-rollback",
                f"an alarm ({', '.join(merged.alarms)}) stops a release but does not roll it "
                "back: production stays split between blue and green",
                f"{update} --auto-rollback-configuration "
                "enabled=true,events=DEPLOYMENT_FAILURE,DEPLOYMENT_STOP_ON_ALARM "
                "(or list the alarms under rollback.alarms in the spec)",
            )
        )
    if spec.verify is not None:
        if verify_can_gate(group):
            out.append(
                Finding(
                    OK,
                    "verify",
                    f"group {name} waits before rerouting ({group.ready_wait_minutes} min): "
                    "verify runs on test traffic and gates production",
                )
            )
        else:
            out.append(
                Finding(
                    ERROR,
                    "verify",
                    f"the spec declares verify, but on group {name} it cannot gate "
                    f"production: {problem(group)}; deploy refuses it (exit 2)",
                    f"{ready_wait_fix(group, spec.verify.timeout_seconds)} ; or remove "
                    "`verify` from the spec",
                )
            )
    return out


def _alarms(aws: Aws, spec: Spec, found: list[Finding]) -> list[Finding]:
    from bluegreen.aws.cloudwatch import missing_alarms

    if not spec.rollback.alarms:
        if any(f.check == "group-alarms" for f in found):
            return []  # the deployment group's alarms guard the release
        return [
            Finding(
                WARN,
                "alarms",
                "no rollback alarms: a broken build is only caught by failing health checks",
                "add rollback.alarms (e.g. target 5xx and latency alarms)",
            )
        ]
    missing = missing_alarms(aws, spec.rollback.alarms)
    if missing:
        return [
            Finding(
                ERROR,
                "alarms",
                "alarm " + ", ".join(missing) + " does not exist",
                "create it in CloudWatch, or fix rollback.alarms",
            )
        ]
    return [Finding(OK, "alarms", "alarms " + ", ".join(spec.rollback.alarms) + " exist")]
