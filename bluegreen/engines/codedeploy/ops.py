"""The other release verbs as use cases: find, watch, stop, roll back, approve, status, history."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bluegreen import journal as J
from bluegreen.engines.codedeploy.probe import view
from bluegreen.errors import PreflightError, ResourceNotFound, UsageError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from bluegreen.aws.codedeploy import DeploymentGroup
    from bluegreen.aws.session import Aws
    from bluegreen.engines.codedeploy.apply import FollowSettings
    from bluegreen.spec.model import Spec


@dataclass(frozen=True)
class Target:
    """Which deployment group a verb acts on."""

    application: str
    group_name: str
    group: DeploymentGroup


def target_from_spec(aws: Aws, spec: Spec) -> Target:
    from bluegreen.aws import codedeploy

    cd = spec.codedeploy
    return Target(
        cd.application,
        cd.deployment_group,
        codedeploy.deployment_group(aws, cd.application, cd.deployment_group),
    )


def target_from_deployment(aws: Aws, deployment_id: str) -> Target:
    """The group of a deployment given by id alone (no spec file): an unknown id is exit 2."""
    from bluegreen.aws import codedeploy

    info = _known(aws, deployment_id, None)
    app, group = info.get("applicationName"), info.get("deploymentGroupName")
    if not app or not group:
        raise ResourceNotFound(f"deployment {deployment_id} names no deployment group")
    return Target(app, group, codedeploy.deployment_group(aws, app, group))


def _known(aws: Aws, deployment_id: str, target: Target | None) -> dict[str, Any]:
    from bluegreen.aws import codedeploy

    info = codedeploy.deployment_or_none(aws, deployment_id)
    if info is None:
        raise UsageError(
            f"deployment {deployment_id} does not exist",
            where=None
            if target is None
            else f"CodeDeploy deployment group {target.application}/{target.group_name}",
            hint="check the id; `bluegreen history` lists the group's deployments",
        )
    return info


def owned_deployment(aws: Aws, target: Target, deployment_id: str) -> dict[str, Any]:
    """GetDeployment of an id given to a verb, refused (exit 2, nothing written) unless it is a
    deployment of the target's application and group."""
    info = _known(aws, deployment_id, target)
    app, group = info.get("applicationName"), info.get("deploymentGroupName")
    if (app, group) != (target.application, target.group_name):
        raise UsageError(
            f"deployment {deployment_id} belongs to {app}/{group}, not to this spec's "
            f"{target.application}/{target.group_name}; nothing was changed",
            where=f"deployment {deployment_id}",
            hint=f"pass a deployment of {target.application}/{target.group_name} (see "
            "`bluegreen history`), or give the other service's spec with --config",
        )
    return info


def find_deployment(
    aws: Aws, target: Target, journal: J.Journal, *, reattach: bool = False, hint: str = ""
) -> str:
    """The group's active deployment. With `reattach` (watch) also the journal's last one for
    the group that has no recorded result (its end is then reported); other verbs act only on
    what CodeDeploy lists as in flight, never on a journal entry."""
    from bluegreen.aws import codedeploy

    active = codedeploy.active_deployments(aws, target.application, target.group_name)
    if active:
        return active[0]
    if reattach:
        match = {"group": target.group_name, "application": target.application}
        last = journal.last_in_flight(match)
        if last:
            return last
    raise UsageError(
        f"no deployment in flight for application {target.application} / group {target.group_name}",
        hint=hint or "pass a deployment id, or see `bluegreen history`",
    )


def task_definition_of(info: dict[str, Any]) -> str | None:
    """The TaskDefinition named in a deployment's inline AppSpec."""
    rev = info.get("revision") or {}
    content = (rev.get("appSpecContent") or rev.get("string") or {}).get("content")
    if not content:
        return None
    doc = _load_appspec(str(content))
    return _find_key(doc, "taskdefinition")


def appspec_of(info: dict[str, Any]) -> Any:
    rev = info.get("revision") or {}
    content = (rev.get("appSpecContent") or rev.get("string") or {}).get("content")
    return _load_appspec(str(content)) if content else None


def _load_appspec(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        from ruamel.yaml import YAML

        try:
            return YAML(typ="safe").load(text)
        except Exception:  # an unreadable AppSpec tells us nothing
            return None


def _find_key(doc: Any, key: str) -> str | None:
    if isinstance(doc, dict):
        for k, v in doc.items():
            if str(k).lower() == key and isinstance(v, str):
                return v
            found = _find_key(v, key)
            if found:
                return found
    elif isinstance(doc, list):
        for v in doc:
            found = _find_key(v, key)
            if found:
                return found
    return None


def is_active(aws: Aws, deployment_id: str) -> bool:
    from bluegreen.aws import codedeploy

    info = codedeploy.get_deployment(aws, deployment_id)
    return str(info.get("status")) in codedeploy.ACTIVE_STATUSES


def approve(
    aws: Aws, target: Target, deployment_id: str, journal: J.Journal, *, terminate_now: bool
) -> str:
    from bluegreen.aws import codedeploy

    info = owned_deployment(aws, target, deployment_id)
    status = str(info.get("status"))
    wait = "TERMINATION_WAIT" if terminate_now else "READY_WAIT"
    if status not in codedeploy.ACTIVE_STATUSES:
        raise PreflightError(
            f"deployment {deployment_id} has already ended ({status}); nothing to approve",
            where=f"deployment {deployment_id}",
        )
    if wait == "READY_WAIT" and status != "Ready":
        raise PreflightError(
            f"deployment {deployment_id} is {status}, not waiting in Ready: there is nothing "
            "to approve yet",
            where=f"deployment {deployment_id}",
            hint="approve continues a deployment whose group waits before rerouting "
            "(STOP_DEPLOYMENT); follow it with `bluegreen watch` until it is Ready, or use "
            "--terminate-now during the termination wait",
        )
    journal.append(J.INTENT, action="ContinueDeployment", deploymentId=deployment_id, waitType=wait)
    codedeploy.continue_deployment(aws, deployment_id, wait)
    journal.append(J.APPROVE, deploymentId=deployment_id, waitType=wait)
    return wait


def stop(
    aws: Aws,
    target: Target,
    deployment_id: str,
    journal: J.Journal,
    *,
    rollback: bool,
    reason: str,
) -> None:
    """StopDeployment of an in-flight deployment of the target's group (checked first)."""
    from bluegreen.aws import codedeploy

    status = str(owned_deployment(aws, target, deployment_id).get("status"))
    if status not in codedeploy.ACTIVE_STATUSES:
        raise PreflightError(
            f"deployment {deployment_id} has already ended ({status}); nothing to stop",
            where=f"deployment {deployment_id}",
            hint="`bluegreen rollback` returns production to the previous revision",
        )
    journal.append(J.STOP, deploymentId=deployment_id, rollback=rollback, reason=reason)
    codedeploy.stop_deployment(aws, deployment_id, rollback)
    journal.append(J.DONE, action="StopDeployment", deploymentId=deployment_id)


def previous_revision(
    aws: Aws, target: Target, journal: J.Journal, current: str | None
) -> tuple[str, str | None]:
    """The task definition to return to after a finished release, and the deployment it
    came from (when known): `rollback_target`'s answer, the revision production ran before the
    live one (never a rolled-back one); when the newest release stopped without a rollback,
    the revision that ran before it.
    """
    from bluegreen.engines.rollback_target import codedeploy_target, unfinished

    app, group = target.application, target.group_name
    found = unfinished(aws, app, group, journal, current) or codedeploy_target(
        aws, app, group, journal, current
    )
    if found is not None:
        return found.task_definition_arn, found.source
    raise PreflightError(
        "no previous revision is known for this service",
        where=f"CodeDeploy deployment group {app}/{group}",
        hint="deploy the wanted build explicitly with `bluegreen deploy --image NAME=REF`",
    )


def history(aws: Aws, target: Target, journal: J.Journal, limit: int) -> list[dict[str, Any]]:
    """Recent deployments from CodeDeploy, merged with what the journal recorded."""
    from bluegreen.aws import codedeploy

    ids = codedeploy.list_deployments(aws, target.application, target.group_name, limit)
    infos = codedeploy.batch_get_deployments(aws, ids)
    local = journal.deployments()
    rows: list[dict[str, Any]] = []
    for info in infos:
        dep = str(info.get("deploymentId"))
        mine = local.get(dep, {})
        rb = info.get("rollbackInfo") or {}
        rows.append(
            {
                "deploymentId": dep,
                "status": info.get("status"),
                "created": _iso(info.get("createTime")),
                "completed": _iso(info.get("completeTime")),
                "who": mine.get("who") or info.get("creator"),
                "description": info.get("description"),
                "taskDefinitionArn": mine.get("taskDefinitionArn") or task_definition_of(info),
                "images": mine.get("images"),
                "deploymentConfig": info.get("deploymentConfigName"),
                "rollbackDeploymentId": rb.get("rollbackDeploymentId"),
                "rollbackOf": rb.get("rollbackTriggeringDeploymentId"),
                "result": (mine.get("result") or {}).get("reason"),
                "error": (info.get("errorInformation") or {}).get("message"),
            }
        )
    known = {r["deploymentId"] for r in rows}
    for dep, mine in local.items():  # journalled but not (or no longer) listed by CodeDeploy
        if dep in known or mine.get("group") != target.group_name:
            continue
        res = mine.get("result") or {}
        rows.append(
            {
                "deploymentId": dep,
                "status": res.get("status"),
                "created": _iso(mine.get("createdTs")),
                "completed": None,
                "who": mine.get("who"),
                "description": None,
                "taskDefinitionArn": mine.get("taskDefinitionArn"),
                "images": mine.get("images"),
                "deploymentConfig": mine.get("deploymentConfig"),
                "rollbackDeploymentId": res.get("rollbackDeploymentId"),
                "rollbackOf": None,
                "result": res.get("reason"),
                "error": None,
                "journalOnly": True,
            }
        )
    rows.sort(key=lambda r: str(r.get("created") or ""), reverse=True)
    return rows[:limit]


def _iso(value: Any) -> str | None:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, int | float):
        return datetime.fromtimestamp(float(value)).astimezone().isoformat()
    return None


def status(aws: Aws, spec: Spec, target: Target) -> dict[str, Any]:
    """The live service, its task sets, and the current/last deployment with traffic weights."""
    from bluegreen.aws import codedeploy, ecs

    live = ecs.describe_service(aws, spec.cluster, spec.service)
    sets = ecs.describe_task_sets(aws, spec.cluster, spec.service)
    active = codedeploy.active_deployments(aws, target.application, target.group_name)
    current: dict[str, Any] | None = None
    dep_id = active[0] if active else None
    if dep_id is None:
        recent = codedeploy.list_deployments(aws, target.application, target.group_name, 1)
        dep_id = recent[0] if recent else None
    if dep_id is not None:
        info, tgt = codedeploy.observe(aws, dep_id, target.group.target_id)
        v = view(info, tgt)
        current = {
            "deploymentId": dep_id,
            "status": v.status,
            "active": bool(active),
            "taskDefinitionArn": task_definition_of(info),
            "lifecycle": [{"name": e.name, "status": e.status} for e in v.lifecycle],
            "taskSets": [
                {
                    "label": t.label,
                    "status": t.status,
                    "weight": t.weight,
                    "desired": t.desired,
                    "running": t.running,
                    "pending": t.pending,
                    "targetGroup": t.target_group,
                }
                for t in v.task_sets
            ],
            "error": v.error,
        }
    return {
        "cluster": spec.cluster,
        "service": spec.service,
        "deploymentController": live.deployment_controller,
        "taskDefinitionArn": live.task_definition_arn,
        "taskSets": sets,
        "productionListenerWeights": _listener_weights(aws, target.group.prod_listeners),
        "deployment": current,
    }


def _listener_weights(aws: Aws, arns: Sequence[str]) -> dict[str, dict[str, int]]:
    """Production listener ARN -> target group ARN -> weight of its default forward action."""
    from bluegreen.aws import elbv2
    from bluegreen.aws.ecs_native import forward_weights

    weights: dict[str, dict[str, int]] = {}
    for arn in arns:
        record = elbv2.listener_record(aws, arn)
        if record is not None:
            weights[arn] = forward_weights({"Actions": record.get("DefaultActions") or []})
    return weights


def follow_settings(
    aws: Aws, target: Target, deployment_id: str, spec: Spec | None, journal: J.Journal
) -> FollowSettings:
    """How to follow an existing deployment: its task definition and config from CodeDeploy
    (else the journal), the alarms and metric checks from the spec when there is one."""
    from bluegreen.aws import codedeploy
    from bluegreen.engines.codedeploy.apply import FollowSettings
    from bluegreen.engines.codedeploy.configs import PREDEFINED, TrafficRouting

    info = codedeploy.get_deployment(aws, deployment_id)
    td = task_definition_of(info) or journal.deployments().get(deployment_id, {}).get(
        "taskDefinitionArn"
    )
    name = str(info.get("deploymentConfigName") or "")
    routing = PREDEFINED.get(name)
    if routing is None and name:
        raw = codedeploy.deployment_config(aws, name)
        routing = TrafficRouting.from_aws(raw) if raw is not None else None
    auto = info.get("autoRollbackConfiguration") or {}
    return FollowSettings(
        deployment_id=deployment_id,
        group=target.group,
        task_definition_arn=td,
        alarms=list(spec.rollback.alarms) if spec else [],
        checks=list(spec.rollback.metrics) if spec else [],
        routing=routing,
        rollback_on_failure=bool(auto.get("enabled", True)),
    )


@dataclass(frozen=True)
class RollbackStart:
    deployment_id: str
    task_definition_arn: str
    source: str | None  # the deployment whose predecessor we return to


def redeploy_previous(
    aws: Aws, spec: Spec, target: Target, journal: J.Journal, notify: Any
) -> RollbackStart:
    """After a finished release: a new deployment of the previous revision, with the AppSpec of
    the live service's last deployment (else rendered from the spec) pointing at it."""
    from bluegreen.aws import codedeploy, ecs
    from bluegreen.aws.iam import who
    from bluegreen.engines.codedeploy.apply import description, with_task_definition
    from bluegreen.engines.codedeploy.rollback_settings import merge_rollback
    from bluegreen.engines.model import Event
    from bluegreen.engines.rollback_target import require_active
    from bluegreen.render.release import appspec_content, render_release

    live = ecs.describe_service(aws, spec.cluster, spec.service)
    current = live.task_definition_arn
    previous, source = previous_revision(aws, target, journal, current)
    require_active(aws, previous, "the revision before the live one")  # never an INACTIVE one
    appspec: Any = None
    if source:
        appspec = appspec_of(codedeploy.get_deployment(aws, source))
    if not appspec:
        appspec = render_release(spec, live=live, task_definition_arn=previous, aws=aws).appspec
    content, sha = appspec_content(with_task_definition(appspec, previous))
    caller = who(aws)
    release_id = str(uuid.uuid4())  # recognises this deployment after a lost answer
    params: dict[str, Any] = {
        "applicationName": target.application,
        "deploymentGroupName": target.group_name,
        "description": description(caller, None, {"rollback-to": previous}, release_id),
        "revision": {
            "revisionType": "AppSpecContent",
            "appSpecContent": {"content": content, "sha256": sha},
        },
    }
    settings = merge_rollback(spec, target.group)
    if settings.spec_declares:  # else the group's own settings apply, unchanged
        params["autoRollbackConfiguration"] = settings.auto_rollback
    if settings.alarm_override is not None:
        params["overrideAlarmConfiguration"] = settings.alarm_override
    record = {
        "application": target.application,
        "group": target.group_name,
        "cluster": spec.cluster,
        "service": spec.service,
        "taskDefinitionArn": previous,
        "previousTaskDefinitionArn": current,
        "who": caller,
        "rollbackOf": source,
        "releaseId": release_id,
    }
    journal.append(J.INTENT, action="CreateDeployment", **record)
    dep = codedeploy.create_deployment(aws, params, marker=f"release-id {release_id}")
    journal.append(J.CREATED, deploymentId=dep, **record)
    notify(
        Event(
            "created",
            {"deploymentId": dep, "taskDefinitionArn": previous, "rollbackOf": source},
            f"created deployment {dep}: back to {previous}",
        )
    )
    return RollbackStart(dep, previous, source)
