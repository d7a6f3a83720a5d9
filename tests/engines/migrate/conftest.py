"""`migrate --to ecs` tests: a fresh `sandbox stack` CodeDeploy stack per test (a migration
cannot be undone in place), the CLI in this process, AWS-side truth read through boto3."""

from __future__ import annotations

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


def weights_of(actions: list[dict[str, Any]]) -> dict[str, int]:
    for action in actions:
        if action.get("Type") != "forward":
            continue
        groups = (action.get("ForwardConfig") or {}).get("TargetGroups")
        if groups:
            return {g["TargetGroupArn"]: int(g.get("Weight", 1)) for g in groups}
        return {action["TargetGroupArn"]: 1}
    return {}


@dataclass
class CodeDeployStack:
    sandbox: SandboxServer
    result: StackResult
    journal: Path

    @property
    def spec(self) -> Path:
        return self.result.directory / "bluegreen.yaml"

    def client(self, name: str) -> Any:
        return boto3.client(name, endpoint_url=self.sandbox.url, region_name="us-east-1")

    def cli(self, *args: str) -> Ran:
        return run_cli("--config", str(self.spec), *args)

    def service(self) -> dict[str, Any]:
        (svc,) = self.client("ecs").describe_services(
            cluster=self.result.cluster, services=[self.result.service]
        )["services"]
        return dict(svc)

    def rules(self, listener: str) -> list[dict[str, Any]]:
        """The listener's rules other than its default one."""
        found = self.client("elbv2").describe_rules(ListenerArn=listener)["Rules"]
        return [r for r in found if not r.get("IsDefault")]

    def production(self) -> set[str]:
        """The target groups production requests reach now (weight > 0): the first rule that
        matches every path (`/*`), else the listener's default action."""
        listener = self.result.prod_listener
        for rule in sorted(self.rules(listener), key=lambda r: int(r["Priority"])):
            patterns = [
                v
                for c in rule.get("Conditions") or []
                for v in (c.get("PathPatternConfig") or {}).get("Values") or c.get("Values") or []
            ]
            if "/*" in patterns:
                return {tg for tg, w in weights_of(rule["Actions"]).items() if w > 0}
        (found,) = self.client("elbv2").describe_listeners(ListenerArns=[listener])["Listeners"]
        return {tg for tg, w in weights_of(found["DefaultActions"]).items() if w > 0}

    def roles(self) -> list[str]:
        return sorted(r["RoleName"] for r in self.client("iam").list_roles()["Roles"])

    def snapshot(self) -> dict[str, Any]:
        """What a migration would change: the controller, the service's configuration and
        load balancers, the listeners' rules and default actions, the IAM roles."""
        svc = self.service()
        elb = self.client("elbv2")
        listeners = [self.result.prod_listener, self.result.test_listener]
        return {
            "controller": svc["deploymentController"],
            "configuration": svc.get("deploymentConfiguration"),
            "loadBalancers": svc.get("loadBalancers"),
            "taskSets": [(t["id"], t["status"]) for t in svc.get("taskSets") or []],
            "rules": {li: self.rules(str(li)) for li in listeners},
            "defaults": [
                li["DefaultActions"]
                for li in elb.describe_listeners(ListenerArns=listeners)["Listeners"]
            ],
            "roles": self.roles(),
        }

    def new_image(self, tag: str) -> str:
        self.client("ecr").put_image(
            repositoryName=self.result.repository,
            imageManifest=image_manifest(f"migrate-{tag}"),
            imageTag=tag,
        )
        return f"{self.result.image.rsplit(':', 1)[0]}:{tag}"

    def fault(self, **values: Any) -> None:
        sandbox_call(self.sandbox, "faults", values)

    def clear_faults(self) -> None:
        sandbox_call(self.sandbox, "faults", method="DELETE")


def wait_for(predicate: Callable[[], Any], timeout: float = 30.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def cd_stack(
    aws_env: SandboxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> CodeDeployStack:
    result = create_stack(Aws(region="us-east-1"), tmp_path / "stack", "mig")
    journal = tmp_path / "journal.jsonl"
    monkeypatch.setenv("BLUEGREEN_JOURNAL", str(journal))
    stack = CodeDeployStack(aws_env, result, journal)
    wait_for(
        lambda: [t.get("status") for t in stack.service().get("taskSets") or []] == ["PRIMARY"],
        what="the stack's first task set",
    )
    return stack
