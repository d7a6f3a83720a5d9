"""ECS-native releases through the CLI against the sandbox, judged from AWS's side: the
production listener RULE's weights (DescribeRules), the service's taskDefinition and target
group, and the ServiceDeployment's status (DescribeServiceDeployments).

Doc keys as in ../shared/reference/ecs-native-bluegreen.md (BG, CAN, LIN, PAUSE, CONT, STOP,
ALARM), pages under https://docs.aws.amazon.com/AmazonECS/latest/developerguide/<page>.html."""

from __future__ import annotations

from typing import Any

import pytest

from bluegreen.errors import ExitCode
from tests.fixtures.native import Native, dumps


def weights_seen(ran_lines: list[dict[str, Any]]) -> list[float]:
    """Green's production share as the release reported it, in order, without repeats."""
    seen: list[float] = []
    for line in ran_lines:
        if line.get("event") == "weights" and (not seen or seen[-1] != line["production"]):
            seen.append(float(line["production"]))
    return seen


@pytest.mark.parametrize(
    ("config", "strategy", "steps"),
    [
        ("all-at-once", "BLUE_GREEN", [0.0, 100.0]),
        ("canary:10%/1m", "CANARY", [0.0, 10.0, 100.0]),
        ("linear:40%/1m", "LINEAR", [0.0, 40.0, 80.0, 100.0]),
    ],
)
def test_release_shifts_production_per_strategy(
    native: Native, config: str, strategy: str, steps: list[float]
) -> None:
    """[BG; CAN; LIN]: the release's strategy is set on the service, the weights move as
    configured, and production ends wholly on green, the service on the new revision."""
    native.configure(bakeTimeInMinutes=0)
    native.settings(timeScale=30)  # a minute of baking is 2 s: every step is observed
    before = native.serving()
    old = native.service()["taskDefinition"]
    ran = native.deploy("--deployment-config", config)
    assert ran.code == 0, ran.stdout + ran.stderr
    result = ran.result
    arn = result["deploymentId"]
    assert ":service-deployment/" in arn
    assert result["status"] == "SUCCESSFUL"
    assert result["rolledBack"] is False
    deployment = native.deployment(arn)
    assert deployment["status"] == "SUCCESSFUL"
    assert deployment["deploymentConfiguration"]["strategy"] == strategy
    svc = native.service()
    assert svc["taskDefinition"] == result["taskDefinitionArn"] != old
    assert native.serving() != before
    assert svc["loadBalancers"][0]["targetGroupArn"] == native.serving()
    assert weights_seen(ran.lines) == steps, dumps(ran.lines)
    # I4: the spec's alarms are the service's deployment alarms, with rollback
    alarms = svc["deploymentConfiguration"]["alarms"]
    assert alarms["enable"]
    assert alarms["rollback"]
    assert f"{native.result.service}-5xx" in alarms["alarmNames"]


def test_alarm_rolls_production_back(native: Native) -> None:
    """[ALARM]: the spec's alarm in ALARM during the release → ROLLBACK_SUCCESSFUL, production on
    the previous target group, exit 1, the reason names the alarm."""
    native.settings(timeScale=30)
    before, old = native.serving(), native.service()["taskDefinition"]
    import threading

    def trip() -> None:
        from tests.fixtures.native import wait_for

        known = set(native.deployments())
        wait_for(lambda: set(native.deployments()) - known, what="a deployment")
        native.alarm("ALARM")

    thread = threading.Thread(target=trip, daemon=True)
    thread.start()
    ran = native.deploy()
    thread.join(timeout=5)
    assert ran.code == ExitCode.FAILED, ran.stdout + ran.stderr
    assert f"{native.result.service}-5xx" in ran.result["reason"]
    assert ran.result["rolledBack"] is True
    assert native.deployment(ran.result["deploymentId"])["status"] == "ROLLBACK_SUCCESSFUL"
    assert native.serving() == before
    assert native.service()["taskDefinition"] == old
