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
