"""`bluegreen sandbox stack --kind ecs-native`: an ECS-controller service with the BLUE_GREEN
strategy, its listener rules and infrastructure role, as AWS's guide builds one (doc keys MIG
migrate-codedeploy-to-ecs-bluegreen, ALB alb-resources-for-blue-green, IAMLB
AmazonECSInfrastructureRolePolicyForLoadBalancers, in
../shared/reference/ecs-native-bluegreen.md)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import boto3
import pytest

from bluegreen.cli.app import run
from bluegreen.sandbox.server import SandboxServer
from bluegreen.spec.load import load_spec
from tests.conftest import sandbox_call

ACCOUNT = "123456789012"
REPO_URI = f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/web"


def make_stack(capsys: pytest.CaptureFixture[str], target: Path, *extra: str) -> dict[str, Any]:
    argv = ["--output", "json", "sandbox", "stack", "--dir", str(target), "--kind", "ecs-native"]
    assert run([*argv, *extra]) == 0
    result: dict[str, Any] = json.loads(capsys.readouterr().out.splitlines()[0])
    return result


def forward(rule: Any) -> dict[str, int]:
    groups = rule["Actions"][0]["ForwardConfig"]["TargetGroups"]
    return {g["TargetGroupArn"]: g["Weight"] for g in groups}


def test_an_ecs_native_stack_exists_as_described(
    aws_env: SandboxServer, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    result = make_stack(capsys, tmp_path / "demo", "--name", "shop")
    elbv2, ecs = boto3.client("elbv2"), boto3.client("ecs")
    tgs = elbv2.describe_target_groups(Names=["shop-blue", "shop-green"])["TargetGroups"]
    arns = {tg["TargetGroupName"]: tg["TargetGroupArn"] for tg in tgs}
    blue, green = arns["shop-blue"], arns["shop-green"]
    (lb,) = elbv2.describe_load_balancers(Names=["shop-alb"])["LoadBalancers"]
    listeners = elbv2.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"]
    by_port = {listener["Port"]: listener for listener in listeners}
    rules = {
        port: next(
            r
            for r in elbv2.describe_rules(ListenerArn=by_port[port]["ListenerArn"])["Rules"]
            if not r["IsDefault"]
        )
        for port in (80, 8080)
    }
    assert result == {
        "cluster": "shop-cluster",
        "service": "shop",
        "application": None,
        "deploymentGroup": None,
        "repository": "shop",
        "targetGroups": [blue, green],
        "listeners": {"prod": by_port[80]["ListenerArn"], "test": by_port[8080]["ListenerArn"]},
        "rules": {"prod": rules[80]["RuleArn"], "test": rules[8080]["RuleArn"]},
        "dir": str(tmp_path / "demo"),
    }
    # [MIG; ALB]: RULES (not default actions) forward to both target groups, serving 1 / 0
    for port in (80, 8080):
        assert by_port[port]["DefaultActions"][0]["Type"] == "fixed-response"
        assert forward(rules[port]) == {blue: 1, green: 0}
        assert rules[port]["Conditions"][0]["Field"] == "path-pattern"
    # [IAMLB]: the infrastructure role trusts ecs.amazonaws.com
    iam = boto3.client("iam")
    role = iam.get_role(RoleName="shop-ecs-infrastructure")["Role"]
    trust: Any = role["AssumeRolePolicyDocument"]
    if isinstance(trust, str):
        trust = json.loads(trust)
    assert trust["Statement"][0]["Principal"] == {"Service": "ecs.amazonaws.com"}
    policy: Any = iam.get_role_policy(
        RoleName="shop-ecs-infrastructure", PolicyName=role["RoleName"]
    )
    assert "elasticloadbalancing:ModifyRule" in policy["PolicyDocument"]["Statement"][0]["Action"]
    # the service: ECS controller, BLUE_GREEN with bake time and the stack's alarms
    (service,) = ecs.describe_services(cluster="shop-cluster", services=["shop"])["services"]
    assert service["deploymentController"] == {"type": "ECS"}
    conf = service["deploymentConfiguration"]
    assert conf["strategy"] == "BLUE_GREEN"
    assert conf["bakeTimeInMinutes"] == 5
    assert conf["alarms"] == {
        "alarmNames": ["shop-5xx", "shop-latency"],
        "enable": True,
        "rollback": True,
    }
    (balancer,) = service["loadBalancers"]
    assert balancer["targetGroupArn"] == blue
    assert balancer["advancedConfiguration"] == {
        "alternateTargetGroupArn": green,
        "productionListenerRule": rules[80]["RuleArn"],
        "testListenerRule": rules[8080]["RuleArn"],
        "roleArn": role["Arn"],
    }
    with pytest.raises(boto3.client("codedeploy").exceptions.ApplicationDoesNotExistException):
        boto3.client("codedeploy").get_application(applicationName="AppECS-shop-cluster-shop")
    text = (tmp_path / "demo" / "bluegreen.yaml").read_text()
    assert "codedeploy" not in text
    spec = load_spec(tmp_path / "demo" / "bluegreen.yaml")
    assert (spec.cluster, spec.service) == ("shop-cluster", "shop")
    assert spec.rollback.alarms == ["shop-5xx", "shop-latency"]


def test_the_stack_s_service_deploys_blue_green(
    aws_env: SandboxServer, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """The stack works with the sandbox's native engine [BG]: a forced new deployment shifts
    the production rule to the other target group and swaps the service's target groups."""
    result = make_stack(capsys, tmp_path)
    sandbox_call(aws_env, "settings", {"timeScale": 6000})
    ecs, elbv2 = boto3.client("ecs"), boto3.client("elbv2")
    ecs.update_service(cluster="web-cluster", service="web", forceNewDeployment=True)
    briefs = ecs.list_service_deployments(cluster="web-cluster", service="web")
    arn = max(briefs["serviceDeployments"], key=lambda b: b["createdAt"])["serviceDeploymentArn"]
    deadline = time.monotonic() + 20
    status = ""
    while time.monotonic() < deadline:
        status = ecs.describe_service_deployments(serviceDeploymentArns=[arn])[
            "serviceDeployments"
        ][0]["status"]
        if status == "SUCCESSFUL":
            break
        time.sleep(0.02)
    assert status == "SUCCESSFUL"
    blue, green = result["targetGroups"]
    (rule,) = elbv2.describe_rules(RuleArns=[result["rules"]["prod"]])["Rules"]
    assert forward(rule) == {blue: 0, green: 100}
    (service,) = ecs.describe_services(cluster="web-cluster", services=["web"])["services"]
    assert service["loadBalancers"][0]["targetGroupArn"] == green


def test_an_ecs_native_stack_text_summary(
    aws_env: SandboxServer, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert run(["sandbox", "stack", "--dir", str(tmp_path), "--kind", "ecs-native"]) == 0
    assert capsys.readouterr().out == (
        "created the demo stack 'web' in the sandbox:\n"
        "  service     web-cluster/web (ECS controller, BLUE_GREEN strategy, bake time and "
        "alarms with rollback)\n"
        f"  image       {REPO_URI}:v1 in ECR repository web\n"
        "  listeners   production :80 and test :8080, each with a rule forwarding to both "
        "target groups\n"
        f"wrote {tmp_path}/bluegreen.yaml and taskdef.json.j2\n"
        f"next: cd {tmp_path} && bluegreen deploy --image web={REPO_URI}:<tag>\n"
    )
