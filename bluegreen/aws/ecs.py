"""ECS gateway (reads): the live service as rendering needs it, and task definitions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from bluegreen.aws.errors import aws_errors
from bluegreen.aws.model import ContainerRun, LiveService, TaskRun
from bluegreen.errors import AwsError, ResourceNotFound, ServiceNotFound

if TYPE_CHECKING:
    from bluegreen.aws.session import Aws


def _plain(value: Any) -> Any:
    """botocore response data -> JSON-able data (datetimes as ISO strings)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def describe_service(aws: Aws, cluster: str, service: str) -> LiveService:
    """The live service; ServiceNotFound (exit 4) naming it, and what exists, when the cluster
    or the service is missing or the service inactive."""
    resp = _describe_one(aws, cluster, service)
    services = [s for s in resp.get("services", []) if s.get("status") != "INACTIVE"]
    if not services:
        raise missing_service(aws, cluster, service, inactive=bool(resp.get("services")))
    svc: dict[str, Any] = _plain(services[0])
    return live_service(svc, cluster=cluster, service=service)


def _describe_one(aws: Aws, cluster: str, service: str) -> dict[str, Any]:
    """DescribeServices of one service; a missing cluster (ClusterNotFoundException) is the
    ServiceNotFound of `missing_service`."""
    with aws_errors(resource=f"{cluster}/{service}"):  # lets our own errors through
        try:
            resp: Any = aws.ecs().describe_services(cluster=cluster, services=[service])
        except Exception as exc:
            code = (getattr(exc, "response", None) or {}).get("Error", {}).get("Code")
            if code == "ClusterNotFoundException":
                said = (getattr(exc, "response", None) or {}).get("Error", {}).get("Message")
                raise missing_service(aws, cluster, service, said=said) from None
            raise
    return dict(resp)


# --- what exists, when the spec names something that does not ---------------------------------
SHOWN_NAMES = 8  # names listed in a not-found message (the rest counted)
_LISTED_AT_MOST = 200  # clusters or services read to list them and find the closest


def _names(aws: Aws, operation: str, key: str, **params: Any) -> list[str] | None:
    """Names from a List* call (the ARNs' last part), at most _LISTED_AT_MOST; None when they
    cannot be listed (no permission, throttled, ...): the message then says less."""
    names: list[str] = []
    ecs: Any = aws.ecs()
    try:
        for page in ecs.get_paginator(operation).paginate(**params):
            names += [str(arn).rsplit("/", 1)[-1] for arn in page.get(key) or []]
            if len(names) >= _LISTED_AT_MOST:
                break
    except Exception:  # a hint is best effort: the not-found error is what is reported
        return None
    return sorted(names)


def _listing(names: list[str], wanted: str, what: str, place: str) -> str:
    """`did you mean 'web'? services in cluster 'x': a, b, c (and 4 more)`."""
    import difflib

    if not names:
        return f"there are no {what}s {place}"
    close = difflib.get_close_matches(wanted, names, n=1, cutoff=0.6)
    shown = ", ".join(names[:SHOWN_NAMES])
    more = len(names) - SHOWN_NAMES
    listed = f"{what}s {place}: {shown}" + (f" (and {more} more)" if more > 0 else "")
    return (f"did you mean {close[0]!r}? " if close else "") + listed


def missing_service(
    aws: Aws, cluster: str, service: str, *, inactive: bool = False, said: str | None = None
) -> ServiceNotFound:
    """The error for a spec whose cluster or service does not exist: which one is missing, in
    which region, and what exists there (ListClusters, ListServices), with a did-you-mean;
    what the endpoint itself `said` about it follows (an endpoint may know more, e.g. that it
    was emptied)."""
    error = _missing(aws, cluster, service, inactive=inactive)
    if said and said.strip():
        error.hint = f"{error.hint}; the endpoint said: {said.strip()}"
    return error


def _missing(aws: Aws, cluster: str, service: str, *, inactive: bool) -> ServiceNotFound:
    try:
        region = aws.region_name or "(no region)"
    except Exception:  # the session could not be built: the message still names the resource
        region = "(no region)"
    where = f"{cluster}/{service}"
    cluster_name = cluster.rsplit("/", 1)[-1]
    clusters = _names(aws, "list_clusters", "clusterArns")
    if clusters is not None and cluster_name not in clusters:
        return ServiceNotFound(
            f"ECS cluster {cluster_name!r} not found in region {region}",
            cluster=cluster,
            service=service,
            where=where,
            hint=_listing(clusters, cluster_name, "cluster", f"in region {region}"),
        )
    state = "inactive (deleted)" if inactive else "not found"
    services = _names(aws, "list_services", "serviceArns", cluster=cluster)
    return ServiceNotFound(
        f"ECS service {service!r} is {state} in cluster {cluster_name!r} (region {region})",
        cluster=cluster,
        service=service,
        where=where,
        hint=(
            _listing(services, service, "service", f"in cluster {cluster_name!r}")
            if services is not None
            else "check `cluster`/`service` in the spec (and --env, --region)"
        ),
    )


def live_service(svc: dict[str, Any], *, cluster: str, service: str) -> LiveService:
    """A DescribeServices record (JSON-able) as the typed LiveService."""
    controller = (svc.get("deploymentController") or {}).get("type", "ECS")
    conf = svc.get("deploymentConfiguration") or {}
    return LiveService(
        cluster=cluster,
        service=service,
        task_definition_arn=svc.get("taskDefinition"),
        deployment_controller=str(controller),
        deployment_strategy=conf.get("strategy"),
        deployment_configuration=dict(conf),
        load_balancers=list(svc.get("loadBalancers") or []),
        network_configuration=svc.get("networkConfiguration"),
        platform_version=svc.get("platformVersion"),
        capacity_provider_strategy=list(svc.get("capacityProviderStrategy") or []),
    )


def describe_task_definition(aws: Aws, task_definition: str) -> dict[str, Any]:
    """DescribeTaskDefinition's `taskDefinition` (with its `tags` when it has any)."""
    with aws_errors(resource=task_definition):
        resp = aws.ecs().describe_task_definition(taskDefinition=task_definition, include=["TAGS"])
    td: dict[str, Any] = _plain(resp["taskDefinition"])
    tags = _plain(resp.get("tags") or [])
    if tags:
        td["tags"] = tags
    return td


def registration_turn(aws: Aws) -> float:
    """Seconds to wait before the next RegisterTaskDefinition of this session, so that a
    fan-out's registrations keep to ECS's bucket instead of being throttled (aws.pacing). The
    caller sleeps with its own sleep, which a cancel wakes, and checks the cancel after it."""
    from bluegreen.aws.pacing import TASK_DEFINITION_WRITES

    aws.ecs()  # the client first: building it takes a while, and turns count from here
    return aws.pacer(TASK_DEFINITION_WRITES).turn()


def register_task_definition(aws: Aws, task_definition: dict[str, Any]) -> str:
    """RegisterTaskDefinition with register input; returns the new revision's ARN (the caller
    waited its `registration_turn`)."""
    family = str(task_definition.get("family", ""))
    with aws_errors(resource=f"task definition family {family}"):
        resp = aws.ecs().register_task_definition(**task_definition)
    return str(resp["taskDefinition"]["taskDefinitionArn"])


# --- rolling updates (ECS deployment controller) ------------------------------------------------
def describe_service_raw(aws: Aws, cluster: str, service: str) -> dict[str, Any]:
    """DescribeServices' record of one service (deployments, events, deploymentConfiguration)."""
    resp = _describe_one(aws, cluster, service)
    services = [s for s in resp.get("services", []) if s.get("status") != "INACTIVE"]
    if not services:
        raise missing_service(aws, cluster, service, inactive=bool(resp.get("services")))
    svc: dict[str, Any] = _plain(services[0])
    return svc


def describe_services_raw(aws: Aws, cluster: str, services: list[str]) -> dict[str, Any]:
    """DescribeServices' records of up to 10 services of one cluster, by service name (the
    ones not found, or INACTIVE, are left out)."""
    with aws_errors(resource=f"{cluster}/{','.join(services)}"):
        resp = aws.ecs().describe_services(cluster=cluster, services=services)
    return {
        str(s.get("serviceName")): _plain(s)
        for s in resp.get("services", [])
        if s.get("status") != "INACTIVE"
    }


def latest_task_definition(aws: Aws, family: str) -> dict[str, Any] | None:
    """The latest ACTIVE revision of a family, or None when the family has none."""
    from bluegreen.aws.errors import is_aws_exception, translate

    try:
        resp = aws.ecs().describe_task_definition(taskDefinition=family, include=["TAGS"])
    except Exception as exc:
        if not is_aws_exception(exc):
            raise
        error = getattr(exc, "response", {}).get("Error", {})
        # ECS answers an unknown family with ClientException "Unable to describe task definition"
        if error.get("Code") == "ClientException":
            return None
        raise translate(exc, resource=f"task definition family {family}") from exc
    td: dict[str, Any] = _plain(resp["taskDefinition"])
    tags = _plain(resp.get("tags") or [])
    if tags:
        td["tags"] = tags
    return td


def update_service(
    aws: Aws,
    cluster: str,
    service: str,
    *,
    task_definition: str | None = None,
    force: bool = False,
    deployment_configuration: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """UpdateService to a revision and/or with forceNewDeployment (and a deploymentConfiguration,
    e.g. the release's deployment alarms); returns the service record."""
    params: dict[str, Any] = {"cluster": cluster, "service": service}
    if task_definition is not None:
        params["taskDefinition"] = task_definition
    if force:
        params["forceNewDeployment"] = True
    if deployment_configuration is not None:
        params["deploymentConfiguration"] = dict(deployment_configuration)
    with aws_errors(resource=f"{cluster}/{service}"):
        resp = aws.ecs().update_service(**params)
    svc: dict[str, Any] = _plain(resp["service"])
    return svc


def describe_task_sets(aws: Aws, cluster: str, service: str) -> list[dict[str, Any]]:
    """The service's task sets (CODE_DEPLOY/EXTERNAL controllers): id, status, task definition,
    scale and counts."""
    with aws_errors(resource=f"{cluster}/{service}"):
        resp = aws.ecs().describe_services(cluster=cluster, services=[service])
    out: list[dict[str, Any]] = []
    for svc in resp.get("services", []):
        for ts in svc.get("taskSets", []):
            out.append(
                {
                    "id": ts.get("id"),
                    "status": ts.get("status"),
                    "taskDefinitionArn": ts.get("taskDefinition"),
                    "scale": _plain(ts.get("scale")),
                    "desired": ts.get("computedDesiredCount"),
                    "running": ts.get("runningCount"),
                    "pending": ts.get("pendingCount"),
                    "stabilityStatus": ts.get("stabilityStatus"),
                }
            )
    return out


def family_revisions(aws: Aws, family: str) -> list[str]:
    """The ACTIVE revisions of a task definition family, newest first (ARNs)."""
    arns: list[str] = []
    params: dict[str, Any] = {"familyPrefix": family, "status": "ACTIVE", "sort": "DESC"}
    with aws_errors(resource=f"task definition family {family}"):
        while True:
            resp = aws.ecs().list_task_definitions(**params)
            arns.extend(str(a) for a in resp.get("taskDefinitionArns") or [])
            token = resp.get("nextToken")
            if not token:
                return arns
            params["nextToken"] = token


# --- one-off tasks (RunTask) --------------------------------------------------------------------
def _task_run(task: Mapping[str, Any]) -> TaskRun:
    """A RunTask/DescribeTasks/StopTask task record as the typed TaskRun."""
    containers = tuple(
        ContainerRun(
            name=str(c.get("name") or ""),
            last_status=c.get("lastStatus"),
            exit_code=c.get("exitCode") if isinstance(c.get("exitCode"), int) else None,
            reason=c.get("reason") or None,
        )
        for c in task.get("containers") or []
        if isinstance(c, Mapping)
    )
    return TaskRun(
        task_arn=str(task.get("taskArn") or ""),
        task_definition_arn=task.get("taskDefinitionArn"),
        last_status=task.get("lastStatus"),
        desired_status=task.get("desiredStatus"),
        stop_code=task.get("stopCode") or None,
        stopped_reason=task.get("stoppedReason") or None,
        containers=containers,
        overrides=_plain(dict(task.get("overrides") or {})),
    )


def run_task(aws: Aws, params: Mapping[str, Any]) -> TaskRun:
    """RunTask with `params` (one task); the task as started. A placement failure ECS reports
    in `failures` (no task started) is an AwsError (exit 4) carrying ECS's reason."""
    cluster = str(params.get("cluster", ""))
    with aws_errors(resource=f"cluster {cluster}"):
        resp = aws.ecs().run_task(**params)
    tasks = resp.get("tasks") or []
    if not tasks:
        reasons = sorted(
            {
                f"{f.get('reason', '?')}" + (f" ({f['detail']})" if f.get("detail") else "")
                for f in resp.get("failures") or []
            }
        )
        raise AwsError(
            "ECS started no task: " + ("; ".join(reasons) or "no reason given"),
            where=f"cluster {cluster}",
            hint="check the cluster's capacity and the service's network configuration",
        )
    return _task_run(tasks[0])


def describe_task(aws: Aws, cluster: str, task_arn: str) -> TaskRun:
    """DescribeTasks of one task; ResourceNotFound (exit 4) when ECS no longer knows it."""
    with aws_errors(resource=task_arn):
        resp = aws.ecs().describe_tasks(cluster=cluster, tasks=[task_arn])
    tasks = resp.get("tasks") or []
    if not tasks:
        raise ResourceNotFound(
            f"ECS does not know task {task_arn} in cluster {cluster!r}", where=task_arn
        )
    return _task_run(tasks[0])


def stop_task(aws: Aws, cluster: str, task_arn: str, reason: str) -> TaskRun:
    """StopTask (the task gets SIGTERM, then SIGKILL after its stop timeout)."""
    with aws_errors(resource=task_arn):
        resp = aws.ecs().stop_task(cluster=cluster, task=task_arn, reason=reason[:255])
    return _task_run(resp.get("task") or {"taskArn": task_arn})
