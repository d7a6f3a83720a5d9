"""ECS-controller services in the sandbox, and specs that release them."""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from bluegreen.aws.session import Aws
from bluegreen.engines.rolling.rollout import Loop
from bluegreen.sandbox.server import SandboxServer

ACCOUNT = "123456789012"
REGISTRY = f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com"
FAST = Loop(poll=0.02)

TASKDEF = """{
  "family": "{{ service }}",
  "networkMode": "awsvpc",
  "requiresCompatibilities": ["FARGATE"],
  "cpu": "256",
  "memory": "512",
  "containerDefinitions": [
    {"name": "web", "image": "set-by-images", "essential": true,
     "portMappings": [{"containerPort": 8080, "protocol": "tcp"}],
     "environment": [{"name": "LOG_LEVEL", "value": {{ vars.log_level | tojson }}}]}
  ]
}
"""


@dataclass
class Recorder:
    """An Output that keeps what a release printed."""

    json_mode: bool = True
    lines: list[str] = field(default_factory=list)
    objects: list[dict[str, Any]] = field(default_factory=list)

    def text(self, line: str = "") -> None:
        self.lines.append(line)

    def json(self, obj: dict[str, Any]) -> None:
        self.objects.append(obj)

    def emit(self, obj: dict[str, Any], text: str | None) -> None:
        self.objects.append(obj)
        if text is not None:
            self.lines.append(text)

    def kinds(self) -> list[str]:
        return [str(o.get("event")) for o in self.objects]


@dataclass
class Stack:
    aws: Aws
    folder: Path
    sandbox: SandboxServer
    images: dict[str, str] = field(default_factory=dict)  # tag -> digest

    def push(self, tag: str, repository: str = "web") -> str:
        """Put an image under `tag` in ECR; returns its digest."""
        ecr = self.aws.ecr()
        with contextlib.suppress(ecr.exceptions.RepositoryAlreadyExistsException):
            ecr.create_repository(repositoryName=repository)
        layer = "sha256:" + hashlib.sha256(f"{repository}:{tag}".encode()).hexdigest()
        manifest = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "size": 100,
                "digest": layer,
            },
            "layers": [
                {
                    "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                    "size": 100,
                    "digest": layer,
                }
            ],
        }
        resp = ecr.put_image(
            repositoryName=repository, imageManifest=json.dumps(manifest), imageTag=tag
        )
        digest = str(resp["image"]["imageId"]["imageDigest"])
        self.images[tag] = digest
        return digest

    def service(
        self,
        cluster: str,
        service: str,
        *,
        tag: str = "v1",
        desired: int = 2,
        minimum: int = 100,
        maximum: int = 200,
        breaker: str | None = "rollback",  # rollback | on | None (off)
    ) -> str:
        """An ECS-controller service running `web:<tag>` pinned by digest; returns the TD ARN."""
        ecs = self.aws.ecs()
        ecs.create_cluster(clusterName=cluster)
        digest = self.images.get(tag) or self.push(tag)
        td = ecs.register_task_definition(
            family=service,
            networkMode="awsvpc",
            requiresCompatibilities=["FARGATE"],
            cpu="256",
            memory="512",
            containerDefinitions=[
                {
                    "name": "web",
                    "image": f"{REGISTRY}/web@{digest}",
                    "essential": True,
                    "portMappings": [{"containerPort": 8080, "protocol": "tcp"}],
                    "environment": [{"name": "LOG_LEVEL", "value": "info"}],
                }
            ],
        )["taskDefinition"]["taskDefinitionArn"]
        conf: dict[str, Any] = {"minimumHealthyPercent": minimum, "maximumPercent": maximum}
        if breaker is not None:
            conf["deploymentCircuitBreaker"] = {"enable": True, "rollback": breaker == "rollback"}
        ecs.create_service(
            cluster=cluster,
            serviceName=service,
            taskDefinition=td,
            desiredCount=desired,
            launchType="FARGATE",
            deploymentConfiguration=conf,
        )
        self.steady(cluster, service)
        return str(td)

    def steady(self, cluster: str, service: str, timeout: float = 10.0) -> None:
        """Wait until the service's rollout has completed (as a live service would be)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            deployments = self.describe(cluster, service)["deployments"]
            if len(deployments) == 1 and deployments[0].get("rolloutState") == "COMPLETED":
                return
            time.sleep(0.02)
        raise AssertionError(f"{cluster}/{service} did not become steady")

    def spec(
        self,
        cluster: str,
        service: str,
        *,
        tag: str = "v2",
        name: str = "bluegreen.yaml",
        extra: str = "",
    ) -> Path:
        """A spec releasing web:<tag> to the service (the tag resolved to its digest)."""
        (self.folder / "taskdef.json.j2").write_text(TASKDEF, encoding="utf-8")
        path = self.folder / name
        path.write_text(
            "version: 1\n"
            "region: us-east-1\n"
            f"cluster: {cluster}\n"
            f"service: {service}\n"
            "task_definition: taskdef.json.j2\n"
            f"images:\n  web: {REGISTRY}/web:{tag}\n"
            "vars: {log_level: info}\n" + extra,
            encoding="utf-8",
        )
        return path

    def describe(self, cluster: str, service: str) -> dict[str, Any]:
        svc: dict[str, Any] = self.aws.ecs().describe_services(cluster=cluster, services=[service])[
            "services"
        ][0]
        return svc

    def revisions(self, family: str) -> list[str]:
        return list(self.aws.ecs().list_task_definitions(familyPrefix=family)["taskDefinitionArns"])

    def fault(self, body: dict[str, Any]) -> None:
        request = urllib.request.Request(  # noqa: S310 - loopback URL of the test sandbox
            f"{self.sandbox.url}/_sandbox/faults", data=json.dumps(body).encode(), method="POST"
        )
        request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=10):  # noqa: S310
            pass


@pytest.fixture
def stack(aws_env: SandboxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Stack:
    monkeypatch.setenv("BLUEGREEN_JOURNAL", str(tmp_path / "journal.jsonl"))
    folder = tmp_path / "specs"
    folder.mkdir()
    monkeypatch.chdir(tmp_path)
    return Stack(Aws(region="us-east-1"), folder, aws_env)
