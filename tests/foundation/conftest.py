"""Fixtures of the foundation tests: a copy of examples/web to edit, and a sandbox world
(ECR repository with an image, a VPC, an ECS cluster and a CodeDeploy-controlled service)
matching it."""

from __future__ import annotations

import functools
import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from bluegreen.sandbox.server import SandboxServer
from tests.conftest import SANDBOX_TIME_SCALE, sandbox_call

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "web"
REGISTRY = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
TARGET_GROUP = (
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web-blue/0123456789abcdef"
)


@pytest.fixture
def example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """examples/web copied to a temporary folder outside any git checkout, and made the cwd."""
    folder = tmp_path / "web"
    shutil.copytree(EXAMPLE, folder)
    monkeypatch.chdir(folder)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    return folder


def manifest(layer: str) -> str:
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "size": 7023,
                "digest": "sha256:" + "c" * 64,
            },
            "layers": [
                {
                    "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                    "size": 32654,
                    "digest": "sha256:" + layer * 64,
                }
            ],
        }
    )


@functools.cache
def _client(service: str, endpoint: str) -> Any:
    return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1")


@dataclass
class World:
    digest: str  # digest of web:1.4.2
    subnet: str
    security_group: str

    def ecr(self) -> Any:
        return _client("ecr", os.environ["AWS_ENDPOINT_URL"])

    def ecs(self) -> Any:
        return _client("ecs", os.environ["AWS_ENDPOINT_URL"])

    def image_count(self) -> int:
        return sum(
            len(self.ecr().list_images(repositoryName=r["repositoryName"])["imageIds"])
            for r in self.ecr().describe_repositories()["repositories"]
        )

    def assert_no_writes(self) -> None:
        """Nothing registered or created: no task definition, the one image, nothing new."""
        assert self.ecs().list_task_definitions()["taskDefinitionArns"] == []
        assert self.image_count() == 1
        repos = [r["repositoryName"] for r in self.ecr().describe_repositories()["repositories"]]
        assert repos == ["web"]
        services = self.ecs().list_services(cluster="web-cluster")["serviceArns"]
        assert len(services) == 1


@pytest.fixture
def world(aws_env: object) -> World:
    """The AWS side of examples/web in a freshly reset sandbox."""
    return build_world()


@pytest.fixture(scope="module")
def shared_world(
    sandbox: SandboxServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    """One world for a module of tests that must not change it (each checks that it did not):
    the environment of `aws_env`, set up once instead of per test."""
    with pytest.MonkeyPatch.context() as mp:
        sandbox_call(sandbox, "reset")
        sandbox_call(sandbox, "settings", {"timeScale": SANDBOX_TIME_SCALE, "hooks": "succeed"})
        mp.setenv("AWS_ENDPOINT_URL", sandbox.url)
        mp.setenv("AWS_ACCESS_KEY_ID", "testing")
        mp.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        mp.setenv("AWS_DEFAULT_REGION", "us-east-1")
        for name in list(os.environ):
            if name.startswith(
                ("AWS_ENDPOINT_URL_", "AWS_PROFILE", "AWS_SESSION_TOKEN")
            ) or name in (
                "AWS_REGION",
                "AWS_CONFIG_FILE",
                "AWS_SHARED_CREDENTIALS_FILE",
            ):
                mp.delenv(name, raising=False)
        mp.setenv("HOME", str(tmp_path_factory.mktemp("home")))
        yield build_world()


def build_world() -> World:
    ecr = boto3.client("ecr")
    ecr.create_repository(repositoryName="web")
    ecr.put_image(repositoryName="web", imageManifest=manifest("1"), imageTag="1.4.2")
    digest = ecr.describe_images(repositoryName="web", imageIds=[{"imageTag": "1.4.2"}])[
        "imageDetails"
    ][0]["imageDigest"]
    ec2 = boto3.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    sg = ec2.create_security_group(GroupName="web", Description="web", VpcId=vpc)["GroupId"]
    ecs = boto3.client("ecs")
    ecs.create_cluster(clusterName="web-cluster")
    ecs.create_service(
        cluster="web-cluster",
        serviceName="web",
        desiredCount=1,
        launchType="FARGATE",
        platformVersion="1.4.0",
        deploymentController={"type": "CODE_DEPLOY"},
        loadBalancers=[
            {"targetGroupArn": TARGET_GROUP, "containerName": "web", "containerPort": 8080}
        ],
        networkConfiguration={
            "awsvpcConfiguration": {
                "subnets": [subnet],
                "securityGroups": [sg],
                "assignPublicIp": "DISABLED",
            }
        },
    )
    return World(digest=digest, subnet=subnet, security_group=sg)
