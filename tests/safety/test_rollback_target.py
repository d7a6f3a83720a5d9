"""I3: the rollback target (the revision production ran before the live one) survives
`cleanup`, and `rollback` never targets an INACTIVE revision.

AWS refuses an INACTIVE task definition for a service update or a new task set
(https://docs.aws.amazon.com/AmazonECS/latest/developerguide/deregister-task-definition-v2.html),
so a rollback to one can only fail half-way.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from tests.conftest import sandbox_call
from tests.fixtures.codedeploy import Stack, wait_idle
from tests.helpers import Ran
from tests.safety.codedeploy_support import (
    LONG_CANARY,
    canary_live,
    family_status,
    primary_task_definition,
    serving,
)


def release(stack: Stack, cli: Callable[..., Ran], tag: str) -> Ran:
    stack.push(tag)
    return cli("-o", "json", "deploy", "--image", f"web={stack.image(tag)}")


def test_cleanup_keeps_the_real_rollback_target_and_rollback_returns_to_it(
    stack: Stack, cli: Callable[..., Ran]
) -> None:
    good_a = release(stack, cli, "t3-a")
    assert good_a.code == 0, good_a.stdout + good_a.stderr
    a = good_a.result["taskDefinitionArn"]

    sandbox_call(stack.sandbox, "faults", {"kind": "unhealthy-green"})
    try:
        bad_b = release(stack, cli, "t3-b")
    finally:
        sandbox_call(stack.sandbox, "faults", method="DELETE")
    assert bad_b.code == 1, bad_b.stdout + bad_b.stderr
    assert bad_b.result["rolledBack"] is True
    b = bad_b.result["taskDefinitionArn"]
    wait_idle(stack)
    assert stack.live_task_definition() == a

    good_c = release(stack, cli, "t3-c")
    assert good_c.code == 0, good_c.stdout + good_c.stderr
    c = good_c.result["taskDefinitionArn"]
    assert int(a.rsplit(":", 1)[1]) < int(b.rsplit(":", 1)[1]) < int(c.rsplit(":", 1)[1])

    cleaned = cli("cleanup", "--keep", "1")
    assert cleaned.code == 0, cleaned.stdout + cleaned.stderr
    # AWS-side: A (what production ran before C) stays, B (rolled back, never production) goes
    assert family_status(stack, a) == "ACTIVE"
    assert family_status(stack, b) == "INACTIVE"
    assert family_status(stack, c) == "ACTIVE"

    blue = serving(stack)
    back = cli("-o", "json", "rollback")
    assert back.code == 0, back.stdout + back.stderr
    assert back.result["taskDefinitionArn"] == a
    assert serving(stack) != blue  # production moved wholly to the other target group ...
    assert primary_task_definition(stack) == a  # ... running A
    assert stack.live_task_definition() == a


def test_rollback_refuses_an_inactive_target_before_any_write(
    stack: Stack, cli: Callable[..., Ran]
) -> None:
    first = release(stack, cli, "t3-d")
    assert first.code == 0, first.stdout + first.stderr
    second = release(stack, cli, "t3-e")
    assert second.code == 0, second.stdout + second.stderr
    target = first.result["taskDefinitionArn"]
    stack.client("ecs").deregister_task_definition(taskDefinition=target)
    cd = stack.client("codedeploy")
    listed = cd.list_deployments(
        applicationName=stack.result.application,
        deploymentGroupName=stack.result.deployment_group,
    )["deployments"]
    ran = cli("rollback")
    assert ran.code == 2, ran.stdout + ran.stderr
    assert f"the rollback target {target}" in ran.stderr
    assert "INACTIVE" in ran.stderr
    assert "bluegreen deploy --image" in ran.stderr
    after = cd.list_deployments(
        applicationName=stack.result.application,
        deploymentGroupName=stack.result.deployment_group,
    )["deployments"]
    assert after == listed  # no deployment was created
    assert stack.live_task_definition() == second.result["taskDefinitionArn"]


def test_rollback_after_a_stop_without_rollback_returns_to_the_revision_before_it(
    stack: Stack, cli: Callable[..., Ran]
) -> None:
    """A release stopped without rollback leaves production split between blue and green
    (what an alarm did when the spec's settings overrode the group's): `rollback` knows the
    revision production ran before it and puts production wholly back on it."""
    before = stack.live_task_definition()
    stack.push("t3-split")
    started = cli(
        "-o",
        "json",
        "deploy",
        "--image",
        f"web={stack.image('t3-split')}",
        "--no-wait",
        "--deployment-config",
        LONG_CANARY,
    )
    assert started.code == 0, started.stdout + started.stderr
    deadline = time.monotonic() + 30
    while not canary_live(stack)() and time.monotonic() < deadline:
        time.sleep(0.05)
    stopped = cli("-o", "json", "stop", started.result["deploymentId"], "--no-rollback")
    assert stopped.code == 0, stopped.stdout + stopped.stderr
    assert canary_live(stack)()  # production is split
    back = cli("-o", "json", "rollback")
    assert back.code == 0, back.stdout + back.stderr
    assert back.result["taskDefinitionArn"] == before
    serving(stack)  # one target group takes all production traffic ...
    assert primary_task_definition(stack) == before  # ... on the revision before the release
