"""Translate botocore exceptions into the tool's own errors (exit 4), naming what failed."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from bluegreen.errors import (
    AccessDenied,
    AwsError,
    BluegreenError,
    CredentialsError,
    ResourceNotFound,
    Throttled,
)

_THROTTLING = {
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "SlowDown",
    "RequestThrottled",
}
_EXPIRED = {
    "ExpiredToken",
    "ExpiredTokenException",
    "RequestExpired",
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "InvalidSignatureException",
    "SignatureDoesNotMatch",
    "AuthFailure",
}
_DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"}
_NOT_FOUND_SUFFIXES = ("NotFoundException", "NotFound", "DoesNotExistException")
_NOT_FOUND_EXTRA = {
    "ClusterNotFoundException",
    "ServiceNotFoundException",
    "RepositoryNotFoundException",
    "ImageNotFoundException",
    "ApplicationDoesNotExistException",
    "DeploymentGroupDoesNotExistException",
    "DeploymentDoesNotExistException",
    "TargetGroupNotFound",
    "ListenerNotFound",
    "LoadBalancerNotFound",
    "ResourceNotFoundException",
}

_CREDENTIAL_HINT = (
    "refresh your credentials (aws sso login, a new session token) or pick a profile with "
    "--profile; in the sandbox, source the exports that `bluegreen sandbox up` prints"
)


def _operation(exc: Exception) -> str:
    name = getattr(exc, "operation_name", None)
    return str(name) if name else "the AWS call"


def translate(exc: BaseException, *, resource: str | None = None) -> BluegreenError:
    """Map one botocore/boto3 exception to a BluegreenError (exit 4 unless already ours)."""
    if isinstance(exc, BluegreenError):
        return exc
    from botocore import exceptions as bce

    where = resource
    if isinstance(exc, bce.NoCredentialsError | bce.PartialCredentialsError):
        return CredentialsError("no AWS credentials found", where=where, hint=_CREDENTIAL_HINT)
    if isinstance(exc, bce.ProfileNotFound):
        return CredentialsError(
            str(exc), hint="check --profile against ~/.aws/config (aws configure list-profiles)"
        )
    if isinstance(exc, bce.NoRegionError):
        return CredentialsError(
            "no AWS region configured",
            hint="pass --region, set AWS_REGION, or put `region:` in the spec file",
        )
    if isinstance(
        exc, bce.TokenRetrievalError | bce.SSOTokenLoadError | bce.UnauthorizedSSOTokenError
    ):
        return CredentialsError(f"SSO credentials are unusable: {exc}", hint=_CREDENTIAL_HINT)
    if isinstance(
        exc, bce.EndpointConnectionError | bce.ConnectTimeoutError | bce.ReadTimeoutError
    ):
        return AwsError(
            f"cannot reach the AWS endpoint: {exc}",
            where=where,
            hint="check the network, AWS_ENDPOINT_URL and the region",
        )
    if isinstance(exc, bce.ClientError):
        err = exc.response.get("Error", {})
        code = str(err.get("Code", "Unknown"))
        message = str(err.get("Message", "")) or code
        op = _operation(exc)
        if code in _THROTTLING:
            return Throttled(
                f"{op} was throttled beyond the retry budget ({code}): {message}",
                where=where,
                hint="retry later, or lower --max-parallel; botocore's adaptive retries were used",
            )
        if code in _EXPIRED:
            return CredentialsError(
                f"{op}: AWS rejected the credentials ({code}): {message}",
                where=where,
                hint=_CREDENTIAL_HINT,
            )
        if code in _DENIED:
            action = _denied_action(message) or op
            return AccessDenied(
                f"access denied to {action}: {message}",
                where=where,
                hint="grant the permission to the caller's role; `bluegreen iam-policy` prints "
                "the least-privilege policy for this spec",
            )
        if code in _NOT_FOUND_EXTRA or code.endswith(_NOT_FOUND_SUFFIXES):
            return ResourceNotFound(f"{op}: {message}", where=where)
        return AwsError(f"{op} failed ({code}): {message}", where=where)
    if isinstance(exc, bce.BotoCoreError):
        return AwsError(str(exc), where=where)
    return AwsError(f"{type(exc).__name__}: {exc}", where=where)


_ACTION_RE = re.compile(r"perform:\s*(\S+)(?:\s+on resource:\s*(\S+))?")


def _denied_action(message: str) -> str | None:
    m = _ACTION_RE.search(message)
    if not m:
        return None
    return f"{m.group(1)} on {m.group(2)}" if m.group(2) else m.group(1)


def is_aws_exception(exc: BaseException) -> bool:
    module = type(exc).__module__
    return module.startswith(("botocore", "boto3"))


@contextmanager
def aws_errors(resource: str | None = None) -> Iterator[None]:
    """Translate botocore exceptions raised inside the block, naming `resource`."""
    try:
        yield
    except BluegreenError:
        raise
    except Exception as exc:
        if is_aws_exception(exc):
            raise translate(exc, resource=resource) from exc
        raise
