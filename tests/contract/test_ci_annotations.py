"""What GitHub Actions shows: `::error::` annotations keep every line of a reason, and the
step summary's table survives pipes and line breaks in it."""

from __future__ import annotations

from pathlib import Path

import pytest

from bluegreen.cli.live import write_step_summary
from bluegreen.engines.model import Outcome
from tests.helpers import run_cli


def test_error_annotation_keeps_every_line_escaped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    (tmp_path / "bluegreen.yaml").write_text("version: 1\ncluster: [not, a, name]\n")
    ran = run_cli("validate")
    assert ran.code == 2
    (line,) = [x for x in ran.stderr.splitlines() if x.startswith("::error")]
    assert line.startswith("::error title=bluegreen::3 problems in bluegreen.yaml:%0A")
    message = line.split("::", 2)[2]
    # GitHub turns %0A back into line breaks: every problem is in the annotation
    assert "%0A  - bluegreen.yaml:2: cluster: expected string" in message
    decoded = message.replace("%0D", "\r").replace("%0A", "\n").replace("%25", "%")
    error_text = ran.stderr.split("error: ", 1)[1].split("\n::error", 1)[0]
    assert decoded == error_text


def test_annotation_escapes_percent_and_carriage_returns() -> None:
    from bluegreen.cli.app import annotation

    assert annotation("50% of\r\nsteps") == "50%25 of%0D%0Asteps"


def test_step_summary_table_survives_pipes_and_newlines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    reason = "verify failed: exit 1; last lines:\nGET /health | 503\n<html>oops</html>"
    outcome = Outcome("d-1", "Stopped", True, 1, reason, "d-2", "arn:td:7")
    write_step_summary("deploy", outcome, 12.0)
    lines = summary.read_text().splitlines()
    table = [x for x in lines if x.startswith("|")]
    assert len(table) == 9  # header, rule, seven rows: nothing broke out of the table
    (detail,) = [x for x in table if x.startswith("| detail |")]
    assert detail == (
        "| detail | verify failed: exit 1; last lines:<br>GET /health \\| 503<br>"
        "&lt;html&gt;oops&lt;/html&gt; |"
    )
    # every row has exactly its two cells: no unescaped pipe inside one
    for row in table:
        assert row.replace("\\|", "").count("|") == 3, row
