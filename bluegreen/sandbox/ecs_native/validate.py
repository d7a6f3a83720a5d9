"""CreateService/UpdateService checks ECS makes at the call for blue/green, linear and canary
services (reference §1; messages from the troubleshooting page, doc key TS:
https://docs.aws.amazon.com/AmazonECS/latest/developerguide/troubleshooting-blue-green.html).

Every refusal is InvalidParameterException, the error ECS answers for a parameter it refuses
(https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_UpdateService.html#API_UpdateService_Errors).
Where the reference leaves a question open (§6 question 1) the reading taken is a flag below,
so a finding from AWS changes one line.
"""

from __future__ import annotations

import re
from typing import Any

from bluegreen.sandbox.ecs_native.models import (
    HOOK_STAGES,
    NATIVE_STRATEGIES,
    PAUSE_REFUSED_STAGES,
    STRATEGIES,
    ApiError,
    JsonDict,
)

INVALID = "InvalidParameterException"

# §6 question 1: BLUE_GREEN without bakeTimeInMinutes. The model documents it as "must be
# provided" for BLUE_GREEN [M:DeploymentConfiguration]: refused.
BAKE_TIME_REQUIRED_FOR_BLUE_GREEN = True
# §6 question 1: linearConfiguration / canaryConfiguration under another strategy: refused
# (a rehearsal that accepts what AWS might refuse hides a failure until production).
STRATEGY_CONFIG_ELSEWHERE_REFUSED = True
# §1 [M:DeploymentCircuitBreaker] "rolling-only": an enabled circuit breaker under a native
# strategy is refused (one with enable=false is accepted and has no effect).
CIRCUIT_BREAKER_REFUSED = True
# §6 question 7: Lambda hooks run at most 1440 minutes [LAM]; PAUSE hooks up to 20160 [M].
LAMBDA_TIMEOUT_MAX = 1440
PAUSE_TIMEOUT_MAX = 20160
HOOKS_PER_TYPE_MAX = 10  # ≤ 10 PAUSE + 10 Lambda hooks per service [PAUSE]
MINUTES_MAX = 1440

_ARN_HEAD = r"arn:aws[a-z-]*:elasticloadbalancing:[a-z0-9-]+:\d{12}:"
ALB_RULE_RE = re.compile(_ARN_HEAD + r"listener-rule/app/[^/]+/[^/]+/[^/]+/[^/]+$")
NLB_LISTENER_RE = re.compile(_ARN_HEAD + r"listener/net/[^/]+/[^/]+/[^/]+$")
TARGET_GROUP_RE = re.compile(_ARN_HEAD + r"targetgroup/[^/]+/[^/]+$")
ROLE_RE = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:role/.+$")


def _refuse(message: str) -> ApiError:
    return ApiError(INVALID, message)


def effective_configuration(request: JsonDict, existing: JsonDict | None) -> JsonDict:
    """The deploymentConfiguration a request leaves the service with: members the request
    omits keep their value (omitting lifecycleHooks keeps them, `[]` clears them: tf PR
    #47096)."""
    merged: JsonDict = dict(existing or {})
    given = request.get("deploymentConfiguration")
    if isinstance(given, dict):
        merged.update(given)
    return merged


def check_service_request(
    request: JsonDict, existing: JsonDict | None, existing_load_balancers: list[Any] | None
) -> None:
    """Refuse (ApiError) what ECS refuses in a CreateService (existing None) or UpdateService
    request for a service whose strategy is BLUE_GREEN, LINEAR or CANARY."""
    config = effective_configuration(request, existing)
    strategy = config.get("strategy") or "ROLLING"
    if strategy not in STRATEGIES:
        raise _refuse(
            f"Invalid deployment strategy {strategy}. Valid values are: {', '.join(STRATEGIES)}"
        )
    given = request.get("deploymentConfiguration")
    if isinstance(given, dict):
        _check_strategy_config(given, strategy)
    if strategy not in NATIVE_STRATEGIES:
        return
    _check_native_config(config, strategy)
    balancers = request.get("loadBalancers")
    if balancers is None:
        balancers = existing_load_balancers or []
    if isinstance(balancers, list):
        check_load_balancers(balancers, strategy)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _minutes(config: JsonDict, key: str, where: str) -> None:
    if key not in config:
        return
    value = _number(config[key])
    if value is None or value != int(value) or not 0 <= value <= MINUTES_MAX:
        raise _refuse(f"{where}{key} must be an integer between 0 and {MINUTES_MAX}.")


def _tenths(value: float) -> bool:
    return abs(value * 10 - round(value * 10)) < 1e-9


def _check_strategy_config(given: JsonDict, strategy: str) -> None:
    """linearConfiguration / canaryConfiguration: ranges [M:LinearConfiguration,
    M:CanaryConfiguration], and only under their own strategy."""
    linear, canary = given.get("linearConfiguration"), given.get("canaryConfiguration")
    if STRATEGY_CONFIG_ELSEWHERE_REFUSED:
        if linear is not None and strategy != "LINEAR":
            raise _refuse("linearConfiguration is only supported with the LINEAR strategy.")
        if canary is not None and strategy != "CANARY":
            raise _refuse("canaryConfiguration is only supported with the CANARY strategy.")
    if isinstance(linear, dict):
        step = _number(linear.get("stepPercent", 10.0))
        if step is None or not 3.0 <= step <= 100.0 or not _tenths(step):
            raise _refuse(
                "linearConfiguration.stepPercent must be between 3.0 and 100.0 in steps of 0.1."
            )
        _minutes(linear, "stepBakeTimeInMinutes", "linearConfiguration.")
    if isinstance(canary, dict):
        percent = _number(canary.get("canaryPercent", 5.0))
        if percent is None or not 0.1 <= percent <= 100.0 or not _tenths(percent):
            raise _refuse(
                "canaryConfiguration.canaryPercent must be between 0.1 and 100.0 in steps of 0.1."
            )
        _minutes(canary, "canaryBakeTimeInMinutes", "canaryConfiguration.")


def _check_native_config(config: JsonDict, strategy: str) -> None:
    required = strategy == "BLUE_GREEN" and BAKE_TIME_REQUIRED_FOR_BLUE_GREEN
    if required and config.get("bakeTimeInMinutes") is None:
        raise _refuse(
            "bakeTimeInMinutes must be provided when the deployment strategy is BLUE_GREEN."
        )
    _minutes(config, "bakeTimeInMinutes", "")
    breaker = config.get("deploymentCircuitBreaker")
    if CIRCUIT_BREAKER_REFUSED and isinstance(breaker, dict) and breaker.get("enable"):
        raise _refuse(
            "deploymentCircuitBreaker is only supported with the ROLLING deployment strategy; "
            f"it can't be enabled with {strategy}."
        )
    hooks = config.get("lifecycleHooks")
    if hooks is not None:
        check_hooks(hooks)


def check_hooks(hooks: Any) -> None:
    """lifecycleHooks[] [M:DeploymentLifecycleHook; TS; PAUSE; HOOKS]."""
    if not isinstance(hooks, list):
        raise _refuse("lifecycleHooks must be a list.")
    counts = {"AWS_LAMBDA": 0, "PAUSE": 0}
    for index, hook in enumerate(hooks):
        where = f"lifecycleHooks[{index}]"
        if not isinstance(hook, dict):
            raise _refuse(f"{where} must be an object.")
        target_type = hook.get("targetType", "AWS_LAMBDA")
        if target_type not in counts:
            raise _refuse("Invalid targetType. Valid values are: AWS_LAMBDA, PAUSE")
        counts[target_type] += 1
        stages = hook.get("lifecycleStages")
        if not isinstance(stages, list) or not stages:
            raise _refuse(f"{where}.lifecycleStages must list at least one lifecycle stage.")
        for stage in stages:
            if stage not in HOOK_STAGES:
                raise _refuse(
                    f"Invalid lifecycle stage {stage}. Valid values are: {', '.join(HOOK_STAGES)}"
                )
            if target_type == "PAUSE" and stage in PAUSE_REFUSED_STAGES:
                raise _refuse("Invalid lifecycle stage provided for Pause Hook")
        if target_type == "AWS_LAMBDA":
            for key in ("hookTargetArn", "roleArn"):
                if not isinstance(hook.get(key), str) or not hook.get(key):
                    raise _refuse(f"{where}.{key} is required for an AWS_LAMBDA hook.")
        timeout = hook.get("timeoutConfiguration")
        if timeout is not None:
            _check_timeout(timeout, target_type, where)
    for target_type, count in counts.items():
        if count > HOOKS_PER_TYPE_MAX:
            raise _refuse(
                f"A service can have at most {HOOKS_PER_TYPE_MAX} {target_type} lifecycle hooks."
            )


def _check_timeout(timeout: Any, target_type: str, where: str) -> None:
    if not isinstance(timeout, dict):
        raise _refuse(f"{where}.timeoutConfiguration must be an object.")
    ceiling = LAMBDA_TIMEOUT_MAX if target_type == "AWS_LAMBDA" else PAUSE_TIMEOUT_MAX
    if "timeoutInMinutes" in timeout:
        minutes = _number(timeout["timeoutInMinutes"])
        if minutes is None or minutes != int(minutes) or not 1 <= minutes <= ceiling:
            raise _refuse(
                f"{where}.timeoutConfiguration.timeoutInMinutes must be between 1 and "
                f"{ceiling} for a {target_type} hook."
            )
    action = timeout.get("action", "ROLLBACK")
    if action not in ("ROLLBACK", "CONTINUE"):
        raise _refuse(f"Invalid timeout action {action}. Valid values are: ROLLBACK, CONTINUE")


def check_load_balancers(balancers: list[Any], strategy: str) -> None:
    """loadBalancers[].advancedConfiguration under a native strategy [M:AdvancedConfiguration;
    TS]: on every load balancer, with the alternate target group, the production rule and the
    role; rule ARNs for an ALB, listener ARNs for an NLB; no rule as both production and
    test; no target group twice."""
    if not balancers:
        return  # headless: runs, shifts nothing [IMPL; OPT]
    with_config = [b for b in balancers if isinstance(b, dict) and b.get("advancedConfiguration")]
    if not with_config:
        raise _refuse(
            "advancedConfiguration is required for each load balancer when the deployment "
            f"strategy is {strategy}."
        )
    if len(with_config) != len(balancers):
        raise _refuse("advancedConfiguration must be specified for all load balancers or for none.")
    seen: set[str] = set()
    for index, balancer in enumerate(balancers):
        advanced = balancer["advancedConfiguration"]
        where = f"loadBalancers[{index}].advancedConfiguration"
        if balancer.get("loadBalancerName"):
            raise _refuse(
                "advancedConfiguration is not supported with a Classic Load Balancer "
                "(loadBalancerName)."
            )
        if not isinstance(advanced, dict):
            raise _refuse(f"{where} must be an object.")
        for key in ("alternateTargetGroupArn", "productionListenerRule", "roleArn"):
            if not isinstance(advanced.get(key), str) or not advanced.get(key):
                raise _refuse(f"{where}.{key} is required.")
        for key in ("targetGroupArn",):
            if not isinstance(balancer.get(key), str) or not balancer.get(key):
                raise _refuse(f"loadBalancers[{index}].{key} is required.")
        for tg in (balancer["targetGroupArn"], advanced["alternateTargetGroupArn"]):
            if not TARGET_GROUP_RE.match(tg):
                raise _refuse(f"Invalid target group ARN: {tg}")
            if tg in seen:
                raise _refuse(f"Duplicate targetGroupArn found: {tg}")
            seen.add(tg)
        if not ROLE_RE.match(advanced["roleArn"]):
            raise _refuse(f"{where}.roleArn is not a valid IAM role ARN: {advanced['roleArn']}")
        prod, test = advanced["productionListenerRule"], advanced.get("testListenerRule")
        for key, arn in (("productionListenerRule", prod), ("testListenerRule", test)):
            if arn is None:
                continue
            if not isinstance(arn, str) or not (
                ALB_RULE_RE.match(arn) or NLB_LISTENER_RE.match(arn)
            ):
                raise _refuse(
                    f"{key} has an invalid ARN format. Must be RuleArn for ALB or ListenerArn "
                    f"for NLB. Got: {arn}"
                )
        if test is not None and test == prod:
            raise _refuse(
                "The following rules cannot be used as both production and test listener "
                f"rules: {prod}"
            )
