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


def test_ecs_deploy_reports_a_release_the_circuit_breaker_fails(
    rolling: tuple[Aws, StackResult, str], aws_env: SandboxServer
) -> None:
    """Tasks that keep failing make ECS post "(service …) is unable to consistently start tasks
    successfully" before its circuit breaker trips
    (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/service-event-messages-list.html);
    `ecs deploy` reads that event as an error: exit 1, never "successful". At a time scale where
    a failed launch takes 2 s, as ECS's take tens of seconds, its 1 s polls see it happen."""
    aws, stack, image = rolling
    before = _service(aws, stack)["taskDefinition"]
    sandbox_call(aws_env, "settings", {"timeScale": 10})
    sandbox_call(aws_env, "faults", {"kind": "unhealthy-green"})
    done = _run("deploy", stack.cluster, stack.service, "--image", "web", image, "--timeout", "60")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Deployment successful" not in done.stdout
    assert "unable to consistently start tasks" in done.stdout + done.stderr
    # and the circuit breaker put production back on the revision it ran before
    deadline = 600
    while deadline and _service(aws, stack)["taskDefinition"] != before:
        deadline -= 1
        subprocess.run(["sleep", "0.05"], check=True)
    assert _service(aws, stack)["taskDefinition"] == before


def test_ecs_deploy_sees_tasks_failing_to_start(
    rolling: tuple[Aws, StackResult, str], aws_env: SandboxServer
) -> None:
    """With the circuit breaker off, ECS keeps retrying tasks that fail to start, and nothing
    rolls the service back: `ecs deploy` reports the failure (exit 1), never success, and the
    PRIMARY deployment counts the failed tasks."""
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
    assert "Deployment failed" in done.stdout + done.stderr
    svc = _service(aws, stack)
    primary = next(d for d in svc["deployments"] if d["status"] == "PRIMARY")
    assert primary["failedTasks"] > 0
    assert svc["taskDefinition"] != before  # still trying: nothing rolled it back
