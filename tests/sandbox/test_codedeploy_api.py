"""The sandbox's CodeDeploy API: request and response shapes, defaults and error names as in
the service model, driven with plain boto3 (each test cites the API reference page)."""

from __future__ import annotations

import hashlib
import json
import urllib.error
import urllib.request
from datetime import timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.sandbox.conftest import APP, GROUP, Stack

ECS_DEFAULTS = {
    "CodeDeployDefault.ECSAllAtOnce",
    "CodeDeployDefault.ECSLinear10PercentEvery1Minutes",
    "CodeDeployDefault.ECSLinear10PercentEvery3Minutes",
    "CodeDeployDefault.ECSCanary10Percent5Minutes",
    "CodeDeployDefault.ECSCanary10Percent15Minutes",
}


def code(info: pytest.ExceptionInfo[ClientError]) -> str:
    return str(info.value.response["Error"]["Code"])


def test_predefined_and_custom_deployment_configs(stack: Stack) -> None:
    """https://docs.aws.amazon.com/codedeploy/latest/userguide/deployment-configurations.html —
    the predefined ECS configs exist; custom ECS configs carry a trafficRoutingConfig."""
    cd = stack.codedeploy
    assert set(cd.list_deployment_configs()["deploymentConfigsList"]) >= ECS_DEFAULTS
    canary = cd.get_deployment_config(
        deploymentConfigName="CodeDeployDefault.ECSCanary10Percent5Minutes"
    )["deploymentConfigInfo"]
    assert canary["computePlatform"] == "ECS"
    assert canary["trafficRoutingConfig"] == {
        "type": "TimeBasedCanary",
        "timeBasedCanary": {"canaryPercentage": 10, "canaryInterval": 5},
    }
    routing = {
        "type": "TimeBasedCanary",
        "timeBasedCanary": {"canaryPercentage": 20, "canaryInterval": 2},
    }
    config_id = cd.create_deployment_config(
        deploymentConfigName="c20", computePlatform="ECS", trafficRoutingConfig=routing
    )["deploymentConfigId"]
    info = cd.get_deployment_config(deploymentConfigName="c20")["deploymentConfigInfo"]
    assert info["deploymentConfigId"] == config_id
    assert info["trafficRoutingConfig"] == routing
    with pytest.raises(ClientError) as error:
        cd.create_deployment_config(
            deploymentConfigName="c20", computePlatform="ECS", trafficRoutingConfig=routing
        )
    assert code(error) == "DeploymentConfigAlreadyExistsException"
    with pytest.raises(ClientError) as error:
        cd.create_deployment_config(
            deploymentConfigName="bad",
            computePlatform="ECS",
            trafficRoutingConfig={
                "type": "TimeBasedLinear",
                "timeBasedLinear": {"linearPercentage": 0},
            },
        )
    assert code(error) == "InvalidTrafficRoutingConfigurationException"
    with pytest.raises(ClientError) as error:
        cd.delete_deployment_config(deploymentConfigName="CodeDeployDefault.ECSAllAtOnce")
    assert code(error) == "InvalidOperationException"
    cd.delete_deployment_config(deploymentConfigName="c20")
    with pytest.raises(ClientError) as error:
        cd.get_deployment_config(deploymentConfigName="c20")
    assert code(error) == "DeploymentConfigDoesNotExistException"


def test_applications(stack: Stack) -> None:
    """https://docs.aws.amazon.com/codedeploy/latest/APIReference/API_CreateApplication.html"""
    cd = stack.codedeploy
    with pytest.raises(ClientError) as error:
        cd.create_application(applicationName=APP, computePlatform="ECS")
    assert code(error) == "ApplicationAlreadyExistsException"
    cd.create_application(applicationName="other", computePlatform="ECS")
    assert cd.list_applications()["applications"] == [APP, "other"]
    app = cd.get_application(applicationName=APP)["application"]
    assert app["computePlatform"] == "ECS"
    assert app["linkedToGitHub"] is False
    infos = cd.batch_get_applications(applicationNames=[APP, "other"])["applicationsInfo"]
    assert [a["applicationName"] for a in infos] == [APP, "other"]
    cd.delete_application(applicationName="other")
    with pytest.raises(cd.exceptions.ApplicationDoesNotExistException):
        cd.get_application(applicationName="other")


def test_deployment_group_round_trip_keeps_alarms_and_defaults(stack: Stack) -> None:
    """https://docs.aws.amazon.com/codedeploy/latest/APIReference/API_GetDeploymentGroup.html —
    the group comes back as created, alarmConfiguration included, with CodeDeploy's defaults."""
    stack.create_group(alarmConfiguration={"enabled": True, "alarms": [{"name": "web-5xx"}]})
    cd = stack.codedeploy
    group = cd.get_deployment_group(applicationName=APP, deploymentGroupName=GROUP)[
        "deploymentGroupInfo"
    ]
    assert group["alarmConfiguration"] == {
        "enabled": True,
        "ignorePollAlarmFailure": False,
        "alarms": [{"name": "web-5xx"}],
    }
    assert group["autoRollbackConfiguration"] == {"enabled": False, "events": []}
    assert group["computePlatform"] == "ECS"
    assert group["ecsServices"] == [{"serviceName": "web", "clusterName": "web-cluster"}]
    assert group["deploymentConfigName"] == "CodeDeployDefault.ECSAllAtOnce"
    assert group["blueGreenDeploymentConfiguration"]["deploymentReadyOption"] == {
        "actionOnTimeout": "CONTINUE_DEPLOYMENT",
        "waitTimeInMinutes": 0,
    }
    assert cd.list_deployment_groups(applicationName=APP)["deploymentGroups"] == [GROUP]
    batch = cd.batch_get_deployment_groups(applicationName=APP, deploymentGroupNames=[GROUP, "x"])
    assert [g["deploymentGroupName"] for g in batch["deploymentGroupsInfo"]] == [GROUP]
    cd.update_deployment_group(
        applicationName=APP,
        currentDeploymentGroupName=GROUP,
        newDeploymentGroupName="renamed",
        deploymentConfigName="CodeDeployDefault.ECSLinear10PercentEvery1Minutes",
        autoRollbackConfiguration={"enabled": True, "events": ["DEPLOYMENT_FAILURE"]},
    )
    updated = cd.get_deployment_group(applicationName=APP, deploymentGroupName="renamed")[
        "deploymentGroupInfo"
    ]
    assert updated["deploymentGroupId"] == group["deploymentGroupId"]
    assert updated["deploymentConfigName"] == "CodeDeployDefault.ECSLinear10PercentEvery1Minutes"
    assert updated["alarmConfiguration"] == group["alarmConfiguration"]
    cd.delete_deployment_group(applicationName=APP, deploymentGroupName="renamed")
    with pytest.raises(cd.exceptions.DeploymentGroupDoesNotExistException):
        cd.get_deployment_group(applicationName=APP, deploymentGroupName="renamed")


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        (
            {
                "loadBalancerInfo": {
                    "targetGroupPairInfoList": [
                        {
                            "targetGroups": [{"name": "web-blue"}, {"name": "nope"}],
                            "prodTrafficRoute": {"listenerArns": []},
                        }
                    ]
                }
            },
            "InvalidTargetGroupPairException",
        ),
        ({"serviceRoleArn": "arn:aws:iam::123456789012:role/missing"}, "InvalidRoleException"),
        (
            {"ecsServices": [{"serviceName": "nope", "clusterName": "web-cluster"}]},
            "InvalidECSServiceException",
        ),
        (
            {
                "deploymentStyle": {
                    "deploymentType": "IN_PLACE",
                    "deploymentOption": "WITHOUT_TRAFFIC_CONTROL",
                }
            },
            "InvalidDeploymentStyleException",
        ),
        ({"deploymentConfigName": "nope"}, "DeploymentConfigDoesNotExistException"),
        ({"alarmConfiguration": {"enabled": True, "alarms": []}}, "InvalidAlarmConfigException"),
    ],
)
def test_group_references_are_checked(stack: Stack, overrides: dict[str, Any], error: str) -> None:
    """https://docs.aws.amazon.com/codedeploy/latest/APIReference/API_CreateDeploymentGroup.html
    — bad references are refused with the model's error names and nothing is created."""
    with pytest.raises(ClientError) as info:
        stack.create_group(**overrides)
    assert code(info) == error
    assert stack.codedeploy.list_deployment_groups(applicationName=APP)["deploymentGroups"] == []


def test_listener_reference_is_checked(stack: Stack) -> None:
    """https://docs.aws.amazon.com/codedeploy/latest/APIReference/API_CreateDeploymentGroup.html"""
    missing = stack.prod_listener[:-4] + "0000"
    pair = {
        "targetGroups": [{"name": "web-blue"}, {"name": "web-green"}],
        "prodTrafficRoute": {"listenerArns": [missing]},
    }
    with pytest.raises(ClientError) as info:
        stack.create_group(loadBalancerInfo={"targetGroupPairInfoList": [pair]})
    assert code(info) == "InvalidLoadBalancerInfoException"


def test_ecs_controller_service_is_refused(stack: Stack) -> None:
    """https://docs.aws.amazon.com/codedeploy/latest/APIReference/API_CreateDeploymentGroup.html
    — the service must use the CODE_DEPLOY deployment controller."""
    stack.ecs.create_service(
        cluster="web-cluster",
        serviceName="rolling",
        taskDefinition=stack.taskdef_v1,
        desiredCount=1,
    )
    with pytest.raises(ClientError) as info:
        stack.create_group(ecsServices=[{"serviceName": "rolling", "clusterName": "web-cluster"}])
    assert code(info) == "InvalidECSServiceException"
    assert "CODE_DEPLOY" in info.value.response["Error"]["Message"]


def revision(content: str, sha: str | None = None) -> dict[str, Any]:
    return {
        "revisionType": "AppSpecContent",
        "appSpecContent": {
            "content": content,
            "sha256": sha or hashlib.sha256(content.encode()).hexdigest(),
        },
    }


def test_appspec_is_validated(stack: Stack) -> None:
    """https://docs.aws.amazon.com/codedeploy/latest/userguide/reference-appspec-file-structure-resources.html
    — an ECS AppSpec needs TaskDefinition and LoadBalancerInfo (ContainerName, ContainerPort);
    a bad one is refused with InvalidRevisionException and no deployment is made."""
    stack.create_group()
    cd = stack.codedeploy
    good = stack.appspec(stack.taskdef_v1)
    with pytest.raises(ClientError) as info:
        cd.create_deployment(
            applicationName=APP, deploymentGroupName=GROUP, revision=revision(good, "0" * 64)
        )
    assert code(info) == "InvalidRevisionException"
    assert "sha256" in info.value.response["Error"]["Message"]
    broken = json.loads(good)
    del broken["Resources"][0]["TargetService"]["Properties"]["LoadBalancerInfo"]["ContainerPort"]
    with pytest.raises(ClientError) as info:
        cd.create_deployment(
            applicationName=APP, deploymentGroupName=GROUP, revision=revision(json.dumps(broken))
        )
    assert code(info) == "InvalidRevisionException"
    assert "LoadBalancerInfo.ContainerPort" in info.value.response["Error"]["Message"]
    bad_hook = good[:-1] + ', "Hooks": [{"Install": "fn"}]}'
    with pytest.raises(ClientError) as info:
        cd.create_deployment(
            applicationName=APP, deploymentGroupName=GROUP, revision=revision(bad_hook)
        )
    assert "Hooks[0].Install" in info.value.response["Error"]["Message"]
    assert cd.list_deployments()["deployments"] == []


def test_yaml_appspec_with_lowercase_keys(stack: Stack) -> None:
    """https://docs.aws.amazon.com/codedeploy/latest/userguide/reference-appspec-file-example.html#appspec-file-example-ecs
    — the AppSpec may be YAML; keys are matched case-insensitively as public clients send them."""
    stack.create_group()
    content = (
        "version: 0.0\nresources:\n  - TargetService:\n      type: AWS::ECS::Service\n"
        f"      properties:\n        taskDefinition: {stack.register_taskdef('v2')}\n"
        "        loadBalancerInfo:\n          containerName: web\n          containerPort: 80\n"
    )
    d = stack.codedeploy.create_deployment(
        applicationName=APP, deploymentGroupName=GROUP, revision=revision(content)
    )["deploymentId"]
    assert stack.wait_status(d, "Succeeded", "Failed", "Stopped")["status"] == "Succeeded"


def test_list_deployments_filters(stack: Stack) -> None:
    """https://docs.aws.amazon.com/codedeploy/latest/APIReference/API_ListDeployments.html —
    filter by group, status and create time range."""
    stack.create_group()
    first = stack.deploy("v2")
    stack.wait_status(first, "Succeeded")
    second = stack.deploy("v3")
    stack.wait_status(second, "Succeeded")
    cd = stack.codedeploy
    both = cd.list_deployments(applicationName=APP, deploymentGroupName=GROUP)["deployments"]
    assert both == [second, first]
    assert cd.list_deployments(includeOnlyStatuses=["Failed"])["deployments"] == []
    created = stack.deployment(first)["createTime"]
    since = cd.list_deployments(createTimeRange={"start": created - timedelta(seconds=1)})
    assert since["deployments"] == [second, first]
    before = cd.list_deployments(createTimeRange={"end": created - timedelta(seconds=1)})
    assert before["deployments"] == []
    with pytest.raises(ClientError) as info:
        cd.list_deployments(deploymentGroupName=GROUP)
    assert code(info) == "ApplicationNameRequiredException"
    infos = cd.batch_get_deployments(deploymentIds=[first, second, "d-NOTTHERE0"])[
        "deploymentsInfo"
    ]
    assert {i["deploymentId"] for i in infos} == {first, second}


def test_deployment_targets(stack: Stack) -> None:
    """https://docs.aws.amazon.com/codedeploy/latest/APIReference/API_ListDeploymentTargets.html
    — an ECS deployment has one target, <cluster>:<service>."""
    stack.create_group()
    d = stack.deploy()
    stack.wait_status(d, "Succeeded")
    cd = stack.codedeploy
    assert cd.list_deployment_targets(deploymentId=d)["targetIds"] == ["web-cluster:web"]
    [target] = cd.batch_get_deployment_targets(deploymentId=d, targetIds=["web-cluster:web"])[
        "deploymentTargets"
    ]
    assert target["deploymentTargetType"] == "ECSTarget"
    assert target["ecsTarget"]["status"] == "Succeeded"
    with pytest.raises(ClientError) as info:
        cd.get_deployment_target(deploymentId=d, targetId="other:svc")
    assert code(info) == "DeploymentTargetDoesNotExistException"
    with pytest.raises(ClientError) as info:
        cd.get_deployment(deploymentId="d-AAAAAAAAA")
    assert code(info) == "DeploymentDoesNotExistException"


def test_timestamps_are_epoch_seconds_on_the_wire(stack: Stack) -> None:
    """https://docs.aws.amazon.com/codedeploy/latest/APIReference/API_ApplicationInfo.html —
    JSON 1.1 timestamps travel as epoch seconds; errors as {"__type", "message"}, HTTP 400."""

    def raw(operation: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        request = urllib.request.Request(  # noqa: S310 - loopback sandbox
            stack.sandbox.url,
            data=json.dumps(body).encode(),
            headers={
                "X-Amz-Target": f"CodeDeploy_20141006.{operation}",
                "Content-Type": "application/x-amz-json-1.1",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    status, body = raw("GetApplication", {"applicationName": APP})
    assert status == 200
    assert isinstance(body["application"]["createTime"], float)
    status, body = raw("GetApplication", {"applicationName": "missing"})
    assert status == 400
    assert body["__type"] == "ApplicationDoesNotExistException"
    assert "missing" in body["message"]


def test_tags(stack: Stack) -> None:
    """https://docs.aws.amazon.com/codedeploy/latest/APIReference/API_TagResource.html"""
    cd = stack.codedeploy
    arn = f"arn:aws:codedeploy:us-east-1:123456789012:application:{APP}"
    cd.tag_resource(
        ResourceArn=arn, Tags=[{"Key": "team", "Value": "web"}, {"Key": "env", "Value": "prod"}]
    )
    cd.untag_resource(ResourceArn=arn, TagKeys=["env"])
    assert cd.list_tags_for_resource(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "web"}]
    with pytest.raises(ClientError) as info:
        cd.list_tags_for_resource(ResourceArn="not-an-arn")
    assert code(info) == "InvalidArnException"
