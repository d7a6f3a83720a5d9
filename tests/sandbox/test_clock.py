"""The sandbox clock: simulated time K times faster than the wall, fine-grained, no jumps."""

from __future__ import annotations

import time

import pytest

from bluegreen.sandbox.clock import SandboxClock
from tests.sandbox.conftest import Stack


def test_simulated_time_runs_k_times_faster_and_is_not_quantised() -> None:
    clock = SandboxClock(60)
    start_sim, start_wall = clock.now(), time.monotonic()
    time.sleep(0.05)
    elapsed_sim, elapsed_wall = clock.now() - start_sim, time.monotonic() - start_wall
    assert elapsed_sim == pytest.approx(60 * elapsed_wall, rel=0.05)
    assert 2.9 < elapsed_sim < 60  # about 3 simulated seconds, fractional


def test_changing_the_scale_does_not_jump() -> None:
    clock = SandboxClock(1000)
    time.sleep(0.02)
    wall_before, before = time.monotonic(), clock.now()
    clock.set_time_scale(1)
    after, wall_after = clock.now(), time.monotonic()
    assert 0 <= after - before <= (wall_after - wall_before) * 1000 + 1e-6
    time.sleep(0.05)
    assert clock.now() - after == pytest.approx(0.05, abs=0.04)  # now at wall speed
    assert clock.wall_seconds(300) == 300
    clock.set_time_scale(60)
    assert clock.wall_seconds(300) == 5
    with pytest.raises(ValueError, match="positive"):
        clock.set_time_scale(0)


def test_task_counts_move_during_install(stack: Stack) -> None:
    """https://docs.aws.amazon.com/codedeploy/latest/APIReference/API_ECSTaskSet.html — the
    replacement task set's desired, pending and running counts, reported per target."""
    stack.settings(timeScale=60)
    stack.create_group()
    d = stack.deploy()
    seen: list[tuple[int, int, int]] = []

    def done() -> bool:
        try:
            target = stack.target(d)
        except stack.codedeploy.exceptions.DeploymentNotStartedException:
            return False
        for info in target["taskSetsInfo"]:
            if info["taskSetLabel"] == "Green":
                counts = (info["desiredCount"], info["pendingCount"], info["runningCount"])
                if not seen or seen[-1] != counts:
                    seen.append(counts)
        return bool(target["status"] in ("Succeeded", "Failed"))

    stack.wait_for(done, what="deployment end")
    assert seen[0] == (2, 2, 0)
    assert (2, 1, 1) in seen
    assert seen[-1] == (2, 0, 2)
