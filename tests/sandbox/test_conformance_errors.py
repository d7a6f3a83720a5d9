"""Errors AWS answers before (or instead of) the service, as the sandbox answers them: each
in the protocol the client spoke, each raw answer held to botocore's service model
(tests/sandbox/model_check.py). Plain boto3; each test cites the AWS page it follows."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from bluegreen.sandbox.server import SandboxServer
from tests.conftest import sandbox_call
from tests.sandbox.model_check import RawResponses

CALLS: dict[str, tuple[str, str]] = {  # client -> (method, operation)
    "ecs": ("list_clusters", "ListClusters"),
    "codedeploy": ("list_applications", "ListApplications"),
    "ecr": ("describe_repositories", "DescribeRepositories"),
    "elbv2": ("describe_load_balancers", "DescribeLoadBalancers"),
    "cloudwatch": ("describe_alarms", "DescribeAlarms"),
    "sts": ("get_caller_identity", "GetCallerIdentity"),
}
JSON_SERVICES = ("ecs", "codedeploy", "ecr", "cloudwatch")  # answers model_check can decode


def client(service: str, region: str, sandbox: SandboxServer) -> Any:
    return boto3.client(  # type: ignore[call-overload]
        service,
        region_name=region,
        endpoint_url=sandbox.url,
        config=Config(retries={"max_attempts": 1}),
    )


@pytest.mark.parametrize("service", sorted(CALLS))
def test_an_unknown_region_is_refused_naming_it(service: str, aws_env: SandboxServer) -> None:
    """https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html
    — the credential scope names the region; AWS refuses a scope naming no region it has,
    HTTP 403 "Credential should be scoped to a valid region, not '<region>'."
    (InvalidSignatureException in JSON protocols, SignatureDoesNotMatch in query ones), in the
    service's own protocol rather than an HTML page."""
    raw = RawResponses()
    method, operation = CALLS[service]
    mars = raw.attach(client(service, "mars-north-1", aws_env))
    with pytest.raises(ClientError) as refused:
        getattr(mars, method)()
    error = refused.value.response["Error"]
    assert error["Code"] in ("InvalidSignatureException", "SignatureDoesNotMatch")
    assert "mars-north-1" in error["Message"]
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert refused.value.response["ResponseMetadata"]["RequestId"]
    if service in JSON_SERVICES:
        raw.check(operation)
    getattr(client(service, "eu-west-1", aws_env), method)()  # a real region still answers


def test_access_denied_on_a_chosen_operation(aws_env: SandboxServer) -> None:
    """https://docs.aws.amazon.com/AmazonECS/latest/APIReference/CommonErrors.html —
    AccessDeniedException (an IAM policy without the action) and ExpiredTokenException
    (expired credentials) come back on the operations a fault names, and only on those."""
    raw = RawResponses()
    ecs = raw.attach(client("ecs", "us-east-1", aws_env))
    codedeploy = raw.attach(client("codedeploy", "us-east-1", aws_env))
    sandbox_call(aws_env, "faults", {"kind": "access-denied", "operation": "ListClusters"})
    sandbox_call(
        aws_env,
        "faults",
        {"kind": "access-denied", "operation": "ListApplications", "mode": "expired", "count": 1},
    )
    with pytest.raises(ClientError) as denied:
        ecs.list_clusters()
    raw.check("ListClusters")
    assert denied.value.response["Error"]["Code"] == "AccessDeniedException"
    assert "ecs:ListClusters" in denied.value.response["Error"]["Message"]
    ecs.list_task_definitions()  # other operations are allowed
    with pytest.raises(ClientError) as expired:
        codedeploy.list_applications()
    raw.check("ListApplications")
    assert expired.value.response["Error"]["Code"] == "ExpiredTokenException"
    codedeploy.list_applications()  # count=1: the next call goes through
    elbv2 = client("elbv2", "us-east-1", aws_env)
    sandbox_call(
        aws_env,
        "faults",
        {"kind": "access-denied", "operation": "DescribeLoadBalancers", "service": "elbv2"},
    )
    with pytest.raises(ClientError) as query_denied:
        elbv2.describe_load_balancers()
    assert query_denied.value.response["Error"]["Code"] == "AccessDenied"


def test_realistic_throttling_follows_the_published_rates(aws_env: SandboxServer) -> None:
    """https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch_limits.html
    — PutMetricAlarm is limited to 3 transactions per second per account and Region: a burst
    beyond it is throttled (the query-compatible code Throttling), other actions keep their
    own limits, and a second later requests go through again. (The ECS buckets follow the
    same token-bucket rule: tests/sandbox/test_throttling.py.)"""
    raw = RawResponses()
    cloudwatch = raw.attach(client("cloudwatch", "us-east-1", aws_env))
    sandbox_call(
        aws_env, "faults", {"kind": "throttle", "realistic": True, "service": "cloudwatch"}
    )

    def put(index: int) -> str:
        try:
            cloudwatch.put_metric_alarm(
                AlarmName=f"a{index}",
                MetricName="HTTPCode_Target_5XX_Count",
                Namespace="AWS/ApplicationELB",
                Statistic="Sum",
                Period=60,
                EvaluationPeriods=1,
                Threshold=1.0,
                ComparisonOperator="GreaterThanThreshold",
            )
        except ClientError as exc:
            return str(exc.response["Error"]["Code"])
        return "ok"

    started = time.monotonic()
    assert [put(index) for index in range(3)] == ["ok"] * 3  # the bucket starts full
    with ThreadPoolExecutor(8) as pool:  # a fan-out: eight at once, twice
        outcomes = list(pool.map(put, range(3, 19)))
    elapsed = time.monotonic() - started
    raw.check("PutMetricAlarm")
    assert set(outcomes) <= {"ok", "Throttling"}
    assert "Throttling" in outcomes
    assert 3 + outcomes.count("ok") <= 3 + int(3 * elapsed) + 1  # burst + refill, no more
    cloudwatch.describe_alarms()  # another action's limit
    time.sleep(1.0)
    cloudwatch.set_alarm_state(AlarmName="a0", StateValue="OK", StateReason="refilled")
