"""Fault injection: throttling answered the way each protocol's real service answers it (and
absorbed by botocore's retries), latency, and the control API's validation."""

from __future__ import annotations

import time
import urllib.error
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from bluegreen.sandbox.server import SandboxServer
from tests.conftest import sandbox_call

NO_RETRY = Config(retries={"mode": "standard", "total_max_attempts": 1})


def fault(server: SandboxServer, **body: Any) -> str:
    return str(sandbox_call(server, "faults", body)["id"])


@pytest.mark.parametrize(
    ("service", "client", "call", "code"),
    [
        ("ecs", "ecs", lambda c: c.list_clusters(), "ThrottlingException"),
        ("codedeploy", "codedeploy", lambda c: c.list_applications(), "ThrottlingException"),
        ("elbv2", "elbv2", lambda c: c.describe_load_balancers(), "Throttling"),
        ("cloudwatch", "cloudwatch", lambda c: c.describe_alarms(), "Throttling"),
        ("ec2", "ec2", lambda c: c.describe_vpcs(), "RequestLimitExceeded"),
    ],
)
def test_throttling_error_per_protocol(
    aws_env: SandboxServer, service: str, client: str, call: Any, code: str
) -> None:
    """https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html — throttling
    errors (ThrottlingException for JSON services, Throttling for query/XML services,
    RequestLimitExceeded for EC2: ec2/latest/devguide/ec2-api-throttling.html) are the
    transient errors SDKs retry; with no retries left the caller sees them, HTTP 400."""
    fault(aws_env, kind="throttle", service=service, rate=1.0)
    with pytest.raises(ClientError) as info:
        call(boto3.client(client, config=NO_RETRY))  # type: ignore[call-overload]
    assert info.value.response["Error"]["Code"] == code
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_throttling_only_hits_the_named_service(aws_env: SandboxServer) -> None:
    """https://docs.aws.amazon.com/codedeploy/latest/APIReference/CommonErrors.html — a
    throttled service does not throttle the others."""
    fault(aws_env, kind="throttle", service="ecs", rate=1.0)
    assert boto3.client("elbv2", config=NO_RETRY).describe_load_balancers()["LoadBalancers"] == []
    assert boto3.client("codedeploy", config=NO_RETRY).list_applications()["applications"] == []


@pytest.mark.parametrize(
    ("service", "client", "call"),
    [
        ("ecs", "ecs", lambda c: c.list_clusters()),
        ("elbv2", "elbv2", lambda c: c.describe_load_balancers()),
        ("cloudwatch", "cloudwatch", lambda c: c.describe_alarms()),
        ("codedeploy", "codedeploy", lambda c: c.list_applications()),
    ],
)
def test_throttling_is_absorbed_by_botocore_retries(
    aws_env: SandboxServer, service: str, client: str, call: Any
) -> None:
    """https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html — standard
    retry mode retries a throttled call; one throttled answer, then success."""
    fault(aws_env, kind="throttle", service=service, count=1)
    retrying = Config(retries={"mode": "standard", "total_max_attempts": 3})
    answer = call(boto3.client(client, config=retrying))  # type: ignore[call-overload]
    assert answer["ResponseMetadata"]["RetryAttempts"] == 1
    assert sandbox_call(aws_env, "faults", method="GET")["faults"] == []


def test_throttle_all_services_and_clear(aws_env: SandboxServer) -> None:
    """https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html — once the
    throttling stops, calls succeed again."""
    fault(aws_env, kind="throttle", rate=1.0)
    with pytest.raises(ClientError):
        boto3.client("iam", config=NO_RETRY).list_roles()
    sandbox_call(aws_env, "faults", method="DELETE")
    assert boto3.client("iam", config=NO_RETRY).list_roles()["Roles"] == []


def test_latency_fault_delays_requests(aws_env: SandboxServer) -> None:
    """Added latency applies to the named service only."""
    fault(aws_env, kind="latency", service="ecs", ms=200)
    ecs, elbv2 = boto3.client("ecs"), boto3.client("elbv2")
    ecs.list_clusters()
    elbv2.describe_load_balancers()
    start = time.perf_counter()
    ecs.list_clusters()
    slow = time.perf_counter() - start
    start = time.perf_counter()
    elbv2.describe_load_balancers()
    fast = time.perf_counter() - start
    assert slow >= 0.2
    assert fast < 0.2


def test_faults_are_listed_and_validated(aws_env: SandboxServer) -> None:
    first = fault(aws_env, kind="unhealthy-green", after_seconds=30)
    second = fault(aws_env, kind="hook-fail", event="AfterAllowTestTraffic")
    listed = sandbox_call(aws_env, "faults", method="GET")["faults"]
    assert [f["id"] for f in listed] == [first, second]
    for bad in (
        {"kind": "meteor"},
        {"kind": "throttle", "rate": 2},
        {"kind": "hook-fail", "event": "Install"},
        {"kind": "latency"},
    ):
        with pytest.raises(urllib.error.HTTPError) as info:
            sandbox_call(aws_env, "faults", bad)
        assert info.value.code == 400
    sandbox_call(aws_env, "reset")
    assert sandbox_call(aws_env, "faults", method="GET")["faults"] == []
