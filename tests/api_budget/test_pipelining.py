"""Fan-out pipelining: once every preflight has passed, each service goes on to its own
CreateDeployment as soon as its own registration succeeds, never waiting for the others'.

Under AWS's RegisterTaskDefinition rate (the sandbox's realistic token buckets: a bucket of 20
refilled 1 a second), 100 registrations take well over a minute; a fan-out that registered
every revision before creating any deployment would hold the first release back that long.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from bluegreen.aws.session import Aws
from bluegreen.engines.codedeploy.follow import CancelFlag, SharedReads
from bluegreen.engines.model import Outcome, Output
from bluegreen.errors import ExitCode
from bluegreen.release.fanout import ReleaseRequest, Runner, fan_out, prepare_release
from bluegreen.sandbox.server import SandboxServer
from bluegreen.sandbox.stack import StackResult
from bluegreen.spec.load import load_spec
from bluegreen.spec.model import Spec
from tests.api_budget.conftest import SERVICES
from tests.api_budget.test_preflight import Out
from tests.conftest import sandbox_call


class Answers:
    """When each call of a session's clients got its answer (successful ones only)."""

    def __init__(self) -> None:
        self.seen: list[tuple[float, str]] = []
        self._lock = threading.Lock()

    def attach(self, aws: Aws) -> Aws:
        for service in SERVICES:
            for once in (False, True):  # CreateDeployment goes through the single-attempt one
                client = aws.client(service, single_attempt=once)
                client.meta.events.register("after-call", self._answered)
        return aws

    def _answered(self, http_response: Any, model: Any, **_: Any) -> None:
        if http_response.status_code < 300:
            with self._lock:
                self.seen.append((time.monotonic(), model.name))

    def times(self, operation: str) -> list[float]:
        with self._lock:
            return sorted(at for at, name in self.seen if name == operation)


def _drain_registrations(url: str) -> None:
    """Take every token of the account's RegisterTaskDefinition bucket (a client that never
    retries, registering until the endpoint throttles it)."""
    ecs = boto3.client(
        "ecs",
        endpoint_url=url,
        region_name="us-east-1",
        config=Config(retries={"mode": "standard", "total_max_attempts": 1}),
    )
    for n in range(60):
        try:
            ecs.register_task_definition(
                family="drain",
                containerDefinitions=[{"name": "x", "image": f"busybox:{n}", "memory": 16}],
            )
        except ClientError as exc:
            if "Throttl" not in exc.response["Error"]["Code"]:
                raise
            return
    raise AssertionError("RegisterTaskDefinition was never throttled")


def test_each_service_creates_its_deployment_without_waiting_for_the_others_registrations(
    aws_env: SandboxServer, stacks: list[StackResult]
) -> None:
    answers = Answers()
    aws = answers.attach(Aws(region="us-east-1"))
    shared = SharedReads(aws)
    request = ReleaseRequest(
        var_overrides={"log_level": "pipelined"},
        deployment_config="CodeDeployDefault.ECSAllAtOnce",
        wait=False,
    )
    specs: list[Spec] = [load_spec(Path(s.directory / "bluegreen.yaml"), None) for s in stacks]
    # Every preflight has passed once all three runners wait here; the bucket is then emptied,
    # so the registrations succeed one a second, as a large fan-out's do.
    ready = threading.Barrier(len(specs), action=lambda: _drain_registrations(aws_env.url))

    def prepare(spec: Spec) -> Runner:
        runner = prepare_release(spec, aws, request, cancel=CancelFlag(), shared=shared)

        def run(out: Output) -> Outcome:
            ready.wait(30)
            return runner(out)

        return run

    sandbox_call(aws_env, "faults", {"kind": "throttle", "realistic": True})
    try:
        result = fan_out(specs, prepare, Out(), max_parallel=len(specs))
    finally:
        sandbox_call(aws_env, "faults", method="DELETE")

    assert result.exit_code == ExitCode.OK, result.lines()
    registered = answers.times("RegisterTaskDefinition")
    created = answers.times("CreateDeployment")
    assert len(registered) == len(created) == len(specs)
    # the registrations were held to the bucket's rate: spread over seconds, not one burst
    assert registered[-1] - registered[0] >= 1.0, registered
    # the first release's deployment exists before the last service's revision does
    assert created[0] < registered[-1], (registered, created)
    # ... and followed its own registration at once (not one rate interval later)
    assert created[0] - registered[0] < 0.9, (registered, created)
    # AWS-side truth: each service's group has the deployment, on its new revision
    codedeploy = aws.codedeploy()
    for outcome in result.results.values():
        info = codedeploy.get_deployment(deploymentId=outcome.deployment_id)["deploymentInfo"]
        assert info["status"] in ("Created", "Queued", "InProgress", "Ready", "Succeeded")
