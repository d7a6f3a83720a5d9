"""The sandbox's CloudWatch and ELBv2 answers as AWS gives them, for the metric checks a
release makes (green's target group against blue's). Plain boto3; each test cites the AWS page
it follows; CloudWatch's raw answers are held to botocore's service model
(tests/sandbox/model_check.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3

from bluegreen.sandbox.server import SandboxServer
from tests.sandbox.conftest import Stack
from tests.sandbox.model_check import RawResponses


def metric_query(dimensions: list[dict[str, str]]) -> dict[str, Any]:
    return {
        "Id": "errors",
        "MetricStat": {
            "Metric": {
                "Namespace": "AWS/ApplicationELB",
                "MetricName": "HTTPCode_Target_5XX_Count",
                "Dimensions": dimensions,
            },
            "Period": 60,
            "Stat": "Sum",
        },
    }


def test_get_metric_data_matches_dimensions_in_any_order(aws_env: SandboxServer) -> None:
    """https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch_concepts.html#Dimension
    — a metric is its namespace, name and set of dimensions; GetMetricData
    (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetMetricData.html)
    finds it with the dimensions given in any order."""
    raw = RawResponses()
    cloudwatch = raw.attach(boto3.client("cloudwatch"))
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    dims = [
        {"Name": "TargetGroup", "Value": "targetgroup/web-green/0123456789abcdef"},
        {"Name": "LoadBalancer", "Value": "app/web/fedcba9876543210"},
    ]
    cloudwatch.put_metric_data(
        Namespace="AWS/ApplicationELB",
        MetricData=[
            {
                "MetricName": "HTTPCode_Target_5XX_Count",
                "Dimensions": dims,
                "Timestamp": now,
                "Value": 7.0,
                "Unit": "Count",
            }
        ],
    )
    for order in (dims, list(reversed(dims))):
        answer = cloudwatch.get_metric_data(
            MetricDataQueries=[metric_query(order)],
            StartTime=now - timedelta(minutes=5),
            EndTime=now + timedelta(minutes=5),
        )
        raw.check("GetMetricData")
        [result] = answer["MetricDataResults"]
        assert result["Values"] == [7.0], order


def test_a_weighted_forward_lists_the_load_balancer_on_both_groups(stack: Stack) -> None:
    """https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_TargetGroup.html
    — LoadBalancerArns are the load balancers that route traffic to the group: a listener whose
    ForwardConfig weights both groups (as CodeDeploy writes it with ModifyListener) lists its
    load balancer, once, on each; a group no listener forwards to any more lists none."""
    lb_arn = stack.elbv2.describe_listeners(ListenerArns=[stack.prod_listener])["Listeners"][0][
        "LoadBalancerArn"
    ]

    def balancers() -> dict[str, list[str]]:
        groups = stack.elbv2.describe_target_groups(TargetGroupArns=list(stack.tg_arns.values()))
        names = {v: k for k, v in stack.tg_arns.items()}
        return {names[g["TargetGroupArn"]]: g["LoadBalancerArns"] for g in groups["TargetGroups"]}

    assert balancers() == {"web-blue": [lb_arn], "web-green": []}
    weighted = {
        "Type": "forward",
        "ForwardConfig": {
            "TargetGroups": [
                {"TargetGroupArn": stack.tg_arns["web-blue"], "Weight": 90},
                {"TargetGroupArn": stack.tg_arns["web-green"], "Weight": 10},
            ]
        },
    }
    stack.elbv2.modify_listener(ListenerArn=stack.prod_listener, DefaultActions=[weighted])
    assert balancers() == {"web-blue": [lb_arn], "web-green": [lb_arn]}
    by_balancer = stack.elbv2.describe_target_groups(LoadBalancerArn=lb_arn)["TargetGroups"]
    assert sorted(g["TargetGroupName"] for g in by_balancer) == ["web-blue", "web-green"]
    only_green = {"Type": "forward", "TargetGroupArn": stack.tg_arns["web-green"]}
    for listener in (stack.prod_listener, stack.test_listener):
        stack.elbv2.modify_listener(ListenerArn=listener, DefaultActions=[only_green])
    assert balancers() == {"web-blue": [], "web-green": [lb_arn]}
