"""The verbs besides `deploy` on an ECS-native service: stop, approve, watch, status, history,
rollback.

- A deployment id is a service deployment ARN; one of another service (or not an ARN ECS
  knows) is exit 2 (I5). Without an id, the service's deployment in flight; with none, exit 2.
- stop / rollback in flight: StopServiceDeployment (ROLLBACK), followed to the end (exit 0 once
  production is back on the previous revision). rollback when finished: the previous revision
  (`rollback_target.native_target`, what `cleanup` keeps too) through the same engine.
- approve: ContinueServiceDeployment CONTINUE on each PAUSE hook awaiting action.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from bluegreen.engines.ecs_native.apply import STRATEGY, Loop, follow, record_result
from bluegreen.engines.ecs_native.machine import NativeConfig
from bluegreen.engines.model import Outcome, Output, revision
from bluegreen.errors import PreflightError, UsageError
from bluegreen.journal import APPROVE, STOP, Journal

if TYPE_CHECKING:
    from bluegreen.aws.session import Aws
    from bluegreen.spec.model import Spec


def _service_arn_suffix(spec: Spec) -> str:
    return f":service/{spec.cluster}/{spec.service}"


def owned(aws: Aws, spec: Spec, arn: str) -> dict[str, Any]:
    """The service deployment `arn` when it is one of the spec's service; else UsageError
    (exit 2) before any write (I5)."""
    from bluegreen.aws import ecs_native

    where = f"{spec.cluster}/{spec.service}"
    if ":service-deployment/" not in arn:
        raise UsageError(
            f"{arn!r} is not a service deployment ARN of an ECS-native service",
            where=where,
            hint="`bluegreen history` lists the service's deployments",
        )
    found = ecs_native.describe_deployment(aws, arn)
    if found is None:
        raise UsageError(f"ECS knows no service deployment {arn}", where=where)
    if not str(found.get("serviceArn", "")).endswith(_service_arn_suffix(spec)):
        raise UsageError(
            f"service deployment {arn} belongs to {found.get('serviceArn')}, not to the spec's "
            "service; nothing was changed",
            where=where,
            hint="run the verb with that service's spec (--config)",
        )
    return found


def in_flight(aws: Aws, spec: Spec) -> dict[str, Any] | None:
    """The service's newest deployment that has not ended, described; None when none."""
    from bluegreen.aws import ecs_native

    briefs = ecs_native.list_deployments(
        aws, spec.cluster, spec.service, statuses=ecs_native.IN_FLIGHT, limit=1
    )
    if not briefs:
        return None
    return ecs_native.describe_deployment(aws, str(briefs[0].get("serviceDeploymentArn")))


def find(aws: Aws, spec: Spec, deployment_id: str | None, hint: str) -> dict[str, Any]:
    """The deployment named, else the one in flight; UsageError (exit 2) when there is none."""
    if deployment_id:
        return owned(aws, spec, deployment_id)
    found = in_flight(aws, spec)
    if found is None:
        raise UsageError(
            f"no service deployment of {spec.cluster}/{spec.service} is in flight", hint=hint
        )
    return found


def _active(dep: Mapping[str, Any]) -> bool:
    from bluegreen.aws.ecs_native import IN_FLIGHT

    return str(dep.get("status")) in IN_FLIGHT


def _revisions(aws: Aws, dep: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """(target task definition, source task definition) of a service deployment."""
    from bluegreen.aws import ecs_native

    target = str((dep.get("targetServiceRevision") or {}).get("arn") or "")
    sources = [str(s.get("arn")) for s in dep.get("sourceServiceRevisions") or []]
    found = ecs_native.describe_revisions(aws, [target, *sources[:1]])
    td = (found.get(target) or {}).get("taskDefinition")
    src = (found.get(sources[0]) or {}).get("taskDefinition") if sources else None
    return (str(td) if td else None, str(src) if src else None)


def stop(
    aws: Aws,
    spec: Spec,
    journal: Journal,
    out: Output,
    *,
    deployment_id: str | None,
    rollback_too: bool,
    timeout: float,
    loop: Loop,
    reason: str = "stopped by request",
) -> Outcome:
    """StopServiceDeployment (ROLLBACK) of the deployment in flight, followed to its end."""
    from bluegreen.aws import ecs_native

    if not rollback_too:
        raise UsageError(
            "an ECS-native deployment stops with a rollback only (StopServiceDeployment takes "
            "stopType ROLLBACK); --no-rollback cannot be honoured, nothing was changed",
            where="--no-rollback",
            hint="run `bluegreen stop` without --no-rollback",
        )
    dep = find(aws, spec, deployment_id, hint="nothing to stop; `bluegreen history` lists them")
    arn = str(dep.get("serviceDeploymentArn"))
    if not _active(dep):
        raise UsageError(
            f"service deployment {arn} has ended ({dep.get('status')}); nothing to stop",
            hint="`bluegreen rollback` returns production to the previous revision",
        )
    target, source = _revisions(aws, dep)
    journal.append(STOP, strategy=STRATEGY, deploymentId=arn, rollback=True, reason=reason)
    out.emit(
        {"event": "stopping", "deploymentId": arn},
        f"stopping {arn} with rollback to {revision(source)}",
    )
    if str(dep.get("status")) in ("PENDING", "IN_PROGRESS"):
        ecs_native.stop_deployment(aws, arn)
    now = loop.clock()
    config = NativeConfig(
        deployment_arn=arn,
        task_definition_arn=target,
        previous_task_definition_arn=source,
        started_at=now,
        deadline=now + timeout,
        on_cancel="detach",
        requested_stop=reason,
    )
    outcome = follow(aws, out, config, loop=loop)
    record_result(journal, spec.cluster, spec.service, outcome)
    return outcome


def approve(aws: Aws, spec: Spec, journal: Journal, deployment_id: str | None) -> list[str]:
    """ContinueServiceDeployment CONTINUE on every PAUSE hook awaiting action; the hook ids."""
    from bluegreen.aws import ecs_native

    hint = "nothing waits for approval; start a release with `bluegreen deploy`"
    dep = find(aws, spec, deployment_id, hint=hint)
    arn = str(dep.get("serviceDeploymentArn"))
    hooks = [
        str(h.get("hookId"))
        for h in dep.get("lifecycleHookDetails") or []
        if h.get("targetType") == "PAUSE" and h.get("status") == "AWAITING_ACTION"
    ]
    if not _active(dep):
        raise UsageError(
            f"service deployment {arn} has ended ({dep.get('status')}); nothing to approve",
            hint=hint + ", or see `bluegreen history`",
        )
    if not hooks or dep.get("status") != "IN_PROGRESS":
        raise UsageError(
            f"service deployment {arn} ({dep.get('status')}, {dep.get('lifecycleStage')}) has "
            "no pause hook awaiting action",
            hint="an ECS-native deployment waits for approval only at a PAUSE lifecycle hook; "
            "follow it with `bluegreen watch` (it shows when one waits)",
        )
    for hook in hooks:
        journal.append(APPROVE, strategy=STRATEGY, deploymentId=arn, hookId=hook)
        ecs_native.continue_deployment(aws, arn, hook, "CONTINUE")
    return hooks


def watch(
    aws: Aws,
    spec: Spec,
    journal: Journal,
    out: Output,
    *,
    deployment_id: str | None,
    timeout: float | None,
    loop: Loop,
    on_cancel: str = "detach",
) -> Outcome:
    """Re-attach to the service deployment in flight (or the one named) with the release's
    alarms as guards; a finished one is reported as it ended."""
    hint = "nothing to watch; start a release with `bluegreen deploy`, or see `bluegreen history`"
    dep = find(aws, spec, deployment_id, hint=hint)
    arn = str(dep.get("serviceDeploymentArn"))
    target, source = _revisions(aws, dep)
    out.emit({"event": "watching", "deploymentId": arn}, f"watching {arn}")
    now = loop.clock()
    config = NativeConfig(
        deployment_arn=arn,
        task_definition_arn=target,
        previous_task_definition_arn=source,
        started_at=now,
        deadline=now + timeout if timeout is not None else None,
        on_cancel=on_cancel,
        alarm_names=tuple(dict.fromkeys(spec.rollback.alarms)) if _active(dep) else (),
    )
    outcome = follow(aws, out, config, loop=loop)
    if _active(dep):
        record_result(journal, spec.cluster, spec.service, outcome)
    return outcome


def rollback(
    aws: Aws,
    spec: Spec,
    journal: Journal,
    out: Output,
    *,
    timeout: float,
    loop: Loop,
) -> Outcome:
    """In flight: stop with rollback. Finished: deploy the previous revision again."""
    from bluegreen.aws import ecs
    from bluegreen.engines.ecs_native.apply import update_and_follow
    from bluegreen.engines.rollback_target import native_target, require_active

    current = in_flight(aws, spec)
    if current is not None:
        return stop(
            aws,
            spec,
            journal,
            out,
            deployment_id=str(current.get("serviceDeploymentArn")),
            rollback_too=True,
            timeout=timeout,
            loop=loop,
            reason="rolled back by request",
        )
    live = ecs.describe_service(aws, spec.cluster, spec.service)
    target = native_target(aws, spec, journal, live.task_definition_arn)
    if target is None:
        raise PreflightError(
            f"no previous revision of {spec.cluster}/{spec.service} to return to "
            f"(it runs {revision(live.task_definition_arn)})",
            where=f"{spec.cluster}/{spec.service}",
            hint="deploy the build you want with `bluegreen deploy --image NAME=REF`",
        )
    require_active(aws, target.task_definition_arn, target.how)
    out.emit(
        {
            "event": "rollback",
            "taskDefinitionArn": target.task_definition_arn,
            "from": live.task_definition_arn,
            "how": target.how,
        },
        f"rolling back {revision(live.task_definition_arn)} -> "
        f"{revision(target.task_definition_arn)} ({target.how})",
    )
    outcome = update_and_follow(
        aws,
        out,
        journal,
        cluster=spec.cluster,
        service=spec.service,
        task_definition_arn=target.task_definition_arn,
        previous=live.task_definition_arn,
        deployment_configuration=None,
        timeout=timeout,
        wait=True,
        on_cancel="rollback",
        loop=loop,
        record={"rollbackOf": target.source},
    )
    if outcome.exit_code == 0:
        reason = f"rolled back: production runs {revision(target.task_definition_arn)} again"
        outcome = dataclasses.replace(outcome, rolled_back=True, reason=reason)
    return outcome


def _deployment_view(dep: Mapping[str, Any]) -> dict[str, Any]:
    target = dep.get("targetServiceRevision") or {}
    return {
        "deploymentId": dep.get("serviceDeploymentArn"),
        "status": dep.get("status"),
        "statusReason": dep.get("statusReason"),
        "stage": dep.get("lifecycleStage"),
        "active": _active(dep),
        "strategy": (dep.get("deploymentConfiguration") or {}).get("strategy"),
        "productionWeight": target.get("requestedProductionTrafficWeight"),
        "testWeight": target.get("requestedTestTrafficWeight"),
        "running": target.get("runningTaskCount"),
        "desired": target.get("requestedTaskCount"),
        "hooks": [
            {k: h.get(k) for k in ("hookId", "targetType", "status", "expiresAt")}
            for h in dep.get("lifecycleHookDetails") or []
        ],
        "alarms": dep.get("alarms"),
        "rollback": dep.get("rollback"),
        "createdAt": dep.get("createdAt"),
        "finishedAt": dep.get("finishedAt"),
    }


def status(aws: Aws, spec: Spec) -> dict[str, Any]:
    """The live service and its current (or last) service deployment (reads only)."""
    from bluegreen.aws import ecs, ecs_native

    svc = ecs.describe_service_raw(aws, spec.cluster, spec.service)
    conf = svc.get("deploymentConfiguration") or {}
    briefs = ecs_native.list_deployments(aws, spec.cluster, spec.service, limit=1)
    dep = (
        ecs_native.describe_deployment(aws, str(briefs[0].get("serviceDeploymentArn")))
        if briefs
        else None
    )
    lbs = svc.get("loadBalancers") or []
    rules = [(lb.get("advancedConfiguration") or {}).get("productionListenerRule") for lb in lbs]
    weights = {}
    found = ecs_native.describe_rules(aws, [r for r in rules if r])
    for arn, rule in found.items():
        weights[arn] = ecs_native.forward_weights(rule)
    return {
        "cluster": spec.cluster,
        "service": spec.service,
        "deploymentController": "ECS",
        "strategy": conf.get("strategy"),
        "taskDefinitionArn": svc.get("taskDefinition"),
        "desired": svc.get("desiredCount"),
        "running": svc.get("runningCount"),
        "productionTargetGroup": lbs[0].get("targetGroupArn") if lbs else None,
        "productionRuleWeights": weights,
        "deployment": _deployment_view(dep) if dep else None,
    }


def status_lines(data: Mapping[str, Any]) -> list[str]:
    out = [
        f"service {data['cluster']}/{data['service']} (ECS, strategy {data['strategy']})",
        f"  task definition {data['taskDefinitionArn']}",
        f"  {data['running']}/{data['desired']} tasks running; production target group "
        f"{data['productionTargetGroup']}",
    ]
    for rule, weights in (data.get("productionRuleWeights") or {}).items():
        shown = ", ".join(f"{tg.rsplit('/', 2)[-2]}={w}" for tg, w in weights.items())
        out.append(f"  production rule {rule.rsplit('/', 1)[-1]}: {shown}")
    dep = data.get("deployment")
    if dep is None:
        out.append("  no service deployments yet")
        return out
    state = "in flight" if dep["active"] else "last"
    out.append(f"{state} service deployment {dep['deploymentId']}: {dep['status']}")
    if dep.get("stage"):
        out.append(f"  stage {dep['stage']}")
    out.append(
        f"  green: production {dep.get('productionWeight') or 0:g}%, test "
        f"{dep.get('testWeight') or 0:g}%, {dep.get('running')}/{dep.get('desired')} running"
    )
    for hook in dep["hooks"]:
        out.append(f"  hook {hook['hookId']} ({hook['targetType']}) {hook['status']}")
    if dep.get("statusReason"):
        out.append(f"  reason: {dep['statusReason']}")
    return out


def history(aws: Aws, spec: Spec, journal: Journal, limit: int) -> list[dict[str, Any]]:
    """Newest first: the service deployments ECS lists, with the journal's record of each
    (who, images, result) where bluegreen started it."""
    from bluegreen.aws import ecs_native
    from bluegreen.journal import CREATED, RESULT

    briefs = ecs_native.list_deployments(aws, spec.cluster, spec.service, limit=limit)
    deps = ecs_native.describe_deployments(
        aws, [str(b.get("serviceDeploymentArn")) for b in briefs]
    )
    revisions: list[str] = []
    for d in deps:
        revisions.append(str((d.get("targetServiceRevision") or {}).get("arn") or ""))
        revisions += [str(s.get("arn")) for s in d.get("sourceServiceRevisions") or []][:1]
    found = ecs_native.describe_revisions(aws, revisions)
    mine: dict[str, dict[str, Any]] = {}
    for rec in journal.records():
        if rec.get("strategy") != STRATEGY or not rec.get("deploymentId"):
            continue
        if rec.get("kind") == CREATED:
            mine.setdefault(str(rec["deploymentId"]), {}).update(rec)
        elif rec.get("kind") == RESULT:
            mine.setdefault(str(rec["deploymentId"]), {})["result"] = rec.get("reason")
    rows: list[dict[str, Any]] = []
    for d in deps:
        arn = str(d.get("serviceDeploymentArn"))
        target = str((d.get("targetServiceRevision") or {}).get("arn") or "")
        sources = [str(s.get("arn")) for s in d.get("sourceServiceRevisions") or []]
        rec = mine.get(arn, {})
        rows.append(
            {
                "deploymentId": arn,
                "strategy": (d.get("deploymentConfiguration") or {}).get("strategy"),
                "status": d.get("status"),
                "created": d.get("createdAt"),
                "completed": d.get("finishedAt"),
                "who": rec.get("who"),
                "taskDefinitionArn": (found.get(target) or {}).get("taskDefinition"),
                "previousTaskDefinitionArn": (
                    (found.get(sources[0]) or {}).get("taskDefinition") if sources else None
                ),
                "images": rec.get("images"),
                "rolledBack": d.get("status") == "ROLLBACK_SUCCESSFUL",
                "rollbackOf": rec.get("rollbackOf"),
                "result": rec.get("result") or d.get("statusReason"),
            }
        )
    rows.sort(key=lambda r: str(r.get("created") or ""), reverse=True)
    return rows[:limit]
