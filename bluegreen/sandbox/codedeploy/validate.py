"""Checks and defaults for CodeDeploy's nested settings, named as the service model names
its errors."""

from __future__ import annotations

from typing import Any

from bluegreen.sandbox.codedeploy.models import ApiError, JsonDict

ROLLBACK_EVENTS = ("DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM", "DEPLOYMENT_STOP_ON_REQUEST")


def _minutes(value: Any, path: str, limit: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= limit:
        raise ApiError(
            "InvalidBlueGreenDeploymentConfigurationException",
            f"{path} must be an integer from 0 to {limit}.",
        )
    return value


def traffic_routing(routing: Any) -> JsonDict:
    def bad(message: str) -> ApiError:
        return ApiError("InvalidTrafficRoutingConfigurationException", message)

    if not isinstance(routing, dict):
        raise bad("An ECS deployment config needs a trafficRoutingConfig.")
    kind = routing.get("type")
    if kind == "AllAtOnce":
        return {"type": "AllAtOnce"}
    fields = {
        "TimeBasedCanary": ("timeBasedCanary", "canaryPercentage", "canaryInterval"),
        "TimeBasedLinear": ("timeBasedLinear", "linearPercentage", "linearInterval"),
    }
    if kind not in fields:
        raise bad(f"Unknown traffic routing type {kind!r}.")
    key, percent_key, interval_key = fields[kind]
    detail = routing.get(key)
    if not isinstance(detail, dict):
        raise bad(f"A {kind} config needs {key}.")
    percent, interval = detail.get(percent_key), detail.get(interval_key)
    if not isinstance(percent, int) or isinstance(percent, bool) or not 1 <= percent <= 99:
        raise bad(f"{key}.{percent_key} must be an integer from 1 to 99.")
    if not isinstance(interval, int) or isinstance(interval, bool) or not 1 <= interval <= 2880:
        raise bad(f"{key}.{interval_key} must be a number of minutes from 1 to 2880.")
    return {"type": kind, key: {percent_key: percent, interval_key: interval}}


def alarms(config: Any) -> JsonDict:
    if config is None:
        return {"enabled": False, "ignorePollAlarmFailure": False, "alarms": []}
    if not isinstance(config, dict):
        raise ApiError("InvalidAlarmConfigException", "The alarm configuration is not valid.")
    alarms = config.get("alarms") or []
    if len(alarms) > 10:
        raise ApiError(
            "AlarmsLimitExceededException", "A deployment group takes at most 10 alarms."
        )
    if config.get("enabled") and not alarms:
        raise ApiError(
            "InvalidAlarmConfigException", "The alarm configuration is enabled but lists no alarms."
        )
    return {
        "enabled": bool(config.get("enabled", False)),
        "ignorePollAlarmFailure": bool(config.get("ignorePollAlarmFailure", False)),
        "alarms": [{"name": a["name"]} for a in alarms],
    }


def auto_rollback(config: Any) -> JsonDict:
    if config is None:
        return {"enabled": False, "events": []}
    events = config.get("events") or []
    unknown = [e for e in events if e not in ROLLBACK_EVENTS]
    if unknown:
        raise ApiError("InvalidAutoRollbackConfigException", f"Unknown rollback events {unknown}.")
    return {"enabled": bool(config.get("enabled", False)), "events": list(events)}


def blue_green(config: Any) -> JsonDict:
    config = config or {}
    termination = config.get("terminateBlueInstancesOnDeploymentSuccess") or {}
    ready = config.get("deploymentReadyOption") or {}
    action = termination.get("action", "TERMINATE")
    if action not in ("TERMINATE", "KEEP_ALIVE"):
        raise ApiError(
            "InvalidBlueGreenDeploymentConfigurationException", f"Unknown action {action}."
        )
    on_timeout = ready.get("actionOnTimeout", "CONTINUE_DEPLOYMENT")
    if on_timeout not in ("CONTINUE_DEPLOYMENT", "STOP_DEPLOYMENT"):
        raise ApiError(
            "InvalidBlueGreenDeploymentConfigurationException",
            f"Unknown actionOnTimeout {on_timeout}.",
        )
    wait = _minutes(
        ready.get("waitTimeInMinutes", 0), "deploymentReadyOption.waitTimeInMinutes", 4320
    )
    if on_timeout == "STOP_DEPLOYMENT" and wait == 0:
        raise ApiError(
            "InvalidBlueGreenDeploymentConfigurationException",
            "deploymentReadyOption STOP_DEPLOYMENT needs waitTimeInMinutes greater than 0.",
        )
    return {
        "terminateBlueInstancesOnDeploymentSuccess": {
            "action": action,
            "terminationWaitTimeInMinutes": _minutes(
                termination.get("terminationWaitTimeInMinutes", 0),
                "terminateBlueInstancesOnDeploymentSuccess.terminationWaitTimeInMinutes",
                2880,
            ),
        },
        "deploymentReadyOption": {"actionOnTimeout": on_timeout, "waitTimeInMinutes": wait},
    }
