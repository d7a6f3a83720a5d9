"""The sandbox's CodeDeploy answers as AWS gives them, each raw answer held to botocore's
service model (tests/sandbox/model_check.py). Plain boto3; each test cites the AWS page it
follows."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from bluegreen.sandbox.server import SandboxServer
from tests.sandbox.conftest import APP, CLUSTER, GROUP, SERVICE, Stack
from tests.sandbox.model_check import RawResponses


def test_every_answer_names_its_request(aws_env: SandboxServer) -> None:
    """https://docs.aws.amazon.com/codedeploy/latest/APIReference/CommonParameters.html —
    AWS answers each request, errors included, with an x-amzn-RequestId header, which
    boto3 reports as ResponseMetadata.RequestId."""
    raw = RawResponses()
    codedeploy = raw.attach(boto3.client("codedeploy"))
    first = codedeploy.list_applications()["ResponseMetadata"]["RequestId"]
    raw.check("ListApplications")
    second = codedeploy.create_application(applicationName="a", computePlatform="ECS")[
        "ResponseMetadata"
    ]["RequestId"]
    raw.check("CreateApplication")
    with pytest.raises(ClientError) as failed:
        codedeploy.get_application(applicationName="missing")
    raw.check("GetApplication")
    third = failed.value.response["ResponseMetadata"]["RequestId"]
    assert all((first, second, third))
    assert len({first, second, third}) == 3


def test_instance_operations_refuse_an_ecs_deployment(stack: Stack) -> None:
    """https://docs.aws.amazon.com/codedeploy/latest/APIReference/API_ListDeploymentInstances.html
    — ListDeploymentInstances "throws an exception if it is used with a compute platform other
    than EC2/On-premises or AWS Lambda": the listed InvalidComputePlatformException; an
    unknown deployment is DeploymentDoesNotExistException."""
    raw = RawResponses()
    codedeploy = raw.attach(stack.codedeploy)
    stack.create_group()
    d = stack.deploy()
    calls = {
        "ListDeploymentInstances": lambda i: codedeploy.list_deployment_instances(deploymentId=i),
        "GetDeploymentInstance": lambda i: codedeploy.get_deployment_instance(
            deploymentId=i, instanceId="i-1"
        ),
        "BatchGetDeploymentInstances": lambda i: codedeploy.batch_get_deployment_instances(
            deploymentId=i, instanceIds=["i-1"]
        ),
    }
    for operation, call in calls.items():
        with pytest.raises(ClientError) as refused:
            call(d)
        assert refused.value.response["Error"]["Code"] == "InvalidComputePlatformException"
        raw.check(operation)
        with pytest.raises(codedeploy.exceptions.DeploymentDoesNotExistException):
            call("d-MISSING00")
        raw.check(operation)


def inline(content: str) -> dict[str, Any]:
    return {"revisionType": "AppSpecContent", "appSpecContent": {"content": content}}


def test_application_revisions_registered_and_deployed(stack: Stack) -> None:
    """https://docs.aws.amazon.com/codedeploy/latest/APIReference/API_ListApplicationRevisions.html,
    API_GetApplicationRevision.html, API_BatchGetApplicationRevisions.html: an application's
    revisions are those registered with RegisterApplicationRevision and those its deployments
    used; deploymentGroups names the groups whose target revision it is; deployed=include
    keeps only those; an unknown revision is RevisionDoesNotExistException."""
    raw = RawResponses()
    codedeploy = raw.attach(stack.codedeploy)
    stack.create_group()
    spare = stack.appspec(stack.taskdef_v1)
    codedeploy.register_application_revision(
        applicationName=APP, revision=inline(spare), description="kept for a rollback"
    )
    d = stack.deploy("v2")
    deployed = stack.deployment(d)["revision"]

    listed = codedeploy.list_application_revisions(applicationName=APP, sortBy="registerTime")
    raw.check("ListApplicationRevisions")
    contents = [r["appSpecContent"]["content"] for r in listed["revisions"]]
    assert contents == [spare, deployed["appSpecContent"]["content"]]

    got = codedeploy.get_application_revision(applicationName=APP, revision=deployed)
    raw.check("GetApplicationRevision")
    assert got["revision"] == deployed
    assert got["revisionInfo"]["deploymentGroups"] == [GROUP]
    assert got["revisionInfo"]["firstUsedTime"] <= got["revisionInfo"]["lastUsedTime"]

    kept = codedeploy.get_application_revision(applicationName=APP, revision=inline(spare))
    raw.check("GetApplicationRevision")
    assert kept["revisionInfo"]["description"] == "kept for a rollback"
    assert kept["revisionInfo"]["deploymentGroups"] == []
    assert "firstUsedTime" not in kept["revisionInfo"]

    only_deployed = codedeploy.list_application_revisions(applicationName=APP, deployed="include")
    raw.check("ListApplicationRevisions")
    assert only_deployed["revisions"] == [deployed]

    batch = codedeploy.batch_get_application_revisions(
        applicationName=APP, revisions=[deployed, inline("version: 0.0\n")]
    )
    raw.check("BatchGetApplicationRevisions")
    assert [r["revisionLocation"] for r in batch["revisions"]] == [deployed]
    assert batch["errorMessage"]

    with pytest.raises(codedeploy.exceptions.RevisionDoesNotExistException):
        codedeploy.get_application_revision(applicationName=APP, revision=inline("other"))
    raw.check("GetApplicationRevision")
    with pytest.raises(codedeploy.exceptions.ApplicationDoesNotExistException):
        codedeploy.list_application_revisions(applicationName="missing")
    raw.check("ListApplicationRevisions")


def test_predefined_configs_of_every_compute_platform(aws_env: SandboxServer) -> None:
    """https://docs.aws.amazon.com/codedeploy/latest/userguide/deployment-configurations.html
    — every account lists the predefined EC2/On-premises, Lambda and ECS configs."""
    raw = RawResponses()
    codedeploy = raw.attach(boto3.client("codedeploy"))
    names = codedeploy.list_deployment_configs()["deploymentConfigsList"]
    raw.check("ListDeploymentConfigs")
    for name in (
        "CodeDeployDefault.OneAtATime",
        "CodeDeployDefault.HalfAtATime",
        "CodeDeployDefault.AllAtOnce",
        "CodeDeployDefault.LambdaAllAtOnce",
        "CodeDeployDefault.LambdaCanary10Percent5Minutes",
        "CodeDeployDefault.LambdaLinear10PercentEvery1Minute",
        "CodeDeployDefault.ECSAllAtOnce",
        "CodeDeployDefault.ECSCanary10Percent15Minutes",
    ):
        assert name in names
    half = codedeploy.get_deployment_config(deploymentConfigName="CodeDeployDefault.HalfAtATime")
    raw.check("GetDeploymentConfig")
    assert half["deploymentConfigInfo"]["computePlatform"] == "Server"
    assert half["deploymentConfigInfo"]["minimumHealthyHosts"] == {
        "type": "FLEET_PERCENT",
        "value": 50,
    }
    one = codedeploy.get_deployment_config(deploymentConfigName="CodeDeployDefault.OneAtATime")
    raw.check("GetDeploymentConfig")  # no MOST_CONCURRENCY: botocore's model lacks it
    assert one["deploymentConfigInfo"]["computePlatform"] == "Server"
    canary = codedeploy.get_deployment_config(
        deploymentConfigName="CodeDeployDefault.LambdaCanary10Percent30Minutes"
    )["deploymentConfigInfo"]
    raw.check("GetDeploymentConfig")
    assert canary["computePlatform"] == "Lambda"
    assert canary["trafficRoutingConfig"]["timeBasedCanary"] == {
        "canaryPercentage": 10,
        "canaryInterval": 30,
    }


def test_ecs_target_names_the_service_from_the_start(stack: Stack) -> None:
    """https://docs.aws.amazon.com/codedeploy/latest/APIReference/API_ECSTarget.html —
    targetArn is the ARN of the target, the ECS service, from the first lifecycle event on
    (here the deployment waits in its BeforeInstall hook, before any task set exists)."""
    raw = RawResponses()
    codedeploy = raw.attach(stack.codedeploy)
    stack.settings(hooks="wait")
    stack.create_group()
    d = stack.deploy(hooks=[{"BeforeInstall": "web-pre-checks"}])
    stack.wait_for(lambda: stack.deployment(d)["status"] == "InProgress", what="started")
    target = codedeploy.get_deployment_target(deploymentId=d, targetId=f"{CLUSTER}:{SERVICE}")
    raw.check("GetDeploymentTarget")
    ecs_target = target["deploymentTarget"]["ecsTarget"]
    assert ecs_target["taskSetsInfo"] == []
    service_arn = stack.ecs.describe_services(cluster=CLUSTER, services=[SERVICE])["services"][0][
        "serviceArn"
    ]
    assert ecs_target["targetArn"] == service_arn


DONE = ("Succeeded", "Failed", "Stopped")


def test_a_deployment_after_a_stop_without_rollback_replaces_the_leftover(stack: Stack) -> None:
    """https://docs.aws.amazon.com/codedeploy/latest/APIReference/API_StopDeployment.html
    (autoRollbackEnabled=false leaves the replacement where it was) and
    https://docs.aws.amazon.com/codedeploy/latest/APIReference/API_ECSTaskSet.html (an ECS
    deployment has one original and one replacement task set): the next deployment puts
    traffic back on the original and removes the leftover replacement before installing its
    own, instead of stacking a second task set into the same target group."""
    raw = RawResponses()
    codedeploy = raw.attach(stack.codedeploy)
    stack.create_group(deploymentConfigName="CodeDeployDefault.ECSCanary10Percent15Minutes")
    stopped = stack.deploy("v2")
    stack.wait_for(lambda: stack.weights().get("web-green") == 10, what="canary")
    codedeploy.stop_deployment(deploymentId=stopped, autoRollbackEnabled=False)
    assert stack.wait_status(stopped, *DONE)["status"] == "Stopped"
    assert len(stack.ecs.describe_task_sets(cluster=CLUSTER, service=SERVICE)["taskSets"]) == 2

    next_one = stack.deploy("v3", deploymentConfigName="CodeDeployDefault.ECSAllAtOnce")
    stack.wait_for(
        lambda: stack.deployment(next_one)["status"] in ("InProgress", *DONE), what="started"
    )
    most = 0

    def done() -> bool:
        nonlocal most
        sets = stack.ecs.describe_task_sets(cluster=CLUSTER, service=SERVICE)["taskSets"]
        most = max(most, len(sets))
        return stack.deployment(next_one)["status"] in DONE

    stack.wait_for(done, what="second deployment")
    info = codedeploy.get_deployment(deploymentId=next_one)["deploymentInfo"]
    raw.check("GetDeployment")
    assert info["status"] == "Succeeded"
    assert most <= 2
    [only] = stack.ecs.describe_task_sets(cluster=CLUSTER, service=SERVICE)["taskSets"]
    assert only["status"] == "PRIMARY"
    assert only["taskDefinition"].endswith(":3")
    assert stack.weights() == {"web-blue": 0, "web-green": 100}


def test_the_rollback_of_a_first_deployment_names_no_failed_revision(stack: Stack) -> None:
    """https://docs.aws.amazon.com/codedeploy/latest/userguide/deployments-rollback-and-redeploy.html
    — a rollback redeploys the last known good revision; a group's first deployment has none,
    so its rollback deployment does not name the failed revision as the one it deploys, and
    the group's target revision is not the failed one either."""
    raw = RawResponses()
    codedeploy = raw.attach(stack.codedeploy)
    stack.fault(kind="unhealthy-green")
    stack.create_group(
        autoRollbackConfiguration={"enabled": True, "events": ["DEPLOYMENT_FAILURE"]}
    )
    failed = stack.deploy("v2")
    info = stack.wait_status(failed, *DONE)
    assert info["status"] == "Failed"
    rollback_id = info["rollbackInfo"]["rollbackDeploymentId"]
    stack.wait_status(rollback_id, *DONE)
    rollback = codedeploy.get_deployment(deploymentId=rollback_id)["deploymentInfo"]
    raw.check("GetDeployment")
    assert rollback["status"] == "Succeeded"
    assert rollback.get("revision") != info["revision"]
    assert rollback["previousRevision"] == info["revision"]
    group = codedeploy.get_deployment_group(applicationName=APP, deploymentGroupName=GROUP)
    raw.check("GetDeploymentGroup")
    assert group["deploymentGroupInfo"].get("targetRevision") != info["revision"]
