"""The append-only journal."""

from __future__ import annotations

from pathlib import Path

import pytest

from bluegreen.journal import CREATED, INTENT, RESULT, Journal, journal_path


def test_path_defaults_beside_the_spec_and_env_overrides(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BLUEGREEN_JOURNAL", raising=False)
    assert journal_path(tmp_path / "bluegreen.yaml") == tmp_path / ".bluegreen" / "journal.jsonl"
    monkeypatch.setenv("BLUEGREEN_JOURNAL", str(tmp_path / "j.jsonl"))
    assert journal_path(tmp_path / "bluegreen.yaml") == tmp_path / "j.jsonl"


def test_in_flight_and_results(tmp_path: Path) -> None:
    j = Journal(tmp_path / "x" / "journal.jsonl")
    assert j.last_in_flight() is None
    j.append(INTENT, action="CreateDeployment", group="g")
    j.append(CREATED, deploymentId="d-1", group="g", taskDefinitionArn="arn:1")
    j.append(RESULT, deploymentId="d-1", status="Succeeded", rolledBack=False)
    j.append(CREATED, deploymentId="d-2", group="g", taskDefinitionArn="arn:2")
    assert j.last_in_flight() == "d-2"
    assert j.last_in_flight({"group": "other"}) is None
    # A torn last line (the process died mid-write) is skipped, not fatal.
    with j.path.open("a") as fh:
        fh.write('{"kind": "crea')
    assert j.last_in_flight({"group": "g"}) == "d-2"
    assert [v["deploymentId"] for v in j.succeeded()] == ["d-1"]
    j.append(RESULT, deploymentId="d-2", status="Stopped", rolledBack=True)
    assert j.last_in_flight() is None
    assert j.deployments()["d-2"]["result"]["status"] == "Stopped"
