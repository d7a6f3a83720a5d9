"""Turn CodeDeploy's deployment and target records into the monitor's terms (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bluegreen.engines.codedeploy.machine import LifecycleEvent, TaskSet


def _ts(value: Any) -> float | None:
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, int | float):
        return float(value)
    return None


@dataclass(frozen=True)
class DeploymentView:
    deployment_id: str
    status: str
    error: str | None
    rollback_deployment_id: str | None
    rollback_triggering_id: str | None
    lifecycle: tuple[LifecycleEvent, ...]
    task_sets: tuple[TaskSet, ...]
    info: dict[str, Any]

    @property
    def green_target_group(self) -> str | None:
        return next((t.target_group for t in self.task_sets if t.label == "Green"), None)

    @property
    def blue_target_group(self) -> str | None:
        return next((t.target_group for t in self.task_sets if t.label == "Blue"), None)

    @property
    def completed_at(self) -> float | None:
        return _ts(self.info.get("completeTime"))


def view(info: dict[str, Any], target: dict[str, Any] | None) -> DeploymentView:
    err = info.get("errorInformation") or {}
    rb = info.get("rollbackInfo") or {}
    lifecycle: tuple[LifecycleEvent, ...] = ()
    task_sets: tuple[TaskSet, ...] = ()
    if target:
        lifecycle = tuple(
            LifecycleEvent(
                str(e.get("lifecycleEventName", "")),
                str(e.get("status", "Pending")),
                _ts(e.get("startTime")),
                _ts(e.get("endTime")),
            )
            for e in target.get("lifecycleEvents", [])
        )
        task_sets = tuple(
            TaskSet(
                label=str(t.get("taskSetLabel", "")),
                status=str(t.get("status", "")),
                desired=int(t.get("desiredCount", 0) or 0),
                pending=int(t.get("pendingCount", 0) or 0),
                running=int(t.get("runningCount", 0) or 0),
                weight=float(t.get("trafficWeight", 0.0) or 0.0),
                target_group=(t.get("targetGroup") or {}).get("name"),
            )
            for t in target.get("taskSetsInfo", [])
        )
    return DeploymentView(
        deployment_id=str(info.get("deploymentId", "")),
        status=str(info.get("status", "Created")),
        error=err.get("message") or err.get("code"),
        rollback_deployment_id=rb.get("rollbackDeploymentId"),
        rollback_triggering_id=rb.get("rollbackTriggeringDeploymentId"),
        lifecycle=lifecycle,
        task_sets=task_sets,
        info=info,
    )


# The ECS target statuses of a deployment that is still running (Ready: waiting to reroute).
RUNNING_TARGET = frozenset({"InProgress", "Ready"})


def server_watched_alarms(
    info: dict[str, Any],
    group_alarms: tuple[str, ...],
    group_alarms_enabled: bool,
    group_ignores_poll_failure: bool,
) -> frozenset[str]:
    """The alarms CodeDeploy itself watches for this deployment and acts on with a stop *and*
    a rollback: the deployment's alarm override (else the group's alarm configuration), when
    enabled, polled without ignoring failures, and the deployment's auto-rollback covers
    DEPLOYMENT_STOP_ON_ALARM. A client read of those adds no guard, only the alarm's name in
    the report; an alarm outside this set is the client's to watch."""
    override = info.get("overrideAlarmConfiguration")
    if isinstance(override, dict) and override:
        enabled = bool(override.get("enabled"))
        ignores = bool(override.get("ignorePollAlarmFailure"))
        names = tuple(str(a.get("name")) for a in override.get("alarms") or [] if a.get("name"))
    else:
        enabled, ignores, names = group_alarms_enabled, group_ignores_poll_failure, group_alarms
    auto = info.get("autoRollbackConfiguration") or {}
    rolls_back = bool(auto.get("enabled")) and "DEPLOYMENT_STOP_ON_ALARM" in (
        auto.get("events") or []
    )
    if not enabled or ignores or not rolls_back:
        return frozenset()
    return frozenset(names)
