"""`approve`, `stop` and `watch` at the wrong phase, on each engine: nothing in flight, a
finished deployment, approve when nothing waits. Each is exit 2 (nothing changed) with what to
do next, never an AWS exception; AWS-side state read back through boto3 is unchanged."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest

from tests.conftest import sandbox_call
from tests.fixtures.codedeploy import Stack, wait_idle
from tests.helpers import Ran

ACTIVE = ["Created", "Queued", "InProgress", "Baking", "Ready"]


def assert_exit_2(ran: Ran, *needles: str) -> None:
    assert ran.code == 2, (ran.code, ran.stderr)
    assert "Traceback" not in ran.stderr
    assert ran.result["exitCode"] == 2
    assert ran.result["kind"] != "aws"
    shown = ran.result["reason"] + " " + ran.result.get("hint", "")
    for needle in needles:
        assert needle in shown, (needle, shown)


# --- CodeDeploy -------------------------------------------------------------------------------
def released(stack: Stack, cli: Callable[..., Ran], tag: str) -> str:
    stack.push(tag)
    ran = cli("-o", "json", "deploy", "--image", f"web={stack.image(tag)}", "--force")
    assert ran.code == 0, ran.stderr
    return str(ran.result["deploymentId"])


@pytest.mark.parametrize(
    ("verb", "needle"),
    [
        ("approve", "nothing waits for approval"),
        ("stop", "nothing to stop"),
        ("watch", "nothing to watch"),
    ],
)
def test_codedeploy_nothing_in_flight(
    stack: Stack, cli: Callable[..., Ran], verb: str, needle: str
) -> None:
    ran = cli("-o", "json", verb)
    assert_exit_2(ran, "no deployment in flight", needle)


def test_codedeploy_a_finished_deployment(stack: Stack, cli: Callable[..., Ran]) -> None:
    dep = released(stack, cli, "f1")
    live = stack.live_task_definition()
    assert_exit_2(cli("-o", "json", "approve", dep), "has already ended (Succeeded)")
    assert_exit_2(cli("-o", "json", "stop", dep), "has already ended (Succeeded)", "rollback")
    watched = cli("-o", "json", "watch", dep)  # watch reports how it ended
    assert watched.code == 0, watched.stderr
    assert watched.result["status"] == "Succeeded"
    assert stack.live_task_definition() == live
    info = stack.client("codedeploy").get_deployment(deploymentId=dep)["deploymentInfo"]
    assert info["status"] == "Succeeded"


@pytest.fixture
def in_flight(stack: Stack, cli: Callable[..., Ran]) -> Iterator[str]:
    """A deployment held InProgress at its first lifecycle hook (hooks wait)."""
    sandbox_call(stack.sandbox, "settings", {"hooks": "wait"})
    stack.push("w1")
    ran = cli("-o", "json", "deploy", "--image", f"web={stack.image('w1')}", "--no-wait")
    assert ran.code == 0, ran.stderr
    dep = str(ran.result["deploymentId"])
    cd = stack.client("codedeploy")
    deadline = time.monotonic() + 20
    while cd.get_deployment(deploymentId=dep)["deploymentInfo"]["status"] not in ACTIVE[2:]:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    yield dep
    cd.stop_deployment(deploymentId=dep, autoRollbackEnabled=True)
    wait_idle(stack)


def test_codedeploy_approve_when_nothing_waits(
    in_flight: str, stack: Stack, cli: Callable[..., Ran]
) -> None:
    cd = stack.client("codedeploy")
    status = cd.get_deployment(deploymentId=in_flight)["deploymentInfo"]["status"]
    assert status == "InProgress"
    assert_exit_2(cli("-o", "json", "approve"), "not waiting in Ready", "bluegreen watch")
    assert_exit_2(
        cli("-o", "json", "approve", "--terminate-now"), "termination wait", "bluegreen watch"
    )
    assert cd.get_deployment(deploymentId=in_flight)["deploymentInfo"]["status"] == "InProgress"
