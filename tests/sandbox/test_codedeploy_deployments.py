"""ECS blue/green deployments in the sandbox, driven with plain boto3 and checked against the
behaviour the AWS documentation describes (each test cites its page)."""

from __future__ import annotations

import hashlib
import re
from typing import Any

import botocore.exceptions
import pytest

from tests.sandbox.conftest import APP, GROUP, Stack

DONE = ("Succeeded", "Failed", "Stopped")


def event_statuses(stack: Stack, deployment_id: str) -> dict[str, str]:
    return {
        e["lifecycleEventName"]: e["status"] for e in stack.target(deployment_id)["lifecycleEvents"]
    }


def observe_weights(stack: Stack, deployment_id: str, timeout: float = 10.0) -> list[int]:
    """Green's production weight each time it changes, until the deployment ends."""
    seen: list[int] = []

    def finished() -> bool:
        green = stack.weights().get("web-green", 0)
        if not seen or seen[-1] != green:
            seen.append(green)
        return stack.deployment(deployment_id)["status"] in DONE

    stack.wait_for(finished, timeout, "deployment end")
    return seen


def test_all_at_once_runs_every_lifecycle_event_and_swaps_task_sets(stack: Stack) -> None:
    """https://docs.aws.amazon.com/codedeploy/latest/userguide/deployment-steps-ecs.html —
    the replacement task set is created on the second target group, traffic is rerouted, and
    the original task set is terminated; the lifecycle events run in the documented order."""
    stack.create_group()
    d = stack.deploy()
    info = stack.wait_status(d, *DONE)
    assert info["status"] == "Succeeded"
    assert re.fullmatch(r"d-[A-Z0-9]{9}", d)
    target = stack.target(d)
    assert [e["lifecycleEventName"] for e in target["lifecycleEvents"]] == [
        "BeforeInstall",
        "Install",
        "AfterInstall",
        "AllowTestTraffic",
        "AfterAllowTestTraffic",
        "BeforeAllowTraffic",
        "AllowTraffic",
        "AfterAllowTraffic",
    ]
    assert all(e["status"] == "Succeeded" for e in target["lifecycleEvents"])
    assert all(e["startTime"] <= e["endTime"] for e in target["lifecycleEvents"])
    assert stack.weights() == {"web-blue": 0, "web-green": 100}
    assert stack.weights(stack.test_listener) == {"web-blue": 0, "web-green": 100}
    sets = stack.ecs.describe_task_sets(cluster="web-cluster", service="web")["taskSets"]
    assert [(s["status"], s["taskDefinition"].endswith(":2")) for s in sets] == [("PRIMARY", True)]
    assert (sets[0]["computedDesiredCount"], sets[0]["runningCount"]) == (2, 2)
    svc = stack.ecs.describe_services(cluster="web-cluster", services=["web"])["services"][0]
    assert (svc["runningCount"], svc["pendingCount"]) == (2, 0)
    assert svc["taskDefinition"] == sets[0]["taskDefinition"]
    [green] = target["taskSetsInfo"]
    assert green["taskSetLabel"] == "Green"
    assert green["targetGroup"] == {"name": "web-green"}
    assert (green["desiredCount"], green["runningCount"], green["pendingCount"]) == (2, 2, 0)
    assert green["trafficWeight"] == 100.0
    assert green["identifer"] == sets[0]["id"]


def test_canary_shifts_ten_percent_then_the_rest(stack: Stack) -> None:
    """https://docs.aws.amazon.com/codedeploy/latest/userguide/deployment-configurations.html —
    CodeDeployDefault.ECSCanary10Percent5Minutes shifts 10 percent first and the remaining 90
    percent five minutes later."""
    stack.create_group(deploymentConfigName="CodeDeployDefault.ECSCanary10Percent5Minutes")
    d = stack.deploy()
    assert observe_weights(stack, d) == [0, 10, 100]
    assert stack.deployment(d)["status"] == "Succeeded"


def test_linear_shifts_in_equal_steps(stack: Stack) -> None:
    """https://docs.aws.amazon.com/codedeploy/latest/userguide/deployment-configurations-create.html
    — a TimeBasedLinear config shifts linearPercentage every linearInterval minutes."""
    stack.codedeploy.create_deployment_config(
        deploymentConfigName="linear-25-1",
        computePlatform="ECS",
        trafficRoutingConfig={
            "type": "TimeBasedLinear",
            "timeBasedLinear": {"linearPercentage": 25, "linearInterval": 1},
        },
    )
    stack.settings(timeScale=120)  # half a second per step, so every step is seen
    stack.create_group()
    d = stack.deploy(deploymentConfigName="linear-25-1")
    assert observe_weights(stack, d) == [0, 25, 50, 75, 100]
    info = stack.deployment(d)
    assert info["status"] == "Succeeded"
    assert info["deploymentConfigName"] == "linear-25-1"


def test_botocore_deployment_successful_waiter(stack: Stack) -> None:
    """https://docs.aws.amazon.com/codedeploy/latest/APIReference/API_GetDeployment.html — the
    SDK's deployment_successful waiter polls GetDeployment until Succeeded."""
    stack.create_group(deploymentConfigName="CodeDeployDefault.ECSLinear10PercentEvery1Minutes")
    d = stack.deploy()
    waiter = stack.codedeploy.get_waiter("deployment_successful")
    waiter.wait(deploymentId=d, WaiterConfig={"Delay": 0.05, "MaxAttempts": 400})
    assert stack.deployment(d)["status"] == "Succeeded"


def test_waiter_fails_on_a_stopped_deployment(stack: Stack) -> None:
    """https://docs.aws.amazon.com/codedeploy/latest/APIReference/API_StopDeployment.html —
    a stopped deployment ends Stopped, which the waiter treats as failure."""
    stack.create_group(deploymentConfigName="CodeDeployDefault.ECSCanary10Percent15Minutes")
    d = stack.deploy()
    stack.wait_for(lambda: stack.weights().get("web-green") == 10, what="canary")
    stack.codedeploy.stop_deployment(deploymentId=d, autoRollbackEnabled=False)
    waiter = stack.codedeploy.get_waiter("deployment_successful")
    with pytest.raises(botocore.exceptions.WaiterError):
        waiter.wait(deploymentId=d, WaiterConfig={"Delay": 0.05, "MaxAttempts": 50})


def alarmed_group(stack: Stack, events: list[str]) -> None:
    stack.cloudwatch.put_metric_alarm(
        AlarmName="web-5xx",
        MetricName="HTTPCode_Target_5XX_Count",
        Namespace="AWS/ApplicationELB",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=5,
        ComparisonOperator="GreaterThanThreshold",
    )
    stack.create_group(
        deploymentConfigName="CodeDeployDefault.ECSCanary10Percent15Minutes",
        alarmConfiguration={"enabled": True, "alarms": [{"name": "web-5xx"}]},
        autoRollbackConfiguration={"enabled": True, "events": events},
    )


def test_alarm_stops_the_deployment_and_rolls_back(stack: Stack) -> None:
    """https://docs.aws.amazon.com/codedeploy/latest/userguide/deployments-rollback-and-redeploy.html
    — an alarm going off stops the deployment; with DEPLOYMENT_STOP_ON_ALARM a new rollback
    deployment restores the last known good revision."""
    alarmed_group(stack, ["DEPLOYMENT_STOP_ON_ALARM"])
    d = stack.deploy()
    stack.wait_for(lambda: stack.weights().get("web-green") == 10, what="canary")
    stack.cloudwatch.set_alarm_state(AlarmName="web-5xx", StateValue="ALARM", StateReason="test")
    info = stack.wait_status(d, *DONE)
    assert info["status"] == "Stopped"
    assert info["errorInformation"]["code"] == "ALARM_ACTIVE"
    assert "web-5xx" in info["errorInformation"]["message"]
    rollback_id = info["rollbackInfo"]["rollbackDeploymentId"]
    rollback = stack.wait_status(rollback_id, *DONE)
    assert rollback["status"] == "Succeeded"
    assert rollback["creator"] == "codeDeployRollback"
    assert rollback["rollbackInfo"]["rollbackTriggeringDeploymentId"] == d
    assert stack.weights() == {"web-blue": 100, "web-green": 0}
    assert stack.weights(stack.test_listener) == {"web-blue": 100, "web-green": 0}
    sets = stack.ecs.describe_task_sets(cluster="web-cluster", service="web")["taskSets"]
    assert [(s["status"], s["taskDefinition"].endswith(":1")) for s in sets] == [("PRIMARY", True)]


def test_stop_with_rollback(stack: Stack) -> None:
    """https://docs.aws.amazon.com/codedeploy/latest/APIReference/API_StopDeployment.html —
    autoRollbackEnabled=true rolls the stopped deployment back."""
    stack.create_group(deploymentConfigName="CodeDeployDefault.ECSCanary10Percent15Minutes")
    d = stack.deploy()
    stack.wait_for(lambda: stack.weights().get("web-green") == 10, what="canary")
    answer = stack.codedeploy.stop_deployment(deploymentId=d, autoRollbackEnabled=True)
    assert answer["status"] in ("Pending", "Succeeded")
    info = stack.wait_status(d, *DONE)
    assert info["status"] == "Stopped"
    rollback = stack.wait_status(info["rollbackInfo"]["rollbackDeploymentId"], *DONE)
    assert rollback["status"] == "Succeeded"
    assert stack.weights() == {"web-blue": 100, "web-green": 0}


def test_stop_without_rollback_leaves_traffic_where_it_was(stack: Stack) -> None:
    """https://docs.aws.amazon.com/codedeploy/latest/APIReference/API_StopDeployment.html —
    autoRollbackEnabled=false stops without a rollback deployment."""
    stack.create_group(deploymentConfigName="CodeDeployDefault.ECSCanary10Percent15Minutes")
    d = stack.deploy()
    stack.wait_for(lambda: stack.weights().get("web-green") == 10, what="canary")
    stack.codedeploy.stop_deployment(deploymentId=d, autoRollbackEnabled=False)
    info = stack.wait_status(d, *DONE)
    assert info["status"] == "Stopped"
    assert "rollbackInfo" not in info
    assert stack.weights() == {"web-blue": 90, "web-green": 10}
    assert stack.codedeploy.list_deployments(applicationName=APP, deploymentGroupName=GROUP)[
        "deployments"
    ] == [d]
    with pytest.raises(stack.codedeploy.exceptions.DeploymentAlreadyCompletedException):
        stack.codedeploy.stop_deployment(deploymentId=d)


def ready_wait_group(stack: Stack, minutes: int = 30) -> None:
    stack.create_group(
        blueGreenDeploymentConfiguration={
            "terminateBlueInstancesOnDeploymentSuccess": {
                "action": "TERMINATE",
                "terminationWaitTimeInMinutes": 0,
            },
            "deploymentReadyOption": {
                "actionOnTimeout": "STOP_DEPLOYMENT",
                "waitTimeInMinutes": minutes,
            },
        }
    )


def test_ready_wait_holds_until_continue(stack: Stack) -> None:
    """https://docs.aws.amazon.com/codedeploy/latest/APIReference/API_ContinueDeployment.html —
    with STOP_DEPLOYMENT the deployment waits in Ready (test traffic on the replacement) until
    ContinueDeployment(READY_WAIT) starts rerouting production traffic."""
    ready_wait_group(stack)
    d = stack.deploy()
    stack.wait_status(d, "Ready")
    assert stack.weights() == {"web-blue": 100}
    assert stack.weights(stack.test_listener) == {"web-blue": 0, "web-green": 100}
    assert event_statuses(stack, d)["BeforeAllowTraffic"] == "Pending"
    with pytest.raises(stack.codedeploy.exceptions.DeploymentIsNotInReadyStateException):
        stack.codedeploy.continue_deployment(deploymentId=d, deploymentWaitType="TERMINATION_WAIT")
    stack.codedeploy.continue_deployment(deploymentId=d, deploymentWaitType="READY_WAIT")
    assert stack.wait_status(d, *DONE)["status"] == "Succeeded"
    assert stack.weights() == {"web-blue": 0, "web-green": 100}


def test_ready_wait_timeout_stops_the_deployment(stack: Stack) -> None:
    """https://docs.aws.amazon.com/codedeploy/latest/userguide/deployment-groups-create-ecs.html
    — if rerouting is not started manually within the wait time, the deployment stops."""
    ready_wait_group(stack, minutes=10)
    d = stack.deploy()
    stack.wait_status(d, "Ready")
    info = stack.wait_status(d, *DONE)
    assert info["status"] == "Stopped"
    assert info["errorInformation"]["code"] == "TIMEOUT"
    assert stack.weights() == {"web-blue": 100}


def test_termination_wait_ends_early_on_continue(stack: Stack) -> None:
    """https://docs.aws.amazon.com/codedeploy/latest/APIReference/API_ContinueDeployment.html —
    TERMINATION_WAIT: traffic is shifted but the original task set is kept until the wait ends
    or ContinueDeployment(TERMINATION_WAIT) ends it early."""
    stack.create_group(
        blueGreenDeploymentConfiguration={
            "terminateBlueInstancesOnDeploymentSuccess": {
                "action": "TERMINATE",
                "terminationWaitTimeInMinutes": 2880,
            },
            "deploymentReadyOption": {"actionOnTimeout": "CONTINUE_DEPLOYMENT"},
        }
    )
    d = stack.deploy()
    stack.wait_for(
        lambda: stack.deployment(d)["instanceTerminationWaitTimeStarted"], what="termination wait"
    )
    info = stack.deployment(d)
    assert info["status"] == "InProgress"
    assert stack.weights() == {"web-blue": 0, "web-green": 100}
    labels = {t["taskSetLabel"]: t["status"] for t in stack.target(d)["taskSetsInfo"]}
    assert labels == {"Blue": "ACTIVE", "Green": "PRIMARY"}
    stack.codedeploy.continue_deployment(deploymentId=d, deploymentWaitType="TERMINATION_WAIT")
    assert stack.wait_status(d, *DONE)["status"] == "Succeeded"
    assert [t["taskSetLabel"] for t in stack.target(d)["taskSetsInfo"]] == ["Green"]


def test_one_active_deployment_per_group(stack: Stack) -> None:
    """https://docs.aws.amazon.com/codedeploy/latest/APIReference/API_CreateDeployment.html —
    DeploymentLimitExceededException: the group already has an active deployment."""
    ready_wait_group(stack)
    d = stack.deploy()
    with pytest.raises(stack.codedeploy.exceptions.DeploymentLimitExceededException) as info:
        stack.deploy("v3")
    assert d in str(info.value)


def test_target_groups_alternate_between_deployments(stack: Stack) -> None:
    """https://docs.aws.amazon.com/codedeploy/latest/userguide/deployment-steps-ecs.html —
    each deployment puts the replacement on the target group not serving production."""
    stack.create_group()
    first = stack.deploy("v2")
    assert stack.wait_status(first, *DONE)["status"] == "Succeeded"
    assert stack.weights() == {"web-blue": 0, "web-green": 100}
    second = stack.deploy("v3")
    assert stack.wait_status(second, *DONE)["status"] == "Succeeded"
    assert stack.weights() == {"web-blue": 100, "web-green": 0}
    [green] = stack.target(second)["taskSetsInfo"]
    assert green["targetGroup"] == {"name": "web-blue"}
    assert stack.deployment(second)["previousRevision"] == stack.deployment(first)["revision"]


HOOK = [{"AfterAllowTestTraffic": "web-smoke-tests"}]


def test_hook_auto_succeeds(stack: Stack) -> None:
    """https://docs.aws.amazon.com/codedeploy/latest/userguide/reference-appspec-file-structure-hooks.html
    — a hook's Lambda reports Succeeded and the deployment continues."""
    stack.create_group()
    d = stack.deploy(hooks=HOOK)
    assert stack.wait_status(d, *DONE)["status"] == "Succeeded"


def test_hook_failure_fails_and_rolls_back(stack: Stack) -> None:
    """https://docs.aws.amazon.com/codedeploy/latest/userguide/reference-appspec-file-structure-hooks.html
    — a hook reporting Failed fails the lifecycle event and the deployment; with
    DEPLOYMENT_FAILURE the deployment is rolled back."""
    stack.settings(hooks="fail")
    stack.create_group(
        autoRollbackConfiguration={"enabled": True, "events": ["DEPLOYMENT_FAILURE"]}
    )
    d = stack.deploy(hooks=HOOK)
    info = stack.wait_status(d, *DONE)
    assert info["status"] == "Failed"
    assert info["errorInformation"]["code"] == "HOOK_EXECUTION_FAILURE"
    assert event_statuses(stack, d)["AfterAllowTestTraffic"] == "Failed"
    rollback = stack.wait_status(info["rollbackInfo"]["rollbackDeploymentId"], *DONE)
    assert rollback["status"] == "Succeeded"
    assert stack.weights(stack.test_listener) == {"web-blue": 100, "web-green": 0}


def test_hook_waits_for_put_lifecycle_event_hook_execution_status(stack: Stack) -> None:
    """https://docs.aws.amazon.com/codedeploy/latest/APIReference/API_PutLifecycleEventHookExecutionStatus.html
    — the event waits until the hook reports its status with its execution id."""
    from tests.conftest import sandbox_call

    stack.settings(hooks="wait")
    stack.create_group()
    d = stack.deploy(hooks=HOOK)

    def pending() -> list[dict[str, Any]]:
        hooks: list[dict[str, Any]] = sandbox_call(stack.sandbox, "hooks", method="GET")["hooks"]
        return hooks

    [hook] = stack.wait_for(pending, what="hook execution")
    assert hook["deploymentId"] == d
    assert hook["lifecycleEventName"] == "AfterAllowTestTraffic"
    assert stack.deployment(d)["status"] == "InProgress"
    assert event_statuses(stack, d)["AfterAllowTestTraffic"] == "InProgress"
    with pytest.raises(
        stack.codedeploy.exceptions.InvalidLifecycleEventHookExecutionStatusException
    ):
        stack.codedeploy.put_lifecycle_event_hook_execution_status(
            deploymentId=d,
            lifecycleEventHookExecutionId=hook["lifecycleEventHookExecutionId"],
            status="Pending",
        )
    answer = stack.codedeploy.put_lifecycle_event_hook_execution_status(
        deploymentId=d,
        lifecycleEventHookExecutionId=hook["lifecycleEventHookExecutionId"],
        status="Succeeded",
    )
    assert answer["lifecycleEventHookExecutionId"] == hook["lifecycleEventHookExecutionId"]
    assert stack.wait_status(d, *DONE)["status"] == "Succeeded"
    with pytest.raises(stack.codedeploy.exceptions.LifecycleEventAlreadyCompletedException):
        stack.codedeploy.put_lifecycle_event_hook_execution_status(
            deploymentId=d,
            lifecycleEventHookExecutionId=hook["lifecycleEventHookExecutionId"],
            status="Failed",
        )


def test_hook_fail_fault_for_one_event(stack: Stack) -> None:
    """https://docs.aws.amazon.com/codedeploy/latest/userguide/reference-appspec-file-structure-hooks.html
    — only the faulted event fails; earlier hooks succeed."""
    stack.fault(kind="hook-fail", event="BeforeAllowTraffic")
    stack.create_group()
    d = stack.deploy(hooks=[{"AfterInstall": "check"}, {"BeforeAllowTraffic": "gate"}])
    assert stack.wait_status(d, *DONE)["status"] == "Failed"
    statuses = event_statuses(stack, d)
    assert statuses["AfterInstall"] == "Succeeded"
    assert statuses["BeforeAllowTraffic"] == "Failed"
    assert statuses["AllowTraffic"] == "Skipped"


def test_unhealthy_green_fails_install_and_rolls_back(stack: Stack) -> None:
    """https://docs.aws.amazon.com/codedeploy/latest/userguide/deployment-steps-ecs.html —
    replacement tasks that never pass health checks fail the deployment; with
    DEPLOYMENT_FAILURE CodeDeploy rolls back."""
    stack.fault(kind="unhealthy-green")
    stack.create_group(
        autoRollbackConfiguration={"enabled": True, "events": ["DEPLOYMENT_FAILURE"]}
    )
    d = stack.deploy()
    info = stack.wait_status(d, *DONE)
    assert info["status"] == "Failed"
    assert event_statuses(stack, d)["Install"] == "Failed"
    rollback = stack.wait_status(info["rollbackInfo"]["rollbackDeploymentId"], *DONE)
    assert rollback["status"] == "Succeeded"
    sets = stack.ecs.describe_task_sets(cluster="web-cluster", service="web")["taskSets"]
    assert [(s["status"], s["taskDefinition"].endswith(":1")) for s in sets] == [("PRIMARY", True)]


def test_green_turning_unhealthy_fails_during_traffic_shift(stack: Stack) -> None:
    """https://docs.aws.amazon.com/codedeploy/latest/userguide/deployments-rollback-and-redeploy.html
    — a failure during AllowTraffic fails the deployment and rolls production back."""
    stack.fault(kind="unhealthy-green", after_seconds=400)
    stack.create_group(
        deploymentConfigName="CodeDeployDefault.ECSCanary10Percent15Minutes",
        autoRollbackConfiguration={"enabled": True, "events": ["DEPLOYMENT_FAILURE"]},
    )
    d = stack.deploy()
    info = stack.wait_status(d, *DONE)
    assert info["status"] == "Failed"
    assert event_statuses(stack, d)["AllowTraffic"] == "Failed"
    stack.wait_status(info["rollbackInfo"]["rollbackDeploymentId"], *DONE)
    assert stack.weights() == {"web-blue": 100, "web-green": 0}


def test_override_alarm_configuration_applies_to_one_deployment(stack: Stack) -> None:
    """https://docs.aws.amazon.com/codedeploy/latest/APIReference/API_CreateDeployment.html —
    overrideAlarmConfiguration replaces the group's alarm settings for this deployment; with
    no rollback configured the deployment stops and stays where it was."""
    stack.cloudwatch.put_metric_alarm(
        AlarmName="canary-latency",
        MetricName="TargetResponseTime",
        Namespace="AWS/ApplicationELB",
        Statistic="Average",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanThreshold",
    )
    stack.create_group(deploymentConfigName="CodeDeployDefault.ECSCanary10Percent15Minutes")
    d = stack.deploy(
        overrideAlarmConfiguration={"enabled": True, "alarms": [{"name": "canary-latency"}]}
    )
    stack.wait_for(lambda: stack.weights().get("web-green") == 10, what="canary")
    stack.cloudwatch.set_alarm_state(
        AlarmName="canary-latency", StateValue="ALARM", StateReason="test"
    )
    info = stack.wait_status(d, *DONE)
    assert info["status"] == "Stopped"
    assert info["errorInformation"]["code"] == "ALARM_ACTIVE"
    assert info["overrideAlarmConfiguration"]["alarms"] == [{"name": "canary-latency"}]
    assert "rollbackInfo" not in info
    assert stack.weights() == {"web-blue": 90, "web-green": 10}


def test_missing_task_definition_fails_at_install(stack: Stack) -> None:
    """https://docs.aws.amazon.com/codedeploy/latest/userguide/deployment-steps-ecs.html —
    Install creates the replacement task set from the AppSpec's task definition; when ECS
    refuses it the deployment fails and production stays on the original."""
    stack.create_group()
    content = stack.appspec("arn:aws:ecs:us-east-1:123456789012:task-definition/web:99")
    revision = {
        "revisionType": "AppSpecContent",
        "appSpecContent": {
            "content": content,
            "sha256": hashlib.sha256(content.encode()).hexdigest(),
        },
    }
    d = stack.codedeploy.create_deployment(
        applicationName=APP, deploymentGroupName=GROUP, revision=revision
    )["deploymentId"]
    info = stack.wait_status(d, *DONE)
    assert info["status"] == "Failed"
    assert info["errorInformation"]["code"] == "ECS_UPDATE_ERROR"
    assert event_statuses(stack, d)["Install"] == "Failed"
    assert stack.weights() == {"web-blue": 100}


def test_failed_task_set_creation_leaves_no_half_made_set(stack: Stack) -> None:
    """https://docs.aws.amazon.com/codedeploy/latest/userguide/deployment-steps-ecs.html —
    when ECS fails to create the replacement task set the deployment fails and the service
    keeps only its original task set."""
    import boto3

    ec2 = boto3.client("ec2")
    vpc = ec2.describe_vpcs(Filters=[{"Name": "cidr", "Values": ["10.0.0.0/16"]}])["Vpcs"][0]
    stack.create_group()
    assert stack.wait_status(stack.deploy("v2"), *DONE)["status"] == "Succeeded"
    ec2.modify_vpc_attribute(VpcId=vpc["VpcId"], EnableDnsHostnames={"Value": False})
    d = stack.deploy("v3")
    info = stack.wait_status(d, *DONE)
    assert info["status"] == "Failed"
    assert info["errorInformation"]["code"] == "ECS_UPDATE_ERROR"
    sets = stack.ecs.describe_task_sets(cluster="web-cluster", service="web")["taskSets"]
    assert [(s["status"], s["taskDefinition"].endswith(":2")) for s in sets] == [("PRIMARY", True)]
    assert stack.weights() == {"web-blue": 0, "web-green": 100}


def test_stop_without_flag_follows_the_group_stop_on_request_setting(stack: Stack) -> None:
    """https://docs.aws.amazon.com/codedeploy/latest/userguide/deployments-rollback-and-redeploy.html
    — with DEPLOYMENT_STOP_ON_REQUEST in the group's rollback events, a manual stop rolls
    back."""
    stack.create_group(
        deploymentConfigName="CodeDeployDefault.ECSCanary10Percent15Minutes",
        autoRollbackConfiguration={"enabled": True, "events": ["DEPLOYMENT_STOP_ON_REQUEST"]},
    )
    d = stack.deploy()
    stack.wait_for(lambda: stack.weights().get("web-green") == 10, what="canary")
    stack.codedeploy.stop_deployment(deploymentId=d)
    info = stack.wait_status(d, *DONE)
    assert info["status"] == "Stopped"
    rollback = stack.wait_status(info["rollbackInfo"]["rollbackDeploymentId"], *DONE)
    assert rollback["status"] == "Succeeded"
    assert stack.weights() == {"web-blue": 100, "web-green": 0}
