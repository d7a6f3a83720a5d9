"""Errors AWS answers before (or instead of) the service, as the sandbox answers them: each
in the protocol the client spoke, each raw answer held to botocore's service model
(tests/sandbox/model_check.py). Plain boto3; each test cites the AWS page it follows."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from bluegreen.sandbox.server import SandboxServer
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
