"""CodeDeploy gateway: applications, groups, configs and the deployments of an ECS service."""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bluegreen.aws.errors import aws_errors, is_aws_exception, translate
from bluegreen.errors import AwsError, DeploymentActive, PreflightError, ResourceNotFound

if TYPE_CHECKING:
    from bluegreen.aws.session import Aws

ACTIVE_STATUSES = ["Created", "Queued", "InProgress", "Baking", "Ready"]


def _code(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""


@dataclass(frozen=True)
class DeploymentGroup:
    application: str
    name: str
    compute_platform: str
    cluster: str | None
    service: str | None
    target_groups: tuple[str, ...]
    prod_listeners: tuple[str, ...]
    test_listeners: tuple[str, ...]
    ready_action: str  # CONTINUE_DEPLOYMENT | STOP_DEPLOYMENT
    ready_wait_minutes: int
    termination_action: str  # TERMINATE | KEEP_ALIVE
    termination_wait_minutes: int
    deployment_config: str | None
    blue_green: bool
    # autoRollbackConfiguration: rollback on these events (none when disabled)
    auto_rollback_enabled: bool = False
    auto_rollback_events: tuple[str, ...] = ()
    # alarmConfiguration: the alarms that stop a deployment (none when disabled)
    alarms_enabled: bool = False
    alarms: tuple[str, ...] = ()
    ignore_poll_alarm_failure: bool = False

    @property
    def target_id(self) -> str:
        return f"{self.cluster}:{self.service}"


def application_platform(aws: Aws, application: str) -> str:
    """The application's compute platform (read once a run per application)."""

    def read() -> str:
        with aws_errors(resource=f"CodeDeploy application {application}"):
            resp = aws.codedeploy().get_application(applicationName=application)
        return str(resp.get("application", {}).get("computePlatform", ""))

    return aws.remembered(("codedeploy.application", application), read)


def application_platforms(aws: Aws, names: Sequence[str]) -> dict[str, str]:
    """Compute platforms of several applications (BatchGetApplications, 100 names a call).
    A call that names a missing application fails as a whole (AWS's behaviour): its names are
    left out, and whoever asked reads its own application (which says what is wrong)."""
    found: dict[str, str] = {}
    for i in range(0, len(names), 100):
        try:
            with aws_errors(resource="CodeDeploy applications"):
                resp = aws.codedeploy().batch_get_applications(
                    applicationNames=list(names[i : i + 100])
                )
        except AwsError:
            continue
        for info in resp.get("applicationsInfo", []):
            found[str(info.get("applicationName"))] = str(info.get("computePlatform", ""))
    return found


def deployment_group(aws: Aws, application: str, group: str) -> DeploymentGroup:
    with aws_errors(resource=f"CodeDeploy deployment group {application}/{group}"):
        resp = aws.codedeploy().get_deployment_group(
            applicationName=application, deploymentGroupName=group
        )
    return parse_group(application, group, dict(resp.get("deploymentGroupInfo", {})))


def parse_group(application: str, group: str, info: dict[str, Any]) -> DeploymentGroup:
    """A GetDeploymentGroup `deploymentGroupInfo` as a DeploymentGroup."""
    services = info.get("ecsServices") or []
    cluster = services[0].get("clusterName") if services else None
    service = services[0].get("serviceName") if services else None
    lbi = info.get("loadBalancerInfo") or {}
    pairs = lbi.get("targetGroupPairInfoList") or []
    pair = pairs[0] if pairs else {}
    tgs = tuple(str(t.get("name", "")) for t in pair.get("targetGroups", []))
    prod = tuple(pair.get("prodTrafficRoute", {}).get("listenerArns", []))
    test = tuple(pair.get("testTrafficRoute", {}).get("listenerArns", []))
    bg = info.get("blueGreenDeploymentConfiguration") or {}
    ready = bg.get("deploymentReadyOption") or {}
    term = bg.get("terminateBlueInstancesOnDeploymentSuccess") or {}
    style = info.get("deploymentStyle") or {}
    auto = info.get("autoRollbackConfiguration") or {}
    alarm_cfg = info.get("alarmConfiguration") or {}
    return DeploymentGroup(
        application=application,
        name=group,
        compute_platform=str(info.get("computePlatform", "")),
        cluster=cluster,
        service=service,
        target_groups=tgs,
        prod_listeners=prod,
        test_listeners=test,
        ready_action=str(ready.get("actionOnTimeout", "CONTINUE_DEPLOYMENT")),
        ready_wait_minutes=int(ready.get("waitTimeInMinutes", 0) or 0),
        termination_action=str(term.get("action", "TERMINATE")),
        termination_wait_minutes=int(term.get("terminationWaitTimeInMinutes", 0) or 0),
        deployment_config=info.get("deploymentConfigName"),
        blue_green=style.get("deploymentType", "BLUE_GREEN") == "BLUE_GREEN",
        auto_rollback_enabled=bool(auto.get("enabled")),
        auto_rollback_events=tuple(str(e) for e in auto.get("events") or []),
        alarms_enabled=bool(alarm_cfg.get("enabled")),
        alarms=tuple(str(a.get("name")) for a in alarm_cfg.get("alarms") or [] if a.get("name")),
        ignore_poll_alarm_failure=bool(alarm_cfg.get("ignorePollAlarmFailure")),
    )


@dataclass(frozen=True)
class _Read:
    value: dict[str, Any] | None  # None: no config has the name


def deployment_config(aws: Aws, name: str) -> dict[str, Any] | None:
    """The `trafficRoutingConfig` of an existing ECS config ({} when it has none), or None
    when no config has that name. Read once a run, missing or not: configs cannot be changed,
    only created and deleted, and a run creates a missing one once
    (`ensure_deployment_config`), so the specs of a fan-out that name the same new config
    cost one read, not one each."""
    read = aws.remembered(
        ("codedeploy.deployment_config", name), lambda: _Read(_deployment_config(aws, name))
    )
    return read.value


def _deployment_config(aws: Aws, name: str) -> dict[str, Any] | None:
    try:
        resp = aws.codedeploy().get_deployment_config(deploymentConfigName=name)
    except Exception as exc:
        if _code(exc) in ("DeploymentConfigDoesNotExistException",):
            return None
        if is_aws_exception(exc):
            raise translate(exc, resource=f"deployment config {name}") from exc
        raise
    info: dict[str, Any] = dict(resp.get("deploymentConfigInfo", {}))
    platform = info.get("computePlatform")
    if platform and platform != "ECS":
        from bluegreen.errors import PreflightError

        raise PreflightError(
            f"deployment config {name} is for {platform}, not ECS",
            where=f"deployment config {name}",
            hint="pick an ECS config (CodeDeployDefault.ECS*) or a shorthand like canary:10%/5m",
        )
    return dict(info.get("trafficRoutingConfig") or {})


def ensure_deployment_config(aws: Aws, name: str, routing: dict[str, Any]) -> bool:
    """Create the custom config once a run (the releases of a fan-out that need it wait for
    the first one's answer): True only for the call that created it."""
    ran: list[bool] = []

    def create() -> bool:
        ran.append(True)
        created = create_deployment_config(aws, name, routing)
        aws.forget(("codedeploy.deployment_config", name))  # it exists now
        return created

    created = aws.remembered(("codedeploy.create_deployment_config", name), create)
    return created and bool(ran)


def create_deployment_config(aws: Aws, name: str, routing: dict[str, Any]) -> bool:
    """Create the custom config; False when it already existed (created concurrently)."""
    try:
        aws.codedeploy().create_deployment_config(
            deploymentConfigName=name,
            computePlatform="ECS",
            trafficRoutingConfig=routing,  # type: ignore[arg-type]
        )
    except Exception as exc:
        if _code(exc) == "DeploymentConfigAlreadyExistsException":
            return False
        if is_aws_exception(exc):
            raise translate(exc, resource=f"deployment config {name}") from exc
        raise
    return True


def active_deployments(aws: Aws, application: str, group: str) -> list[str]:
    with aws_errors(resource=f"CodeDeploy deployment group {application}/{group}"):
        resp = aws.codedeploy().list_deployments(
            applicationName=application,
            deploymentGroupName=group,
            includeOnlyStatuses=ACTIVE_STATUSES,  # type: ignore[arg-type]
        )
    return list(resp.get("deployments", []))


def list_deployments(aws: Aws, application: str, group: str, limit: int) -> list[str]:
    ids: list[str] = []
    token: str | None = None
    while len(ids) < limit:
        kwargs: dict[str, Any] = {"applicationName": application, "deploymentGroupName": group}
        if token:
            kwargs["nextToken"] = token
        with aws_errors(resource=f"CodeDeploy deployment group {application}/{group}"):
            resp = aws.codedeploy().list_deployments(**kwargs)
        ids.extend(resp.get("deployments", []))
        token = resp.get("nextToken")
        if not token:
            break
    return ids[:limit]


def batch_get_deployments(aws: Aws, ids: Sequence[str]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for i in range(0, len(ids), 25):
        with aws_errors(resource="CodeDeploy deployments"):
            resp = aws.codedeploy().batch_get_deployments(deploymentIds=list(ids[i : i + 25]))
        out.extend(dict(d) for d in resp.get("deploymentsInfo", []))
    return out


_ACTIVE_ID = re.compile(r"\b(d-[A-Z0-9]{9})\b")


_ACTIVE_CODES = ("DeploymentLimitExceededException", "DeploymentAlreadyStartedException")
CREATE_ATTEMPTS = 5


def create_deployment(aws: Aws, params: dict[str, Any], *, marker: str | None = None) -> str:
    """CreateDeployment. It is not idempotent, so with `marker` (a string unique to this run
    that the caller wrote into the description) botocore does not retry it; instead, after a
    lost answer (the connection failed, or a 5xx: the deployment may exist) and on "already
    active", the group's recent deployments are read and the one carrying the marker is this
    run's: its id is returned and no second deployment is started. A lost answer with no
    marked deployment to be found, and throttling, are retried here."""
    app, group = str(params.get("applicationName")), str(params.get("deploymentGroupName"))
    where = f"CodeDeploy deployment group {app}/{group}"
    client = aws.client("codedeploy", single_attempt=True) if marker else aws.codedeploy()
    since = time.time() - 300  # this run's deployment is younger (clock skew allowed for)
    attempt = 0
    while True:
        attempt += 1
        try:
            resp = client.create_deployment(**params)
            return str(resp["deploymentId"])
        except Exception as exc:
            code = _code(exc)
            lost = _answer_lost(exc)
            if marker is not None and (lost or code in _ACTIVE_CODES):
                mine = marked_deployment(aws, app, group, marker, since)
                if mine is not None:
                    return mine
            if code in _ACTIVE_CODES:
                message = str(getattr(exc, "response", {}).get("Error", {}).get("Message", exc))
                m = _ACTIVE_ID.search(message)
                raise active_error(where, m.group(1) if m else None) from exc
            if marker is not None and attempt < CREATE_ATTEMPTS and (lost or _throttled(exc)):
                time.sleep(min(0.25 * 2**attempt, 5.0))
                continue
            if is_aws_exception(exc):
                raise translate(exc, resource=where) from exc
            raise


def _answer_lost(exc: BaseException) -> bool:
    """Whether a failed call may have been carried out: no answer came back (the connection
    failed or timed out), or the service answered with a 5xx."""
    from botocore import exceptions as bce

    if isinstance(exc, bce.HTTPClientError | bce.EndpointConnectionError):
        return True
    if isinstance(exc, bce.ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return int(status or 0) >= 500
    return False


def _throttled(exc: BaseException) -> bool:
    from bluegreen.aws.errors import _THROTTLING

    return _code(exc) in _THROTTLING


def marked_deployment(
    aws: Aws, application: str, group: str, marker: str, since: float
) -> str | None:
    """The group's deployment created after `since` (epoch seconds) whose description carries
    `marker`, if there is one (the newest)."""
    from datetime import UTC, datetime

    ids: list[str] = []
    token: str | None = None
    while True:
        kwargs: dict[str, Any] = {
            "applicationName": application,
            "deploymentGroupName": group,
            "createTimeRange": {"start": datetime.fromtimestamp(since, UTC)},
        }
        if token:
            kwargs["nextToken"] = token
        with aws_errors(resource=f"CodeDeploy deployment group {application}/{group}"):
            resp = aws.codedeploy().list_deployments(**kwargs)
        ids.extend(resp.get("deployments", []))
        token = resp.get("nextToken")
        if not token or len(ids) >= 100:
            break
    mine = [d for d in batch_get_deployments(aws, ids) if marker in str(d.get("description"))]
    mine.sort(key=lambda d: str(d.get("createTime")), reverse=True)
    return str(mine[0]["deploymentId"]) if mine else None


def active_error(where: str, deployment_id: str | None) -> DeploymentActive:
    ref = deployment_id or "<id>"
    return DeploymentActive(
        f"deployment {deployment_id or '(unknown id)'} is already active on this group",
        where=where,
        hint=f"follow it with `bluegreen watch {ref}`, stop it with `bluegreen stop {ref}`, "
        "or pass --queue to deploy once it ends",
    )


def get_deployment(aws: Aws, deployment_id: str) -> dict[str, Any]:
    with aws_errors(resource=f"deployment {deployment_id}"):
        resp = aws.codedeploy().get_deployment(deploymentId=deployment_id)
    return dict(resp.get("deploymentInfo", {}))


def deployment_or_none(aws: Aws, deployment_id: str) -> dict[str, Any] | None:
    """GetDeployment of an id a user typed: None when CodeDeploy knows no such deployment (or
    the id is malformed); other failures are AWS errors as usual."""
    try:
        resp = aws.codedeploy().get_deployment(deploymentId=deployment_id)
    except Exception as exc:
        if _code(exc) in ("DeploymentDoesNotExistException", "InvalidDeploymentIdException"):
            return None
        if is_aws_exception(exc):
            raise translate(exc, resource=f"deployment {deployment_id}") from exc
        raise
    info = resp.get("deploymentInfo")
    return dict(info) if info else None


def get_deployment_target(aws: Aws, deployment_id: str, target_id: str) -> dict[str, Any] | None:
    """The ECS target of a deployment, or None while CodeDeploy has not created it yet."""
    try:
        resp = aws.codedeploy().get_deployment_target(
            deploymentId=deployment_id, targetId=target_id
        )
    except Exception as exc:
        if _code(exc) in (
            "DeploymentTargetDoesNotExistException",
            "DeploymentNotStartedException",
        ):
            return None
        if is_aws_exception(exc):
            raise translate(exc, resource=f"deployment {deployment_id} target {target_id}") from exc
        raise
    target = resp.get("deploymentTarget", {}).get("ecsTarget")
    return dict(target) if target else None


# CodeDeploy's refusals of a stop or a continue at the wrong phase: nothing was changed, so
# they are exit 2 with what to do, not AWS errors.
_ENDED = ("DeploymentAlreadyCompletedException", "InvalidDeploymentStatusException")
_NOT_WAITING = ("DeploymentIsNotInReadyStateException", "InvalidDeploymentWaitTypeException")


def _refused(exc: Exception) -> tuple[str, str] | None:
    """(code, message) of a CodeDeploy ClientError, None for anything else."""
    error = (getattr(exc, "response", None) or {}).get("Error") or {}
    code = error.get("Code")
    return (str(code), str(error.get("Message") or code)) if code else None


def stop_deployment(aws: Aws, deployment_id: str, rollback: bool) -> str:
    with aws_errors(resource=f"deployment {deployment_id}"):
        try:
            resp = aws.codedeploy().stop_deployment(
                deploymentId=deployment_id, autoRollbackEnabled=rollback
            )
        except Exception as exc:
            refused = _refused(exc)
            if refused and refused[0] in _ENDED:
                raise PreflightError(
                    f"deployment {deployment_id} has already ended; nothing to stop ({refused[1]})",
                    where=f"deployment {deployment_id}",
                    hint="`bluegreen rollback` returns production to the previous revision",
                ) from None
            raise
    return str(resp.get("status", ""))


def continue_deployment(aws: Aws, deployment_id: str, wait_type: str) -> None:
    with aws_errors(resource=f"deployment {deployment_id}"):
        try:
            aws.codedeploy().continue_deployment(
                deploymentId=deployment_id,
                deploymentWaitType=wait_type,  # type: ignore[arg-type]
            )
        except Exception as exc:
            refused = _refused(exc)
            if refused and refused[0] in _ENDED + _NOT_WAITING:
                wait = "termination wait" if wait_type == "TERMINATION_WAIT" else "ready wait"
                raise PreflightError(
                    f"deployment {deployment_id} is not in its {wait}: nothing to approve "
                    f"({refused[1]})",
                    where=f"deployment {deployment_id}",
                    hint="follow it with `bluegreen watch` until it waits; `approve` ends the "
                    "ready wait (Ready), `approve --terminate-now` the termination wait after "
                    "production has moved",
                ) from None
            raise


def observe(
    aws: Aws, deployment_id: str, target_id: str | None
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """GetDeployment, plus GetDeploymentTarget once the deployment has started."""
    info = get_deployment(aws, deployment_id)
    if not info:
        raise ResourceNotFound(f"deployment {deployment_id} not found")
    target = None
    if target_id and info.get("status") not in ("Created", "Queued"):
        target = get_deployment_target(aws, deployment_id, target_id)
    return info, target


def delete_deployment_group(aws: Aws, application: str, group: str) -> None:
    with aws_errors(resource=f"CodeDeploy deployment group {application}/{group}"):
        aws.codedeploy().delete_deployment_group(
            applicationName=application, deploymentGroupName=group
        )


def group_names(aws: Aws, application: str) -> list[str] | None:
    """The application's deployment groups; None when the application does not exist."""
    client = aws.codedeploy()
    with aws_errors(resource=f"CodeDeploy application {application}"):
        try:
            resp = client.list_deployment_groups(applicationName=application)
        except client.exceptions.ApplicationDoesNotExistException:
            return None
    return [str(g) for g in resp.get("deploymentGroups") or []]


def delete_application(aws: Aws, application: str) -> None:
    with aws_errors(resource=f"CodeDeploy application {application}"):
        aws.codedeploy().delete_application(applicationName=application)
