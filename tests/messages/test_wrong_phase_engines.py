"""`approve`, `stop` and `watch` at the wrong phase on a rolling and on an ECS-native service
(the CodeDeploy cases are in test_wrong_phase.py): exit 2 with what to do next, never an AWS
exception, and the service as it was (read back through boto3)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from bluegreen.aws.session import Aws
from bluegreen.sandbox import StackKind
from bluegreen.sandbox.server import SandboxServer
from bluegreen.sandbox.stack import StackResult, create_stack
from tests.fixtures.native import Native, wait_for
from tests.helpers import Ran, run_cli


def assert_exit_2(ran: Ran, *needles: str) -> None:
    assert ran.code == 2, (ran.code, ran.stderr)
    assert "Traceback" not in ran.stderr
    assert ran.result["exitCode"] == 2
    assert ran.result["kind"] not in ("aws", "not-found")
    shown = ran.result["reason"] + " " + ran.result.get("hint", "")
    for needle in needles:
        assert needle in shown, (needle, shown)


# --- rolling ------------------------------------------------------------------------------------
@pytest.fixture
def rolling(aws_env: SandboxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> StackResult:
    result = create_stack(Aws(region="us-east-1"), tmp_path / "api", "api", kind=StackKind.rolling)
    monkeypatch.setenv("BLUEGREEN_JOURNAL", str(tmp_path / "journal.jsonl"))
    monkeypatch.chdir(result.directory)
    ecs = Aws(region="us-east-1").ecs()

    def settled() -> bool:
        svc = ecs.describe_services(cluster=result.cluster, services=[result.service])
        return [d["rolloutState"] for d in svc["services"][0]["deployments"]] == ["COMPLETED"]

    wait_for(settled, what="the rolling service's first revision running")
    return result


def rolling_state(result: StackResult) -> tuple[str, list[str]]:
    svc = (
        Aws(region="us-east-1")
        .ecs()
        .describe_services(cluster=result.cluster, services=[result.service])["services"][0]
    )
    return str(svc["taskDefinition"]), [str(d["id"]) for d in svc["deployments"]]


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (("stop",), ("no rollout in flight", "nothing to stop")),
        (("watch",), ("no rollout in flight", "nothing to watch")),
        (("approve",), ("approve", "rolling")),
        (("stop", "ecs-svc/0000000000000000001"), ("no rollout in flight",)),
    ],
)
def test_rolling_nothing_in_flight(
    rolling: StackResult, args: tuple[str, ...], needles: tuple[str, ...]
) -> None:
    before = rolling_state(rolling)
    assert_exit_2(run_cli("-o", "json", *args), *needles)
    assert rolling_state(rolling) == before


def test_rolling_a_finished_rollout(rolling: StackResult) -> None:
    done = run_cli("-o", "json", "redeploy")  # a rollout of its own, to its end
    assert done.code == 0, done.stderr
    finished = rolling_state(rolling)[1][0]
    before = rolling_state(rolling)
    assert_exit_2(run_cli("-o", "json", "stop", finished), "no rollout in flight")
    assert_exit_2(run_cli("-o", "json", "approve", finished), "approve")
    assert rolling_state(rolling) == before


# --- ECS-native ---------------------------------------------------------------------------------
def native_state(stack: Native) -> tuple[str, list[str]]:
    return str(stack.service()["taskDefinition"]), stack.deployments()


@pytest.mark.parametrize(
    ("verb", "needles"),
    [
        ("approve", ("is in flight", "nothing waits for approval")),
        ("stop", ("is in flight", "nothing to stop")),
        ("watch", ("is in flight", "nothing to watch")),
    ],
)
def test_native_nothing_in_flight(native: Native, verb: str, needles: tuple[str, ...]) -> None:
    before = native_state(native)
    assert_exit_2(native.cli(verb), *needles)
    assert native_state(native) == before


def test_native_a_finished_deployment(native: Native) -> None:
    done = native.deploy()
    assert done.code == 0, done.stderr
    arn = str(done.result["deploymentId"])
    assert native.deployment(arn)["status"] == "SUCCESSFUL"
    before = native_state(native)
    assert_exit_2(native.cli("approve", arn), "has ended (SUCCESSFUL)", "nothing to approve")
    assert_exit_2(native.cli("stop", arn), "has ended (SUCCESSFUL)", "bluegreen rollback")
    assert native.deployment(arn)["status"] == "SUCCESSFUL"
    watched = native.cli("watch", arn)  # watch reports how it ended
    assert watched.code == 0, watched.stderr
    assert native_state(native) == before


def test_native_approve_when_no_hook_waits(native: Native) -> None:
    native.configure(bakeTimeInMinutes=30)  # the deployment stays in flight, baking
    started = native.deploy("--no-wait")
    assert started.code == 0, started.stderr
    arn = wait_for(
        lambda: [
            a for a in native.deployments() if native.deployment(a)["status"] == "IN_PROGRESS"
        ],
        what="in flight",
    )[0]
    ran = native.cli("approve")
    assert_exit_2(ran, "no pause hook awaiting action", "bluegreen watch")
    assert native.deployment(arn)["status"] == "IN_PROGRESS"
    stopped = native.cli("stop")
    assert stopped.code == 0, stopped.stderr  # stopped as asked, production back on blue
    assert stopped.result["rolledBack"] is True
    deadline = time.monotonic() + 30
    while native.deployment(arn)["status"] in (
        "IN_PROGRESS",
        "STOP_REQUESTED",
        "ROLLBACK_IN_PROGRESS",
    ):
        assert time.monotonic() < deadline
        time.sleep(0.05)
