"""The error model: botocore failures become exit-4 errors that name what failed."""

from __future__ import annotations

import socket

import pytest
from botocore.exceptions import ClientError, NoCredentialsError, NoRegionError

from bluegreen.aws.errors import aws_errors, translate
from bluegreen.aws.session import Aws
from bluegreen.errors import (
    AccessDenied,
    AwsError,
    BluegreenError,
    CredentialsError,
    ExitCode,
    ResourceNotFound,
    SpecError,
    Throttled,
)


def _client_error(code: str, message: str, op: str = "DescribeServices") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, op)


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        ("ThrottlingException", Throttled),
        ("Throttling", Throttled),
        ("ExpiredTokenException", CredentialsError),
        ("UnrecognizedClientException", CredentialsError),
        ("AccessDeniedException", AccessDenied),
        ("ClusterNotFoundException", ResourceNotFound),
        ("DeploymentGroupDoesNotExistException", ResourceNotFound),
        ("TargetGroupNotFound", ResourceNotFound),
        ("InvalidParameterException", AwsError),
    ],
)
def test_client_errors_map_to_exit_4(code: str, cls: type[BluegreenError]) -> None:
    err = translate(_client_error(code, "boom"), resource="web-cluster/web")
    assert type(err) is cls
    assert err.exit_code == ExitCode.AWS
    assert err.where == "web-cluster/web"
    assert "DescribeServices" in err.message or cls is AccessDenied


def test_access_denied_names_action_and_resource() -> None:
    msg = (
        "User: arn:aws:sts::123456789012:assumed-role/ci/x is not authorized to perform: "
        "ecs:UpdateService on resource: arn:aws:ecs:us-east-1:123456789012:service/c/web"
    )
    err = translate(_client_error("AccessDeniedException", msg, "UpdateService"))
    assert err.message.startswith(
        "access denied to ecs:UpdateService on arn:aws:ecs:us-east-1:123456789012:service/c/web"
    )
    assert err.hint is not None
    assert "iam-policy" in err.hint


def test_missing_credentials_and_region() -> None:
    assert type(translate(NoCredentialsError())) is CredentialsError
    err = translate(NoRegionError())
    assert type(err) is CredentialsError
    assert "--region" in (err.hint or "")


def test_our_errors_pass_through() -> None:
    original = SpecError("bad", where="bluegreen.yaml:3")
    assert translate(original) is original
    with pytest.raises(SpecError), aws_errors("x"):
        raise original


def test_unreachable_endpoint_is_exit_4(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    aws = Aws(region="us-east-1", max_attempts=1, connect_timeout=1, read_timeout=1)
    with pytest.raises(AwsError) as info, aws_errors("web-cluster"):
        aws.ecs().list_clusters()
    assert info.value.exit_code == ExitCode.AWS
    assert "cannot reach the AWS endpoint" in info.value.message
    assert info.value.where == "web-cluster"


def test_render_has_where_and_hint() -> None:
    err = SpecError(
        "unknown key 'clustr'", where="bluegreen.yaml:4", hint="did you mean 'cluster'?"
    )
    assert err.render() == "bluegreen.yaml:4: unknown key 'clustr'\n  hint: did you mean 'cluster'?"
