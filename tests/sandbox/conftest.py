"""A small ECS blue/green stack built with plain boto3 against the sandbox, and helpers to
drive CodeDeploy deployments on it. No bluegreen code beyond the shared fixtures."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from bluegreen.sandbox.server import SandboxServer
from tests.conftest import sandbox_call
from tests.helpers import WAIT_SECONDS, wait_for

APP = "AppECS-web-cluster-web"
GROUP = "DgpECS-web-cluster-web"
CLUSTER = "web-cluster"
SERVICE = "web"
TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "codedeploy.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}


@dataclass
class Stack:
    sandbox: SandboxServer
    ecs: Any
    elbv2: Any
    codedeploy: Any
    cloudwatch: Any
    tg_arns: dict[str, str]  # name -> ARN
    prod_listener: str
    test_listener: str
    role_arn: str
    taskdef_v1: str

    def register_taskdef(self, tag: str) -> str:
        arn: str = self.ecs.register_task_definition(
            family="web",
            networkMode="awsvpc",
            requiresCompatibilities=["FARGATE"],
            cpu="256",
            memory="512",
            containerDefinitions=[
                {
                    "name": "web",
                    "image": f"public.ecr.aws/nginx/nginx:{tag}",
                    "memory": 128,
                    "portMappings": [{"containerPort": 80}],
                }
            ],
        )["taskDefinition"]["taskDefinitionArn"]
        return arn

    def create_group(self, name: str = GROUP, **overrides: Any) -> None:
        params: dict[str, Any] = {
            "applicationName": APP,
            "deploymentGroupName": name,
            "serviceRoleArn": self.role_arn,
            "deploymentConfigName": "CodeDeployDefault.ECSAllAtOnce",
            "deploymentStyle": {
                "deploymentType": "BLUE_GREEN",
                "deploymentOption": "WITH_TRAFFIC_CONTROL",
            },
            "blueGreenDeploymentConfiguration": {
                "terminateBlueInstancesOnDeploymentSuccess": {
                    "action": "TERMINATE",
                    "terminationWaitTimeInMinutes": 0,
                },
                "deploymentReadyOption": {"actionOnTimeout": "CONTINUE_DEPLOYMENT"},
            },
            "loadBalancerInfo": {
                "targetGroupPairInfoList": [
                    {
                        "targetGroups": [{"name": "web-blue"}, {"name": "web-green"}],
                        "prodTrafficRoute": {"listenerArns": [self.prod_listener]},
                        "testTrafficRoute": {"listenerArns": [self.test_listener]},
                    }
                ]
            },
            "ecsServices": [{"serviceName": SERVICE, "clusterName": CLUSTER}],
        }
        params.update(overrides)
        self.codedeploy.create_deployment_group(**params)

    def appspec(self, taskdef: str, hooks: list[dict[str, str]] | None = None) -> str:
        doc: dict[str, Any] = {
            "version": 0.0,
            "Resources": [
                {
                    "TargetService": {
                        "Type": "AWS::ECS::Service",
                        "Properties": {
                            "TaskDefinition": taskdef,
                            "LoadBalancerInfo": {"ContainerName": "web", "ContainerPort": 80},
                        },
                    }
                }
            ],
        }
        if hooks:
            doc["Hooks"] = hooks
        return json.dumps(doc)

    def deploy(self, tag: str = "v2", hooks: list[dict[str, str]] | None = None, **kw: Any) -> str:
        content = self.appspec(self.register_taskdef(tag), hooks)
        revision = {
            "revisionType": "AppSpecContent",
            "appSpecContent": {
                "content": content,
                "sha256": hashlib.sha256(content.encode()).hexdigest(),
            },
        }
        deployment_id: str = self.codedeploy.create_deployment(
            applicationName=APP, deploymentGroupName=GROUP, revision=revision, **kw
        )["deploymentId"]
        return deployment_id

    def deployment(self, deployment_id: str) -> dict[str, Any]:
        info: dict[str, Any] = self.codedeploy.get_deployment(deploymentId=deployment_id)[
            "deploymentInfo"
        ]
        return info

    def target(self, deployment_id: str) -> dict[str, Any]:
        target: dict[str, Any] = self.codedeploy.get_deployment_target(
            deploymentId=deployment_id, targetId=f"{CLUSTER}:{SERVICE}"
        )["deploymentTarget"]["ecsTarget"]
        return target

    def weights(self, listener: str | None = None) -> dict[str, int]:
        """Target group name -> weight on the listener's default forward action."""
        arn = listener or self.prod_listener
        action = self.elbv2.describe_listeners(ListenerArns=[arn])["Listeners"][0][
            "DefaultActions"
        ][0]
        names = {v: k for k, v in self.tg_arns.items()}
        groups = action.get("ForwardConfig", {}).get("TargetGroups")
        if not groups:
            return {names[action["TargetGroupArn"]]: 100}
        return {names[g["TargetGroupArn"]]: g["Weight"] for g in groups}

    def wait_for(
        self, predicate: Callable[[], Any], timeout: float = WAIT_SECONDS, what: str = "condition"
    ) -> Any:
        return wait_for(predicate, timeout, what, every=0.01)

    def wait_status(
        self, deployment_id: str, *statuses: str, timeout: float = WAIT_SECONDS
    ) -> dict[str, Any]:
        def done() -> dict[str, Any] | None:
            info = self.deployment(deployment_id)
            return info if info["status"] in statuses else None

        result: dict[str, Any] = self.wait_for(done, timeout, f"{deployment_id} in {statuses}")
        return result

    def settings(self, **values: Any) -> None:
        sandbox_call(self.sandbox, "settings", values)

    def fault(self, **values: Any) -> str:
        return str(sandbox_call(self.sandbox, "faults", values)["id"])


def build_stack(sandbox: SandboxServer) -> Stack:
    ec2 = boto3.client("ec2")
    elbv2 = boto3.client("elbv2")
    ecs = boto3.client("ecs")
    iam = boto3.client("iam")
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
    tg_arns = {
        name: elbv2.create_target_group(
            Name=name, Protocol="HTTP", Port=80, VpcId=vpc, TargetType="ip"
        )["TargetGroups"][0]["TargetGroupArn"]
        for name in ("web-blue", "web-green")
    }

    def listener(port: int) -> str:
        arn: str = elbv2.create_listener(
            LoadBalancerArn=lb,
            Protocol="HTTP",
            Port=port,
            DefaultActions=[{"Type": "forward", "TargetGroupArn": tg_arns["web-blue"]}],
        )["Listeners"][0]["ListenerArn"]
        return arn

    prod, test = listener(80), listener(8080)
    role_arn = iam.create_role(
        RoleName="codedeploy-ecs", AssumeRolePolicyDocument=json.dumps(TRUST)
    )["Role"]["Arn"]
    ecs.create_cluster(clusterName=CLUSTER)
    stack = Stack(
        sandbox=sandbox,
        ecs=ecs,
        elbv2=elbv2,
        codedeploy=boto3.client("codedeploy"),
        cloudwatch=boto3.client("cloudwatch"),
        tg_arns=tg_arns,
        prod_listener=prod,
        test_listener=test,
        role_arn=role_arn,
        taskdef_v1="",
    )
    stack.taskdef_v1 = stack.register_taskdef("v1")
    ecs.create_service(
        cluster=CLUSTER,
        serviceName=SERVICE,
        taskDefinition=stack.taskdef_v1,
        desiredCount=2,
        launchType="FARGATE",
        deploymentController={"type": "CODE_DEPLOY"},
        loadBalancers=[
            {"targetGroupArn": tg_arns["web-blue"], "containerName": "web", "containerPort": 80}
        ],
        networkConfiguration={"awsvpcConfiguration": {"subnets": subnets, "securityGroups": [sg]}},
    )
    stack.codedeploy.create_application(applicationName=APP, computePlatform="ECS")
    return stack


@pytest.fixture
def stack(aws_env: SandboxServer) -> Stack:
    return build_stack(aws_env)
