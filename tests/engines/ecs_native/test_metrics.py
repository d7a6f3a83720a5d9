"""Metric checks (`rollback.metrics`) gate an ECS-native release as they gate a CodeDeploy one:
green's metric (the target group the deployment shifts to) read from CloudWatch while the
deployment runs; a breach stops it with rollback (StopServiceDeployment ROLLBACK,
https://docs.aws.amazon.com/AmazonECS/latest/developerguide/stop-service-deployment.html):
exit 1, production back on the previous target group."""

from __future__ import annotations

import threading

from bluegreen.errors import ExitCode
from tests.fixtures.native import Native, wait_for

CHECK = (
    "rollback:\n  metrics:\n    - {name: green-5xx, metric: HTTPCode_Target_5XX_Count, "
    "stat: Sum, target_group: green, comparison: GreaterThanThreshold, threshold: 5}\n"
)


def _add_check(native: Native) -> None:
    """The metric check, in the stack spec's own `rollback:` block."""
    text = native.spec.read_text()
    assert text.count("rollback:\n") == 1
    native.spec.write_text(text.replace("rollback:\n", CHECK))


def _green_errors(native: Native, green_arn: str) -> None:
    elb = native.client("elbv2")
    tg = elb.describe_target_groups(TargetGroupArns=[green_arn])["TargetGroups"][0]
    tg_dim = tg["TargetGroupArn"].split(":", 5)[-1]
    lb_dim = tg["LoadBalancerArns"][0].split(":", 5)[-1].removeprefix("loadbalancer/")
    native.client("cloudwatch").put_metric_data(
        Namespace="AWS/ApplicationELB",
        MetricData=[
            {
                "MetricName": "HTTPCode_Target_5XX_Count",
                "Dimensions": [
                    {"Name": "LoadBalancer", "Value": lb_dim},
                    {"Name": "TargetGroup", "Value": tg_dim},
                ],
                "Value": 50.0,
                "Unit": "Count",
            }
        ],
    )


def test_a_breached_metric_check_rolls_production_back(native: Native) -> None:
    _add_check(native)
    native.configure(
        strategy="CANARY",
        canaryConfiguration={"canaryPercent": 10.0, "canaryBakeTimeInMinutes": 30},
    )
    native.settings(timeScale=30)
    blue, old = native.serving(), native.service()["taskDefinition"]
    green = next(tg for tg in native.weights() if tg != blue)

    def fire() -> None:
        wait_for(lambda: native.weights().get(green, 0) > 0, what="the canary on green")
        _green_errors(native, green)

    thread = threading.Thread(target=fire, daemon=True)
    thread.start()
    ran = native.deploy()
    thread.join(timeout=5)
    assert ran.code == ExitCode.FAILED, ran.stdout + ran.stderr
    assert "metric check green-5xx breached" in ran.result["reason"]
    assert ran.result["rolledBack"] is True
    assert native.deployment(ran.result["deploymentId"])["status"] == "ROLLBACK_SUCCESSFUL"
    assert native.serving() == blue
    assert native.service()["taskDefinition"] == old


def test_a_healthy_green_passes_its_metric_checks(native: Native) -> None:
    _add_check(native)
    native.settings(timeScale=120)
    blue = native.serving()
    ran = native.deploy()
    assert ran.code == ExitCode.OK, ran.stdout + ran.stderr
    assert native.serving() != blue
