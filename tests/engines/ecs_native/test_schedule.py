"""The ECS-native watch's wait between reads (pure, a fake clock): one read every 6 s of the
endpoint's clock during bakes, one just after each expected production step, a burst around
the expected end, fast while a stop of ours takes effect."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from bluegreen.engines import cadence
from bluegreen.engines.ecs_native.machine import (
    ACTING,
    FAST_POLL,
    NativeConfig,
    NativeObservation,
    Stop,
    initial_state,
    observation_from,
    step,
)
from bluegreen.engines.ecs_native.schedule import END_SPREAD, Strategy, native_schedule

T0 = 1_800_000_000.0  # epoch seconds: the production shift's first step


def config(scale: float | None = 1.0, deadline: float | None = 10_000.0) -> NativeConfig:
    return NativeConfig(
        deployment_arn="arn:aws:ecs:us-east-1:123456789012:service-deployment/c/s/x",
        task_definition_arn="arn:aws:ecs:us-east-1:123456789012:task-definition/web:2",
        previous_task_definition_arn="arn:aws:ecs:us-east-1:123456789012:task-definition/web:1",
        started_at=0.0,
        deadline=deadline,
        time_scale=scale,
    )


def linear(step: float = 10.0, minutes: float = 1.0, bake: float = 2.0) -> dict[str, Any]:
    return {
        "strategy": "LINEAR",
        "bakeTimeInMinutes": bake,
        "linearConfiguration": {"stepPercent": step, "stepBakeTimeInMinutes": minutes},
    }


def canary(percent: float = 10.0, minutes: float = 5.0, bake: float = 0.0) -> dict[str, Any]:
    return {
        "strategy": "CANARY",
        "bakeTimeInMinutes": bake,
        "canaryConfiguration": {"canaryPercent": percent, "canaryBakeTimeInMinutes": minutes},
    }


def blue_green(bake: float = 5.0) -> dict[str, Any]:
    return {"strategy": "BLUE_GREEN", "bakeTimeInMinutes": bake}


def record(
    conf: dict[str, Any],
    *,
    status: str = "IN_PROGRESS",
    stage: str | None,
    weight: float | None,
    updated: float,
) -> dict[str, Any]:
    """A DescribeServiceDeployments `serviceDeployments[0]` as ECS answers it."""
    return {
        "serviceDeploymentArn": config().deployment_arn,
        "status": status,
        "lifecycleStage": stage,
        "updatedAt": updated,
        "deploymentConfiguration": conf,
        "targetServiceRevision": {
            "requestedProductionTrafficWeight": weight,
            "requestedTestTrafficWeight": 100.0 if weight is not None else None,
        },
    }


# --- the schedule -------------------------------------------------------------------------
def test_strategy_from_the_configuration_snapshot_with_the_apis_defaults() -> None:
    assert Strategy.of(linear(20.0, 3.0, 1.0)) == Strategy("LINEAR", 20.0, 3.0, 1.0)
    assert Strategy.of({"strategy": "LINEAR"}) == Strategy("LINEAR", 10.0, 6.0, 0.0)
    assert Strategy.of({"strategy": "CANARY"}) == Strategy("CANARY", 5.0, 10.0, 0.0)
    assert Strategy.of(blue_green(5.0)) == Strategy("BLUE_GREEN", 100.0, 0.0, 5.0)
    assert Strategy.of(None) == Strategy()
    assert Strategy.of(linear(30.0)).steps_left(0.0) == 4  # 30, 60, 90, 100
    assert Strategy.of(linear(30.0)).steps_left(90.0) == 1
    assert Strategy.of(canary(10.0)).steps_left(0.0) == 2
    assert Strategy.of(canary(10.0)).steps_left(10.0) == 1
    assert Strategy.of(blue_green()).steps_left(0.0) == 1
    assert Strategy.of(blue_green()).steps_left(100.0) == 0


def test_linear_steps_and_the_end_from_the_last_weight_change() -> None:
    sched = native_schedule(
        Strategy.of(linear(10.0, 1.0, 2.0)),
        stage="PRODUCTION_TRAFFIC_SHIFT",
        stage_since=T0,
        weight=30.0,
        weight_since=T0 + 120.0,
    )
    assert sched.steps == tuple(T0 + 120.0 + 60.0 * k for k in range(1, 8))  # 40 ... 100
    end = T0 + 120.0 + 7 * 60.0 + 120.0  # the last step, then the 2-minute bake
    assert sched.edges == (cadence.Edge(end, end + END_SPREAD),)


def test_a_canary_before_its_first_step_and_during_its_bake() -> None:
    before = native_schedule(
        Strategy.of(canary(10.0, 5.0, 0.0)),
        stage="PRODUCTION_TRAFFIC_SHIFT",
        stage_since=T0,
        weight=0.0,
        weight_since=T0 - 100.0,
    )
    assert before.steps == (T0, T0 + 300.0)  # the canary step at once, the rest after 5 min
    during = native_schedule(
        Strategy.of(canary(10.0, 5.0, 0.0)),
        stage="PRODUCTION_TRAFFIC_SHIFT",
        stage_since=T0,
        weight=10.0,
        weight_since=T0 + 2.0,
        scale=60.0,
    )
    assert during.steps == (T0 + 2.0 + 5.0,)  # 5 minutes at 60x: 5 wall seconds
    assert during.edges == (cadence.Edge(T0 + 7.0, T0 + 7.0 + END_SPREAD / 60.0),)


def test_the_bake_time_ends_the_deployment_and_clean_up_may_end_it_at_once() -> None:
    strategy = Strategy.of(blue_green(5.0))
    bake = native_schedule(
        strategy, stage="BAKE_TIME", stage_since=T0, weight=100.0, weight_since=T0 - 1.0, scale=60.0
    )
    assert bake.edges == (cadence.Edge(T0 + 5.0, T0 + 5.0 + 0.5),)
    assert not bake.steps
    clean = native_schedule(
        strategy,
        stage="CLEAN_UP",
        stage_since=T0 + 5.0,
        weight=100.0,
        weight_since=T0 - 1.0,
        scale=60.0,
    )
    assert clean.edges == (cadence.Edge(T0 + 5.0, T0 + 5.5),)


def test_nothing_is_scheduled_before_the_production_shift() -> None:
    for stage in ("PRE_SCALE_UP", "SCALE_UP", "TEST_TRAFFIC_SHIFT", "POST_TEST_TRAFFIC_SHIFT"):
        sched = native_schedule(
            Strategy.of(linear()), stage=stage, stage_since=T0, weight=None, weight_since=None
        )
        assert sched == cadence.Schedule()


# --- the step's wait ----------------------------------------------------------------------
def watch(conf: dict[str, Any], scale: float = 1.0) -> Callable[..., tuple[float, Any]]:
    """Feed records to the step; each call returns (decision.wait, decision)."""
    state = initial_state(config(scale))

    def see(wall: float, **fields: Any) -> tuple[float, Any]:
        nonlocal state
        obs = observation_from(record(conf, **fields), now=wall - T0, wall=wall)
        state, _, decision = step(state, obs)
        return decision.wait, decision

    return see


def test_a_bake_is_read_every_6_s_and_each_step_just_after_it() -> None:
    see = watch(linear(10.0, 1.0, 2.0))
    wait, _ = see(T0 + 1.0, stage="PRODUCTION_TRAFFIC_SHIFT", weight=10.0, updated=T0)
    assert wait == cadence.STEADY
    wait, _ = see(T0 + 57.0, stage="PRODUCTION_TRAFFIC_SHIFT", weight=10.0, updated=T0)
    assert wait == pytest.approx(3.0 + cadence.STEP_MARGIN)


def test_before_the_shift_the_steady_cadence_on_the_endpoints_clock() -> None:
    wait, _ = watch(linear())(T0, stage="SCALE_UP", weight=None, updated=T0 - 3.0)
    assert wait == cadence.STEADY
    wait, _ = watch(linear(), scale=60.0)(T0, stage="SCALE_UP", weight=None, updated=T0)
    assert wait == cadence.MIN_WAIT  # never faster than MIN_WAIT in wall time


def test_around_the_expected_end_a_burst() -> None:
    see = watch(blue_green(5.0), scale=60.0)
    wait, _ = see(T0 + 0.2, stage="BAKE_TIME", weight=100.0, updated=T0)
    assert wait == pytest.approx(cadence.MIN_WAIT)
    wait, _ = see(T0 + 4.0, stage="BAKE_TIME", weight=100.0, updated=T0)
    assert wait == pytest.approx(5.0 - cadence.LEAD - 4.0)  # to the burst's start
    wait, _ = see(T0 + 4.9, stage="BAKE_TIME", weight=100.0, updated=T0)
    assert wait == cadence.BURST
    wait, _ = see(T0 + 5.1, stage="CLEAN_UP", weight=100.0, updated=T0 + 5.0)
    assert wait == cadence.BURST


def test_a_stale_updated_at_anchors_the_change_at_the_read() -> None:
    see = watch(linear(10.0, 1.0, 0.0))
    see(T0 + 1.0, stage="PRODUCTION_TRAFFIC_SHIFT", weight=10.0, updated=T0)
    # the weight moved, but updatedAt still tells the first step: the read is the best bound
    wait, _ = see(T0 + 63.0, stage="PRODUCTION_TRAFFIC_SHIFT", weight=20.0, updated=T0)
    assert wait == cadence.STEADY
    wait, _ = see(T0 + 120.0, stage="PRODUCTION_TRAFFIC_SHIFT", weight=20.0, updated=T0)
    assert wait == pytest.approx(3.0 + cadence.STEP_MARGIN)  # next step at T0 + 63 + 60


def test_our_stop_is_followed_fast_and_the_rollback_at_the_fast_poll() -> None:
    conf = linear()
    state = initial_state(config())
    obs = observation_from(
        record(conf, stage="BAKE_TIME", weight=100.0, updated=T0), now=1.0, wall=T0 + 1.0
    )
    state, _, decision = step(state, NativeObservation(**{**obs.__dict__, "alarms": ("a",)}))
    assert isinstance(decision.actions[0], Stop)
    assert decision.wait == ACTING
    rolling = observation_from(
        record(conf, status="ROLLBACK_IN_PROGRESS", stage="BAKE_TIME", weight=0.0, updated=T0),
        now=2.0,
        wall=T0 + 2.0,
    )
    _, _, decision = step(state, rolling)
    assert decision.wait == FAST_POLL


def test_without_the_endpoints_time_scale_the_watch_reads_every_fast_poll() -> None:
    """A loop that does not tell the scale cannot place the schedule in wall time: the watch
    then reads as it did before it had one."""
    state = initial_state(config(scale=None))
    obs = observation_from(
        record(linear(), stage="BAKE_TIME", weight=100.0, updated=T0), now=1.0, wall=T0 + 1.0
    )
    _, _, decision = step(state, obs)
    assert decision.wait == FAST_POLL


def test_the_deadline_caps_every_wait() -> None:
    state = initial_state(config(deadline=5.0))
    obs = observation_from(
        record(linear(), stage="BAKE_TIME", weight=100.0, updated=T0), now=4.0, wall=T0 + 4.0
    )
    _, _, decision = step(state, obs)
    assert decision.wait == pytest.approx(1.0)


# --- a whole deployment on a fake clock ---------------------------------------------------
@dataclass
class FakeEcs:
    """A LINEAR 10%/1m deployment with a 2-minute bake, its shift starting at T0: what
    DescribeServiceDeployments answers at a given wall time (a stop at `stopped_at`)."""

    stopped_at: float | None = None
    reads: int = 0
    CLEAN_UP_SECONDS = 4.0

    @property
    def last_step(self) -> float:
        return T0 + 9 * 60.0

    @property
    def end(self) -> float:
        return self.last_step + 120.0 + self.CLEAN_UP_SECONDS

    def read(self, wall: float) -> dict[str, Any]:
        self.reads += 1
        conf = linear(10.0, 1.0, 2.0)
        if self.stopped_at is not None and wall >= self.stopped_at:
            return record(
                conf,
                status="ROLLBACK_IN_PROGRESS",
                stage="PRODUCTION_TRAFFIC_SHIFT",
                weight=0.0,
                updated=self.stopped_at,
            )
        if wall < T0:
            return record(conf, stage="SCALE_UP", weight=None, updated=T0 - 40.0)
        if wall < self.last_step + 0.01:
            k = int((wall - T0) // 60.0)
            return record(
                conf, stage="PRODUCTION_TRAFFIC_SHIFT", weight=10.0 * (k + 1), updated=T0 + 60.0 * k
            )
        if wall < self.last_step + 120.0:
            return record(conf, stage="BAKE_TIME", weight=100.0, updated=self.last_step + 0.02)
        if wall < self.end:
            return record(conf, stage="CLEAN_UP", weight=100.0, updated=self.last_step + 120.0)
        return record(conf, status="SUCCESSFUL", stage="CLEAN_UP", weight=100.0, updated=self.end)


def follow(ecs: FakeEcs, start: float, until: float) -> list[float]:
    """The walls of the watch's reads from `start` until its outcome (or `until`)."""
    state = initial_state(config(deadline=None))
    wall, reads = start, []
    while wall < until:
        reads.append(wall)
        obs = observation_from(ecs.read(wall), now=wall - start, wall=wall)
        state, _, decision = step(state, obs)
        if decision.outcome is not None:
            break
        wall += decision.wait
    return reads


def test_a_whole_linear_deployment_stays_within_the_budget_and_ends_at_once() -> None:
    ecs = FakeEcs()
    reads = follow(ecs, T0 - 30.0, T0 + 2000.0)
    for minute in range(9):  # each step's bake: at most 10 reads a minute
        lo = T0 + 60.0 * minute + 1.0
        assert len([r for r in reads if lo <= r < lo + 60.0]) <= 10
    bake = [r for r in reads if ecs.last_step + 5.0 <= r < ecs.last_step + 115.0]
    assert len(bake) <= 110 / cadence.STEADY + 1
    assert reads[-1] - ecs.end <= cadence.BURST + 1e-9  # the end read within a burst of it
    # every step is read within STEP_MARGIN of it
    for k in range(1, 10):
        assert any(0 <= r - (T0 + 60.0 * k) <= cadence.STEP_MARGIN + 1e-9 for r in reads)


@pytest.mark.parametrize("offset", [7.3, 30.0, 59.9, 300.5, 600.0, 641.0])
def test_an_unscheduled_stop_is_noticed_within_6_s(offset: float) -> None:
    ecs = FakeEcs(stopped_at=T0 + offset)
    reads = follow(ecs, T0 - 30.0, T0 + offset + 60.0)
    seen = next(r for r in reads if r >= T0 + offset)
    assert seen - (T0 + offset) <= cadence.STEADY + 1e-9


def test_each_production_step_says_what_comes_next_and_when_the_release_ends() -> None:
    """The step tells people (and the live view) the next production step and the expected
    end, from the same schedule the reads follow."""
    state = initial_state(config(1.0))
    conf = linear(10.0, 1.0, 2.0)
    shifting = record(conf, stage="PRODUCTION_TRAFFIC_SHIFT", weight=10.0, updated=T0)
    obs = observation_from(shifting, now=1.0, wall=T0 + 1.0)
    state, events, _ = step(state, obs)
    ahead = [e for e in events if e.kind == "ahead"]
    assert len(ahead) == 1
    data = ahead[0].data
    assert data["nextWeight"] == 20.0
    assert data["nextAt"] == dt.datetime.fromtimestamp(T0 + 60.0, dt.UTC).isoformat()
    end = T0 + 9 * 60.0 + 120.0  # 20 % ... 100 %, a minute each, then the 2-minute bake
    assert data["endsAt"] == dt.datetime.fromtimestamp(end, dt.UTC).isoformat()
    assert "production 20% to green at" in ahead[0].text
    # the same weight read again: nothing new to say
    shifting = record(conf, stage="PRODUCTION_TRAFFIC_SHIFT", weight=10.0, updated=T0)
    obs = observation_from(shifting, now=7.0, wall=T0 + 7.0)
    _, events, _ = step(state, obs)
    assert [e for e in events if e.kind == "ahead"] == []
