"""Which alarms ECS rolls a rolling deployment back on by itself (read once a minute, not every
5 s: the release sets the spec's alarms as the service's deployment alarms with rollback)."""

from __future__ import annotations

from bluegreen.engines.rolling.rollout import ecs_watched_alarms


def service(**alarms: object) -> dict[str, object]:
    return {"serviceName": "web", "deploymentConfiguration": {"alarms": alarms}}


def test_deployment_alarms_with_rollback_are_watched_by_ecs() -> None:
    got = ecs_watched_alarms(service(alarmNames=["a", "b"], enable=True, rollback=True))
    assert got == {"a", "b"}


def test_alarms_ecs_does_not_roll_back_on_are_the_clients() -> None:
    assert ecs_watched_alarms(service(alarmNames=["a"], enable=True, rollback=False)) == set()
    assert ecs_watched_alarms(service(alarmNames=["a"], enable=False, rollback=True)) == set()
    assert ecs_watched_alarms({"serviceName": "web"}) == set()
