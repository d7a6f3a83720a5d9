"""A small ECS-native blue/green stack built with plain boto3 against the sandbox: an ALB with
production and test listener RULES forwarding to two target groups (serving 1, other 0 [MIG]),
the load-balancer infrastructure role, an alarm, and a service with the ECS controller and a
BLUE_GREEN/LINEAR/CANARY strategy. No bluegreen code beyond the shared fixtures.

Doc keys (../shared/reference/ecs-native-bluegreen.md): pages under
https://docs.aws.amazon.com/AmazonECS/latest/developerguide/<page>.html."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3

from bluegreen.sandbox.server import SandboxServer
from tests.conftest import sandbox_call
from tests.helpers import WAIT_SECONDS, wait_for
from tests.sandbox.model_check import RawResponses

CLUSTER = "c"
SERVICE = "web"
ALARM = "web-5xx"
ECS_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "ecs.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}


@dataclass
class NativeStack:
    sandbox: SandboxServer
    ecs: Any
    elbv2: Any
    cloudwatch: Any
    raw: RawResponses
    tgs: dict[str, str]  # name -> ARN
    prod_rule: str
    test_rule: str
    role_arn: str
    subnets: list[str]
    sg: str
    samples: list[dict[str, float]] = field(default_factory=list)

    def register(self, tag: str) -> str:
        arn: str = self.ecs.register_task_definition(
            family="web",
            networkMode="awsvpc",
            requiresCompatibilities=["FARGATE"],
            cpu="256",
            memory="512",
            containerDefinitions=[
                {
                    "name": "web",
                    "image": f"web:{tag}",
                    "memory": 128,
                    "portMappings": [{"containerPort": 80}],
                }
            ],
        )["taskDefinition"]["taskDefinitionArn"]
        return arn

    def load_balancers(self, **advanced: Any) -> list[dict[str, Any]]:
        return [
            {
                "targetGroupArn": self.tgs["blue"],
                "containerName": "web",
                "containerPort": 80,
                "advancedConfiguration": {
                    "alternateTargetGroupArn": self.tgs["green"],
                    "productionListenerRule": self.prod_rule,
                    "testListenerRule": self.test_rule,
                    "roleArn": self.role_arn,
                    **advanced,
                },
            }
        ]

    def create_service(self, **config: Any) -> dict[str, Any]:
        configuration = {"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 1, **config}
        service: dict[str, Any] = self.ecs.create_service(
            cluster=CLUSTER,
            serviceName=SERVICE,
            taskDefinition=self.register("v1"),
            desiredCount=2,
            launchType="FARGATE",
            deploymentController={"type": "ECS"},
            deploymentConfiguration=configuration,
            loadBalancers=self.load_balancers(),
            networkConfiguration={
                "awsvpcConfiguration": {"subnets": self.subnets, "securityGroups": [self.sg]}
            },
        )["service"]
        self.wait_for(
            lambda: self.service()["deployments"][0].get("rolloutState") == "COMPLETED",
            what="the first revision running",
        )
        return service

    def service(self) -> dict[str, Any]:
        found: dict[str, Any] = self.ecs.describe_services(cluster=CLUSTER, services=[SERVICE])[
            "services"
        ][0]
        return found

    def deploy(self, tag: str = "v2", **kw: Any) -> str:
        """UpdateService with a new task definition; the ARN of the deployment it started."""
        self.ecs.update_service(
            cluster=CLUSTER, service=SERVICE, taskDefinition=self.register(tag), **kw
        )
        return self.latest()

    def latest(self) -> str:
        briefs = self.ecs.list_service_deployments(cluster=CLUSTER, service=SERVICE)[
            "serviceDeployments"
        ]
        arn: str = max(briefs, key=lambda b: b["createdAt"])["serviceDeploymentArn"]
        return arn

    def deployment(self, arn: str) -> dict[str, Any]:
        found: dict[str, Any] = self.ecs.describe_service_deployments(serviceDeploymentArns=[arn])[
            "serviceDeployments"
        ][0]
        return found

    def weights(self, rule: str | None = None) -> dict[str, int]:
        """Target group name ("blue"/"green") -> weight on the rule's forward action."""
        found = self.elbv2.describe_rules(RuleArns=[rule or self.prod_rule])["Rules"][0]
        names = {arn: name for name, arn in self.tgs.items()}
        groups = found["Actions"][0]["ForwardConfig"]["TargetGroups"]
        return {names[g["TargetGroupArn"]]: g["Weight"] for g in groups}

    def green_share(self) -> float:
        w = self.weights()
        total = w["blue"] + w["green"]
        return round(100.0 * w["green"] / total, 1) if total else 0.0

    def wait_for(
        self, predicate: Callable[[], Any], timeout: float = WAIT_SECONDS, what: str = "condition"
    ) -> Any:
        return wait_for(predicate, timeout, what, every=0.01)

    def wait_status(
        self, arn: str, *statuses: str, timeout: float = WAIT_SECONDS, sample: bool = False
    ) -> dict[str, Any]:
        def done() -> dict[str, Any] | None:
            if sample:
                share = self.green_share()
                if not self.samples or self.samples[-1]["green"] != share:
                    self.samples.append({"green": share})
            found = self.deployment(arn)
            return found if found["status"] in statuses else None

        result: dict[str, Any] = self.wait_for(done, timeout, f"{arn} in {statuses}")
        return result

    def settings(self, **values: Any) -> None:
        sandbox_call(self.sandbox, "settings", values)

    def fault(self, **values: Any) -> None:
        sandbox_call(self.sandbox, "faults", values)


def build_native_stack(sandbox: SandboxServer, raw: RawResponses) -> NativeStack:
    ec2 = boto3.client("ec2")
    elbv2 = raw.attach(boto3.client("elbv2"))
    iam = boto3.client("iam")
    ecs = raw.attach(boto3.client("ecs"))
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"us-east-1{z}")[
            "Subnet"
        ]["SubnetId"]
        for i, z in ((1, "a"), (2, "b"))
    ]
    sg = ec2.create_security_group(GroupName="web", Description="web", VpcId=vpc)["GroupId"]
    lb = elbv2.create_load_balancer(Name="web", Subnets=subnets, SecurityGroups=[sg])[
        "LoadBalancers"
    ][0]["LoadBalancerArn"]
    tgs = {
        name: elbv2.create_target_group(
            Name=f"web-{name}", Protocol="HTTP", Port=80, VpcId=vpc, TargetType="ip"
        )["TargetGroups"][0]["TargetGroupArn"]
        for name in ("blue", "green")
    }

    def rule(port: int) -> str:
        listener = elbv2.create_listener(
            LoadBalancerArn=lb,
            Protocol="HTTP",
            Port=port,
            DefaultActions=[
                {"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404"}}
            ],
        )["Listeners"][0]["ListenerArn"]
        arn: str = elbv2.create_rule(
            ListenerArn=listener,
            Priority=1,
            Conditions=[{"Field": "path-pattern", "PathPatternConfig": {"Values": ["/*"]}}],
            Actions=[
                {
                    "Type": "forward",
                    "ForwardConfig": {
                        "TargetGroups": [
                            {"TargetGroupArn": tgs["blue"], "Weight": 1},
                            {"TargetGroupArn": tgs["green"], "Weight": 0},
                        ]
                    },
                }
            ],
        )["Rules"][0]["RuleArn"]
        return arn

    prod, test = rule(80), rule(8080)
    role = iam.create_role(RoleName="ecs-lb", AssumeRolePolicyDocument=json.dumps(ECS_TRUST))[
        "Role"
    ]["Arn"]
    cloudwatch = boto3.client("cloudwatch")
    cloudwatch.put_metric_alarm(
        AlarmName=ALARM,
        Namespace="AWS/ApplicationELB",
        MetricName="HTTPCode_Target_5XX_Count",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=5.0,
        ComparisonOperator="GreaterThanThreshold",
    )
    ecs.create_cluster(clusterName=CLUSTER)
    return NativeStack(
        sandbox=sandbox,
        ecs=ecs,
        elbv2=elbv2,
        cloudwatch=cloudwatch,
        raw=raw,
        tgs=tgs,
        prod_rule=prod,
        test_rule=test,
        role_arn=role,
        subnets=subnets,
        sg=sg,
    )
