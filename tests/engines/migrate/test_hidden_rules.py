"""A CodeDeploy release refuses a production listener whose rules forward to the group's
target groups (I5, no silent wrong path): CodeDeploy shifts only the listener's default action
(https://docs.aws.amazon.com/codedeploy/latest/userguide/deployment-groups-create-load-balancer-for-ecs.html),
so traffic those rules match would stay on blue while the release reported success. A half-done
`bluegreen migrate --to ecs` leaves exactly such rules."""

from __future__ import annotations

from pathlib import Path

import boto3

from bluegreen.aws.session import Aws
from bluegreen.sandbox.server import SandboxServer
from bluegreen.sandbox.stack import create_stack
from tests.helpers import run_cli


def test_a_release_is_refused_while_rules_hide_the_default_action(
    aws_env: SandboxServer, tmp_path: Path
) -> None:
    stack = create_stack(Aws(region="us-east-1"), tmp_path / "web", "web")
    elb = boto3.client("elbv2")
    groups = elb.describe_target_groups(TargetGroupArns=list(stack.target_groups))["TargetGroups"]
    rule = elb.create_rule(
        ListenerArn=stack.prod_listener,
        Priority=10,
        Conditions=[{"Field": "path-pattern", "Values": ["/*"]}],
        Actions=[
            {
                "Type": "forward",
                "ForwardConfig": {
                    "TargetGroups": [
                        {"TargetGroupArn": groups[0]["TargetGroupArn"], "Weight": 1},
                        {"TargetGroupArn": groups[1]["TargetGroupArn"], "Weight": 0},
                    ]
                },
            }
        ],
    )["Rules"][0]["RuleArn"]
    ecs = boto3.client("ecs")
    before = ecs.list_task_definitions(familyPrefix="web")["taskDefinitionArns"]
    spec = str(tmp_path / "web" / "bluegreen.yaml")
    ran = run_cli("-c", spec, "deploy", "--force", "--var", "log_level=debug")
    assert ran.code == 2, ran.stdout + ran.stderr
    assert rule in ran.stderr
    assert "migrate --to ecs" in ran.stderr
    assert ecs.list_task_definitions(familyPrefix="web")["taskDefinitionArns"] == before
    deployments = boto3.client("codedeploy").list_deployments(
        applicationName=stack.application, deploymentGroupName=stack.deployment_group
    )["deployments"]
    assert deployments == []
