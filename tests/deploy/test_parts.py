"""The smaller parts of a release: verify runs, plan comparisons, AppSpec patching, the result
line, the CI summary, exit mapping."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from bluegreen.engines.codedeploy.apply import description, with_task_definition
from bluegreen.engines.model import Outcome
from bluegreen.engines.verify import VerifyRun, split_command
from bluegreen.errors import Cancelled, DeploymentFailed, DeploymentTimeout, UsageError
from bluegreen.render.taskdef import same_task_definition


def finish(run: VerifyRun, limit: float = 10.0) -> tuple[bool, str]:
    run.start()
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        got = run.poll()
        if got is not None:
            assert run.poll() is None  # reported once
            return got
        time.sleep(0.02)
    raise AssertionError("verify never ended")


def test_verify_pass_fail_and_output_tail() -> None:
    ok = finish(VerifyRun([sys.executable, "-c", "print('fine')"], {}, 5))
    assert ok == (True, "exit 0: fine")
    bad = finish(
        VerifyRun([sys.executable, "-c", "import sys; print('x' * 5000); sys.exit(4)"], {}, 5)
    )
    assert bad[0] is False
    assert bad[1].startswith("exit 4: ")
    assert len(bad[1]) < 500  # only the tail is kept


def test_verify_gets_its_environment_and_no_shell(tmp_path: Path) -> None:
    code = "import os, sys; sys.exit(0 if os.environ['BLUEGREEN_TEST_URL'] == 'http://x:81' else 1)"
    assert finish(
        VerifyRun([sys.executable, "-c", code], {"BLUEGREEN_TEST_URL": "http://x:81"}, 5)
    )[0]
    marker = tmp_path / "touched"
    # shell syntax is passed as a plain argument, never interpreted
    argv = split_command(f"{sys.executable} -c pass ; touch {marker}")
    assert ";" in argv
    finish(VerifyRun(argv, {}, 5))
    assert not marker.exists()


def test_verify_timeout_kills_it() -> None:
    started = time.monotonic()
    result = finish(VerifyRun([sys.executable, "-c", "import time; time.sleep(30)"], {}, 0.3))
    assert result == (False, "timed out after 0.3s")
    assert time.monotonic() - started < 5


def test_verify_missing_program_fails_cleanly() -> None:
    passed, detail = finish(VerifyRun(["/no/such/program"], {}, 5))
    assert passed is False
    assert "cannot run /no/such/program" in detail


@pytest.mark.parametrize("bad", ["", "  ", "'unclosed"])
def test_split_command_rejects_bad_input(bad: str) -> None:
    with pytest.raises(UsageError) as info:
        split_command(bad, where="spec.yaml:9: verify.command")
    assert info.value.where == "spec.yaml:9: verify.command"


def test_task_definition_comparison_ignores_read_only_and_empty_fields() -> None:
    wanted = {
        "family": "web",
        "cpu": "256",
        "containerDefinitions": [{"name": "web", "image": "r@sha256:1", "environment": []}],
    }
    live = {
        "family": "web",
        "cpu": 256,
        "taskDefinitionArn": "arn:aws:ecs:us-east-1:1:task-definition/web:3",
        "revision": 3,
        "status": "ACTIVE",
        "registeredAt": "2026-01-01T00:00:00",
        "containerDefinitions": [{"name": "web", "image": "r@sha256:1", "mountPoints": []}],
    }
    assert same_task_definition(wanted, live)
    changed = {**wanted, "containerDefinitions": [{"name": "web", "image": "r@sha256:2"}]}
    assert not same_task_definition(changed, live)


def test_appspec_task_definition_is_replaced_in_any_case() -> None:
    appspec = {
        "version": 0.0,
        "Resources": [{"TargetService": {"Properties": {"TaskDefinition": "<TASK_DEFINITION>"}}}],
        "hooks": [{"taskDefinition": "<TASK_DEFINITION>"}],
    }
    out = with_task_definition(appspec, "arn:td:7")
    assert out["Resources"][0]["TargetService"]["Properties"]["TaskDefinition"] == "arn:td:7"
    assert out["hooks"][0]["taskDefinition"] == "arn:td:7"
    assert (
        appspec["Resources"][0]["TargetService"]["Properties"]["TaskDefinition"]
        == "<TASK_DEFINITION>"
    )


def test_description_names_who_what_and_the_digests() -> None:
    text = description("arn:aws:sts::1:assumed-role/ci/run", "abc123", {"web": "r@sha256:1"})
    assert (
        text
        == "bluegreen release by arn:aws:sts::1:assumed-role/ci/run; git abc123; web=r@sha256:1"
    )


def outcome(code: int, rolled_back: bool = False, status: str = "Stopped") -> Outcome:
    return Outcome("d-1", status, rolled_back, code, "why", None, "arn:td:2")


def test_exit_codes_come_from_the_outcome() -> None:
    from bluegreen.cli.live import raise_for

    raise_for(outcome(0, status="Succeeded"))
    with pytest.raises(DeploymentFailed):
        raise_for(outcome(1, rolled_back=True))
    with pytest.raises(DeploymentTimeout):
        raise_for(outcome(3, rolled_back=True))
    with pytest.raises(Cancelled):
        raise_for(outcome(130, rolled_back=True))


def test_github_step_summary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bluegreen.cli.live import write_step_summary

    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    write_step_summary("deploy", outcome(1, rolled_back=True), 42.0)
    text = summary.read_text()
    assert text.startswith("### ❌ bluegreen deploy: `d-1` Stopped")
    assert "| rolled back | yes |" in text
    assert "| exit code | 1 |" in text


def test_live_view_renders_the_state() -> None:
    import io

    from rich.console import Console

    from bluegreen.cli.context import Options
    from bluegreen.cli.live import Reporter
    from bluegreen.engines.codedeploy.machine import (
        LifecycleEvent,
        MonitorConfig,
        Observation,
        TaskSet,
        initial_state,
        step,
    )

    state = initial_state(MonitorConfig("d-1", 0.0))
    state, _, _ = step(
        state,
        Observation(
            now=1.0,
            deployment_id="d-1",
            status="InProgress",
            lifecycle=(LifecycleEvent("AllowTraffic", "InProgress"),),
            task_sets=(
                TaskSet("Blue", "PRIMARY", 2, 0, 2, 90.0),
                TaskSet("Green", "ACTIVE", 2, 0, 2, 10.0),
            ),
            alarms={"web-5xx": "OK"},
        ),
    )
    reporter = Reporter(Options(), verb="deploy")
    reporter.sink([], state)
    console = Console(file=io.StringIO(), width=100, color_system=None)
    console.print(reporter._render())
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert "d-1  InProgress" in text
    assert "AllowTraffic" in text
    assert "90% / 10%" in text
    assert "alarm web-5xx: OK" in text
    assert "Blue  PRIMARY" in text


def test_interactive_cancel_asks(monkeypatch: pytest.MonkeyPatch) -> None:
    from bluegreen.cli.context import Options
    from bluegreen.cli.live import Reporter, asker, resolve_on_cancel

    replies = iter(["what?", "d"])
    monkeypatch.setattr("builtins.input", lambda prompt: next(replies))
    assert asker(Reporter(Options(), verb="deploy"))() == "detach"
    monkeypatch.setattr("builtins.input", lambda prompt: "continue")
    assert asker(Reporter(Options(), verb="deploy"))() == "continue"

    def interrupted(prompt: str) -> str:
        raise KeyboardInterrupt

    monkeypatch.setattr("builtins.input", interrupted)  # a second Ctrl-C: roll back
    assert asker(Reporter(Options(), verb="deploy"))() == "rollback"
    assert resolve_on_cancel("detach") == "detach"
    with pytest.raises(UsageError):
        resolve_on_cancel("explode")
