"""With `--output json` every exit of every verb ends with one result line on stdout:
`{"event": "result", ..., "exitCode": N, "reason": "..."}` (DESIGN.md, pinned)."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.codedeploy import Ran, Stack, active, wait_idle


def only_json(ran: Ran) -> list[dict[str, Any]]:
    """Every stdout line is JSON (the contract), and exactly one of them, the last, is the
    result."""
    lines = [json.loads(line) for line in ran.stdout.splitlines()]
    assert lines, f"no JSON on stdout; stderr: {ran.stderr}"
    results = [line for line in lines if line.get("event") == "result"]
    assert results == [lines[-1]], lines
    return lines


def result(ran: Ran) -> dict[str, Any]:
    line = only_json(ran)[-1]
    assert line["exitCode"] == ran.code
    assert isinstance(line["reason"], str)
    assert line["reason"]
    return line


def test_click_usage_error_is_exit_2_with_a_result(
    cli: Callable[..., Ran], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    ran = cli("--output", "json", "deploy", "--no-such-flag")
    assert ran.code == 2
    line = result(ran)
    assert "--no-such-flag" in line["reason"]
    assert line["kind"] == "usage"
    # a bad value of a global option: refused before any option is read
    ran = cli("-o", "json", "--env")
    assert ran.code == 2
    assert "--env" in result(ran)["reason"]


def test_bad_input_is_exit_2_with_where_and_hint(
    cli: Callable[..., Ran], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    ran = cli("-o", "json", "validate")
    assert ran.code == 2
    line = result(ran)
    assert line["reason"].startswith("bluegreen.yaml: spec file not found")
    assert line["kind"] == "spec"
    assert "hint" in line


def test_unreachable_endpoint_is_exit_4_with_a_result(
    stack: Stack, cli: Callable[..., Ran], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # discard port: refused
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    ran = cli("-o", "json", "status")
    assert ran.code == 4, ran.stderr
    line = result(ran)
    assert line["kind"] != "usage"
    assert "127.0.0.1:9" in line["reason"] or "endpoint" in line["reason"].lower()


def test_already_active_is_exit_1_with_a_result(stack: Stack, cli: Callable[..., Ran]) -> None:
    stack.push("r1")
    stack.push("r2")
    first = cli(
        "-o", "json", "deploy", "--image", f"web={stack.image('r1')}", "--no-wait",
        "--deployment-config", "canary:10%/10m",
    )  # fmt: skip
    assert first.code == 0, first.stderr
    dep = result(first)["deploymentId"]
    blocked = cli("-o", "json", "deploy", "--image", f"web={stack.image('r2')}")
    assert blocked.code == 1
    line = result(blocked)
    assert f"deployment {dep} is already active" in line["reason"]
    assert line["kind"] == "deployment-active"
    assert active(stack) == [dep]  # nothing else was started
    wait_idle(stack)


def test_dry_run_ends_with_a_dry_run_result(stack: Stack, cli: Callable[..., Ran]) -> None:
    stack.push("r3")
    before = stack.live_task_definition()
    ran = cli("-o", "json", "deploy", "--image", f"web={stack.image('r3')}", "--dry-run")
    assert ran.code == 0, ran.stderr
    lines = only_json(ran)
    assert len(lines) == 2  # the plan, then the result
    line = result(ran)
    assert line["reason"].startswith("dry run")
    assert (line["status"], line["rolledBack"]) == ("DryRun", False)
    assert stack.live_task_definition() == before
    assert active(stack) == []


def test_read_verbs_end_with_a_result_after_their_own_lines(
    stack: Stack, cli: Callable[..., Ran]
) -> None:
    ran = cli("-o", "json", "validate")
    assert ran.code == 0, ran.stderr
    lines = only_json(ran)
    assert lines[0]["valid"] is True
    assert result(ran)["reason"] == "ok"

    ran = cli("-o", "json", "status")
    assert ran.code == 0, ran.stderr
    lines = only_json(ran)
    assert lines[0]["event"] == "status"
    assert result(ran) == {"event": "result", "exitCode": 0, "reason": "ok"}

    ran = cli("-o", "json", "history")
    assert ran.code == 0, ran.stderr
    result(ran)

    ran = cli("-o", "json", "render")
    assert ran.code == 0, ran.stderr
    lines = only_json(ran)
    assert len(lines) == 2
    assert set(lines[0]) == {"taskDefinition", "appspec"}  # the document line stays
    assert result(ran)["exitCode"] == 0


def test_a_verb_result_line_is_printed_once_with_the_exit_code(
    stack: Stack, cli: Callable[..., Ran]
) -> None:
    """doctor prints its own result line; the entry point merges the exit code into it rather
    than adding a second one."""
    ran = cli("-o", "json", "doctor")
    line = result(ran)
    assert {"ok", "errors", "warnings"} <= set(line)
    assert line["ok"] is (ran.code == 0)


def test_a_release_result_line_is_not_repeated(stack: Stack, cli: Callable[..., Ran]) -> None:
    stack.push("r4")
    ran = cli("-o", "json", "deploy", "--image", f"web={stack.image('r4')}")
    assert ran.code == 0, ran.stderr
    line = result(ran)
    assert line["status"] == "Succeeded"
    assert line["taskDefinitionArn"] == stack.live_task_definition()


def test_cancel_outside_a_release_is_exit_130_with_a_result(tmp_path: Path) -> None:
    """SIGINT while waiting for a release window (before anything is written): exit 130,
    and the result line still ends stdout."""
    now = dt.datetime.now(dt.UTC)
    start, end = now + dt.timedelta(hours=2), now + dt.timedelta(hours=3)
    (tmp_path / "bluegreen.yaml").write_text(
        "version: 1\ncluster: c1\nservice: s1\ntask_definition: td.json\n"
        "windows:\n  timezone: UTC\n  allow:\n"
        f'    - {{days: [mon-sun], hours: "{start:%H:%M}-{end:%H:%M}"}}\n'
    )
    (tmp_path / "td.json").write_text('{"family": "s1", "containerDefinitions": []}\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["AWS_ENDPOINT_URL"] = "http://127.0.0.1:9"
    proc = subprocess.Popen(
        [sys.executable, "-m", "bluegreen", "-o", "json", "deploy", "--wait-for-window"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    first = proc.stdout.readline()  # the "waiting until" window event
    assert json.loads(first)["event"] == "window", first
    time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    rest, err = proc.communicate(timeout=20)
    assert proc.returncode == 130, err
    line = json.loads(rest.strip().splitlines()[-1])
    assert line == {"event": "result", "exitCode": 130, "reason": "cancelled", "kind": "cancelled"}
