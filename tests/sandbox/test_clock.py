"""The sandbox clock as a client sees it: waits shortened by the time scale, counts moving."""

from __future__ import annotations

import time

from tests.sandbox.conftest import Stack


def test_canary_interval_follows_the_time_scale(stack: Stack) -> None:
    """https://docs.aws.amazon.com/codedeploy/latest/userguide/deployment-configurations.html —
    the canary waits its interval (5 minutes) before the rest of the traffic moves; at time
    scale 600 that is half a second of wall time, not rounded to whole seconds."""
    stack.create_group(deploymentConfigName="CodeDeployDefault.ECSCanary10Percent5Minutes")
    d = stack.deploy()
    stack.wait_for(lambda: stack.weights().get("web-green") == 10, what="canary step")
    canary_at = time.monotonic()
    stack.wait_for(lambda: stack.weights().get("web-green") == 100, what="final step")
    interval = time.monotonic() - canary_at
    assert 0.4 <= interval <= 1.2
    assert stack.wait_status(d, "Succeeded", "Failed", "Stopped")["status"] == "Succeeded"


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
