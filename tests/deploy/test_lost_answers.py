"""Mutating calls are idempotent across lost answers (DESIGN.md): when CreateDeployment's answer
is lost (a 500 after the deployment was created, or the connection closed) the CLI recognises
its own deployment by the release id in its description and follows it, never starting a
second one; and after a cancel (SIGTERM) nothing more is written."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import sandbox_call
from tests.fixtures.codedeploy import Stack, active, spawn
from tests.helpers import Ran, records

ALL_AT_ONCE = "CodeDeployDefault.ECSAllAtOnce"


def _deployments(stack: Stack) -> set[str]:
    """Every deployment of the stack's group, whatever its status."""
    cd = stack.client("codedeploy")
    found: set[str] = set()
    kwargs = {
        "applicationName": stack.result.application,
        "deploymentGroupName": stack.result.deployment_group,
    }
    while True:
        resp = cd.list_deployments(**kwargs)
        found.update(resp["deployments"])
        if not resp.get("nextToken"):
            return found
        kwargs["nextToken"] = resp["nextToken"]


@pytest.mark.parametrize(("mode", "queue"), [("error", False), ("reset", False), ("error", True)])
def test_lost_create_deployment_answer_adopts_the_runs_own_deployment(
    stack: Stack, cli: Callable[..., Ran], mode: str, queue: bool
) -> None:
    tag = f"la-{mode}-{queue}"
    stack.push(tag)
    before = _deployments(stack)
    sandbox_call(
        stack.sandbox,
        "faults",
        {"kind": "lost-answer", "operation": "CreateDeployment", "mode": mode, "count": 1},
    )
    args = ["-o", "json", "deploy", "--image", f"web={stack.image(tag)}"]
    args += ["--deployment-config", ALL_AT_ONCE, *(["--queue"] if queue else [])]
    ran = cli(*args)
    created = _deployments(stack) - before
    assert len(created) == 1, created  # the lost answer's deployment, and no second one
    (dep,) = created
    assert ran.code == 0, ran.stderr
    assert ran.result["deploymentId"] == dep
    assert ran.result["status"] == "Succeeded"
    info = stack.client("codedeploy").get_deployment(deploymentId=dep)["deploymentInfo"]
    assert info["status"] == "Succeeded"
    intents = [
        r
        for r in records(Path(os.environ["BLUEGREEN_JOURNAL"]))
        if r.get("action") == "CreateDeployment"
    ]
    assert intents
    assert intents[-1]["releaseId"] in info["description"]


def test_sigterm_during_register_creates_no_deployment(stack: Stack) -> None:
    stack.push("la-term")
    before = _deployments(stack)
    journal = Path(os.environ["BLUEGREEN_JOURNAL"])
    sandbox_call(stack.sandbox, "faults", {"kind": "latency", "service": "ecs", "ms": 1500})
    proc = spawn(
        stack,
        "-o",
        "json",
        "deploy",
        "--image",
        f"web={stack.image('la-term')}",
        "--deployment-config",
        ALL_AT_ONCE,
    )
    try:
        deadline = time.monotonic() + 60
        while not any(
            r.get("action") == "RegisterTaskDefinition" for r in records(journal)
        ):  # the intent is journalled just before the (slow) call goes out
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.02)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    sandbox_call(stack.sandbox, "faults", method="DELETE")
    assert proc.returncode == 130, err
    assert "cancelled" in err
    assert "created deployment" not in out
    assert _deployments(stack) == before  # no CreateDeployment after the cancel
    assert not active(stack)
    kinds = [(r["kind"], r.get("action")) for r in records(journal)]
    assert ("intent", "CreateDeployment") not in kinds, json.dumps(kinds)
