"""The sandbox's ECS answers as AWS gives them, each raw answer held to botocore's service
model (tests/sandbox/model_check.py). Plain boto3; each test cites the AWS page or the awscli
example it follows."""

from __future__ import annotations

import time
from typing import Any

import boto3
import pytest

from bluegreen.sandbox.server import SandboxServer
from tests.conftest import sandbox_call
from tests.sandbox.model_check import RawResponses


@pytest.fixture
def raw() -> RawResponses:
    return RawResponses()


@pytest.fixture
def ecs(aws_env: SandboxServer, raw: RawResponses) -> Any:
    client = raw.attach(boto3.client("ecs"))
    client.create_cluster(clusterName="c")
    for tag in ("v1", "v2"):
        client.register_task_definition(
            family="api",
            containerDefinitions=[{"name": "api", "image": f"api:{tag}", "memory": 128}],
        )
    return client


def wait_for(predicate: Any, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.01)
    raise AssertionError("timed out")


def service(ecs: Any, name: str = "api") -> dict[str, Any]:
    found: dict[str, Any] = ecs.describe_services(cluster="c", services=[name])["services"][0]
    return found


def steady_service(ecs: Any, name: str = "api", desired: int = 2) -> dict[str, Any]:
    ecs.create_service(cluster="c", serviceName=name, taskDefinition="api:1", desiredCount=desired)
    done: dict[str, Any] = wait_for(
        lambda: (s := service(ecs, name))["deployments"][0].get("rolloutState") == "COMPLETED" and s
    )
    return done


def arn(ecs: Any, name: str) -> str:
    found: str = ecs.describe_task_definition(taskDefinition=name)["taskDefinition"][
        "taskDefinitionArn"
    ]
    return found


def test_update_service_answers_the_started_deployment(ecs: Any, raw: RawResponses) -> None:
    """awscli's own example (aws-cli awscli/examples/ecs/update-service.rst) and
    https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_UpdateService.html: the
    answer already shows the service's task definition as the new ARN, the new deployment
    PRIMARY with rolloutState IN_PROGRESS and the previous one ACTIVE."""
    before = steady_service(ecs)
    old_id = before["deployments"][0]["id"]
    answer = ecs.update_service(cluster="c", service="api", taskDefinition="api:2")["service"]
    raw.check("UpdateService")
    assert answer["taskDefinition"] == arn(ecs, "api:2")
    deployments = answer["deployments"]
    assert [d["status"] for d in deployments] == ["PRIMARY", "ACTIVE"]
    assert deployments[0]["taskDefinition"] == arn(ecs, "api:2")
    assert deployments[0]["rolloutState"] == "IN_PROGRESS"
    assert deployments[0]["id"] != old_id
    assert deployments[1]["id"] == old_id
    assert deployments[1]["taskDefinition"] == arn(ecs, "api:1")


def test_update_service_force_new_deployment_answers_two_deployments(
    ecs: Any, raw: RawResponses
) -> None:
    """https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_UpdateService.html
    (forceNewDeployment): a new deployment of the same task definition starts beside the old
    one, and the answer shows both."""
    steady_service(ecs)
    answer = ecs.update_service(cluster="c", service="api", forceNewDeployment=True)["service"]
    raw.check("UpdateService")
    assert [d["status"] for d in answer["deployments"]] == ["PRIMARY", "ACTIVE"]
    assert answer["deployments"][0]["rolloutState"] == "IN_PROGRESS"
    assert {d["taskDefinition"] for d in answer["deployments"]} == {arn(ecs, "api:1")}


def test_describe_services_fits_the_model(
    ecs: Any, raw: RawResponses, aws_env: SandboxServer
) -> None:
    """Every DescribeServices answer during a rollout fits the ECS model
    (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DescribeServices.html)."""
    steady_service(ecs)
    raw.check("DescribeServices")
    sandbox_call(aws_env, "settings", {"timeScale": 60})
    ecs.update_service(cluster="c", service="api", taskDefinition="api:2")
    service(ecs)
    raw.check("DescribeServices")
