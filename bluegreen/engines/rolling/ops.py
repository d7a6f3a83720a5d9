"""`status`, `history` and `rollback` for ECS-controller (rolling update) services.

- status: the service's task definition and counts, its deployments (rolloutState and counts),
  the deployment circuit breaker setting and the last service events.
- history: the journal's rolling releases of the service (who, what, when, result, digests)
  merged with the deployments ECS still lists.
- rollback: in flight (the PRIMARY deployment's rollout IN_PROGRESS next to an ACTIVE one), an
  UpdateService back to the ACTIVE deployment's task definition, followed by the rolling watch;
  when the circuit breaker is already rolling back, that rollback is followed instead. Finished:
  the previous revision (`rollback_target.rolling_target`, the one rule `cleanup` keeps too)
  through the same rolling path.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from bluegreen import journal as J
from bluegreen.engines.model import Outcome, revision
from bluegreen.errors import ExitCode, PreflightError

if TYPE_CHECKING:
    from bluegreen.aws.session import Aws
    from bluegreen.engines.model import Output
    from bluegreen.engines.rolling.rollout import Loop
    from bluegreen.spec.model import Spec

EVENTS_SHOWN = 5


# --- status -------------------------------------------------------------------------------------
def _deployment(d: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": d.get("id"),
        "status": d.get("status"),
        "taskDefinitionArn": d.get("taskDefinition"),
        "rolloutState": d.get("rolloutState"),
        "rolloutStateReason": d.get("rolloutStateReason"),
        "desired": int(d.get("desiredCount", 0) or 0),
        "running": int(d.get("runningCount", 0) or 0),
        "pending": int(d.get("pendingCount", 0) or 0),
        "failed": int(d.get("failedTasks", 0) or 0),
        "createdAt": d.get("createdAt"),
        "updatedAt": d.get("updatedAt"),
    }


def status(aws: Aws, spec: Spec) -> dict[str, Any]:
    """The live rolling service as one JSON-able mapping (reads only)."""
    from bluegreen.aws import ecs

    svc = ecs.describe_service_raw(aws, spec.cluster, spec.service)
    conf = svc.get("deploymentConfiguration") or {}
    breaker = conf.get("deploymentCircuitBreaker") or {}
    deployments = [_deployment(d) for d in svc.get("deployments") or []]
    in_flight = any(
        d["status"] == "PRIMARY" and d["rolloutState"] == "IN_PROGRESS" for d in deployments
    )
    return {
        "cluster": spec.cluster,
        "service": spec.service,
        "deploymentController": "ECS",
        "taskDefinitionArn": svc.get("taskDefinition"),
        "desiredCount": int(svc.get("desiredCount", 0) or 0),
        "runningCount": int(svc.get("runningCount", 0) or 0),
        "pendingCount": int(svc.get("pendingCount", 0) or 0),
        "minimumHealthyPercent": conf.get("minimumHealthyPercent"),
        "maximumPercent": conf.get("maximumPercent"),
        "circuitBreaker": {
            "enable": bool(breaker.get("enable", False)),
            "rollback": bool(breaker.get("rollback", False)),
        },
        "inFlight": in_flight,
        "deployments": deployments,
        "events": [
            {"createdAt": e.get("createdAt"), "message": e.get("message")}
            for e in (svc.get("events") or [])[:EVENTS_SHOWN]
        ],
    }


def status_lines(data: Mapping[str, Any]) -> list[str]:
    cb = data["circuitBreaker"]
    breaker = (
        ("on, with rollback" if cb["rollback"] else "on, without rollback")
        if cb["enable"]
        else "off"
    )
    out = [
        f"service {data['cluster']}/{data['service']} (ECS rolling update)",
        f"  task definition {data['taskDefinitionArn']}",
        f"  tasks: {data['runningCount']} running, {data['pendingCount']} pending, "
        f"{data['desiredCount']} desired",
        f"  minimumHealthyPercent {data['minimumHealthyPercent']}, maximumPercent "
        f"{data['maximumPercent']}, circuit breaker {breaker}",
        "rollout in flight" if data["inFlight"] else "no rollout in flight",
    ]
    for d in data["deployments"]:
        line = (
            f"  {d['id']} {d['status']:<8} {d['rolloutState'] or '-':<12} "
            f"{revision(d['taskDefinitionArn'])}: {d['running']}/{d['desired']} running, "
            f"{d['pending']} pending, {d['failed']} failed"
        )
        if d["rolloutState"] == "FAILED" and d["rolloutStateReason"]:
            line += f" ({d['rolloutStateReason']})"
        out.append(line)
    if data["events"]:
        out.append("last events:")
        out += [f"  {e['createdAt'] or ''} {e['message']}" for e in data["events"]]
    return out


# --- the journal's rolling releases -------------------------------------------------------------
def _iso(value: Any) -> str | None:
    if isinstance(value, int | float):
        return dt.datetime.fromtimestamp(float(value), dt.UTC).isoformat()
    return str(value) if value else None


def history(aws: Aws, spec: Spec, journal: J.Journal, limit: int) -> list[dict[str, Any]]:
    """Newest first: the journal's releases merged with the deployments ECS lists."""
    from bluegreen.aws import ecs

    svc = ecs.describe_service_raw(aws, spec.cluster, spec.service)
    live = {str(d.get("id")): d for d in svc.get("deployments") or []}
    rows: list[dict[str, Any]] = []
    for rel in J.rolling_releases(journal, spec.cluster, spec.service):
        res = rel.get("result") or {}
        dep = rel.get("deploymentId")
        ecs_view = live.pop(str(dep), None) if dep else None
        rows.append(
            {
                "deploymentId": dep,
                "strategy": "rolling",
                "status": res.get("status")
                or (ecs_view.get("rolloutState") if ecs_view else None)
                or "unknown",
                "created": _iso(rel.get("ts")),
                "completed": _iso(res.get("ts")),
                "who": rel.get("who"),
                "taskDefinitionArn": rel.get("taskDefinitionArn"),
                "previousTaskDefinitionArn": rel.get("previousTaskDefinitionArn"),
                "images": rel.get("images"),
                "rolledBack": res.get("rolledBack"),
                "rollbackOf": rel.get("rollbackOf"),
                "result": res.get("reason"),
                "ecs": _deployment(ecs_view) if ecs_view else None,
            }
        )
    for dep, d in live.items():  # deployments ECS lists that the journal does not know
        rows.append(
            {
                "deploymentId": dep,
                "strategy": "rolling",
                "status": d.get("rolloutState") or d.get("status"),
                "created": d.get("createdAt"),
                "completed": None,
                "who": None,
                "taskDefinitionArn": d.get("taskDefinition"),
                "previousTaskDefinitionArn": None,
                "images": None,
                "rolledBack": None,
                "rollbackOf": None,
                "result": None,
                "ecs": _deployment(d),
                "ecsOnly": True,
            }
        )
    rows.sort(key=lambda r: _sort_key(r.get("created")), reverse=True)
    return rows[:limit]


def _sort_key(value: Any) -> float:
    if isinstance(value, str):
        try:
            return dt.datetime.fromisoformat(value).timestamp()
        except ValueError:
            return 0.0
    return 0.0


# --- rollback -----------------------------------------------------------------------------------
def in_flight(svc: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any] | None] | None:
    """(PRIMARY, the ACTIVE deployment it replaces) while the primary's rollout is running."""
    deployments = list(svc.get("deployments") or [])
    primary = next((d for d in deployments if d.get("status") == "PRIMARY"), None)
    if primary is None or primary.get("rolloutState") != "IN_PROGRESS":
        return None
    active = next(
        (
            d
            for d in deployments
            if d.get("status") == "ACTIVE" and d.get("taskDefinition") != primary["taskDefinition"]
        ),
        None,
    )
    return primary, active


def _breaker_rolling_back(primary: Mapping[str, Any]) -> bool:
    reason = str(primary.get("rolloutStateReason") or "").lower()
    return "circuit breaker" in reason and "rolling back" in reason


def rollback(
    aws: Aws,
    spec: Spec,
    journal: J.Journal,
    out: Output,
    *,
    timeout: float,
    loop: Loop,
    on_cancel: str = "detach",
) -> Outcome:
    """Return the service to its previous revision and follow the rollout to the end."""
    from bluegreen.aws import ecs
    from bluegreen.engines.rollback_target import require_active, rolling_target
    from bluegreen.engines.rolling import rollout as rolling

    cluster, service = spec.cluster, spec.service
    svc = ecs.describe_service_raw(aws, cluster, service)
    current = svc.get("taskDefinition")
    request = rolling.RollingRequest(on_cancel=on_cancel)
    flight = in_flight(svc)
    if flight is not None and _breaker_rolling_back(flight[0]):
        primary = flight[0]
        out.emit(
            {"event": "rollback", "following": primary["id"], "taskDefinitionArn": current},
            f"the circuit breaker is already rolling back to {revision(current)}: following it",
        )
        now = loop.clock()
        config = rolling.RollingConfig(
            deployment_id=str(primary["id"]),
            task_definition_arn=str(current),
            previous_task_definition_arn=None,
            started_at=now,
            deadline=now + timeout,
            known_events=frozenset(str(e.get("id")) for e in svc.get("events") or []),
        )
        done = rolling.watch(aws, out, cluster, service, config, since=None, loop=loop)
        return _as_rollback(done, str(primary["id"]), str(current), done.deployment_id)
    replaced = flight[1] if flight is not None else None
    if flight is not None and replaced is not None:
        primary = flight[0]
        target = str(replaced["taskDefinition"])
        out.emit(
            {
                "event": "rollback",
                "inFlight": primary["id"],
                "taskDefinitionArn": target,
            },
            f"{primary['id']} ({revision(primary.get('taskDefinition'))}) is in flight: "
            f"back to {revision(target)}, the revision it replaces",
        )
        done = rolling.update_and_watch(
            aws,
            out,
            cluster=cluster,
            service=service,
            task_definition_arn=target,
            previous=str(primary.get("taskDefinition")),
            timeout=timeout,
            request=request,
            loop=loop,
            journal=journal,
            record={"rollbackOf": primary["id"]},
        )
        result = _as_rollback(done, str(primary["id"]), target, done.deployment_id)
        journal.append(
            J.RESULT,
            deploymentId=result.deployment_id,
            strategy="rolling",
            cluster=cluster,
            service=service,
            taskDefinitionArn=primary.get("taskDefinition"),
            status=result.status,
            rolledBack=result.rolled_back,
            exitCode=result.exit_code,
            reason=result.reason,
        )
        return result
    prev = rolling_target(aws, spec, journal, current)
    if prev is None:
        raise PreflightError(
            "no previous revision is known for this service",
            where=f"ECS service {cluster}/{service}",
            hint="deploy the wanted build explicitly with `bluegreen deploy --image NAME=REF`",
        )
    require_active(aws, prev.task_definition_arn, prev.how)
    out.emit(
        {
            "event": "rollback",
            "taskDefinitionArn": prev.task_definition_arn,
            "from": current,
            "source": prev.how,
        },
        f"back to {revision(prev.task_definition_arn)} from {revision(current)} "
        f"(found in {prev.how})",
    )
    return rolling.update_and_watch(
        aws,
        out,
        cluster=cluster,
        service=service,
        task_definition_arn=prev.task_definition_arn,
        previous=current,
        timeout=timeout,
        request=request,
        loop=loop,
        journal=journal,
        record={"rollbackOf": prev.source},
    )


def _as_rollback(done: Outcome, stopped: str, target: str, rollback_id: str) -> Outcome:
    """The result of rolling back an in-flight deployment: that deployment, rolled back when
    the rollout to the previous revision completed."""
    if done.exit_code == ExitCode.OK:
        return Outcome(
            stopped,
            "Stopped",
            True,
            ExitCode.OK,
            f"rolled back: {done.reason}",
            rollback_id or None,
            target,
        )
    return Outcome(
        stopped,
        done.status,
        False,
        done.exit_code,
        f"the rollback did not complete: {done.reason}",
        rollback_id or None,
        target,
    )


# --- stop and watch -----------------------------------------------------------------------------
def _in_flight_or_refuse(
    svc: Mapping[str, Any], spec: Spec, deployment_id: str | None, what: str
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The in-flight rollout; UsageError (exit 2, nothing written) when there is none or when
    `deployment_id` names another deployment."""
    from bluegreen.errors import UsageError

    where = f"ECS service {spec.cluster}/{spec.service}"
    flight = in_flight(svc)
    if flight is None:
        raise UsageError(
            "no rollout in flight",
            where=where,
            hint=f"nothing to {what}; `bluegreen status` shows the service, `bluegreen history` "
            "its past releases",
        )
    primary = flight[0]
    if deployment_id is not None and deployment_id != primary.get("id"):
        raise UsageError(
            f"{deployment_id} is not the service's in-flight rollout ({primary.get('id')})",
            where=where,
            hint=f"`bluegreen {what}` without an id acts on the rollout in flight",
        )
    return flight


def stop(
    aws: Aws,
    spec: Spec,
    journal: J.Journal,
    out: Output,
    *,
    deployment_id: str | None,
    rollback_too: bool,
    timeout: float,
    loop: Loop,
) -> Outcome:
    """Stop the in-flight rollout: ECS has no stop for a rolling update, so this is a return to
    the revision it replaces, followed to the end."""
    from bluegreen.aws import ecs
    from bluegreen.errors import UsageError

    svc = ecs.describe_service_raw(aws, spec.cluster, spec.service)
    primary, replaced = _in_flight_or_refuse(svc, spec, deployment_id, "stop")
    where = f"ECS service {spec.cluster}/{spec.service}"
    if not rollback_too:
        raise UsageError(
            "ECS cannot stop a rolling update where it is: --no-rollback would leave it running",
            where=where,
            hint="`bluegreen stop` returns the service to the revision the rollout replaces",
        )
    if replaced is None and not _breaker_rolling_back(primary):
        raise UsageError(
            f"the rollout in flight ({primary.get('id')}) starts fresh tasks of the revision "
            "the service already runs: there is no earlier revision to return to",
            where=where,
            hint="let it finish (`bluegreen watch`), or deploy the wanted build explicitly",
        )
    return rollback(aws, spec, journal, out, timeout=timeout, loop=loop)


def watch_in_flight(
    aws: Aws,
    spec: Spec,
    out: Output,
    *,
    deployment_id: str | None,
    timeout: float | None,
    loop: Loop,
    on_cancel: str,
) -> Outcome:
    """Follow the rollout in flight to its end (re-attach), with the spec's alarms watched;
    exit 2 when nothing is in flight."""
    from bluegreen.aws import ecs
    from bluegreen.engines.rolling import rollout as rolling

    svc = ecs.describe_service_raw(aws, spec.cluster, spec.service)
    primary, replaced = _in_flight_or_refuse(svc, spec, deployment_id, "watch")
    conf = svc.get("deploymentConfiguration") or {}
    breaker = conf.get("deploymentCircuitBreaker") or {}
    now = loop.clock()
    config = rolling.RollingConfig(
        deployment_id=str(primary["id"]),
        task_definition_arn=str(primary.get("taskDefinition")),
        previous_task_definition_arn=str(replaced["taskDefinition"]) if replaced else None,
        started_at=now,
        deadline=None if timeout is None else now + timeout,
        breaker=bool(breaker.get("enable", False)),
        breaker_rollback=bool(breaker.get("rollback", False)),
        failure_threshold=rolling.failure_threshold(int(svc.get("desiredCount", 0) or 0)),
        known_before=frozenset(
            str(d.get("id")) for d in svc.get("deployments") or [] if d is not primary
        ),
        known_events=frozenset(str(e.get("id")) for e in svc.get("events") or []),
        on_cancel=on_cancel,
        alarm_names=tuple(dict.fromkeys(spec.rollback.alarms)),
    )
    out.emit(
        {"event": "watching", "deploymentId": primary["id"]},
        f"watching {primary['id']} on {spec.cluster}/{spec.service} "
        f"({revision(config.previous_task_definition_arn)} -> "
        f"{revision(config.task_definition_arn)})",
    )
    return rolling.watch(aws, out, spec.cluster, spec.service, config, since=None, loop=loop)
