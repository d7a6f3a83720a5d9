"""Releases through the real CLI while the sandbox misbehaves: throttling, latency, a stalled
endpoint, a killed or terminated client, failing hooks and unhealthy green tasks.

Every test ends by checking production itself: the production listener sends all its traffic
to the target group of the service's PRIMARY task set, that task set runs the expected task
definition and is at steady state with its tasks running, and the journal holds the deployment.
The sandbox clock runs 600x (tests/conftest.py), so a 60-minute canary bakes in 6 s.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3

from tests import helpers
from tests.conftest import sandbox_call
from tests.fixtures.codedeploy import Ran, Stack, active, result_of, spawn
from tests.helpers import records as journal_records

LONG_CANARY = "canary:10%/60m"  # 6 s of wall time at 600x: room to act mid-canary

# "500 ms" of API latency, scaled 10:1 so a release of a few hundred calls stays fast; every call
# still really waits this long on the wire (and 50 ms of wall time is 30 s on the 600x clock).
SCALED_LATENCY_MS = 50
PAUSE_SECONDS = 10.0


# --- helpers --------------------------------------------------------------------------------------
def wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    helpers.wait_for(condition, timeout, tolerate=True)  # the resources may not exist yet


def canary_live(stack: Stack) -> bool:
    weights = stack.prod_weights()
    return len(weights) == 2 and all(0 < w < 100 for w in weights.values())


def fault(cli: Callable[..., Ran], *args: str) -> None:
    """Inject a fault through the CLI (`bluegreen sandbox fault ...`)."""
    ran = cli("sandbox", "fault", *args)
    assert ran.code == 0, ran.stderr


def journal() -> list[dict[str, Any]]:
    return journal_records(Path(os.environ["BLUEGREEN_JOURNAL"]))


def assert_production_on(stack: Stack, task_definition: str, deployment_id: str) -> None:
    """All production traffic on the PRIMARY task set's target group, that task set running
    `task_definition`, steady and with its tasks running; no deployment left in flight."""
    assert not active(stack)
    svc = stack.client("ecs").describe_services(
        cluster=stack.result.cluster, services=[stack.result.service]
    )["services"][0]
    primary = [ts for ts in svc["taskSets"] if ts["status"] == "PRIMARY"]
    assert len(primary) == 1, svc["taskSets"]
    (ts,) = primary
    assert ts["taskDefinition"] == task_definition
    assert svc["taskDefinition"] == task_definition
    assert ts["stabilityStatus"] == "STEADY_STATE"
    assert ts["scale"] == {"value": 100.0, "unit": "PERCENT"}
    tg_arn = ts["loadBalancers"][0]["targetGroupArn"]
    tg_name = stack.client("elbv2").describe_target_groups(TargetGroupArns=[tg_arn])[
        "TargetGroups"
    ][0]["TargetGroupName"]
    weights = stack.prod_weights()
    assert weights.get(tg_name, 0) > 0
    assert sum(w for name, w in weights.items() if name != tg_name) == 0, weights
    # the tasks behind that target group are up and healthy (the engine's view of them)
    cd = stack.client("codedeploy")
    dep = cd.get_deployment(deploymentId=deployment_id)["deploymentInfo"]
    last = dep.get("rollbackInfo", {}).get("rollbackDeploymentId") or deployment_id
    (target,) = cd.list_deployment_targets(deploymentId=last)["targetIds"]
    info = cd.get_deployment_target(deploymentId=last, targetId=target)
    sets = info["deploymentTarget"]["ecsTarget"]["taskSetsInfo"]
    serving = [s for s in sets if s["targetGroup"]["name"] == tg_name]
    assert len(serving) == 1, sets
    assert serving[0]["trafficWeight"] == 100.0
    assert serving[0]["runningCount"] == serving[0]["desiredCount"] >= 1, sets


def assert_journalled(deployment_id: str, *, result: str | None) -> None:
    records = [r for r in journal() if r.get("deploymentId") == deployment_id]
    kinds = [r["kind"] for r in records]
    assert "created" in kinds, kinds
    if result is not None:
        ends = [r for r in records if r["kind"] == "result"]
        assert ends, kinds
        assert ends[-1]["status"] == result


def deploy_args(stack: Stack, tag: str, *extra: str) -> list[str]:
    return ["-o", "json", "deploy", "--image", f"web={stack.image(tag)}", *extra]


# --- throttling and latency -----------------------------------------------------------------------
# one cheap read on each of five services, to see a fault bite
PROBE_READS = {
    "ecs": "list_clusters",
    "elbv2": "describe_load_balancers",
    "codedeploy": "list_applications",
    "cloudwatch": "describe_alarms",
    "ecr": "describe_repositories",
}


def throttled_share(stack: Stack) -> float:
    """Share of 40 single-attempt reads (8 on each of five services) answered with throttling."""
    from botocore.config import Config
    from botocore.exceptions import ClientError

    once = Config(retries={"mode": "standard", "max_attempts": 1})
    codes: list[str] = []
    for service, operation in PROBE_READS.items():
        client = boto3.client(  # type: ignore[call-overload]
            service, endpoint_url=stack.sandbox.url, region_name="us-east-1", config=once
        )
        for _ in range(8):
            try:
                getattr(client, operation)()
            except ClientError as exc:
                codes.append(str(exc.response["Error"]["Code"]))
    assert all("Throttl" in code for code in codes), codes
    return len(codes) / 40


def test_release_completes_under_30_percent_throttling_everywhere(
    stack: Stack, cli: Callable[..., Ran]
) -> None:
    stack.push("f1")
    fault(cli, "throttle", "--rate", "0.3")
    listed = sandbox_call(stack.sandbox, "faults", method="GET")["faults"]
    assert [(f["kind"], f["rate"]) for f in listed] == [("throttle", 0.3)], listed
    share = throttled_share(stack)
    if share == 0:  # seen once in CI and never reproduced: a second window says more
        share = throttled_share(stack)
        listed = sandbox_call(stack.sandbox, "faults", method="GET")["faults"]
    assert 0 < share < 1, listed  # it bites, on every service
    ran = cli(*deploy_args(stack, "f1"))
    throttled_left = cli("-o", "json", "sandbox", "fault", "list")
    fault(cli, "clear")  # the checks below use plain clients
    assert ran.code == 0, ran.stderr
    assert ran.result["status"] == "Succeeded"
    assert_production_on(stack, ran.result["taskDefinitionArn"], ran.result["deploymentId"])
    assert_journalled(ran.result["deploymentId"], result="Succeeded")
    # the fault stayed in force for the whole release (it is not count-limited)
    assert '"throttle"' in throttled_left.stdout


def test_release_completes_with_latency_on_every_call(
    stack: Stack, cli: Callable[..., Ran]
) -> None:
    stack.push("f2")
    fault(cli, "latency", "--ms", str(SCALED_LATENCY_MS))
    for service, operation in PROBE_READS.items():
        client = stack.client(service)
        started = time.monotonic()
        getattr(client, operation)()
        assert time.monotonic() - started >= SCALED_LATENCY_MS / 1000, service
    started = time.monotonic()
    ran = cli(*deploy_args(stack, "f2"))
    took = time.monotonic() - started
    assert ran.code == 0, ran.stderr
    assert ran.result["status"] == "Succeeded"
    # a release makes far more than 20 calls; each one waited
    assert took >= 20 * SCALED_LATENCY_MS / 1000
    assert_production_on(stack, ran.result["taskDefinitionArn"], ran.result["deploymentId"])
    assert_journalled(ran.result["deploymentId"], result="Succeeded")


def test_release_survives_the_endpoint_stalling_for_10_seconds(
    stack: Stack, cli: Callable[..., Ran]
) -> None:
    """Mid-canary every request hangs for 10 s (a latency fault of 10 s on all calls for a
    10 s window); the client waits it out and reports the deployment's real end."""
    stack.push("f3")
    stalled = threading.Event()

    def stall() -> None:
        wait_for(lambda: canary_live(stack))
        fault(cli, "latency", "--ms", str(int(PAUSE_SECONDS * 1000)))
        stalled.set()
        time.sleep(PAUSE_SECONDS)
        fault(cli, "clear")

    thread = threading.Thread(target=stall, daemon=True)
    started = time.monotonic()
    thread.start()
    ran = cli(*deploy_args(stack, "f3", "--deployment-config", LONG_CANARY))
    took = time.monotonic() - started
    thread.join(timeout=30)
    assert stalled.is_set()
    assert ran.code == 0, ran.stderr
    assert ran.result["status"] == "Succeeded"
    assert took >= PAUSE_SECONDS  # the client really sat through the stall
    assert_production_on(stack, ran.result["taskDefinitionArn"], ran.result["deploymentId"])
    assert_journalled(ran.result["deploymentId"], result="Succeeded")


# --- the client dies or is told to stop -----------------------------------------------------------
def test_sigkill_mid_canary_then_watch_reports_the_end(
    stack: Stack, cli: Callable[..., Ran]
) -> None:
    stack.push("f4")
    # the long canary (6 s of wall time) leaves a loaded machine room between the kill and
    # the check that the deployment carries on
    proc = spawn(stack, *deploy_args(stack, "f4", "--deployment-config", LONG_CANARY))
    try:
        wait_for(lambda: canary_live(stack))
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=10)
    finally:
        proc.kill()
    assert proc.returncode == -signal.SIGKILL
    created = [r for r in journal() if r["kind"] == "created"]
    assert len(created) == 1
    dep = created[0]["deploymentId"]
    assert_journalled(dep, result=None)
    assert not [r for r in journal() if r["kind"] == "result"]  # nobody saw the end yet
    assert active(stack) == [dep]  # the deployment carries on without its client
    watched = cli("-o", "json", "watch")
    assert watched.code == 0, watched.stderr
    assert watched.result["deploymentId"] == dep
    assert watched.result["status"] == "Succeeded"
    assert_production_on(stack, watched.result["taskDefinitionArn"], dep)
    assert watched.result["taskDefinitionArn"] == created[0]["taskDefinitionArn"]
    assert_journalled(dep, result="Succeeded")


def test_sigterm_mid_canary_exits_130_with_production_back_on_blue(stack: Stack) -> None:
    stack.push("f5")
    blue = stack.live_task_definition()
    proc = spawn(stack, *deploy_args(stack, "f5", "--deployment-config", LONG_CANARY))
    try:
        wait_for(lambda: canary_live(stack))
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    result = result_of(out)
    assert (result["exitCode"], result["rolledBack"]) == (130, True)
    assert result["taskDefinitionArn"] != blue
    assert_production_on(stack, blue, result["deploymentId"])
    assert_journalled(result["deploymentId"], result=result["status"])


# --- the release itself goes wrong ----------------------------------------------------------------
def test_failing_hook_rolls_back_exit_1(stack: Stack, cli: Callable[..., Ran]) -> None:
    stack.push("f6")
    blue = stack.live_task_definition()
    text = stack.spec.read_text()
    stack.spec.write_text(
        text.replace(
            "  deployment_config:",
            "  hooks:\n    AfterAllowTestTraffic: web-smoke-tests\n  deployment_config:",
            1,
        )
    )
    fault(cli, "hook-fail", "--event", "AfterAllowTestTraffic")
    ran = cli(*deploy_args(stack, "f6"))
    assert ran.code == 1, ran.stderr
    assert (ran.result["exitCode"], ran.result["rolledBack"]) == (1, True)
    assert ran.result["status"] == "Failed"
    assert "AfterAllowTestTraffic" in ran.stdout + ran.stderr
    assert_production_on(stack, blue, ran.result["deploymentId"])
    assert_journalled(ran.result["deploymentId"], result="Failed")


def test_unhealthy_green_rolls_back_exit_1(stack: Stack, cli: Callable[..., Ran]) -> None:
    stack.push("f7")
    blue = stack.live_task_definition()
    fault(cli, "unhealthy-green")
    ran = cli(*deploy_args(stack, "f7"))
    assert ran.code == 1, ran.stderr
    assert (ran.result["exitCode"], ran.result["rolledBack"]) == (1, True)
    assert ran.result["status"] == "Failed"
    assert_production_on(stack, blue, ran.result["deploymentId"])
    assert_journalled(ran.result["deploymentId"], result="Failed")


def test_green_turning_unhealthy_mid_canary_rolls_back_exit_1(
    stack: Stack, cli: Callable[..., Ran]
) -> None:
    stack.push("f8")
    blue = stack.live_task_definition()
    fault(cli, "unhealthy-green", "--after", "10m")
    ran = cli(*deploy_args(stack, "f8", "--deployment-config", LONG_CANARY))
    assert ran.code == 1, ran.stderr
    assert (ran.result["exitCode"], ran.result["rolledBack"]) == (1, True)
    assert_production_on(stack, blue, ran.result["deploymentId"])
    assert_journalled(ran.result["deploymentId"], result=ran.result["status"])


def test_sigterm_during_a_stalled_preflight_changes_nothing(
    stack: Stack, cli: Callable[..., Ran]
) -> None:
    """Terminated while every call hangs 1.5 s, before anything is written: the process ends at
    once after the call in hand, nothing is registered or created, production is untouched."""
    stack.push("f9")
    blue = stack.live_task_definition()
    ecs = stack.client("ecs")
    revisions = ecs.list_task_definitions(familyPrefix="web")["taskDefinitionArns"]
    fault(cli, "latency", "--ms", "1500")
    proc = spawn(stack, *deploy_args(stack, "f9", "--deployment-config", LONG_CANARY))
    try:
        time.sleep(2.5)  # started, and a few calls into the preflight
        proc.send_signal(signal.SIGTERM)
        started = time.monotonic()
        _, err = proc.communicate(timeout=30)
        took = time.monotonic() - started
    finally:
        proc.kill()
        fault(cli, "clear")
    assert took < 5.0
    assert not [r for r in journal() if r["kind"] == "created"]
    assert ecs.list_task_definitions(familyPrefix="web")["taskDefinitionArns"] == revisions
    assert not active(stack)
    assert stack.live_task_definition() == blue
    assert sum(stack.prod_weights().values()) > 0
    assert proc.returncode == 130, err


def test_sigkill_then_watch_reports_a_rollback_it_did_not_start(
    stack: Stack, cli: Callable[..., Ran]
) -> None:
    """The client dies mid-canary; green then turns unhealthy and CodeDeploy rolls back on its
    own. `watch` re-attaches and reports that end: exit 1, rolled back, production on blue."""
    stack.push("f10")
    blue = stack.live_task_definition()
    proc = spawn(stack, *deploy_args(stack, "f10", "--deployment-config", LONG_CANARY))
    try:
        wait_for(lambda: canary_live(stack))
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=10)
    finally:
        proc.kill()
    fault(cli, "unhealthy-green")
    (created,) = [r for r in journal() if r["kind"] == "created"]
    watched = cli("-o", "json", "watch")
    assert watched.code == 1, watched.stderr
    assert watched.result["deploymentId"] == created["deploymentId"]
    assert (watched.result["exitCode"], watched.result["rolledBack"]) == (1, True)
    assert_production_on(stack, blue, created["deploymentId"])
    assert_journalled(created["deploymentId"], result=watched.result["status"])
