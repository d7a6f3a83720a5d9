"""The sandbox as the unmodified AWS SDK for JavaScript v3 reads it (issue: sandbox fidelity,
held to third-party clients). The SDK parses every answer with its own copy of the service
models; a shape the sandbox gets wrong fails here, not in our own client.

The SDK is installed by `make install` (npm ci in tests/js); .ci/run does the same.

What is checked, with the page that says it:
- UpdateService answers the deployment it started: the new PRIMARY IN_PROGRESS first, the old
  one ACTIVE, the task definition as an ARN (awscli's examples/ecs/update-service.rst;
  https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_UpdateService.html).
- ListTasks(serviceName) lists that service's tasks, and an unknown service is
  ServiceNotFoundException (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ListTasks.html).
- ListServiceDeployments / DescribeServiceDeployments of an ECS-native service
  (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DescribeServiceDeployments.html).
- The SDK's waiters: ECS services-stable after a rollout and CodeDeploy deployment-successful
  (the waiters' acceptors are the SDK's own).
- CodeDeploy answers carry a request id ($metadata.requestId, from x-amzn-RequestId) and
  timestamps the SDK parses as dates
  (https://docs.aws.amazon.com/codedeploy/latest/APIReference/API_GetDeployment.html).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from bluegreen.aws.session import Aws
from bluegreen.sandbox import StackKind
from bluegreen.sandbox.server import SandboxServer
from bluegreen.sandbox.stack import create_stack
from tests.helpers import run_cli

JS = Path(__file__).parent.parent / "js"


def _node() -> str:
    node = shutil.which("node")
    assert node, "node is needed for the JavaScript SDK conformance test"
    assert (JS / "node_modules" / "@aws-sdk" / "client-ecs").is_dir(), (
        "the AWS SDK for JavaScript is not installed: run `make install` (npm ci in tests/js)"
    )
    return node


@pytest.fixture
def answers(aws_env: SandboxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    node = _node()
    monkeypatch.setenv("BLUEGREEN_JOURNAL", str(tmp_path / "journal.jsonl"))
    aws = Aws(region="us-east-1")
    cd = create_stack(aws, tmp_path / "web", "web")
    rolling = create_stack(aws, tmp_path / "api", "api", kind=StackKind.rolling)
    native = create_stack(aws, tmp_path / "shop", "shop", kind=StackKind.ecs_native)
    # one CodeDeploy deployment to read: a redeploy of the live revision
    released = run_cli("-c", str(tmp_path / "web" / "bluegreen.yaml"), "redeploy")
    assert released.code == 0, released.stderr
    args = {
        "endpoint": aws_env.url,
        "region": "us-east-1",
        "rolling": {"cluster": rolling.cluster, "service": rolling.service},
        "native": {"cluster": native.cluster, "service": native.service},
        "codedeploy": {"application": cd.application, "group": cd.deployment_group},
    }
    done = subprocess.run(
        [node, str(JS / "clients.mjs"), json.dumps(args)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=JS,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_the_javascript_sdk_reads_the_sandbox_as_aws(answers: Any) -> None:
    update = answers["rollingUpdate"]
    assert "error" not in update, update
    assert update["taskDefinition"].startswith("arn:aws:ecs:us-east-1:")
    assert update["deployments"][0]["status"] == "PRIMARY"
    assert update["deployments"][0]["rolloutState"] == "IN_PROGRESS"
    assert all(d["createdAtIsDate"] for d in update["deployments"])

    # the SDK's own waiters (services-stable, deployment-successful) end in SUCCESS
    assert answers["servicesStable"] == {"state": "SUCCESS"}
    waited = answers["deploymentSuccessful"]
    assert waited.get("state") == "SUCCESS", waited

    tasks = answers["rollingTasks"]
    assert "error" not in tasks, tasks
    assert tasks["taskArns"]
    assert tasks["groups"] == ["service:api"]

    assert answers["unknownServiceTasks"]["error"] == "ServiceNotFoundException"

    native = answers["nativeService"]
    assert native == {"strategy": "BLUE_GREEN", "controller": "ECS", "currentServiceRevisions": 1}
    deployments = answers["nativeDeployments"]
    assert "error" not in deployments, deployments
    assert deployments["requestId"]
    assert deployments["deployments"]
    for d in deployments["deployments"]:
        assert d["createdAtIsDate"]
        assert d["targetIsArn"]
        assert d["strategy"] == "BLUE_GREEN"

    codedeploy = answers["codedeploy"]
    assert "error" not in codedeploy, codedeploy
    assert codedeploy["requestId"]
    assert codedeploy["style"] == {
        "deploymentType": "BLUE_GREEN",
        "deploymentOption": "WITH_TRAFFIC_CONTROL",
    }
    assert [d["status"] for d in codedeploy["deployments"]] == ["Succeeded"]
    assert all(d["requestId"] and d["createTimeIsDate"] for d in codedeploy["deployments"])
