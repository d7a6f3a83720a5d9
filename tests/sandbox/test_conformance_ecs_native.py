"""The checks ECS makes at CreateService/UpdateService for BLUE_GREEN, LINEAR and CANARY
services answer as AWS does: InvalidParameterException with the troubleshooting page's
messages (TS: https://docs.aws.amazon.com/AmazonECS/latest/developerguide/troubleshooting-blue-green.html),
the model's ranges [M:DeploymentConfiguration, LinearConfiguration, CanaryConfiguration,
DeploymentLifecycleHook], PAUSE hooks refused where stages re-run on rollback (HOOKS:
.../developerguide/deployment-lifecycle-hooks.html), and nothing is created or changed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from bluegreen.sandbox.server import SandboxServer
from tests.sandbox.model_check import RawResponses
from tests.sandbox.native_stack import CLUSTER, SERVICE, NativeStack, build_native_stack


@pytest.fixture
def stack(aws_env: SandboxServer) -> NativeStack:
    return build_native_stack(aws_env, RawResponses())


def _listener_arn(s: NativeStack) -> str:
    """The production rule's listener ARN (what TS says people pass by mistake)."""
    rule = s.prod_rule.split(":listener-rule/", 1)
    return rule[0] + ":listener/" + rule[1].rsplit("/", 1)[0]


Bad = Callable[[NativeStack], tuple[dict[str, Any], list[dict[str, Any]] | None]]


def config(**kw: Any) -> Bad:
    return lambda s: (kw, None)


def balancers(**advanced: Any) -> Bad:
    return lambda s: (
        {"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 1},
        s.load_balancers(**{k: (v(s) if callable(v) else v) for k, v in advanced.items()}),
    )


def pause(stage: str) -> dict[str, Any]:
    return {"targetType": "PAUSE", "lifecycleStages": [stage]}


BG = {"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 1}
CASES: list[tuple[str, Bad, str]] = [
    ("blue-green without bake time", config(strategy="BLUE_GREEN"), "bakeTimeInMinutes must be"),
    ("bake time over 1440", config(**{**BG, "bakeTimeInMinutes": 1441}), "between 0 and 1440"),
    (
        "prod rule given as a listener ARN",
        balancers(productionListenerRule=_listener_arn),
        "productionListenerRule has an invalid ARN format. Must be RuleArn for ALB or "
        "ListenerArn for NLB. Got: ",
    ),
    (
        "one rule as prod and test",
        balancers(testListenerRule=lambda s: s.prod_rule),
        "The following rules cannot be used as both production and test listener rules: ",
    ),
    (
        "alternate target group = serving one",
        balancers(alternateTargetGroupArn=lambda s: s.tgs["blue"]),
        "Duplicate targetGroupArn found",
    ),
    ("no role", balancers(roleArn=""), "roleArn is required"),
    (
        "no advancedConfiguration",
        lambda s: (
            BG,
            [{k: v for k, v in s.load_balancers()[0].items() if k != "advancedConfiguration"}],
        ),
        "advancedConfiguration is required",
    ),
    (
        "pause hook at TEST_TRAFFIC_SHIFT",
        config(**BG, lifecycleHooks=[pause("TEST_TRAFFIC_SHIFT")]),
        "Invalid lifecycle stage provided for Pause Hook",
    ),
    (
        "pause hook at PRODUCTION_TRAFFIC_SHIFT",
        config(**BG, lifecycleHooks=[pause("PRODUCTION_TRAFFIC_SHIFT")]),
        "Invalid lifecycle stage provided for Pause Hook",
    ),
    (
        "bad targetType",
        config(**BG, lifecycleHooks=[{"targetType": "SNS", "lifecycleStages": ["PRE_SCALE_UP"]}]),
        "Invalid targetType. Valid values are: AWS_LAMBDA, PAUSE",
    ),
    (
        "hook at SCALE_UP",
        config(**BG, lifecycleHooks=[pause("SCALE_UP")]),
        "Invalid lifecycle stage SCALE_UP",
    ),
    (
        "lambda hook without its function",
        config(**BG, lifecycleHooks=[{"lifecycleStages": ["PRE_SCALE_UP"]}]),
        "hookTargetArn is required",
    ),
    (
        "linear step under 3 %",
        config(strategy="LINEAR", linearConfiguration={"stepPercent": 2.0}),
        "stepPercent must be between 3.0 and 100.0",
    ),
    (
        "canary percent in hundredths",
        config(strategy="CANARY", canaryConfiguration={"canaryPercent": 5.05}),
        "canaryPercent must be between 0.1 and 100.0",
    ),
    (
        "canary config under LINEAR",
        config(strategy="LINEAR", canaryConfiguration={"canaryPercent": 5.0}),
        "only supported with the CANARY strategy",
    ),
    (
        "circuit breaker with blue/green",
        config(**BG, deploymentCircuitBreaker={"enable": True, "rollback": True}),
        "deploymentCircuitBreaker is only supported with the ROLLING",
    ),
]


@pytest.mark.parametrize(("bad", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_create_service_refuses(stack: NativeStack, bad: Bad, message: str) -> None:
    configuration, lbs = bad(stack)
    with pytest.raises(stack.ecs.exceptions.InvalidParameterException, match=message[:40]):
        stack.ecs.create_service(
            cluster=CLUSTER,
            serviceName=SERVICE,
            taskDefinition=stack.register("v1"),
            desiredCount=1,
            deploymentController={"type": "ECS"},
            deploymentConfiguration=configuration,
            loadBalancers=lbs if lbs is not None else stack.load_balancers(),
        )
    stack.raw.check("CreateService")
    assert stack.ecs.describe_services(cluster=CLUSTER, services=[SERVICE])["services"] == []


def test_update_service_refuses_and_changes_nothing(stack: NativeStack) -> None:
    """UpdateService gets the same checks (TS, "synchronous path"); the service keeps its
    configuration and no service deployment starts."""
    stack.create_service(strategy="BLUE_GREEN", bakeTimeInMinutes=1)
    before = stack.ecs.list_service_deployments(cluster=CLUSTER, service=SERVICE)
    with pytest.raises(
        stack.ecs.exceptions.InvalidParameterException,
        match="Invalid lifecycle stage provided for Pause Hook",
    ):
        stack.ecs.update_service(
            cluster=CLUSTER,
            service=SERVICE,
            taskDefinition=stack.register("v2"),
            deploymentConfiguration={**BG, "lifecycleHooks": [pause("TEST_TRAFFIC_SHIFT")]},
        )
    stack.raw.check("UpdateService")
    service = stack.service()
    assert service["taskDefinition"].endswith("web:1")
    assert "lifecycleHooks" not in service["deploymentConfiguration"]
    after = stack.ecs.list_service_deployments(cluster=CLUSTER, service=SERVICE)
    arns = [[d["serviceDeploymentArn"] for d in x["serviceDeployments"]] for x in (before, after)]
    assert arns[0] == arns[1]


def test_omitted_members_keep_their_value(stack: NativeStack) -> None:
    """tf PR #47096 (reference §1): an UpdateService that omits lifecycleHooks keeps them;
    `[]` clears them."""
    hooks = [pause("POST_SCALE_UP")]
    stack.create_service(strategy="BLUE_GREEN", bakeTimeInMinutes=1, lifecycleHooks=hooks)
    stack.ecs.update_service(
        cluster=CLUSTER, service=SERVICE, deploymentConfiguration={"bakeTimeInMinutes": 2}
    )
    kept = stack.service()["deploymentConfiguration"]
    assert kept["lifecycleHooks"] == hooks
    assert kept["bakeTimeInMinutes"] == 2
    assert kept["strategy"] == "BLUE_GREEN"
    stack.ecs.update_service(
        cluster=CLUSTER, service=SERVICE, deploymentConfiguration={"lifecycleHooks": []}
    )
    assert stack.service()["deploymentConfiguration"]["lifecycleHooks"] == []
