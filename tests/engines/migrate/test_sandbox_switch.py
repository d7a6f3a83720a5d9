"""The sandbox takes UpdateService CODE_DEPLOY → ECS as AWS does (reference §5 [UPD; TSM]):
only with exactly one task set, PRIMARY; the service then runs what that task set ran."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.conftest import sandbox_call
from tests.fixtures.migrate import CodeDeployStack, wait_for
from tests.helpers import run_cli


def native_request(stack: CodeDeployStack) -> dict[str, object]:
    """A complete controller switch, with rules and a role made by hand."""
    elb, iam = stack.client("elbv2"), stack.client("iam")
    blue, green = stack.result.target_groups
    rules = []
    for listener in (stack.result.prod_listener, stack.result.test_listener):
        rules.append(
            elb.create_rule(
                ListenerArn=listener,
                Priority=7,
                Conditions=[{"Field": "path-pattern", "PathPatternConfig": {"Values": ["/*"]}}],
                Actions=[
                    {
                        "Type": "forward",
                        "ForwardConfig": {
                            "TargetGroups": [
                                {"TargetGroupArn": blue, "Weight": 1},
                                {"TargetGroupArn": green, "Weight": 0},
                            ]
                        },
                    }
                ],
            )["Rules"][0]["RuleArn"]
        )
    role = iam.create_role(
        RoleName="infra",
        AssumeRolePolicyDocument='{"Version":"2012-10-17","Statement":[{"Effect":"Allow",'
        '"Principal":{"Service":"ecs.amazonaws.com"},"Action":"sts:AssumeRole"}]}',
    )["Role"]["Arn"]
    return {
        "cluster": stack.result.cluster,
        "service": stack.result.service,
        "deploymentController": {"type": "ECS"},
        "deploymentConfiguration": {"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 0},
        "loadBalancers": [
            {
                "targetGroupArn": blue,
                "containerName": "web",
                "containerPort": 8080,
                "advancedConfiguration": {
                    "alternateTargetGroupArn": green,
                    "productionListenerRule": rules[0],
                    "testListenerRule": rules[1],
                    "roleArn": role,
                },
            }
        ],
    }


def test_the_managed_policy_of_the_infrastructure_role_exists(cd_stack: CodeDeployStack) -> None:
    iam = cd_stack.client("iam")
    arn = "arn:aws:iam::aws:policy/AmazonECSInfrastructureRolePolicyForLoadBalancers"
    policy = iam.get_policy(PolicyArn=arn)["Policy"]
    assert policy["PolicyName"] == "AmazonECSInfrastructureRolePolicyForLoadBalancers"


def test_refused_with_two_task_sets(cd_stack: CodeDeployStack) -> None:
    sandbox_call(cd_stack.sandbox, "settings", {"timeScale": 1.0})
    ran = run_cli(
        "--config",
        str(cd_stack.spec),
        "deploy",
        "--no-wait",
        "--image",
        f"web={cd_stack.new_image('v2')}",
    )
    assert ran.code == 0, ran.stderr
    wait_for(lambda: len(cd_stack.service().get("taskSets") or []) == 2, what="two task sets")
    request = native_request(cd_stack)
    with pytest.raises(ClientError) as refused:
        cd_stack.client("ecs").update_service(**request)
    assert refused.value.response["Error"]["Code"] == "InvalidParameterException"
    assert "multiple tasksets in the service" in refused.value.response["Error"]["Message"]
    assert cd_stack.service()["deploymentController"] == {"type": "CODE_DEPLOY"}


def test_refused_without_a_primary_task_set(cd_stack: CodeDeployStack) -> None:
    ecs = cd_stack.client("ecs")
    svc = cd_stack.service()
    ecs.create_service(
        cluster=cd_stack.result.cluster,
        serviceName="bare",
        taskDefinition=svc["taskDefinition"],
        desiredCount=1,
        launchType="FARGATE",
        deploymentController={"type": "CODE_DEPLOY"},
        loadBalancers=svc["loadBalancers"],
        networkConfiguration=svc["networkConfiguration"],
    )
    request = {**native_request(cd_stack), "service": "bare"}
    with pytest.raises(ClientError) as refused:
        ecs.update_service(**request)
    assert "requires a primary taskset" in refused.value.response["Error"]["Message"]


def test_switched_in_place_then_the_native_engine_runs_the_next_deployment(
    cd_stack: CodeDeployStack,
) -> None:
    ecs = cd_stack.client("ecs")
    running = cd_stack.service()["taskSets"][0]["taskDefinition"]
    blue, green = cd_stack.result.target_groups
    answer = ecs.update_service(**native_request(cd_stack))["service"]
    assert answer["deploymentController"] == {"type": "ECS"}
    assert answer["taskDefinition"] == running
    assert not answer.get("taskSets")
    # the switch starts no ServiceDeployment: the task set's revision runs on
    assert (
        ecs.list_service_deployments(
            cluster=cd_stack.result.cluster, service=cd_stack.result.service
        )["serviceDeployments"]
        == []
    )
    wait_for(lambda: cd_stack.service()["runningCount"] == 2, what="the tasks carried over")
    # the next deployment is native: green is the group that was not serving
    arn = ecs.update_service(
        cluster=cd_stack.result.cluster, service=cd_stack.result.service, forceNewDeployment=True
    )["service"]["currentServiceDeployment"]
    status = wait_for(
        lambda: (
            ecs.describe_service_deployments(serviceDeploymentArns=[arn])["serviceDeployments"][0][
                "status"
            ]
            in ("SUCCESSFUL", "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED", "STOPPED")
            and ecs.describe_service_deployments(serviceDeploymentArns=[arn])["serviceDeployments"][
                0
            ]["status"]
        ),
        what="the first native deployment",
    )
    assert status == "SUCCESSFUL"
    assert cd_stack.production() == {green}
    assert blue != green
