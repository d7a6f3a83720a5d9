"""ECS gateway for ECS-native blue/green (deploymentController ECS with a BLUE_GREEN, LINEAR or
CANARY strategy): service deployments and revisions, their stop and continue, and the
listener rules whose weights ECS moves.

No botocore paginator or waiter covers the service-deployment calls (reference §3), so the
listing pages by hand."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from bluegreen.aws.ecs import _plain
from bluegreen.aws.errors import aws_errors

if TYPE_CHECKING:
    from bluegreen.aws.session import Aws

# Statuses of a service deployment that is not over yet [SD].
IN_FLIGHT = (
    "PENDING",
    "IN_PROGRESS",
    "STOP_REQUESTED",
    "ROLLBACK_REQUESTED",
    "ROLLBACK_IN_PROGRESS",
)


def describe_deployments(aws: Aws, arns: Sequence[str]) -> list[dict[str, Any]]:
    """DescribeServiceDeployments (≤ 20 ARNs per call); ARNs it does not know are left out."""
    found: list[dict[str, Any]] = []
    arns = list(dict.fromkeys(arns))
    for start in range(0, len(arns), 20):
        chunk = arns[start : start + 20]
        with aws_errors(resource=", ".join(chunk)):
            resp = aws.ecs().describe_service_deployments(serviceDeploymentArns=chunk)
        found += [_plain(d) for d in resp.get("serviceDeployments") or []]
    return found


def describe_deployment(aws: Aws, arn: str) -> dict[str, Any] | None:
    found = describe_deployments(aws, [arn])
    return found[0] if found else None


def list_deployments(
    aws: Aws,
    cluster: str,
    service: str,
    *,
    statuses: Sequence[str] = (),
    limit: int = 20,
) -> list[dict[str, Any]]:
    """ListServiceDeployments' briefs of the service, newest first (§6 question 5: sorted by
    createdAt here, whatever order the answer has)."""
    params: dict[str, Any] = {"cluster": cluster, "service": service, "maxResults": 100}
    if statuses:
        params["status"] = list(statuses)
    briefs: list[dict[str, Any]] = []
    with aws_errors(resource=f"{cluster}/{service}"):
        while True:
            resp = aws.ecs().list_service_deployments(**params)
            briefs += [_plain(b) for b in resp.get("serviceDeployments") or []]
            token = resp.get("nextToken")
            if not token or len(briefs) >= max(limit, 100):
                break
            params["nextToken"] = token
    briefs.sort(key=lambda b: str(b.get("createdAt") or ""), reverse=True)
    return briefs[:limit]


def describe_revisions(aws: Aws, arns: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Service revision ARN -> DescribeServiceRevisions' record (≤ 20 per call)."""
    out: dict[str, dict[str, Any]] = {}
    arns = [a for a in dict.fromkeys(arns) if a]
    for start in range(0, len(arns), 20):
        chunk = arns[start : start + 20]
        with aws_errors(resource=", ".join(chunk)):
            resp = aws.ecs().describe_service_revisions(serviceRevisionArns=chunk)
        for rev in resp.get("serviceRevisions") or []:
            out[str(rev.get("serviceRevisionArn"))] = _plain(rev)
    return out


def stop_deployment(aws: Aws, arn: str) -> None:
    """StopServiceDeployment with stopType ROLLBACK (the one the docs allow [STOP])."""
    with aws_errors(resource=arn):
        aws.ecs().stop_service_deployment(serviceDeploymentArn=arn, stopType="ROLLBACK")


def continue_deployment(aws: Aws, arn: str, hook_id: str, action: str = "CONTINUE") -> None:
    """ContinueServiceDeployment: answer a PAUSE hook awaiting action [CONT]."""
    with aws_errors(resource=f"{arn} hook {hook_id}"):
        aws.ecs().continue_service_deployment(
            serviceDeploymentArn=arn,
            hookId=hook_id,
            action=action,  # type: ignore[arg-type]
        )


def describe_rules(aws: Aws, arns: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Listener rule ARN -> DescribeRules' record; rules that do not exist are left out."""
    out: dict[str, dict[str, Any]] = {}
    for arn in dict.fromkeys(arns):
        client = aws.elbv2()
        with aws_errors(resource=arn):
            try:
                resp = client.describe_rules(RuleArns=[arn])
            except client.exceptions.RuleNotFoundException:
                continue
        for rule in resp.get("Rules") or []:
            out[str(rule.get("RuleArn"))] = _plain(rule)
    return out


def forward_weights(rule: dict[str, Any]) -> dict[str, int]:
    """Target group ARN -> weight on a rule's forward action (empty without one)."""
    for action in rule.get("Actions") or []:
        if action.get("Type") != "forward":
            continue
        groups = (action.get("ForwardConfig") or {}).get("TargetGroups") or []
        if groups:
            return {str(g["TargetGroupArn"]): int(g.get("Weight", 1)) for g in groups}
        if action.get("TargetGroupArn"):
            return {str(action["TargetGroupArn"]): 1}
    return {}


def target_group_arns(aws: Aws, arns: Sequence[str]) -> set[str]:
    """Which of the target group ARNs exist."""
    found: set[str] = set()
    for arn in dict.fromkeys(arns):
        client = aws.elbv2()
        with aws_errors(resource=arn):
            try:
                resp = client.describe_target_groups(TargetGroupArns=[arn])
            except client.exceptions.TargetGroupNotFoundException:
                continue
        found |= {str(t.get("TargetGroupArn")) for t in resp.get("TargetGroups") or []}
    return found


def switch_to_ecs_controller(
    aws: Aws,
    cluster: str,
    service: str,
    *,
    deployment_configuration: dict[str, Any],
    load_balancers: list[dict[str, Any]],
) -> dict[str, Any]:
    """The one UpdateService that moves a CODE_DEPLOY service onto the ECS controller with a
    native strategy (reference §5): deploymentController ECS, the strategy's
    deploymentConfiguration, and each load balancer's advancedConfiguration."""
    with aws_errors(resource=f"{cluster}/{service}"):
        resp = aws.ecs().update_service(
            cluster=cluster,
            service=service,
            deploymentController={"type": "ECS"},
            deploymentConfiguration=deployment_configuration,  # type: ignore[arg-type]
            loadBalancers=load_balancers,  # type: ignore[arg-type]
        )
    svc: dict[str, Any] = _plain(resp["service"])
    return svc
