"""The sandbox as fabfuel's `ecs deploy` (the ecs-deploy package, unmodified) reads it (issue:
sandbox fidelity, held to third-party clients). Before UpdateService answered the deployment it
started and tasks followed the rollout, `ecs deploy` timed out on every healthy release: a
false answer a release engineer would act on.

`ecs deploy CLUSTER SERVICE --image CONTAINER IMAGE` registers a new revision, updates the
service and waits until the new deployment is the only one and every task runs it
(https://github.com/fabfuel/ecs-deploy#deploy-a-new-image); a rollout the deployment circuit
breaker fails makes it report the failure.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bluegreen.aws.session import Aws
from bluegreen.sandbox import StackKind
from bluegreen.sandbox.server import SandboxServer
from bluegreen.sandbox.stack import StackResult, create_stack, image_manifest
from tests.conftest import sandbox_call


def _ecs() -> str:
    found = shutil.which("ecs", path=str(Path(sys.executable).parent))
    assert found, "fabfuel's ecs-deploy is a dev dependency: `make install` installs it"
    return found


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_ecs(), *args],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        env={**os.environ, "AWS_DEFAULT_REGION": "us-east-1"},
    )


def _service(aws: Aws, stack: StackResult) -> dict[str, Any]:
    found = aws.ecs().describe_services(cluster=stack.cluster, services=[stack.service])
    return dict(found["services"][0])


@pytest.fixture
def rolling(aws_env: SandboxServer, tmp_path: Path) -> tuple[Aws, StackResult, str]:
    aws = Aws(region="us-east-1")
    stack = create_stack(aws, tmp_path / "api", "api", kind=StackKind.rolling)
    digest = aws.ecr().put_image(
        repositoryName=stack.repository, imageManifest=image_manifest("v2"), imageTag="v2"
    )["image"]["imageId"]["imageDigest"]
    image = f"{stack.image.rsplit(':', 1)[0]}@{digest}"
    # the stack's first rollout settles before the release under test
    deadline = 200
    while deadline and len(_service(aws, stack)["deployments"]) > 1:
        deadline -= 1
        subprocess.run(["sleep", "0.05"], check=True)
    return aws, stack, image


def test_ecs_deploy_reports_a_healthy_release_as_successful(
    rolling: tuple[Aws, StackResult, str],
) -> None:
    aws, stack, image = rolling
    before = _service(aws, stack)["taskDefinition"]
    done = _run("deploy", stack.cluster, stack.service, "--image", "web", image, "--timeout", "120")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Deployment successful" in done.stdout
    svc = _service(aws, stack)
    assert svc["taskDefinition"] != before
    td = aws.ecs().describe_task_definition(taskDefinition=svc["taskDefinition"])
    assert td["taskDefinition"]["containerDefinitions"][0]["image"] == image
    assert [d["rolloutState"] for d in svc["deployments"]] == ["COMPLETED"]


def test_ecs_deploy_sees_tasks_failing_to_start(
    rolling: tuple[Aws, StackResult, str], aws_env: SandboxServer
) -> None:
    """With the circuit breaker off, ECS keeps retrying tasks that fail to start; `ecs deploy`
    reads failedTasks from the PRIMARY deployment, warns, and gives up at its timeout (exit 1),
    never reporting success. (With the breaker on, the rollback ends in a single deployment of
    the previous revision, which `ecs deploy` itself takes for success: its own limit.)"""
    aws, stack, image = rolling
    before = _service(aws, stack)["taskDefinition"]
    aws.ecs().update_service(
        cluster=stack.cluster,
        service=stack.service,
        deploymentConfiguration={
            "minimumHealthyPercent": 100,
            "maximumPercent": 200,
            "deploymentCircuitBreaker": {"enable": False, "rollback": False},
        },
    )
    sandbox_call(aws_env, "faults", {"kind": "unhealthy-green"})
    done = _run("deploy", stack.cluster, stack.service, "--image", "web", image, "--timeout", "8")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Deployment successful" not in done.stdout
    assert "tasks failed to start" in done.stdout + done.stderr
    svc = _service(aws, stack)
    primary = next(d for d in svc["deployments"] if d["status"] == "PRIMARY")
    assert primary["failedTasks"] > 0
    assert svc["taskDefinition"] != before  # still trying: nothing rolled it back
