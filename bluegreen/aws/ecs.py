"""ECS gateway (reads): the live service as rendering needs it, and task definitions."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bluegreen.aws.errors import aws_errors
from bluegreen.errors import ResourceNotFound

if TYPE_CHECKING:
    from bluegreen.aws.session import Aws
    from bluegreen.release.render import LiveService


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
    """The live service; ResourceNotFound (exit 4) naming it when missing or inactive."""
    from bluegreen.release.render import LiveService

    where = f"{cluster}/{service}"
    with aws_errors(resource=where):
        resp = aws.ecs().describe_services(cluster=cluster, services=[service])
    services = [s for s in resp.get("services", []) if s.get("status") != "INACTIVE"]
    if not services:
        reasons = {f.get("reason", "MISSING") for f in resp.get("failures", [])}
        state = "inactive (deleted)" if resp.get("services") else "not found"
        raise ResourceNotFound(
            f"ECS service {service!r} is {state} in cluster {cluster!r}"
            + (f" ({', '.join(sorted(reasons))})" if reasons else ""),
            where=where,
            hint="check `cluster`/`service` in the spec (and --env, --region)",
        )
    svc: dict[str, Any] = _plain(services[0])
    controller = (svc.get("deploymentController") or {}).get("type", "ECS")
    return LiveService(
        cluster=cluster,
        service=service,
        task_definition_arn=svc.get("taskDefinition"),
        deployment_controller=str(controller),
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
