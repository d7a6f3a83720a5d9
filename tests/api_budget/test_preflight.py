"""Fan-out preflight: side by side within --max-parallel, all or nothing, failures in order."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bluegreen.aws.session import Aws
from bluegreen.cli.app import run
from bluegreen.engines.model import Outcome
from bluegreen.errors import ExitCode, PreflightError, UsageError, flatten
from bluegreen.release.fanout import Runner, fan_out, preflight
from bluegreen.sandbox.stack import StackResult


@dataclass(frozen=True)
class FakeSpec:
    """What fan_out reads of a spec: its label parts."""

    cluster: str
    service: str


def specs(n: int) -> list[Any]:
    return [FakeSpec("c", f"s{i}") for i in range(n)]


class Out:
    json_mode = True

    def __init__(self) -> None:
        self.objects: list[dict[str, Any]] = []

    def text(self, line: str = "") -> None:
        pass

    def json(self, obj: dict[str, Any]) -> None:
        self.objects.append(obj)

    def emit(self, obj: dict[str, Any], text: str | None) -> None:
        self.objects.append(obj)


def ok_runner(out: Any) -> Outcome:
    return Outcome("d-1", "Succeeded", False, ExitCode.OK, "ok", None, None)


def test_preflights_run_side_by_side() -> None:
    barrier = threading.Barrier(4, timeout=5)

    def prepare(spec: Any) -> Runner:
        barrier.wait()  # breaks (and the test fails) unless all four run at once
        return ok_runner

    assert all(callable(r) for r in preflight(specs(4), prepare, 4))


def test_preflights_respect_max_parallel() -> None:
    lock = threading.Lock()
    running = [0]
    most = [0]

    def prepare(spec: Any) -> Runner:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.05)
        with lock:
            running[0] -= 1
        return ok_runner

    preflight(specs(6), prepare, 2)
    assert most[0] == 2


def test_every_failure_named_in_spec_order_and_nothing_runs() -> None:
    ran: list[str] = []

    def prepare(spec: Any) -> Runner:
        if spec.service == "s1":
            time.sleep(0.2)  # fails last in time, first in spec order
            raise PreflightError("first broken")
        if spec.service == "s3":
            raise PreflightError("second broken", where="somewhere.yaml: codedeploy")

        def runner(out: Any) -> Outcome:
            ran.append(spec.service)
            return ok_runner(out)

        return runner

    with pytest.raises(UsageError) as caught:
        fan_out(specs(5), prepare, Out(), max_parallel=5)
    found = flatten(caught.value)
    assert [p.message for p in found] == ["first broken", "second broken"]
    assert [p.where for p in found] == ["c/s1", "somewhere.yaml: codedeploy"]
    assert caught.value.exit_code == ExitCode.USAGE
    assert ran == []


def test_a_bug_in_one_preflight_is_raised_after_all_have_ended() -> None:
    ended: list[str] = []

    def prepare(spec: Any) -> Runner:
        if spec.service == "s0":
            raise RuntimeError("bug")
        time.sleep(0.05)
        ended.append(spec.service)
        return ok_runner

    with pytest.raises(RuntimeError, match="bug"):
        preflight(specs(3), prepare, 3)
    assert sorted(ended) == ["s1", "s2"]


def _families(aws: Aws, stack: StackResult) -> int:
    arns = aws.ecs().list_task_definitions(familyPrefix=stack.service)["taskDefinitionArns"]
    return len(arns)


def _deployments(aws: Aws, stack: StackResult) -> list[str]:
    found: list[str] = aws.codedeploy().list_deployments(
        applicationName=stack.application, deploymentGroupName=stack.deployment_group
    )["deployments"]
    return found


def _break(spec: Path, old: str, new: str) -> None:
    text = spec.read_text()
    assert old in text
    spec.write_text(text.replace(old, new, 1))


def test_cli_one_broken_spec_among_several_writes_nothing(
    stacks: list[StackResult], capsys: pytest.CaptureFixture[str]
) -> None:
    aws = Aws(region="us-east-1")
    paths = [s.directory / "bluegreen.yaml" for s in stacks]
    _break(paths[2], "alarms: [", 'alarms: ["no-such-alarm", ')  # third: a missing alarm
    _break(paths[0], stacks[0].application, "no-such-application")  # first: no application
    before = {s.service: _families(aws, s) for s in stacks}
    argv = ["-o", "json", "deploy", "--var", "log_level=debug", "--max-parallel", "3"]
    code = run([*argv, *[a for p in paths for a in ("--config", str(p))]])
    err = capsys.readouterr().err
    assert code == ExitCode.AWS  # the missing application: an AWS resource, not bad input
    assert "2 problems in 3 releases" in err
    assert "no-such-application" in err
    assert "no-such-alarm" in err
    assert err.index("no-such-application") < err.index("no-such-alarm")  # spec order
    assert "nothing was changed" in err
    assert {s.service: _families(aws, s) for s in stacks} == before
    assert all(_deployments(aws, s) == [] for s in stacks)
