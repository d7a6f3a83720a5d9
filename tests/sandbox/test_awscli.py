"""The AWS CLI v1, unmodified, run as a subprocess against the sandbox: the commands a
release engineer or a CI job types, their exit codes and their output. Each test cites the
awscli example or AWS page it follows."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import boto3
import pytest

from bluegreen.sandbox.server import SandboxServer
from tests.sandbox.conftest import CLUSTER, SERVICE, Stack

AWS = Path(sys.executable).with_name("aws")  # installed with the dev extra (awscli)


def aws(tmp_path: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """`aws <args> --output json`, with the test's environment (AWS_ENDPOINT_URL names the
    sandbox) and no configuration files of the machine's."""
    env = {k: v for k, v in os.environ.items() if k.startswith(("AWS_", "PATH", "HOME"))}
    env["AWS_CONFIG_FILE"] = str(tmp_path / "no-config")
    env["AWS_SHARED_CREDENTIALS_FILE"] = str(tmp_path / "no-credentials")
    env["AWS_PAGER"] = ""
    return subprocess.run(  # a fixed executable and arguments, no shell
        [str(AWS), *args, "--output", "json"],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )


def as_json(ran: subprocess.CompletedProcess[str]) -> Any:
    assert ran.returncode == 0, ran.stderr
    return json.loads(ran.stdout)


@pytest.fixture
def rolling(aws_env: SandboxServer) -> Any:
    """A rolling (ECS controller) service `api` in cluster `c`, steady on api:1."""
    ecs = boto3.client("ecs")
    ecs.create_cluster(clusterName="c")
    for tag in ("v1", "v2"):
        ecs.register_task_definition(
            family="api",
            containerDefinitions=[{"name": "api", "image": f"api:{tag}", "memory": 128}],
        )
    ecs.create_service(cluster="c", serviceName="api", taskDefinition="api:1", desiredCount=2)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        service = ecs.describe_services(cluster="c", services=["api"])["services"][0]
        if service["deployments"][0].get("rolloutState") == "COMPLETED":
            return ecs
        time.sleep(0.02)
    raise AssertionError("the rolling service did not become steady")


def test_update_service_list_tasks_and_wait_services_stable(rolling: Any, tmp_path: Path) -> None:
    """awscli's examples ecs/update-service.rst, ecs/list-tasks.rst and
    ecs/wait/services-stable.rst: update-service answers the started deployment (new
    PRIMARY IN_PROGRESS with the new task definition), list-tasks lists the service's tasks,
    and `wait services-stable` returns 0 once one deployment runs the desired count."""
    new_arn = rolling.describe_task_definition(taskDefinition="api:2")["taskDefinition"][
        "taskDefinitionArn"
    ]
    updated = as_json(
        aws(
            tmp_path,
            "ecs",
            "update-service",
            "--cluster",
            "c",
            "--service",
            "api",
            "--task-definition",
            "api:2",
        )
    )["service"]
    assert updated["taskDefinition"] == new_arn
    assert updated["deployments"][0]["status"] == "PRIMARY"
    assert updated["deployments"][0]["rolloutState"] == "IN_PROGRESS"

    waited = aws(tmp_path, "ecs", "wait", "services-stable", "--cluster", "c", "--services", "api")
    assert waited.returncode == 0, waited.stderr
    assert waited.stdout == ""

    tasks = as_json(aws(tmp_path, "ecs", "list-tasks", "--cluster", "c", "--service-name", "api"))
    assert len(tasks["taskArns"]) == 2
    described = rolling.describe_tasks(cluster="c", tasks=tasks["taskArns"])["tasks"]
    assert {t["taskDefinitionArn"] for t in described} == {new_arn}

    missing = aws(tmp_path, "ecs", "list-tasks", "--cluster", "c", "--service-name", "nope")
    assert missing.returncode == 255  # AWS CLI v1: 255 for a service error
    assert "ServiceNotFoundException" in missing.stderr


def test_wait_services_stable_fails_for_a_missing_service(rolling: Any, tmp_path: Path) -> None:
    """botocore's ecs waiter services-stable: a MISSING service is a terminal failure, so
    `aws ecs wait services-stable` exits 255 at once."""
    ran = aws(tmp_path, "ecs", "wait", "services-stable", "--cluster", "c", "--services", "gone")
    assert ran.returncode == 255
    assert "Waiter ServicesStable failed" in ran.stderr


def test_get_deployment_and_wait_deployment_successful(stack: Stack, tmp_path: Path) -> None:
    """awscli's examples deploy/get-deployment.rst and deploy/wait/deployment-successful.rst:
    get-deployment shows the deployment's status; `wait deployment-successful` returns 0 once
    it Succeeded and 255 for one that was Stopped."""
    stack.create_group()
    deployment_id = stack.deploy("v2")
    waited = aws(
        tmp_path, "deploy", "wait", "deployment-successful", "--deployment-id", deployment_id
    )
    assert waited.returncode == 0, waited.stderr
    info = as_json(aws(tmp_path, "deploy", "get-deployment", "--deployment-id", deployment_id))
    assert info["deploymentInfo"]["status"] == "Succeeded"
    assert info["deploymentInfo"]["deploymentId"] == deployment_id

    stack.settings(hooks="wait")
    stopped = stack.deploy("v3", hooks=[{"BeforeInstall": "hold"}])
    stack.codedeploy.stop_deployment(deploymentId=stopped, autoRollbackEnabled=False)
    failed = aws(tmp_path, "deploy", "wait", "deployment-successful", "--deployment-id", stopped)
    assert failed.returncode == 255
    assert "Waiter DeploymentSuccessful failed" in failed.stderr

    target = as_json(
        aws(
            tmp_path,
            "deploy",
            "get-deployment-target",
            "--deployment-id",
            deployment_id,
            "--target-id",
            f"{CLUSTER}:{SERVICE}",
        )
    )["deploymentTarget"]["ecsTarget"]
    assert target["status"] == "Succeeded"


def test_aws_ecs_deploy_releases_through_codedeploy(aws_env: SandboxServer, tmp_path: Path) -> None:
    """`aws ecs deploy` (awscli's customisation, docs: awscli/customizations/ecs/deploy.py and
    https://docs.aws.amazon.com/cli/latest/reference/ecs/deploy.html): registers the task
    definition, creates a CodeDeploy deployment with the AppSpec pointing at it, waits for it
    to succeed, exit 0; production then runs the new revision on green."""
    from bluegreen.aws.session import Aws
    from bluegreen.sandbox.stack import create_stack

    stack = create_stack(Aws(region="us-east-1"), tmp_path / "web", "web")
    ecs = boto3.client("ecs")
    live = ecs.describe_services(cluster=stack.cluster, services=[stack.service])["services"][0]
    td = ecs.describe_task_definition(taskDefinition=live["taskDefinition"])["taskDefinition"]
    keep = ("family", "containerDefinitions", "networkMode", "requiresCompatibilities", "cpu")
    register = {k: td[k] for k in (*keep, "memory", "executionRoleArn") if k in td}
    register["containerDefinitions"][0]["environment"] = [{"name": "RELEASE", "value": "cli"}]
    (tmp_path / "td.json").write_text(json.dumps(register))
    lb = live["loadBalancers"][0]
    (tmp_path / "appspec.yaml").write_text(
        "version: 0.0\nResources:\n  - TargetService:\n      Type: AWS::ECS::Service\n"
        "      Properties:\n        TaskDefinition: placeholder\n        LoadBalancerInfo:\n"
        f"          ContainerName: {lb['containerName']}\n"
        f"          ContainerPort: {lb['containerPort']}\n"
    )
    ran = aws(
        tmp_path,
        "ecs",
        "deploy",
        "--cluster",
        stack.cluster,
        "--service",
        stack.service,
        "--task-definition",
        str(tmp_path / "td.json"),
        "--codedeploy-appspec",
        str(tmp_path / "appspec.yaml"),
        "--codedeploy-application",
        str(stack.application),
        "--codedeploy-deployment-group",
        str(stack.deployment_group),
        timeout=180,
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "Successfully deployed" in ran.stdout, ran.stdout
    after = ecs.describe_services(cluster=stack.cluster, services=[stack.service])["services"][0]
    assert after["taskDefinition"] != live["taskDefinition"]
    new = ecs.describe_task_definition(taskDefinition=after["taskDefinition"])["taskDefinition"]
    assert new["containerDefinitions"][0]["environment"] == [{"name": "RELEASE", "value": "cli"}]
    primary = [t for t in after["taskSets"] if t["status"] == "PRIMARY"]
    assert [t["taskDefinition"] for t in primary] == [after["taskDefinition"]]


def test_service_deployments_of_an_ecs_native_service(
    aws_env: SandboxServer, tmp_path: Path
) -> None:
    """`aws ecs list-service-deployments` and `describe-service-deployments`
    (https://docs.aws.amazon.com/cli/latest/reference/ecs/describe-service-deployments.html):
    the ECS-native service's deployments as the CLI prints them."""
    from bluegreen.aws.session import Aws
    from bluegreen.sandbox import StackKind
    from bluegreen.sandbox.stack import create_stack

    stack = create_stack(
        Aws(region="us-east-1"), tmp_path / "shop", "shop", kind=StackKind.ecs_native
    )
    boto3.client("ecs").update_service(
        cluster=stack.cluster, service=stack.service, forceNewDeployment=True
    )
    listed = as_json(
        aws(
            tmp_path,
            "ecs",
            "list-service-deployments",
            "--cluster",
            stack.cluster,
            "--service",
            stack.service,
        )
    )
    arns = [d["serviceDeploymentArn"] for d in listed["serviceDeployments"]]
    assert len(arns) == 2
    assert all(a.startswith("arn:aws:ecs:us-east-1:") for a in arns)
    described = as_json(
        aws(tmp_path, "ecs", "describe-service-deployments", "--service-deployment-arns", *arns)
    )
    found = described["serviceDeployments"]
    assert {d["serviceDeploymentArn"] for d in found} == set(arns)
    assert all(d["deploymentConfiguration"]["strategy"] == "BLUE_GREEN" for d in found)
    # the stack's first deployment may still have been running: the forced one stops it
    assert {d["status"] for d in found} <= {"PENDING", "IN_PROGRESS", "SUCCESSFUL", "STOPPED"}
    newest = max(found, key=lambda d: d["createdAt"])
    assert newest["status"] != "STOPPED"
    missing = aws(tmp_path, "ecs", "describe-service-deployments", "--service-deployment-arns", "x")
    assert missing.returncode != 0 or json.loads(missing.stdout)["failures"]
