"""A demo CodeDeploy blue/green stack in the sandbox, and helpers to drive releases on it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from bluegreen.aws.session import Aws
from bluegreen.sandbox.server import SandboxServer
from bluegreen.sandbox.stack import StackResult, create_stack, image_manifest
from tests.conftest import SANDBOX_TIME_SCALE, sandbox_call
from tests.helpers import Ran, run_cli


@dataclass
class Stack:
    result: StackResult
    dir: Path
    spec: Path
    sandbox: SandboxServer

    def client(self, service: str) -> Any:
        return boto3.client(service, endpoint_url=self.sandbox.url, region_name="us-east-1")

    def push(self, tag: str) -> str:
        """Put an image under `tag` into the stack's repository; return its digest."""
        ecr = self.client("ecr")
        try:
            resp = ecr.put_image(
                repositoryName=self.result.repository,
                imageManifest=image_manifest(tag),
                imageTag=tag,
            )
        except ecr.exceptions.ImageAlreadyExistsException:
            found = ecr.describe_images(
                repositoryName=self.result.repository, imageIds=[{"imageTag": tag}]
            )
            return str(found["imageDetails"][0]["imageDigest"])
        return str(resp["image"]["imageId"]["imageDigest"])

    def image(self, tag: str) -> str:
        return f"{self.result.image.rsplit(':', 1)[0]}:{tag}"

    def live_task_definition(self) -> str:
        svc = self.client("ecs").describe_services(
            cluster=self.result.cluster, services=[self.result.service]
        )["services"][0]
        return str(svc["taskDefinition"])

    def prod_weights(self) -> dict[str, int]:
        """Target group name -> weight of the production listener's forward action."""
        elb = self.client("elbv2")
        listener = elb.describe_listeners(ListenerArns=[self.result.prod_listener])["Listeners"][0]
        action = listener["DefaultActions"][0]
        groups = action.get("ForwardConfig", {}).get("TargetGroups") or [
            {"TargetGroupArn": action["TargetGroupArn"], "Weight": 1}
        ]
        arns = [g["TargetGroupArn"] for g in groups]
        names = {
            tg["TargetGroupArn"]: tg["TargetGroupName"]
            for tg in elb.describe_target_groups(TargetGroupArns=arns)["TargetGroups"]
        }
        return {names[g["TargetGroupArn"]]: int(g.get("Weight", 0)) for g in groups}


ENV_NAMES = (
    "AWS_REGION",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_CA_BUNDLE",
    "GITHUB_STEP_SUMMARY",
    "GITHUB_ACTIONS",
    "CI",
)


@pytest.fixture(scope="module")
def module_stack(
    sandbox: SandboxServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """One demo stack per test module (building one costs seconds); the tests of a module
    release on it one after another, each leaving no deployment in flight."""
    base = tmp_path_factory.mktemp("stack")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AWS_ENDPOINT_URL", sandbox.url)
        mp.setenv("AWS_ACCESS_KEY_ID", "testing")
        mp.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        mp.setenv("AWS_DEFAULT_REGION", "us-east-1")
        mp.setenv("HOME", str(base))
        for name in ENV_NAMES:
            mp.delenv(name, raising=False)
        for name in list(os.environ):
            if name.startswith("AWS_ENDPOINT_URL_"):
                mp.delenv(name, raising=False)
        sandbox_call(sandbox, "reset")
        sandbox_call(sandbox, "settings", {"timeScale": SANDBOX_TIME_SCALE, "hooks": "succeed"})
        directory = base / "app"
        result = create_stack(Aws(region="us-east-1"), directory, "web")
        yield Stack(result, directory, directory / "bluegreen.yaml", sandbox)


@pytest.fixture
def stack(module_stack: Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    """The module's stack with a clean slate: no faults, hooks succeed, alarms OK, a fresh
    journal, the spec as written by `sandbox stack`, the stack folder as working directory."""
    s = module_stack
    sandbox_call(s.sandbox, "faults", method="DELETE")
    sandbox_call(s.sandbox, "settings", {"timeScale": SANDBOX_TIME_SCALE, "hooks": "succeed"})
    cw = s.client("cloudwatch")
    for alarm in cw.describe_alarms()["MetricAlarms"]:
        cw.set_alarm_state(AlarmName=alarm["AlarmName"], StateValue="OK", StateReason="test")
    spec_text = s.spec.read_text()
    monkeypatch.chdir(s.dir)
    monkeypatch.setenv("BLUEGREEN_JOURNAL", str(tmp_path / "journal.jsonl"))
    yield s
    s.spec.write_text(spec_text)
    sandbox_call(s.sandbox, "faults", method="DELETE")  # a fault must not outlive its test
    cd = s.client("codedeploy")
    active = cd.list_deployments(
        applicationName=s.result.application,
        deploymentGroupName=s.result.deployment_group,
        includeOnlyStatuses=["Created", "Queued", "InProgress", "Baking", "Ready"],
    )["deployments"]
    for dep in active:  # a failed test must not leave the next one a busy group
        cd.stop_deployment(deploymentId=dep, autoRollbackEnabled=True)
    wait_idle(s, timeout=20)


ACTIVE = ["Created", "Queued", "InProgress", "Baking", "Ready"]


def wait_idle(s: Stack, timeout: float = 20.0) -> None:
    cd = s.client("codedeploy")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        active = cd.list_deployments(
            applicationName=s.result.application,
            deploymentGroupName=s.result.deployment_group,
            includeOnlyStatuses=ACTIVE,
        )["deployments"]
        if not active:
            return
        time.sleep(0.2)
    raise AssertionError(f"deployments still active: {active}")


@pytest.fixture
def cli() -> Callable[..., Ran]:
    """Run `bluegreen ARGS` in this process (stdin is not a TTY: cancel means rollback)."""
    return run_cli


def active(stack: Stack) -> list[str]:
    """The stack's deployments that are still in flight."""
    return list(
        stack.client("codedeploy").list_deployments(
            applicationName=stack.result.application,
            deploymentGroupName=stack.result.deployment_group,
            includeOnlyStatuses=ACTIVE,
        )["deployments"]
    )


def spawn(stack: Stack, *args: str) -> subprocess.Popen[str]:
    """Start `python -m bluegreen ARGS` in the stack's folder as a real subprocess."""
    return subprocess.Popen(
        [sys.executable, "-m", "bluegreen", *args],
        cwd=stack.dir,
        env=dict(os.environ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )


def result_of(stdout: str) -> dict[str, Any]:
    """The last JSON line of a command's stdout: its result."""
    return dict(json.loads(stdout.strip().splitlines()[-1]))
