"""Which alarms CodeDeploy itself acts on for a deployment (so the monitor need not read them)."""

from __future__ import annotations

from typing import Any

from bluegreen.engines.codedeploy.probe import server_watched_alarms

ROLLBACK_ON_ALARM = {"enabled": True, "events": ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"]}


def info(**kw: Any) -> dict[str, Any]:
    return {"deploymentId": "d-1", "autoRollbackConfiguration": ROLLBACK_ON_ALARM, **kw}


def override(*names: str, enabled: bool = True, ignore: bool = False) -> dict[str, Any]:
    return {
        "enabled": enabled,
        "ignorePollAlarmFailure": ignore,
        "alarms": [{"name": n} for n in names],
    }


def test_the_deployments_override_is_what_codedeploy_watches() -> None:
    got = server_watched_alarms(
        info(overrideAlarmConfiguration=override("a", "b")), ("g",), True, False
    )
    assert got == {"a", "b"}


def test_without_an_override_the_groups_alarms_are_watched() -> None:
    assert server_watched_alarms(info(), ("g",), True, False) == {"g"}
    assert server_watched_alarms(info(), ("g",), False, False) == set()  # disabled


def test_alarms_codedeploy_would_not_roll_back_on_are_the_clients() -> None:
    no_rollback = info(
        overrideAlarmConfiguration=override("a"),
        autoRollbackConfiguration={"enabled": True, "events": ["DEPLOYMENT_FAILURE"]},
    )
    assert server_watched_alarms(no_rollback, (), False, False) == set()
    off = info(overrideAlarmConfiguration=override("a"), autoRollbackConfiguration={})
    assert server_watched_alarms(off, (), False, False) == set()


def test_alarms_polled_ignoring_failures_or_disabled_are_the_clients() -> None:
    assert (
        server_watched_alarms(
            info(overrideAlarmConfiguration=override("a", ignore=True)), (), False, False
        )
        == set()
    )
    assert (
        server_watched_alarms(
            info(overrideAlarmConfiguration=override("a", enabled=False)), ("g",), True, False
        )
        == set()
    )
    assert server_watched_alarms(info(), ("g",), True, True) == set()
