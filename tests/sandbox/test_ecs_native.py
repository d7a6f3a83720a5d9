"""ECS-native blue/green, linear and canary deployments in the sandbox, driven with plain boto3
as a client drives AWS: UpdateService starts a ServiceDeployment, the production listener
RULE's weights move per strategy (read back with DescribeRules), alarms, hooks and
StopServiceDeployment roll back. Each raw answer is held to botocore's ECS model.

Doc keys as in ../shared/reference/ecs-native-bluegreen.md, pages under
https://docs.aws.amazon.com/AmazonECS/latest/developerguide/<page>.html (HIW
blue-green-deployment-how-it-works, BG deployment-type-blue-green, CAN canary-deployment, LIN
deployment-type-linear, PAUSE pause-lifecycle-hooks, CONT continue-service-deployment, STOP
stop-service-deployment, ALARM deployment-alarm-failure, SD service-deployment, TS
troubleshooting-blue-green)."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from bluegreen.sandbox.server import SandboxServer
from tests.sandbox.model_check import RawResponses
from tests.sandbox.native_stack import ALARM, CLUSTER, SERVICE, NativeStack, build_native_stack

TIME_SCALE = 120  # one simulated minute = 0.5 s: every production step is seen


@pytest.fixture
def stack(aws_env: SandboxServer) -> NativeStack:
    built = build_native_stack(aws_env, RawResponses())
    built.settings(timeScale=TIME_SCALE)
    return built


def shares(stack: NativeStack) -> list[float]:
    return [s["green"] for s in stack.samples]


def check_model(stack: NativeStack, *operations: str) -> None:
    for operation in operations:
        stack.raw.check(operation)


def assert_on_blue(stack: NativeStack, final: dict[str, Any]) -> None:
    """I2 from AWS's side: production wholly on the previous target group, the service back
    on the previous task definition, the target groups not swapped."""
    assert stack.weights() == {"blue": 100, "green": 0}
    assert stack.weights(stack.test_rule)["green"] == 0
    service = stack.service()
    assert service["taskDefinition"].endswith("web:1")
    assert service["loadBalancers"][0]["targetGroupArn"] == stack.tgs["blue"]
    assert final["rollback"]["serviceRevisionArn"] == final["sourceServiceRevisions"][0]["arn"]
    assert [d["taskDefinition"].rsplit("/", 1)[-1] for d in service["deployments"]] == ["web:1"]


def test_blue_green_shifts_production_at_once_and_swaps_target_groups(
    stack: NativeStack,
) -> None:
    """[BG; HIW]: test rule to green, then production 0→100 at once, bake, clean-up; the
    target groups swap roles for the next deployment [MIG]; revisions read back with
    DescribeServiceRevisions, the stage's TG in resolvedConfiguration [M:ServiceRevision]."""
    stack.create_service(strategy="BLUE_GREEN", bakeTimeInMinutes=1)
    answer = stack.ecs.update_service(
        cluster=CLUSTER, service=SERVICE, taskDefinition=stack.register("v2")
    )["service"]
    check_model(stack, "UpdateService")
    assert [d["status"] for d in answer["deployments"]] == ["PRIMARY", "ACTIVE"]
    arn = stack.latest()
    assert arn.startswith(f"arn:aws:ecs:us-east-1:123456789012:service-deployment/{CLUSTER}/")
    assert answer["currentServiceDeployment"] == arn
    during = stack.wait_for(
        lambda: (
            (d := stack.deployment(arn)).get("lifecycleStage") == "POST_TEST_TRAFFIC_SHIFT" and d
        )
    )
    assert stack.weights(stack.test_rule) == {"blue": 0, "green": 100}
    assert stack.weights() == {"blue": 1, "green": 0}
    assert during["targetServiceRevision"]["runningTaskCount"] == 2
    final = stack.wait_status(arn, "SUCCESSFUL", sample=True)
    check_model(stack, "DescribeServiceDeployments", "ListServiceDeployments")
    assert shares(stack) in ([0.0, 100.0], [100.0])
    assert stack.weights() == {"blue": 0, "green": 100}
    assert final["targetServiceRevision"]["requestedProductionTrafficWeight"] == 100.0
    assert final["finishedAt"] >= final["startedAt"]
    service = stack.service()
    check_model(stack, "DescribeServices")
    assert service["loadBalancers"][0]["targetGroupArn"] == stack.tgs["green"]
    advanced = service["loadBalancers"][0]["advancedConfiguration"]
    assert advanced["alternateTargetGroupArn"] == stack.tgs["blue"]
    assert [d["status"] for d in service["deployments"]] == ["PRIMARY"]
    assert service["taskDefinition"].endswith("web:2")
    assert service["currentServiceRevisions"][0]["arn"] == final["targetServiceRevision"]["arn"]
    revisions = stack.ecs.describe_service_revisions(
        serviceRevisionArns=[
            final["sourceServiceRevisions"][0]["arn"],
            final["targetServiceRevision"]["arn"],
        ]
    )["serviceRevisions"]
    check_model(stack, "DescribeServiceRevisions")
    source, target = revisions
    assert source["taskDefinition"].endswith("web:1")
    assert target["taskDefinition"].endswith("web:2")
    resolved = target["resolvedConfiguration"]["loadBalancers"][0]
    assert resolved["targetGroupArn"] == stack.tgs["green"]
    assert (
        source["resolvedConfiguration"]["loadBalancers"][0]["targetGroupArn"] == stack.tgs["blue"]
    )
    # The next deployment runs green in the old blue target group and shifts back to it.
    second = stack.deploy("v3")
    stack.wait_status(second, "SUCCESSFUL")
    assert stack.weights() == {"blue": 100, "green": 0}
    assert stack.service()["loadBalancers"][0]["targetGroupArn"] == stack.tgs["blue"]


def test_canary_shifts_canary_percent_then_the_rest(stack: NativeStack) -> None:
    """[CAN]: canaryPercent to green, wait canaryBakeTimeInMinutes, then 100."""
    stack.create_service(
        strategy="CANARY",
        bakeTimeInMinutes=0,
        canaryConfiguration={"canaryPercent": 10.0, "canaryBakeTimeInMinutes": 1},
    )
    arn = stack.deploy()
    stack.wait_status(arn, "SUCCESSFUL", sample=True)
    assert shares(stack) == [0.0, 10.0, 100.0]
    assert stack.weights() == {"blue": 0, "green": 100}
    assert stack.service()["loadBalancers"][0]["targetGroupArn"] == stack.tgs["green"]


def test_linear_shifts_cumulative_steps_clamped_at_100(stack: NativeStack) -> None:
    """[LIN]: cumulative stepPercent with stepBakeTimeInMinutes between; a step past 100 is
    clamped to 100 (reference §6 question 3)."""
    stack.create_service(
        strategy="LINEAR",
        bakeTimeInMinutes=0,
        linearConfiguration={"stepPercent": 40.0, "stepBakeTimeInMinutes": 1},
    )
    arn = stack.deploy()
    final = stack.wait_status(arn, "SUCCESSFUL", sample=True)
    assert shares(stack) == [0.0, 40.0, 80.0, 100.0]
    assert final["deploymentConfiguration"]["linearConfiguration"]["stepPercent"] == 40.0
    assert stack.service()["loadBalancers"][0]["targetGroupArn"] == stack.tgs["green"]


def alarm_config(rollback: bool = True) -> dict[str, Any]:
    return {"alarmNames": [ALARM], "enable": True, "rollback": rollback}


def test_alarm_rolls_production_back_to_blue(stack: NativeStack) -> None:
    """[ALARM; SD]: an alarm going into ALARM during the deployment → ROLLBACK_IN_PROGRESS →
    ROLLBACK_SUCCESSFUL, production back on blue, alarms TRIGGERED with the alarm named."""
    stack.create_service(
        strategy="CANARY",
        bakeTimeInMinutes=5,
        canaryConfiguration={"canaryPercent": 20.0, "canaryBakeTimeInMinutes": 5},
        alarms=alarm_config(),
    )
    arn = stack.deploy()
    stack.wait_for(lambda: stack.green_share() == 20.0, what="the canary step")
    assert stack.deployment(arn)["alarms"]["status"] == "MONITORING"
    stack.cloudwatch.set_alarm_state(AlarmName=ALARM, StateValue="ALARM", StateReason="test")
    final = stack.wait_status(arn, "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED")
    check_model(stack, "DescribeServiceDeployments")
    assert final["status"] == "ROLLBACK_SUCCESSFUL"
    assert final["alarms"]["status"] == "TRIGGERED"
    assert final["alarms"]["triggeredAlarmNames"] == [ALARM]
    assert ALARM in final["statusReason"]
    assert final["rollback"]["reason"] == final["statusReason"]
    assert_on_blue(stack, final)


def test_alarm_in_alarm_at_the_start_is_ignored(stack: NativeStack) -> None:
    """[ALARM]: an alarm already in ALARM when the deployment starts is ignored for it."""
    stack.create_service(strategy="BLUE_GREEN", bakeTimeInMinutes=0, alarms=alarm_config())
    stack.cloudwatch.set_alarm_state(AlarmName=ALARM, StateValue="ALARM", StateReason="test")
    arn = stack.deploy()
    final = stack.wait_status(arn, "SUCCESSFUL", "ROLLBACK_SUCCESSFUL")
    assert final["status"] == "SUCCESSFUL"
    assert final["alarms"]["status"] == "MONITORING_COMPLETE"


def lambda_hook(stack: NativeStack, *stages: str) -> dict[str, Any]:
    return {
        "targetType": "AWS_LAMBDA",
        "hookTargetArn": "arn:aws:lambda:us-east-1:123456789012:function:check",
        "roleArn": stack.role_arn,
        "lifecycleStages": list(stages),
    }


def test_failing_lambda_hook_rolls_back(stack: NativeStack) -> None:
    """[LAM; HOOKS]: a Lambda hook answering FAILED rolls the deployment back; the sandbox's
    `hook-fail` fault makes hooks fail (server.py control API)."""
    stack.create_service(
        strategy="BLUE_GREEN",
        bakeTimeInMinutes=0,
        lifecycleHooks=[lambda_hook(stack, "POST_TEST_TRAFFIC_SHIFT")],
    )
    stack.fault(kind="hook-fail")
    arn = stack.deploy()
    final = stack.wait_status(arn, "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED", "SUCCESSFUL")
    assert final["status"] == "ROLLBACK_SUCCESSFUL"
    assert "hook execution failure(s) detected" in final["statusReason"]
    assert_on_blue(stack, final)


def test_lambda_hooks_follow_the_sandbox_hook_setting(stack: NativeStack) -> None:
    """[LAM]: with the sandbox's hooks setting "succeed" the hook passes, shown SUCCEEDED
    with its target ARN and a lambda hookId."""
    stack.create_service(
        strategy="BLUE_GREEN",
        bakeTimeInMinutes=0,
        lifecycleHooks=[lambda_hook(stack, "POST_SCALE_UP")],
    )
    stack.settings(timeScale=10)
    arn = stack.deploy()
    running = stack.wait_for(lambda: (d := stack.deployment(arn)).get("lifecycleHookDetails") and d)
    check_model(stack, "DescribeServiceDeployments")
    hook = running["lifecycleHookDetails"][0]
    assert hook["hookId"].startswith("ecs-lambda-")
    assert hook["targetType"] == "AWS_LAMBDA"
    assert hook["targetArn"].endswith(":function:check")
    stack.settings(timeScale=TIME_SCALE)
    assert stack.wait_status(arn, "SUCCESSFUL", "ROLLBACK_SUCCESSFUL")["status"] == "SUCCESSFUL"


def pause_hook(stage: str, **timeout: Any) -> dict[str, Any]:
    hook: dict[str, Any] = {"targetType": "PAUSE", "lifecycleStages": [stage]}
    if timeout:
        hook["timeoutConfiguration"] = timeout
    return hook


def awaiting(stack: NativeStack, arn: str) -> dict[str, Any]:
    found: dict[str, Any] = stack.wait_for(
        lambda: next(
            (
                h
                for h in stack.deployment(arn).get("lifecycleHookDetails", [])
                if h["status"] == "AWAITING_ACTION"
            ),
            None,
        ),
        what="a PAUSE hook awaiting action",
    )
    return found


def test_pause_hook_waits_until_continued(stack: NativeStack) -> None:
    """[PAUSE; CONT]: a PAUSE hook at POST_TEST_TRAFFIC_SHIFT waits (AWAITING_ACTION, hookId
    ecs-pause-…, expiresAt) with production untouched, until ContinueServiceDeployment."""
    stack.create_service(
        strategy="BLUE_GREEN",
        bakeTimeInMinutes=0,
        lifecycleHooks=[pause_hook("POST_TEST_TRAFFIC_SHIFT")],
    )
    arn = stack.deploy()
    hook = awaiting(stack, arn)
    check_model(stack, "DescribeServiceDeployments")
    assert hook["hookId"].startswith("ecs-pause-")
    assert hook["targetType"] == "PAUSE"
    assert "targetArn" not in hook
    assert hook["timeoutAction"] == "ROLLBACK"
    assert hook["expiresAt"]
    stack.samples.clear()
    for _ in range(20):  # it keeps waiting: production stays on blue
        assert stack.deployment(arn)["lifecycleStage"] == "POST_TEST_TRAFFIC_SHIFT"
        assert stack.green_share() == 0.0
    answer = stack.ecs.continue_service_deployment(serviceDeploymentArn=arn, hookId=hook["hookId"])
    check_model(stack, "ContinueServiceDeployment")
    assert answer["serviceDeploymentArn"] == arn
    assert stack.wait_status(arn, "SUCCESSFUL", "ROLLBACK_SUCCESSFUL")["status"] == "SUCCESSFUL"
    assert stack.weights() == {"blue": 0, "green": 100}
    with pytest.raises(stack.ecs.exceptions.ClientException, match="terminal states"):
        stack.ecs.continue_service_deployment(serviceDeploymentArn=arn, hookId=hook["hookId"])
    check_model(stack, "ContinueServiceDeployment")


def test_pause_hook_rollback_action_and_errors(stack: NativeStack) -> None:
    """[CONT; TS]: ROLLBACK answers roll back; a malformed hookId, an unknown hook and an
    unknown deployment answer AWS's messages."""
    stack.create_service(
        strategy="BLUE_GREEN",
        bakeTimeInMinutes=0,
        lifecycleHooks=[pause_hook("PRE_PRODUCTION_TRAFFIC_SHIFT")],
    )
    arn = stack.deploy()
    hook = awaiting(stack, arn)
    ecs = stack.ecs
    with pytest.raises(ecs.exceptions.InvalidParameterException, match="ecs-\\{hookType\\}"):
        ecs.continue_service_deployment(serviceDeploymentArn=arn, hookId="pause-1")
    check_model(stack, "ContinueServiceDeployment")
    with pytest.raises(ecs.exceptions.ClientException, match="either completed, unavailable"):
        ecs.continue_service_deployment(serviceDeploymentArn=arn, hookId="ecs-pause-nope")
    with pytest.raises(ecs.exceptions.ServiceDeploymentNotFoundException):
        ecs.continue_service_deployment(serviceDeploymentArn=arn + "x", hookId=hook["hookId"])
    check_model(stack, "ContinueServiceDeployment")
    ecs.continue_service_deployment(
        serviceDeploymentArn=arn, hookId=hook["hookId"], action="ROLLBACK"
    )
    final = stack.wait_status(arn, "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED")
    assert final["status"] == "ROLLBACK_SUCCESSFUL"
    assert_on_blue(stack, final)


def test_pause_hook_timeout_applies_its_action(stack: NativeStack) -> None:
    """[TS]: "Service deployment rolled back because POST_TEST_TRAFFIC_SHIFT pause hook timed
    out." — the timeout's action (default ROLLBACK) applies."""
    stack.create_service(
        strategy="BLUE_GREEN",
        bakeTimeInMinutes=0,
        lifecycleHooks=[pause_hook("POST_TEST_TRAFFIC_SHIFT", timeoutInMinutes=1)],
    )
    arn = stack.deploy()
    final = stack.wait_status(arn, "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED", "SUCCESSFUL")
    assert final["statusReason"] == (
        "Service deployment rolled back because POST_TEST_TRAFFIC_SHIFT pause hook timed out."
    )
    assert_on_blue(stack, final)


def test_stop_service_deployment_rolls_back(stack: NativeStack) -> None:
    """[STOP; SD]: StopServiceDeployment ROLLBACK → ROLLBACK_REQUESTED → ROLLBACK_IN_PROGRESS
    → ROLLBACK_SUCCESSFUL with production on blue; a second stop is ConflictException."""
    stack.create_service(
        strategy="CANARY",
        bakeTimeInMinutes=5,
        canaryConfiguration={"canaryPercent": 30.0, "canaryBakeTimeInMinutes": 5},
    )
    arn = stack.deploy()
    stack.wait_for(lambda: stack.green_share() == 30.0, what="the canary step")
    answer = stack.ecs.stop_service_deployment(serviceDeploymentArn=arn, stopType="ROLLBACK")
    check_model(stack, "StopServiceDeployment")
    assert answer["serviceDeploymentArn"] == arn
    assert stack.deployment(arn)["status"] in ("ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS")
    final = stack.wait_status(arn, "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED")
    assert final["status"] == "ROLLBACK_SUCCESSFUL"
    assert_on_blue(stack, final)
    with pytest.raises(stack.ecs.exceptions.ConflictException):
        stack.ecs.stop_service_deployment(serviceDeploymentArn=arn, stopType="ROLLBACK")
    check_model(stack, "StopServiceDeployment")
    with pytest.raises(stack.ecs.exceptions.ServiceDeploymentNotFoundException):
        stack.ecs.stop_service_deployment(serviceDeploymentArn=arn + "x")


def test_unhealthy_green_rolls_back(stack: NativeStack) -> None:
    """The sandbox's `unhealthy-green` fault: green never passes its health checks, the
    deployment fails in SCALE_UP and rolls back; production never left blue."""
    stack.create_service(strategy="BLUE_GREEN", bakeTimeInMinutes=0)
    stack.settings(timeScale=600)
    stack.fault(kind="unhealthy-green")
    arn = stack.deploy()
    final = stack.wait_status(arn, "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED", "SUCCESSFUL")
    assert final["status"] == "ROLLBACK_SUCCESSFUL"
    assert "healthy" in final["statusReason"]
    assert stack.weights()["green"] == 0
    assert_on_blue(stack, final)


def test_update_mid_deployment_supersedes_it(stack: NativeStack) -> None:
    """[SD]: UpdateService during a deployment: the old one STOP_REQUESTED → STOPPED, the new
    one runs (after RECONCILE_SERVICE when the old green had tasks [HOOKS])."""
    stack.create_service(
        strategy="CANARY",
        bakeTimeInMinutes=0,
        canaryConfiguration={"canaryPercent": 10.0, "canaryBakeTimeInMinutes": 5},
    )
    first = stack.deploy("v2")
    stack.wait_for(lambda: stack.green_share() == 10.0, what="the canary step")
    second = stack.deploy("v3")
    assert first != second
    stopped = stack.wait_status(first, "STOPPED")
    assert stopped["stoppedAt"]
    final = stack.wait_status(second, "SUCCESSFUL", "ROLLBACK_SUCCESSFUL")
    assert final["status"] == "SUCCESSFUL"
    assert len(final["sourceServiceRevisions"]) == 2
    assert stack.service()["taskDefinition"].endswith("web:3")
    assert stack.weights() == {"blue": 0, "green": 100}


def test_desired_count_alone_starts_no_deployment(stack: NativeStack) -> None:
    """[M:UpdateServiceRequest]: desiredCount alone starts no service deployment."""
    stack.create_service(strategy="BLUE_GREEN", bakeTimeInMinutes=0)
    before = stack.ecs.list_service_deployments(cluster=CLUSTER, service=SERVICE)
    stack.ecs.update_service(cluster=CLUSTER, service=SERVICE, desiredCount=3)
    after = stack.ecs.list_service_deployments(cluster=CLUSTER, service=SERVICE)
    assert len(after["serviceDeployments"]) == len(before["serviceDeployments"])
    stack.wait_for(lambda: stack.service()["runningCount"] == 3, what="3 running tasks")
    assert stack.service()["deploymentConfiguration"]["strategy"] == "BLUE_GREEN"


def test_list_service_deployments_filters_and_pages(stack: NativeStack) -> None:
    """[M:ListServiceDeployments]: status[], createdAt, maxResults and nextToken; service is
    required; an unknown service is ServiceNotFoundException."""
    stack.create_service(strategy="BLUE_GREEN", bakeTimeInMinutes=0)
    stack.settings(timeScale=600)
    for tag in ("v2", "v3"):
        stack.wait_status(stack.deploy(tag), "SUCCESSFUL")
    ecs = stack.ecs
    everything = ecs.list_service_deployments(cluster=CLUSTER, service=SERVICE)
    check_model(stack, "ListServiceDeployments")
    briefs = everything["serviceDeployments"]
    assert len(briefs) == 3
    assert {b["status"] for b in briefs} == {"SUCCESSFUL"}
    first = ecs.list_service_deployments(cluster=CLUSTER, service=SERVICE, maxResults=2)
    rest = ecs.list_service_deployments(
        cluster=CLUSTER, service=SERVICE, maxResults=2, nextToken=first["nextToken"]
    )
    paged = [b["serviceDeploymentArn"] for b in first["serviceDeployments"]]
    paged += [b["serviceDeploymentArn"] for b in rest["serviceDeployments"]]
    assert paged == [b["serviceDeploymentArn"] for b in briefs]
    assert "nextToken" not in rest
    none = ecs.list_service_deployments(cluster=CLUSTER, service=SERVICE, status=["STOPPED"])
    assert none["serviceDeployments"] == []
    # botocore sends whole epoch seconds of the datetime's wall time: give it UTC
    newest = max(b["createdAt"] for b in briefs).astimezone(datetime.UTC)
    later = ecs.list_service_deployments(
        cluster=CLUSTER, service=SERVICE, createdAt={"after": newest}
    )
    assert len(later["serviceDeployments"]) == 1
    with pytest.raises(ecs.exceptions.ServiceNotFoundException):
        ecs.list_service_deployments(cluster=CLUSTER, service="nope")
    check_model(stack, "ListServiceDeployments")
    missing = ecs.describe_service_deployments(
        serviceDeploymentArns=[briefs[0]["serviceDeploymentArn"] + "x"]
    )
    check_model(stack, "DescribeServiceDeployments")
    assert missing["failures"][0]["reason"] == "MISSING"
