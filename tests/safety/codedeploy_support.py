"""Helpers of the CodeDeploy safety tests: AWS-side reads of the demo stack and group edits
that are undone after each test."""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from tests.fixtures.codedeploy import Stack

LONG_CANARY = "canary:10%/60m"  # 6 s of real time at 600x: room to act mid-canary
GROUP_SETTINGS = (
    "blueGreenDeploymentConfiguration",
    "alarmConfiguration",
    "autoRollbackConfiguration",
)


def when(condition: Callable[[], bool], action: Callable[[], None], timeout: float = 30.0) -> None:
    """In a background thread: run `action` once `condition` holds."""

    def poll() -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(Exception):  # the resource may not exist yet
                if condition():
                    action()
                    return
            time.sleep(0.05)

    threading.Thread(target=poll, daemon=True).start()


def canary_live(stack: Stack) -> Callable[[], bool]:
    def check() -> bool:
        weights = stack.prod_weights()
        return len(weights) == 2 and all(0 < w < 100 for w in weights.values())

    return check


def serving(stack: Stack) -> str:
    """The target group taking all production traffic now (fails when traffic is split)."""
    weights = {tg: w for tg, w in stack.prod_weights().items() if w > 0}
    assert len(weights) == 1, f"production traffic is split: {stack.prod_weights()}"
    return next(iter(weights))


def primary_task_definition(stack: Stack) -> str:
    """The task definition of the service's PRIMARY task set."""
    svc = stack.client("ecs").describe_services(
        cluster=stack.result.cluster, services=[stack.result.service]
    )["services"][0]
    primary = [ts for ts in svc.get("taskSets", []) if ts["status"] == "PRIMARY"]
    assert len(primary) == 1, svc.get("taskSets")
    return str(primary[0]["taskDefinition"])


def group_info(stack: Stack) -> dict[str, Any]:
    return dict(
        stack.client("codedeploy").get_deployment_group(
            applicationName=stack.result.application,
            deploymentGroupName=stack.result.deployment_group,
        )["deploymentGroupInfo"]
    )


def update_group(stack: Stack, **settings: Any) -> None:
    stack.client("codedeploy").update_deployment_group(
        applicationName=stack.result.application,
        currentDeploymentGroupName=stack.result.deployment_group,
        **settings,
    )


def wait_for_ready(stack: Stack, minutes: int = 60) -> None:
    """Make the group wait before rerouting production traffic (STOP_DEPLOYMENT)."""
    bg = dict(group_info(stack)["blueGreenDeploymentConfiguration"])
    bg["deploymentReadyOption"] = {
        "actionOnTimeout": "STOP_DEPLOYMENT",
        "waitTimeInMinutes": minutes,
    }
    update_group(stack, blueGreenDeploymentConfiguration=bg)


@contextlib.contextmanager
def group_restored(stack: Stack) -> Iterator[Stack]:
    """Whatever is changed on the stack's deployment group inside is undone afterwards."""
    before = group_info(stack)
    try:
        yield stack
    finally:
        update_group(stack, **{k: before[k] for k in GROUP_SETTINGS if k in before})


def drop_rollback_block(stack: Stack) -> None:
    """Remove the `rollback:` block from the stack's spec, as `init --from-service` wrote it
    before it carried the group's settings."""
    text = stack.spec.read_text()
    new = re.sub(r"(?m)^rollback:\n(?:  .*\n)+", "", text)
    assert new != text
    assert "rollback" not in new
    stack.spec.write_text(new)


def set_rollback_block(stack: Stack, block: str) -> None:
    """Replace the spec's `rollback:` block with `block` (YAML lines)."""
    text = stack.spec.read_text()
    new = re.sub(r"(?m)^rollback:\n(?:  .*\n)+", block.rstrip("\n") + "\n", text)
    assert new != text
    stack.spec.write_text(new)


def family_status(stack: Stack, arn: str) -> str:
    td = stack.client("ecs").describe_task_definition(taskDefinition=arn)["taskDefinition"]
    return str(td.get("status", "ACTIVE"))


def deployment(stack: Stack, deployment_id: str) -> dict[str, Any]:
    return dict(
        stack.client("codedeploy").get_deployment(deploymentId=deployment_id)["deploymentInfo"]
    )


def sample_weights(stack: Stack, samples: list[dict[str, int]], stop: threading.Event) -> None:
    """Until `stop` is set, record the production listener's weights every 20 ms."""

    def run() -> None:
        while not stop.is_set():
            with contextlib.suppress(Exception):  # a read racing a listener update
                samples.append(stack.prod_weights())
            time.sleep(0.02)

    threading.Thread(target=run, daemon=True).start()
