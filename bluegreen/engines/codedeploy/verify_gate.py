"""When `verify` can gate a CodeDeploy release, and what to change when it cannot.

The rule (README, "Verify"): verify gates production only when the deployment group waits
before rerouting production traffic, i.e. its `deploymentReadyOption` is STOP_DEPLOYMENT with
a wait time. Then the deployment stops in Ready with test traffic on green, bluegreen runs
the verify command, and only on success calls ContinueDeployment(READY_WAIT); a failure stops
the deployment with rollback, so production never moved. On a group that reroutes at once
(CONTINUE_DEPLOYMENT, the default) production would already carry green traffic when verify
runs, so a release with verify is refused before any write (exit 2), and `doctor` reports it.
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING

from bluegreen.errors import PreflightError

if TYPE_CHECKING:
    from bluegreen.aws.codedeploy import DeploymentGroup

MIN_READY_WAIT_MINUTES = 60


def verify_can_gate(group: DeploymentGroup) -> bool:
    """True when the group holds production traffic back until someone continues."""
    return group.ready_action == "STOP_DEPLOYMENT" and group.ready_wait_minutes > 0


def group_setting(group: DeploymentGroup) -> str:
    """The group's ready option, as the CodeDeploy API spells it."""
    text = f"deploymentReadyOption.actionOnTimeout {group.ready_action}"
    if group.ready_action == "STOP_DEPLOYMENT":
        text += f" with waitTimeInMinutes {group.ready_wait_minutes}"
    return text


def ready_wait_fix(group: DeploymentGroup, verify_timeout_seconds: float = 300.0) -> str:
    """The exact `aws deploy update-deployment-group` call that makes the group wait before
    rerouting (its termination settings kept as they are)."""
    wait = max(MIN_READY_WAIT_MINUTES, math.ceil(verify_timeout_seconds / 60.0) + 5)
    config = {
        "deploymentReadyOption": {"actionOnTimeout": "STOP_DEPLOYMENT", "waitTimeInMinutes": wait},
        "terminateBlueInstancesOnDeploymentSuccess": {
            "action": group.termination_action,
            "terminationWaitTimeInMinutes": group.termination_wait_minutes,
        },
    }
    return (
        f"aws deploy update-deployment-group --application-name {group.application} "
        f"--current-deployment-group-name {group.name} "
        f"--blue-green-deployment-configuration '{json.dumps(config, separators=(',', ':'))}'"
    )


def problem(group: DeploymentGroup) -> str:
    """Why verify cannot gate on this group (call only when `verify_can_gate` is False)."""
    if group.ready_action == "STOP_DEPLOYMENT":
        return (
            f"the group's {group_setting(group)} gives no time to run verify before production "
            "traffic moves"
        )
    return (
        f"the group's {group_setting(group)} reroutes production traffic to green as soon as "
        "it is ready, so verify would run after production has moved"
    )


def check_verify_gate(group: DeploymentGroup, where: str, verify_timeout_seconds: float) -> None:
    """Refuse (exit 2) a release with verify on a group where verify cannot gate production."""
    if verify_can_gate(group):
        return
    raise PreflightError(
        f"verify cannot gate production on CodeDeploy deployment group "
        f"{group.application}/{group.name}: {problem(group)}",
        where=where,
        hint="make the group wait before rerouting: "
        f"{ready_wait_fix(group, verify_timeout_seconds)} ; or release without verify "
        "(drop --verify / the spec's `verify`)",
    )
