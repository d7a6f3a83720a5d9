"""The API budget of following a release: a bake costs about one read per 6 s of the endpoint's
clock, counted through a proxy in front of the sandbox (counts, not timings, are asserted)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from bench.api_budget_bench import CountingProxy
from tests.conftest import SANDBOX_TIME_SCALE, sandbox_call
from tests.fixtures.codedeploy import Stack
from tests.helpers import Ran

SCALE = 6.0  # the steady read every wall second; the canary's 1-minute bake lasts 10 s


def _allow_traffic(stack: Stack, deployment_id: str) -> dict[str, Any] | None:
    cd = stack.client("codedeploy")
    target_id = f"{stack.result.cluster}:{stack.result.service}"
    try:
        target = cd.get_deployment_target(deploymentId=deployment_id, targetId=target_id)
    except cd.exceptions.ClientError:
        return None
    events = target["deploymentTarget"]["ecsTarget"].get("lifecycleEvents", [])
    return next((e for e in events if e["lifecycleEventName"] == "AllowTraffic"), None)


def _speed_up_after_the_shift(stack: Stack, stop: threading.Event) -> None:
    """Once the canary's shift is over, run the termination wait at the tests' fast clock."""
    cd = stack.client("codedeploy")
    while not stop.wait(0.1):
        ids = cd.list_deployments(
            applicationName=stack.result.application,
            deploymentGroupName=stack.result.deployment_group,
            includeOnlyStatuses=["InProgress"],
        )["deployments"]
        allow = _allow_traffic(stack, ids[0]) if ids else None
        if allow is not None and allow["status"] == "Succeeded":
            sandbox_call(stack.sandbox, "settings", {"timeScale": SANDBOX_TIME_SCALE})
            return


def test_a_canary_bake_costs_one_read_per_6_s_and_still_reports_the_shift(
    stack: Stack, cli: Callable[..., Ran], monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox_call(stack.sandbox, "settings", {"timeScale": SCALE})
    stack.push("budget")
    proxy = CountingProxy(stack.sandbox.url)
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
    stop = threading.Event()
    helper = threading.Thread(target=_speed_up_after_the_shift, args=(stack, stop), daemon=True)
    helper.start()
    try:
        ran = cli(
            "--output",
            "json",
            "deploy",
            "--image",
            f"web={stack.image('budget')}",
            "--deployment-config",
            "canary:10%/1m",
        )
    finally:
        stop.set()
        helper.join(5)
        proxy.close()
    assert ran.code == 0, ran.stderr
    allow = _allow_traffic(stack, ran.result["deploymentId"])
    assert allow is not None
    assert allow["status"] == "Succeeded"
    began = allow["startTime"].timestamp()
    # the bake: from just after the 10% shift to just before the expected step to 100%
    start, end = began + 0.5, began + 60.0 / SCALE - 0.5
    calls = proxy.between(start, end)
    minutes = (end - start) * SCALE / 60.0
    assert sum(calls.values()) <= 10.0 * minutes + 1, calls  # 6 s a read, on its clock
    # the alarms are CodeDeploy's to act on (stop and rollback): the bake reads none
    assert set(calls) <= {"GetDeploymentTarget", "GetDeployment"}, calls
    # the reads of the bake carry what it did: both steps reported, and the end
    traffic = [(e["blue"], e["green"]) for e in ran.events("traffic")]
    assert (90.0, 10.0) in traffic
    assert traffic[-1] == (0.0, 100.0)
    assert ran.result["status"] == "Succeeded"
