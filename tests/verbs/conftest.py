"""Fixtures of the verb tests: a demo stack in the sandbox (made by `sandbox stack`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bluegreen.cli.app import run


@pytest.fixture
def stack(aws_env: object, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    """A CodeDeploy blue/green stack with its ready spec; `spec` is the spec file's path."""
    folder = tmp_path / "stack"
    assert run(["--output", "json", "sandbox", "stack", "--dir", str(folder)]) == 0
    result: dict[str, Any] = json.loads(capsys.readouterr().out.strip().splitlines()[0])
    result["spec"] = str(folder / "bluegreen.yaml")
    return result


REGISTRY = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
TASKDEF_TEMPLATE = """{
  "family": "web",
  "networkMode": "awsvpc",
  "requiresCompatibilities": ["FARGATE"],
  "cpu": "256",
  "memory": "512",
  "executionRoleArn": "arn:aws:iam::123456789012:role/web-execution",
  "containerDefinitions": [
    {
      "name": "web",
      "image": "set-by-images",
      "portMappings": [{"containerPort": 8080}],
      "environment": [{"name": "LOG_LEVEL", "value": {{ vars.log_level | tojson }}}]
    }
  ]
}
"""
SPEC = """version: 1
region: us-east-1
cluster: web-cluster
service: web
task_definition: taskdef.json.j2
images:
  web: "%s/web:v1"
load_balancer: {container_name: web, container_port: 8080}
vars: {log_level: info}
"""


def push_image(tag: str, repository: str = "web") -> str:
    """Put a small image manifest into the sandbox's ECR under `tag`; its digest."""
    import boto3

    from bluegreen.sandbox.stack import MANIFEST_MEDIA_TYPE, image_manifest

    image = boto3.client("ecr").put_image(
        repositoryName=repository,
        imageManifest=image_manifest(f"{repository}:{tag}"),
        imageManifestMediaType=MANIFEST_MEDIA_TYPE,
        imageTag=tag,
    )["image"]
    return str(image["imageId"]["imageDigest"])


def register_web(digest: str, log_level: str = "info") -> str:
    import boto3

    td = json.loads(
        TASKDEF_TEMPLATE.replace("{{ vars.log_level | tojson }}", json.dumps(log_level))
    )
    td["containerDefinitions"][0]["image"] = f"{REGISTRY}/web@{digest}"
    resp = boto3.client("ecs").register_task_definition(**td)
    return str(resp["taskDefinition"]["taskDefinitionArn"])


@pytest.fixture
def service(aws_env: object, tmp_path: Path) -> dict[str, Any]:
    """A plain ECS-controlled service `web-cluster/web` running `web:1` (image web:v1 by
    digest), with its spec; lighter than the CodeDeploy stack."""
    import boto3

    boto3.client("ecr").create_repository(repositoryName="web")
    digest = push_image("v1")
    ecs = boto3.client("ecs")
    ecs.create_cluster(clusterName="web-cluster")
    arn = register_web(digest)
    ecs.create_service(cluster="web-cluster", serviceName="web", taskDefinition=arn, desiredCount=1)
    folder = tmp_path / "svc"
    folder.mkdir()
    (folder / "bluegreen.yaml").write_text(SPEC % REGISTRY)
    (folder / "taskdef.json.j2").write_text(TASKDEF_TEMPLATE)
    return {"spec": str(folder / "bluegreen.yaml"), "digest": digest, "arn": arn, "dir": folder}
