"""Reads of `doctor` that the other gateways do not offer: raw CodeDeploy records, what
listeners forward to, and target groups that may be missing (no exception for a miss)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from bluegreen.aws.errors import aws_errors

if TYPE_CHECKING:
    from bluegreen.aws.session import Aws


def _code(exc: BaseException) -> str:
    cause = exc.__cause__ if exc.__cause__ is not None else exc
    response = getattr(cause, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""


def application(aws: Aws, name: str) -> dict[str, Any] | None:
    try:
        with aws_errors(resource=f"CodeDeploy application {name}"):
            resp = aws.codedeploy().get_application(applicationName=name)
    except Exception as exc:
        if _code(exc) == "ApplicationDoesNotExistException":
            return None
        raise
    return dict(resp.get("application") or {})


def deployment_group_info(aws: Aws, app: str, group: str) -> dict[str, Any] | None:
    try:
        with aws_errors(resource=f"CodeDeploy deployment group {app}/{group}"):
            resp = aws.codedeploy().get_deployment_group(
                applicationName=app, deploymentGroupName=group
            )
    except Exception as exc:
        if _code(exc) in (
            "DeploymentGroupDoesNotExistException",
            "ApplicationDoesNotExistException",
        ):
            return None
        raise
    return dict(resp.get("deploymentGroupInfo") or {})


def target_group_arns(aws: Aws, names: Sequence[str]) -> dict[str, str]:
    """Name -> ARN of the target groups that exist."""
    out: dict[str, str] = {}
    for name in names:
        try:
            with aws_errors(resource=f"target group {name}"):
                resp = aws.elbv2().describe_target_groups(Names=[name])
        except Exception as exc:
            if _code(exc) == "TargetGroupNotFound":
                continue
            raise
        for tg in resp.get("TargetGroups", []):
            out[str(tg.get("TargetGroupName"))] = str(tg.get("TargetGroupArn"))
    return out


def _forwards(actions: Sequence[Any]) -> set[str]:
    out: set[str] = set()
    for action in actions:
        if action.get("TargetGroupArn"):
            out.add(str(action["TargetGroupArn"]))
        for tg in (action.get("ForwardConfig") or {}).get("TargetGroups") or []:
            if tg.get("TargetGroupArn"):
                out.add(str(tg["TargetGroupArn"]))
    return out


def listener_forwards(aws: Aws, listener_arn: str) -> set[str] | None:
    """Target group ARNs the listener's default action and rules forward to; None when the
    listener does not exist."""
    try:
        with aws_errors(resource=listener_arn):
            resp = aws.elbv2().describe_listeners(ListenerArns=[listener_arn])
    except Exception as exc:
        if _code(exc) == "ListenerNotFound":
            return None
        raise
    found = resp.get("Listeners") or []
    if not found:
        return None
    out = _forwards(found[0].get("DefaultActions") or [])
    with aws_errors(resource=listener_arn):
        rules = aws.elbv2().describe_rules(ListenerArn=listener_arn)
    for rule in rules.get("Rules") or []:
        out |= _forwards(rule.get("Actions") or [])
    return out
