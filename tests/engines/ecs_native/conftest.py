"""The ECS-native engine's tests: a `sandbox stack --kind ecs-native` stack (an ECS-controller
BLUE_GREEN service on production and test listener RULES forwarding to both target groups),
its spec, and reads of AWS-side truth through plain boto3."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from bluegreen.aws.session import Aws
from bluegreen.sandbox.server import SandboxServer
from bluegreen.sandbox.stack import StackResult, create_stack, image_manifest
from tests.conftest import sandbox_call
from tests.helpers import Ran, run_cli


@dataclass
class Native:
    sandbox: SandboxServer
    result: StackResult
    tags: int = 0

    @property
    def spec(self) -> Path:
        return self.result.directory / "bluegreen.yaml"

    def client(self, name: str) -> Any:
        return boto3.client(name, endpoint_url=self.sandbox.url, region_name="us-east-1")

    def new_image(self) -> str:
        self.tags += 1
        tag = f"n{self.tags}"
        self.client("ecr").put_image(
            repositoryName=self.result.repository,
            imageManifest=image_manifest(f"native-{tag}"),
            imageTag=tag,
        )
        return f"{self.result.image.rsplit(':', 1)[0]}:{tag}"

    def cli(self, *args: str) -> Ran:
        return run_cli("--output", "json", "--config", str(self.spec), *args)

    def deploy(self, *args: str) -> Ran:
        return self.cli("deploy", "--image", f"web={self.new_image()}", *args)

    def service(self) -> dict[str, Any]:
        (svc,) = self.client("ecs").describe_services(
            cluster=self.result.cluster, services=[self.result.service]
        )["services"]
        return dict(svc)

    def weights(self, which: str = "prod") -> dict[str, int]:
        """Target group ARN -> weight on the production (or test) listener rule."""
        assert self.result.rules is not None
        rule = self.result.rules[0 if which == "prod" else 1]
        (found,) = self.client("elbv2").describe_rules(RuleArns=[rule])["Rules"]
        groups = found["Actions"][0]["ForwardConfig"]["TargetGroups"]
        return {g["TargetGroupArn"]: int(g["Weight"]) for g in groups}

    def serving(self) -> str:
        """The one target group production goes to (asserts there is exactly one)."""
        serving = [tg for tg, w in self.weights().items() if w > 0]
        assert len(serving) == 1, self.weights()
        return serving[0]

    def deployment(self, arn: str) -> dict[str, Any]:
        (found,) = self.client("ecs").describe_service_deployments(serviceDeploymentArns=[arn])[
            "serviceDeployments"
        ]
        return dict(found)

    def deployments(self) -> list[str]:
        briefs = self.client("ecs").list_service_deployments(
            cluster=self.result.cluster, service=self.result.service
        )["serviceDeployments"]
        return [b["serviceDeploymentArn"] for b in sorted(briefs, key=lambda b: b["createdAt"])]

    def configure(self, **changes: Any) -> None:
        """UpdateService with deploymentConfiguration members changed (starts no deployment)."""
        conf = dict(self.service()["deploymentConfiguration"])
        conf.update(changes)
        self.client("ecs").update_service(
            cluster=self.result.cluster,
            service=self.result.service,
            deploymentConfiguration=conf,
        )

    def settings(self, **values: Any) -> None:
        sandbox_call(self.sandbox, "settings", values)

    def fault(self, **values: Any) -> None:
        sandbox_call(self.sandbox, "faults", values)

    def alarm(self, state: str = "ALARM") -> None:
        self.client("cloudwatch").set_alarm_state(
            AlarmName=f"{self.result.service}-5xx", StateValue=state, StateReason="test"
        )


def wait_for(predicate: Callable[[], Any], timeout: float = 30.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def native(aws_env: SandboxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Native:
    result = create_stack(Aws(region="us-east-1"), tmp_path / "stack", "nat", kind="ecs-native")
    monkeypatch.setenv("BLUEGREEN_JOURNAL", str(tmp_path / "journal.jsonl"))
    stack = Native(aws_env, result)
    wait_for(
        lambda: [d.get("rolloutState") for d in stack.service()["deployments"]] == ["COMPLETED"],
        what="the stack's first revision running",
    )
    return stack


def dumps(obj: Any) -> str:
    return json.dumps(obj, default=str)
