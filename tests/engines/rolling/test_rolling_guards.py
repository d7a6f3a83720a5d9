"""Guards on rolling updates, and services no engine of bluegreen's releases (issue: one engine
seam). Every assertion about where production is reads the service back through boto3.

- An alarm the spec declares, in ALARM during the rollout, returns the service to the previous
  revision (exit 1); the alarms are also set as the service's deployment alarms with rollback
  (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/deployment-alarm-failure.html).
- A failing verify command, run once the rollout completed, rolls back (exit 1).
- Metric checks cannot gate a rolling update: refused before any write (exit 2).
- A service ECS releases itself as blue/green (deploymentConfiguration.strategy BLUE_GREEN,
  https://docs.aws.amazon.com/AmazonECS/latest/developerguide/deployment-type-blue-green.html)
  goes to the ECS-native engine, never run as a rolling update.
"""

from __future__ import annotations

from typing import Any

import pytest

from bluegreen.errors import ExitCode
from tests.fixtures.rolling import Stack
from tests.helpers import run_cli


def _alarm(stack: Stack, name: str) -> None:
    stack.aws.cloudwatch().put_metric_alarm(
        AlarmName=name,
        MetricName="HTTPCode_Target_5XX_Count",
        Namespace="AWS/ApplicationELB",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=5,
        ComparisonOperator="GreaterThanThreshold",
    )


def _primary(svc: dict[str, Any]) -> dict[str, Any]:
    return next(d for d in svc["deployments"] if d["status"] == "PRIMARY")


def test_alarm_in_alarm_rolls_a_rolling_update_back(stack: Stack) -> None:
    old = stack.service("apps", "api", breaker=None)
    stack.push("v2")
    _alarm(stack, "api-5xx")
    spec = stack.spec("apps", "api", extra="rollback: {alarms: [api-5xx]}\n")
    stack.aws.cloudwatch().set_alarm_state(
        AlarmName="api-5xx", StateValue="ALARM", StateReason="errors"
    )
    ran = run_cli("--output", "json", "-c", str(spec), "deploy", "--timeout", "60s")
    assert ran.code == ExitCode.FAILED, ran.stdout + ran.stderr
    assert "api-5xx" in ran.result["reason"]
    assert ran.result["rolledBack"] is True
    svc = stack.describe("apps", "api")
    assert svc["taskDefinition"] == old
    assert _primary(svc)["taskDefinition"] == old
    # the alarm is the service's deployment alarm too, with rollback, as ECS reads it
    alarms = svc["deploymentConfiguration"]["alarms"]
    assert alarms == {"alarmNames": ["api-5xx"], "enable": True, "rollback": True}


def test_alarms_merge_with_the_services_own(stack: Stack) -> None:
    stack.service("apps", "api")
    stack.push("v2")
    _alarm(stack, "api-5xx")
    _alarm(stack, "api-latency")
    stack.aws.ecs().update_service(
        cluster="apps",
        service="api",
        deploymentConfiguration={
            "minimumHealthyPercent": 100,
            "maximumPercent": 200,
            "deploymentCircuitBreaker": {"enable": True, "rollback": True},
            "alarms": {"alarmNames": ["api-latency"], "enable": True, "rollback": True},
        },
    )
    stack.steady("apps", "api")
    spec = stack.spec("apps", "api", extra="rollback: {alarms: [api-5xx]}\n")
    ran = run_cli("--output", "json", "-c", str(spec), "deploy", "--timeout", "60s")
    assert ran.code == ExitCode.OK, ran.stdout + ran.stderr
    conf = stack.describe("apps", "api")["deploymentConfiguration"]
    assert conf["alarms"] == {
        "alarmNames": ["api-latency", "api-5xx"],
        "enable": True,
        "rollback": True,
    }
    assert conf["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}


@pytest.mark.parametrize(("command", "code"), [("false", ExitCode.FAILED), ("true", ExitCode.OK)])
def test_verify_gates_a_rolling_update(stack: Stack, command: str, code: int) -> None:
    old = stack.service("apps", "api")
    stack.push("v2")
    spec = stack.spec("apps", "api")
    ran = run_cli(
        "--output", "json", "-c", str(spec), "deploy", "--verify", command, "--timeout", "60s"
    )
    assert ran.code == code, ran.stdout + ran.stderr
    svc = stack.describe("apps", "api")
    verify = [e for e in ran.lines if e.get("event") == "verify"]
    assert [e["phase"] for e in verify] == ["started", "ended"]
    if code == ExitCode.OK:
        assert svc["taskDefinition"] == ran.result["taskDefinitionArn"] != old
    else:
        assert "verify failed" in ran.result["reason"]
        assert ran.result["rolledBack"] is True
        assert svc["taskDefinition"] == old
        assert _primary(svc)["taskDefinition"] == old


def test_metric_checks_are_refused_on_a_rolling_update(stack: Stack) -> None:
    stack.service("apps", "api")
    stack.push("v2")
    before = stack.revisions("api")
    spec = stack.spec(
        "apps",
        "api",
        extra=(
            "rollback:\n  metrics:\n    - {name: green-5xx, metric: HTTPCode_Target_5XX_Count,"
            " stat: Sum, target_group: green, comparison: GreaterThanThreshold, threshold: 5}\n"
        ),
    )
    ran = run_cli("-c", str(spec), "deploy")
    assert ran.code == ExitCode.USAGE, ran.stdout + ran.stderr
    assert "rollback.metrics" in ran.stderr
    assert stack.revisions("api") == before
    assert len(stack.describe("apps", "api")["deployments"]) == 1


def _native_service(stack: Stack) -> str:
    """An ECS-controller service whose deployment strategy is BLUE_GREEN."""
    td = stack.service("apps", "api", breaker=None)
    stack.aws.ecs().update_service(
        cluster="apps",
        service="api",
        deploymentConfiguration={
            "minimumHealthyPercent": 100,
            "maximumPercent": 200,
            "strategy": "BLUE_GREEN",
            "bakeTimeInMinutes": 5,
        },
    )
    stack.steady("apps", "api")
    assert stack.describe("apps", "api")["deploymentConfiguration"]["strategy"] == "BLUE_GREEN"
    return td


@pytest.mark.parametrize("verb", [["deploy"], ["deploy", "--dry-run"]])
def test_ecs_native_services_go_to_the_native_engine_not_rolled(
    stack: Stack, verb: list[str]
) -> None:
    """The ECS-native engine releases a BLUE_GREEN service, never the rolling one: its preflight
    finds no advancedConfiguration here (no listener rules to shift) and refuses before any
    write, naming what is missing."""
    live = _native_service(stack)
    stack.push("v2")
    spec = stack.spec("apps", "api")
    before = stack.revisions("api")
    deployments = [d["id"] for d in stack.describe("apps", "api")["deployments"]]
    ran = run_cli("-c", str(spec), *verb)
    assert ran.code == ExitCode.USAGE, ran.stdout + ran.stderr
    assert "advancedConfiguration" in ran.stderr
    assert "rollout completed" not in ran.stdout
    svc = stack.describe("apps", "api")
    assert svc["taskDefinition"] == live
    assert [d["id"] for d in svc["deployments"]] == deployments
    assert stack.revisions("api") == before


def test_status_of_an_ecs_native_service_is_the_native_engines(stack: Stack) -> None:
    _native_service(stack)
    spec = stack.spec("apps", "api")
    ran = run_cli("--output", "json", "-c", str(spec), "status")
    assert ran.code == ExitCode.OK, ran.stdout + ran.stderr
    status = ran.events("status")[0]
    assert status["strategy"] == "BLUE_GREEN"
    assert "productionRuleWeights" in status


def test_doctor_names_the_ecs_native_strategy(stack: Stack) -> None:
    _native_service(stack)
    spec = stack.spec("apps", "api")
    ran = run_cli("--output", "json", "-c", str(spec), "doctor")
    controller = [f for f in ran.lines if f.get("check") == "controller"]
    assert controller, ran.stdout
    assert controller[0]["level"] == "ok"
    assert "ECS-native" in controller[0]["message"]
    assert "BLUE_GREEN" in controller[0]["message"]
    routes = [f for f in ran.lines if f.get("check") == "routes"]
    assert routes, ran.stdout
    assert routes[0]["level"] == "error", ran.stdout
    assert "advancedConfiguration" in routes[0]["fix"]
    assert ran.code == ExitCode.USAGE, ran.stdout + ran.stderr
