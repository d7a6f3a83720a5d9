"""Releases against the sandbox (the CodeDeploy engine + moto over HTTP), through the CLI.

The sandbox clock runs 600x: a 10-minute canary bake lasts one real second.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.codedeploy import Ran, Stack

LONG_CANARY = "canary:10%/60m"  # 6 s of real time at 600x: room to act mid-canary


def when(condition: Callable[[], bool], action: Callable[[], None], timeout: float = 20.0) -> None:
    """In a background thread: run `action` once `condition` holds."""

    errors: list[Exception] = []

    def poll() -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if condition():
                    action()
                    return
            except Exception as exc:  # the resource may not exist yet
                errors.append(exc)
            time.sleep(0.05)
        raise AssertionError(f"condition never held; errors: {errors[-3:]}")

    threading.Thread(target=poll, daemon=True).start()


def canary_live(stack: Stack) -> Callable[[], bool]:
    def check() -> bool:
        weights = stack.prod_weights()
        return len(weights) == 2 and all(0 < w < 100 for w in weights.values())

    return check


def add_to_rollback(stack: Stack, block: str) -> None:
    """Add YAML lines (indented two spaces) to the stack spec's `rollback:` section."""
    text = stack.spec.read_text()
    assert "\nvars:" in text
    stack.spec.write_text(text.replace("\nvars:", block.rstrip("\n") + "\nvars:", 1))


def events(ran: Ran, kind: str) -> list[dict[str, Any]]:
    return [line for line in ran.lines if line.get("event") == kind]


def test_success_reports_changes_and_ends_with_the_result(
    stack: Stack, cli: Callable[..., Ran]
) -> None:
    stack.push("v2")
    before = stack.live_task_definition()
    ran = cli("--output", "json", "deploy", "--image", f"web={stack.image('v2')}")
    assert ran.code == 0, ran.stderr
    result = ran.result
    assert set(result) == {
        "event",
        "deploymentId",
        "status",
        "taskDefinitionArn",
        "rolledBack",
        "exitCode",
        "reason",
    }
    assert (result["status"], result["rolledBack"], result["exitCode"]) == ("Succeeded", False, 0)
    assert result["taskDefinitionArn"] != before
    assert stack.live_task_definition() == result["taskDefinitionArn"]
    # what CreateDeployment carried
    info = stack.client("codedeploy").get_deployment(deploymentId=result["deploymentId"])
    info = info["deploymentInfo"]
    content = info["revision"]["appSpecContent"]["content"]
    assert info["revision"]["revisionType"] == "AppSpecContent"
    assert (
        info["revision"]["appSpecContent"]["sha256"] == hashlib.sha256(content.encode()).hexdigest()
    )
    appspec = json.loads(content)
    props = appspec["Resources"][0]["TargetService"]["Properties"]
    assert props["TaskDefinition"] == result["taskDefinitionArn"]
    assert props["LoadBalancerInfo"] == {"ContainerName": "web", "ContainerPort": 8080}
    assert info["description"].startswith("bluegreen release by ")
    assert stack.push("v2") in info["description"]  # the digest
    assert info["autoRollbackConfiguration"] == {
        "enabled": True,
        "events": ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"],
    }
    names = [e["name"] for e in events(ran, "lifecycle") if e["status"] == "Succeeded"]
    assert names[-1] == "AfterAllowTraffic"
    assert events(ran, "traffic")[-1]["green"] == 100.0
    # the same build again (forced: else it is skipped as already live): the task definition
    # is reused, not registered
    again = cli("--output", "json", "deploy", "--image", f"web={stack.image('v2')}", "--force")
    assert again.code == 0, again.stderr
    assert events(again, "registered")[0]["reused"] is True
    assert again.result["taskDefinitionArn"] == result["taskDefinitionArn"]


def test_dry_run_prints_the_plan_and_writes_nothing(stack: Stack, cli: Callable[..., Ran]) -> None:
    stack.push("v3")
    before = stack.live_task_definition()
    ran = cli(
        "--output",
        "json",
        "deploy",
        "--dry-run",
        "--image",
        f"web={stack.image('v3')}",
        "--deployment-config",
        "linear:20%/2m",
    )
    assert ran.code == 0, ran.stderr
    plan, result = ran.lines
    assert (result["status"], result["exitCode"]) == ("DryRun", 0)
    assert plan["event"] == "plan"
    assert plan["deploymentConfig"] == "bluegreen.Linear20PercentEvery2Minutes"
    assert plan["createDeploymentConfig"] is True
    assert plan["registerTaskDefinition"] is True
    assert plan["images"]["web"].split("@")[1] == "sha256:" + stack.push("v3").split(":")[1]
    env = plan["taskDefinition"]["containerDefinitions"][0]["environment"]
    assert env == [{"name": "LOG_LEVEL", "value": "info"}]  # not a secret: shown as it is
    cd = stack.client("codedeploy")
    assert stack.live_task_definition() == before
    names = cd.list_deployment_configs()["deploymentConfigsList"]
    assert "bluegreen.Linear20PercentEvery2Minutes" not in names


def test_shorthand_config_is_created_once(stack: Stack, cli: Callable[..., Ran]) -> None:
    stack.push("v4")
    ran = cli(
        "deploy", "--image", f"web={stack.image('v4')}", "--deployment-config", "linear:50%/1m"
    )
    assert ran.code == 0, ran.stderr
    cd = stack.client("codedeploy")
    info = cd.get_deployment_config(deploymentConfigName="bluegreen.Linear50PercentEvery1Minutes")
    routing = info["deploymentConfigInfo"]["trafficRoutingConfig"]
    assert routing["timeBasedLinear"] == {"linearPercentage": 50, "linearInterval": 1}


def test_alarm_mid_canary_rolls_back(
    stack: Stack, cli: Callable[..., Ran], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    stack.push("v5")
    before = stack.live_task_definition()
    alarm = stack.result.repository + "-5xx"

    def fire() -> None:
        stack.client("cloudwatch").set_alarm_state(
            AlarmName=alarm, StateValue="ALARM", StateReason="test: 5xx"
        )

    when(canary_live(stack), fire)
    ran = cli(
        "--output",
        "json",
        "deploy",
        "--image",
        f"web={stack.image('v5')}",
        "--deployment-config",
        LONG_CANARY,
    )
    assert ran.code == 1, ran.stderr
    assert ran.result["rolledBack"] is True
    assert ran.result["exitCode"] == 1
    assert ran.result["status"] in ("Stopped", "Failed")
    assert events(ran, "rollback")
    assert stack.live_task_definition() == before
    assert "::error title=bluegreen::" in ran.stderr
    assert "| rolled back | yes |" in summary.read_text()


def test_metric_check_rolls_back(stack: Stack, cli: Callable[..., Ran]) -> None:
    stack.push("v6")
    before = stack.live_task_definition()
    add_to_rollback(
        stack,
        """
  metrics:
    - name: green-5xx
      metric: HTTPCode_Target_5XX_Count
      stat: Sum
      target_group: green
      comparison: GreaterThanThreshold
      threshold: 5
""",
    )
    put_green_errors(stack)
    ran = cli(
        "--output",
        "json",
        "deploy",
        "--image",
        f"web={stack.image('v6')}",
        "--deployment-config",
        LONG_CANARY,
    )
    assert ran.code == 1, ran.stderr
    stops = events(ran, "stop")
    assert stops[0]["kind"] == "metric"
    assert ran.result["rolledBack"] is True
    assert stack.live_task_definition() == before


def put_green_errors(stack: Stack) -> None:
    """Once the canary is live, 50 5xx on the target group taking the canary share."""
    elb = stack.client("elbv2")

    def fire() -> None:
        weights = stack.prod_weights()
        green = min(weights, key=lambda n: weights[n])
        tg = elb.describe_target_groups(Names=[green])["TargetGroups"][0]
        tg_dim = tg["TargetGroupArn"].split(":", 5)[-1]
        lb_dim = tg["LoadBalancerArns"][0].split(":", 5)[-1].removeprefix("loadbalancer/")
        stack.client("cloudwatch").put_metric_data(
            Namespace="AWS/ApplicationELB",
            MetricData=[
                {
                    "MetricName": "HTTPCode_Target_5XX_Count",
                    "Dimensions": [
                        {"Name": "TargetGroup", "Value": tg_dim},
                        {"Name": "LoadBalancer", "Value": lb_dim},
                    ],
                    "Value": 50.0,
                    "Unit": "Count",
                }
            ],
        )

    when(canary_live(stack), fire)


def test_status_shows_service_task_sets_and_deployment(
    stack: Stack, cli: Callable[..., Ran]
) -> None:
    stack.push("v7")
    done = cli("-o", "json", "deploy", "--image", f"web={stack.image('v7')}")
    assert done.code == 0, done.stderr
    ran = cli("-o", "json", "status")
    assert ran.code == 0, ran.stderr
    status, _result = ran.lines
    assert (status["cluster"], status["service"]) == ("web-cluster", "web")
    assert status["deploymentController"] == "CODE_DEPLOY"
    assert status["taskDefinitionArn"] == done.result["taskDefinitionArn"]
    primary = [t for t in status["taskSets"] if t["status"] == "PRIMARY"]
    assert [t["taskDefinitionArn"] for t in primary] == [done.result["taskDefinitionArn"]]
    dep = status["deployment"]
    assert dep["deploymentId"] == done.result["deploymentId"]
    assert dep["status"] == "Succeeded"
    assert dep["active"] is False
    text = cli("status")
    assert text.code == 0, text.stderr
    assert f"last deployment {done.result['deploymentId']}: Succeeded" in text.stdout


def test_stop_without_rollback_leaves_green_serving(stack: Stack, cli: Callable[..., Ran]) -> None:
    stack.push("v8")
    started = cli(
        "-o",
        "json",
        "deploy",
        "--image",
        f"web={stack.image('v8')}",
        "--no-wait",
        "--deployment-config",
        LONG_CANARY,
    )
    assert started.code == 0, started.stderr
    dep = started.result["deploymentId"]
    deadline = time.monotonic() + 20
    while not canary_live(stack)() and time.monotonic() < deadline:
        time.sleep(0.05)
    ran = cli("-o", "json", "stop", dep, "--no-rollback")
    assert ran.code == 0, ran.stderr
    assert ran.result["status"] == "Stopped"
    assert ran.result["rolledBack"] is False
    assert events(ran, "rollback") == []
