"""Deployment ids are scoped to the spec's group (DESIGN.md I5): `stop`, `approve` and `watch`
given another group's deployment, an unknown id, or nothing in flight answer exit 2 and send no
write to AWS. Two demo stacks share the sandbox: A (`web`, the spec in the working folder) and
B (`api`), whose deployment waits in Ready (its group waits for approval before rerouting)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import botocore.handlers
import pytest

from bluegreen.aws.session import Aws
from bluegreen.sandbox.stack import create_stack
from tests.fixtures.codedeploy import ACTIVE, Stack, wait_idle
from tests.helpers import Ran

WRITES = {"StopDeployment", "ContinueDeployment", "CreateDeployment"}


@pytest.fixture(scope="module")
def other(module_stack: Stack) -> Iterator[Stack]:
    """Stack B in the same sandbox, its group waiting in Ready for an approval."""
    directory = module_stack.dir.parent / "api"
    result = create_stack(Aws(region="us-east-1"), directory, "api")
    b = Stack(result, directory, directory / "bluegreen.yaml", module_stack.sandbox)
    b.client("codedeploy").update_deployment_group(
        applicationName=result.application,
        currentDeploymentGroupName=result.deployment_group,
        blueGreenDeploymentConfiguration={
            "deploymentReadyOption": {
                "actionOnTimeout": "STOP_DEPLOYMENT",
                "waitTimeInMinutes": 2880,
            },
            "terminateBlueInstancesOnDeploymentSuccess": {
                "action": "TERMINATE",
                "terminationWaitTimeInMinutes": 5,
            },
        },
    )
    yield b
    cd = b.client("codedeploy")
    for dep in _active(b):
        cd.stop_deployment(deploymentId=dep, autoRollbackEnabled=True)
    wait_idle(b)


def _active(s: Stack) -> list[str]:
    return list(
        s.client("codedeploy").list_deployments(
            applicationName=s.result.application,
            deploymentGroupName=s.result.deployment_group,
            includeOnlyStatuses=ACTIVE,
        )["deployments"]
    )


def _status(s: Stack, dep: str) -> str:
    info = s.client("codedeploy").get_deployment(deploymentId=dep)["deploymentInfo"]
    return str(info["status"])


@pytest.fixture
def waiting(other: Stack, stack: Stack, cli: Callable[..., Ran]) -> str:
    """A deployment of B waiting in Ready (B's production still wholly on blue)."""
    active = _active(other)
    if active and _status(other, active[0]) == "Ready":
        return active[0]
    for dep in active:  # moved on (a test that failed acted on it): start afresh
        other.client("codedeploy").stop_deployment(deploymentId=dep, autoRollbackEnabled=True)
    wait_idle(other)
    tag = f"b{time.monotonic_ns()}"
    other.push(tag)
    ran = cli(
        "--config",
        str(other.spec),
        "-o",
        "json",
        "deploy",
        "--image",
        f"web={other.image(tag)}",
        "--no-wait",
    )
    assert ran.code == 0, ran.stderr
    dep = str(ran.result["deploymentId"])
    deadline = time.monotonic() + 20
    while _status(other, dep) != "Ready":
        assert time.monotonic() < deadline, _status(other, dep)
        time.sleep(0.05)
    return dep


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The CodeDeploy operations every botocore session created from now on sends (the CLI's
    own clients included), recorded by a handler on botocore's `before-call` event."""
    calls: list[str] = []

    def seen(model: Any, **_: Any) -> None:
        calls.append(str(model.name))

    monkeypatch.setattr(
        botocore.handlers,
        "BUILTIN_HANDLERS",
        [*botocore.handlers.BUILTIN_HANDLERS, ("before-call.codedeploy", seen)],
    )
    return calls


def _untouched(b: Stack, dep: str, weights: dict[str, int]) -> None:
    assert _status(b, dep) == "Ready"
    assert b.prod_weights() == weights


def _names_both_groups(ran: Ran, a: Stack, b: Stack) -> None:
    assert f"{b.result.application}/{b.result.deployment_group}" in ran.stderr
    assert f"{a.result.application}/{a.result.deployment_group}" in ran.stderr


def test_stop_refuses_another_groups_deployment(
    stack: Stack, other: Stack, waiting: str, sent: list[str], cli: Callable[..., Ran]
) -> None:
    weights = other.prod_weights()
    ran = cli("stop", waiting)
    assert ran.code == 2, ran.stderr
    _names_both_groups(ran, stack, other)
    assert not WRITES & set(sent), sent
    _untouched(other, waiting, weights)


def test_approve_refuses_another_groups_deployment(
    stack: Stack, other: Stack, waiting: str, sent: list[str], cli: Callable[..., Ran]
) -> None:
    weights = other.prod_weights()
    ran = cli("approve", waiting)
    assert ran.code == 2, ran.stderr
    _names_both_groups(ran, stack, other)
    assert not WRITES & set(sent), sent
    time.sleep(0.5)  # a continued deployment would leave Ready within a few engine ticks
    _untouched(other, waiting, weights)


def test_watch_refuses_another_groups_deployment(
    stack: Stack, other: Stack, waiting: str, sent: list[str], cli: Callable[..., Ran]
) -> None:
    weights = other.prod_weights()
    ran = cli("watch", waiting, "--on-cancel", "rollback", "--timeout", "1s")
    assert ran.code == 2, ran.stderr
    _names_both_groups(ran, stack, other)
    assert not WRITES & set(sent), sent
    _untouched(other, waiting, weights)


def test_unknown_id_is_exit_2_before_any_write(
    stack: Stack, sent: list[str], cli: Callable[..., Ran], tmp_path: Path
) -> None:
    for verb in ("stop", "approve", "watch"):
        ran = cli(verb, "d-NOTEXIST0")
        assert ran.code == 2, (verb, ran.stderr)
        assert "d-NOTEXIST0" in ran.stderr
    assert not WRITES & set(sent), sent
    assert "GetDeployment" in sent
    # With no spec file the group comes from the deployment: an unknown id is still exit 2.
    empty = tmp_path / "elsewhere"
    empty.mkdir()
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(empty)
        ran = cli("stop", "d-NOTEXIST0")
    assert ran.code == 2, ran.stderr
    assert not WRITES & set(sent), sent


def test_nothing_in_flight_is_exit_2_not_a_replay_of_the_journal(
    stack: Stack, sent: list[str], cli: Callable[..., Ran]
) -> None:
    stack.push("s1")
    started = cli("-o", "json", "deploy", "--image", f"web={stack.image('s1')}", "--no-wait")
    assert started.code == 0, started.stderr
    dep = started.result["deploymentId"]
    wait_idle(stack)  # it ended unwatched: the journal still has it without a result
    sent.clear()
    where = f"application {stack.result.application} / group {stack.result.deployment_group}"
    for verb in ("stop", "approve"):
        ran = cli(verb)
        assert ran.code == 2, (verb, ran.stderr)
        assert f"no deployment in flight for {where}" in ran.stderr
        assert "hint:" in ran.stderr
        assert dep not in ran.stdout
    assert not WRITES & set(sent), sent
    assert _status(stack, dep) == "Succeeded"
