"""The schedule-aware cadence (pure): given a schedule and a time, the next read."""

from __future__ import annotations

import pytest

from bluegreen.engines.cadence import (
    AFTER,
    BURST,
    LEAD,
    MIN_WAIT,
    STEADY,
    STEP_MARGIN,
    TINY,
    Edge,
    Schedule,
    bursting,
    due,
    next_wait,
    steady_wait,
    steps_after,
)


def test_nothing_scheduled_reads_every_6_s_of_the_endpoints_clock() -> None:
    assert next_wait(Schedule(), 1000.0) == STEADY
    assert next_wait(Schedule(scale=2.0), 1000.0) == STEADY / 2
    assert next_wait(Schedule(scale=600.0), 1000.0) == MIN_WAIT  # never faster than this
    assert steady_wait(60.0) == MIN_WAIT


def test_a_step_is_read_just_after_its_expected_moment_then_the_cadence_resumes() -> None:
    schedule = Schedule(steps=(1060.0, 1120.0))
    assert next_wait(schedule, 1050.0) == STEADY
    assert next_wait(schedule, 1057.0) == pytest.approx(3.0 + STEP_MARGIN)
    assert next_wait(schedule, 1060.0 + STEP_MARGIN) == STEADY  # that step is read
    assert next_wait(schedule, 1118.0) == pytest.approx(2.0 + STEP_MARGIN)


def test_an_edge_is_approached_then_read_in_a_burst_until_after_its_latest_moment() -> None:
    schedule = Schedule(edges=(Edge(1300.0, 1330.0),))
    assert next_wait(schedule, 1200.0) == STEADY
    assert next_wait(schedule, 1297.0) == pytest.approx(3.0 - LEAD)  # to the burst's start
    for now in (1300.0 - LEAD, 1300.0, 1315.0, 1330.0 + AFTER):
        assert bursting(schedule, now)
        assert next_wait(schedule, now) == BURST
    assert not bursting(schedule, 1330.0 + AFTER + 0.01)
    assert next_wait(schedule, 1340.0) == STEADY  # an edge that never came: steady again


def test_a_moment_due_now_never_makes_a_busy_loop() -> None:
    schedule = Schedule(steps=(1000.0,))
    assert next_wait(schedule, 1000.0 + STEP_MARGIN - 1e-9) == TINY


def test_steps_of_canary_and_linear_shifts() -> None:
    assert steps_after(1000.0, 300.0, 300.0) == (1300.0,)  # canary 10%/5m
    assert steps_after(1000.0, 60.0, 600.0) == tuple(1000.0 + 60.0 * k for k in range(1, 11))
    assert steps_after(1000.0, 60.0, 180.0, scale=60.0) == (1001.0, 1002.0, 1003.0)
    assert steps_after(1000.0, 0.0, 0.0) == ()  # all at once: no step


def test_a_periodic_read_is_due_once_per_period_on_the_endpoints_clock() -> None:
    assert due(None, 60.0, 5.0)
    assert not due(0.0, 60.0, 59.9)
    assert due(0.0, 60.0, 60.0)
    assert due(0.0, 60.0, 1.0, scale=60.0)
    assert not due(0.0, 60.0, 0.1, scale=600.0)  # MIN_WAIT bounds a fast clock
