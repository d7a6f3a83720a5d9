"""IAM and STS gateway: the caller's account and the roles a release depends on."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from bluegreen.aws.errors import aws_errors

if TYPE_CHECKING:
    from bluegreen.aws.session import Aws


def caller_account(aws: Aws) -> str:
    """The account id of the credentials in use (sts:GetCallerIdentity)."""
    with aws_errors(resource="sts:GetCallerIdentity"):
        resp = aws.sts().get_caller_identity()
    return str(resp["Account"])


def who(aws: Aws) -> str:
    """The caller, as deployment descriptions and the journal name it: the STS identity's ARN,
    else $USER."""
    from bluegreen.aws.errors import is_aws_exception
    from bluegreen.errors import BluegreenError

    try:
        with_arn = aws.sts().get_caller_identity().get("Arn")
        if with_arn:
            return str(with_arn)
    except BluegreenError:
        pass
    except Exception as exc:  # botocore errors: the description just falls back
        if not is_aws_exception(exc):
            raise
    return os.environ.get("USER") or os.environ.get("USERNAME") or "unknown"


def get_role(aws: Aws, role: str) -> dict[str, Any] | None:
    """The role named by `role` (a name or an ARN), or None when it does not exist."""
    name = role.rsplit("/", 1)[-1] if role.startswith("arn:") else role
    client = aws.iam()
    with aws_errors(resource=f"IAM role {name}"):
        try:
            resp = client.get_role(RoleName=name)
        except client.exceptions.NoSuchEntityException:
            return None
    return dict(resp["Role"])


ECS_PRINCIPAL = "ecs.amazonaws.com"
# The AWS managed policy of the infrastructure role for load balancers [IAMLB]
LOAD_BALANCERS_POLICY = "arn:aws:iam::aws:policy/AmazonECSInfrastructureRolePolicyForLoadBalancers"


def trusts(role: dict[str, Any], principal: str) -> bool:
    """Whether the role's trust policy lets the service `principal` assume it."""
    import json
    import urllib.parse

    document = role.get("AssumeRolePolicyDocument") or {}
    if isinstance(document, str):
        document = json.loads(urllib.parse.unquote(document))
    statements = document.get("Statement") or []
    if isinstance(statements, dict):
        statements = [statements]
    for statement in statements:
        if statement.get("Effect") != "Allow":
            continue
        actions = statement.get("Action") or []
        actions = [actions] if isinstance(actions, str) else actions
        if not any(a in ("sts:AssumeRole", "sts:*", "*") for a in actions):
            continue
        services = (statement.get("Principal") or {}).get("Service") or []
        services = [services] if isinstance(services, str) else services
        if principal in services:
            return True
    return False


def create_service_role(
    aws: Aws, name: str, principal: str, description: str, tags: dict[str, str]
) -> str:
    """CreateRole trusting the service `principal`; returns its ARN."""
    import json

    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": principal}, "Action": "sts:AssumeRole"}
        ],
    }
    with aws_errors(resource=f"IAM role {name}"):
        resp = aws.iam().create_role(
            RoleName=name,
            AssumeRolePolicyDocument=json.dumps(trust),
            Description=description,
            Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
        )
    return str(resp["Role"]["Arn"])


def attached_policies(aws: Aws, role_name: str) -> list[str]:
    """The ARNs of the managed policies attached to the role."""
    arns: list[str] = []
    params: dict[str, Any] = {"RoleName": role_name}
    with aws_errors(resource=f"IAM role {role_name}"):
        while True:
            resp = aws.iam().list_attached_role_policies(**params)
            arns += [str(p.get("PolicyArn")) for p in resp.get("AttachedPolicies") or []]
            if not resp.get("IsTruncated"):
                return arns
            params["Marker"] = resp.get("Marker")


def attach_policy(aws: Aws, role_name: str, policy_arn: str) -> None:
    with aws_errors(resource=f"IAM role {role_name}"):
        aws.iam().attach_role_policy(RoleName=role_name, PolicyArn=policy_arn)
