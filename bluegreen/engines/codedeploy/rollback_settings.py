"""How a deployment's rollback settings are made from the spec's and the deployment group's.

One rule (`merge_rollback`), used by every CodeDeploy deployment bluegreen creates (deploy,
promote, fan-out, and the redeploy of `rollback`), so that a release never weakens the
automatic rollback that the deployment group already has (invariant I4).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bluegreen.aws.codedeploy import DeploymentGroup
    from bluegreen.spec.model import Spec

FAILURE = "DEPLOYMENT_FAILURE"
STOP_ON_ALARM = "DEPLOYMENT_STOP_ON_ALARM"
# CodeDeploy's order of the events, kept in what we send and print.
EVENT_ORDER = (FAILURE, STOP_ON_ALARM, "DEPLOYMENT_STOP_ON_REQUEST")


@dataclass(frozen=True)
class RollbackSettings:
    """What a deployment is created with, and what it means."""

    auto_rollback: dict[str, Any]  # CreateDeployment.autoRollbackConfiguration
    alarm_override: dict[str, Any] | None  # CreateDeployment.overrideAlarmConfiguration
    alarms: list[str]  # every alarm that stops the deployment: the group's and the spec's
    group_alarms: list[str]  # of those, the group's own
    spec_declares: bool  # False: the spec says nothing, the group's settings apply unchanged

    @property
    def events(self) -> list[str]:
        return list(self.auto_rollback.get("events") or []) if self.enabled else []

    @property
    def enabled(self) -> bool:
        return bool(self.auto_rollback.get("enabled"))


def spec_declares_rollback(spec: Spec) -> bool:
    """True when the spec (after its environment overlay) sets `rollback.on_failure` or
    `rollback.alarms`; metric checks are client-side guards and do not count."""
    block = spec.data.get("rollback")
    return isinstance(block, Mapping) and ("on_failure" in block or bool(block.get("alarms")))


def merge_rollback(spec: Spec, group: DeploymentGroup) -> RollbackSettings:
    """The rollback settings of a deployment of `spec` through `group`.

    The rule (README, "Rollback and alarms"):

    - The spec can only add to what the group has, never remove. Rollback events are the
      group's (when its auto-rollback is enabled) plus the spec's: DEPLOYMENT_FAILURE when
      `rollback.on_failure` is true, DEPLOYMENT_STOP_ON_ALARM when it lists `rollback.alarms`.
      `on_failure: false` therefore cannot switch off a rollback the group does; change the
      group for that.
    - The alarms that stop the deployment are the union of the group's alarm configuration
      (when enabled) and the spec's `rollback.alarms`, the group's first. An alarm override is
      sent only when the spec lists alarms, and then carries the union (and the group's
      ignorePollAlarmFailure, else false).
    - When the spec says nothing (no `rollback.on_failure`, no `rollback.alarms`), the
      deployment keeps the group's settings exactly: the auto-rollback sent is the group's own
      (CreateDeployment's override then changes nothing) and no alarm override is sent.
    - bluegreen also watches every one of those alarms itself and stops with rollback when one
      is in ALARM.
    """
    group_events = list(group.auto_rollback_events) if group.auto_rollback_enabled else []
    group_alarms = list(dict.fromkeys(group.alarms)) if group.alarms_enabled else []
    spec_alarms = list(dict.fromkeys(spec.rollback.alarms))
    declares = spec_declares_rollback(spec)
    if not declares:
        auto: dict[str, Any] = {"enabled": group.auto_rollback_enabled}
        if group.auto_rollback_events:
            auto["events"] = _ordered(group.auto_rollback_events)
        return RollbackSettings(auto, None, group_alarms, group_alarms, False)
    wanted = list(group_events)
    if spec.rollback.on_failure:
        wanted.append(FAILURE)
    if spec_alarms:
        wanted.append(STOP_ON_ALARM)
    events = _ordered(wanted)
    auto = {"enabled": True, "events": events} if events else {"enabled": False}
    alarms = list(dict.fromkeys([*group_alarms, *spec_alarms]))
    override: dict[str, Any] | None = None
    if spec_alarms:
        override = {
            "enabled": True,
            "ignorePollAlarmFailure": bool(group.ignore_poll_alarm_failure)
            if group_alarms
            else False,
            "alarms": [{"name": n} for n in alarms],
        }
    return RollbackSettings(auto, override, alarms, group_alarms, True)


def _ordered(events: Sequence[str]) -> list[str]:
    known = [e for e in EVENT_ORDER if e in events]
    return known + sorted({e for e in events if e not in EVENT_ORDER})
