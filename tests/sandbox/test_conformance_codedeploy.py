"""The sandbox's CodeDeploy answers as AWS gives them, each raw answer held to botocore's
service model (tests/sandbox/model_check.py). Plain boto3; each test cites the AWS page it
follows."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError

from bluegreen.sandbox.server import SandboxServer
from tests.sandbox.model_check import RawResponses


def test_every_answer_names_its_request(aws_env: SandboxServer) -> None:
    """https://docs.aws.amazon.com/codedeploy/latest/APIReference/CommonParameters.html —
    AWS answers each request, errors included, with an x-amzn-RequestId header, which
    boto3 reports as ResponseMetadata.RequestId."""
    raw = RawResponses()
    codedeploy = raw.attach(boto3.client("codedeploy"))
    first = codedeploy.list_applications()["ResponseMetadata"]["RequestId"]
    raw.check("ListApplications")
    second = codedeploy.create_application(applicationName="a", computePlatform="ECS")[
        "ResponseMetadata"
    ]["RequestId"]
    raw.check("CreateApplication")
    with pytest.raises(ClientError) as failed:
        codedeploy.get_application(applicationName="missing")
    raw.check("GetApplication")
    third = failed.value.response["ResponseMetadata"]["RequestId"]
    assert all((first, second, third))
    assert len({first, second, third}) == 3
