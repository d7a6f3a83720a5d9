"""Fixtures of the foundation tests: a copy of examples/web to edit, and a sandbox world
(ECR repository with an image, a VPC, an ECS cluster and a CodeDeploy-controlled service)
matching it."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

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


@dataclass
class World:
    digest: str  # digest of web:1.4.2
    subnet: str
    security_group: str

    def ecr(self) -> Any:
        return boto3.client("ecr")

    def ecs(self) -> Any:
        return boto3.client("ecs")

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
    """The AWS side of examples/web in the sandbox."""
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
