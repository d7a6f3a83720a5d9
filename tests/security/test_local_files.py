"""Local files are opened without following symlinks: the journal (`.bluegreen/journal.jsonl`
beside the spec, or BLUEGREEN_JOURNAL) is never appended to through a symlinked folder or file,
nor when it is not the user's own regular file; a journal that cannot be written is a clean
exit 2 naming the path, before any AWS write."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bluegreen.errors import ExitCode, UsageError
from bluegreen.journal import CREATED, INTENT, Journal, journal_path
from tests.deploy.test_image_refusals import Writes, writes
from tests.fixtures.codedeploy import Stack
from tests.helpers import Ran


# --- the journal, directly ----------------------------------------------------------------------
def test_a_symlinked_journal_folder_is_refused(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.mkdir()
    app = tmp_path / "app"
    app.mkdir()
    (app / ".bluegreen").symlink_to(victim, target_is_directory=True)
    journal = Journal(journal_path(app / "bluegreen.yaml"))
    with pytest.raises(UsageError) as info:
        journal.append(INTENT, action="CreateDeployment")
    assert info.value.exit_code == ExitCode.USAGE
    assert ".bluegreen" in info.value.render()
    assert "symlink" in info.value.message
    assert info.value.hint
    assert list(victim.iterdir()) == []


def test_a_symlinked_journal_file_is_refused(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me\n")
    folder = tmp_path / "app" / ".bluegreen"
    folder.mkdir(parents=True)
    (folder / "journal.jsonl").symlink_to(victim)
    journal = Journal(folder / "journal.jsonl")
    with pytest.raises(UsageError) as info:
        journal.append(CREATED, deploymentId="d-1")
    assert "journal.jsonl" in info.value.render()
    assert victim.read_text() == "keep me\n"
    with pytest.raises(UsageError):  # nor is it read through the link
        list(journal.records())


def test_a_dangling_symlinked_journal_file_is_not_created(tmp_path: Path) -> None:
    victim = tmp_path / "elsewhere" / "created.txt"
    victim.parent.mkdir()
    (tmp_path / "journal.jsonl").symlink_to(victim)
    with pytest.raises(UsageError):
        Journal(tmp_path / "journal.jsonl").append(INTENT, action="x")
    assert not victim.exists()


def test_a_journal_that_is_not_a_regular_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "journal.jsonl").mkdir()
    with pytest.raises(UsageError) as info:
        Journal(tmp_path / "journal.jsonl").append(INTENT, action="x")
    assert "journal.jsonl" in info.value.render()


@pytest.mark.skipif(not hasattr(os, "getuid") or os.getuid() != 0, reason="needs root to chown")
def test_a_journal_owned_by_someone_else_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    path.write_text("")
    os.chown(path, 65534, 65534)
    with pytest.raises(UsageError) as info:
        Journal(path).append(INTENT, action="x")
    assert "owned" in info.value.message
    assert path.read_text() == ""


def test_the_journal_is_private_and_still_appends(tmp_path: Path) -> None:
    """The control: an ordinary journal is created (owner-only) and appended to."""
    journal = Journal(tmp_path / ".bluegreen" / "journal.jsonl")
    journal.append(CREATED, deploymentId="d-1")
    journal.append(CREATED, deploymentId="d-2")
    assert [r["deploymentId"] for r in journal.records()] == ["d-1", "d-2"]
    assert journal.path.stat().st_mode & 0o077 == 0


# --- through the CLI, against the sandbox ------------------------------------------------------
@pytest.fixture
def default_journal(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The stack with the journal at its default place beside the spec (no BLUEGREEN_JOURNAL);
    that place is cleared afterwards."""
    monkeypatch.delenv("BLUEGREEN_JOURNAL", raising=False)
    folder = stack.dir / ".bluegreen"
    assert not folder.exists()
    assert not folder.is_symlink()
    yield folder
    if folder.is_symlink() or folder.is_file():
        folder.unlink()
    elif folder.is_dir():
        for child in folder.iterdir():
            child.unlink()
        folder.rmdir()


def refused_before_any_write(ran: Ran, before: Writes, stack: Stack, path: str) -> None:
    assert ran.code == 2, (ran.code, ran.stderr)
    assert "Traceback" not in ran.stderr
    assert path in ran.stderr
    assert "hint: " in ran.stderr
    assert writes(stack) == before


def test_deploy_refuses_a_symlinked_journal_folder_before_any_write(
    stack: Stack, cli: Callable[..., Ran], default_journal: Path, tmp_path: Path
) -> None:
    victim = tmp_path / "victim"
    victim.mkdir()
    default_journal.symlink_to(victim, target_is_directory=True)
    stack.push("j1")
    before = writes(stack)
    ran = cli("deploy", "--image", f"web={stack.image('j1')}")
    refused_before_any_write(ran, before, stack, ".bluegreen")
    assert list(victim.iterdir()) == []


def test_deploy_refuses_a_symlinked_journal_file_before_any_write(
    stack: Stack, cli: Callable[..., Ran], default_journal: Path, tmp_path: Path
) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me\n")
    default_journal.mkdir()
    (default_journal / "journal.jsonl").symlink_to(victim)
    stack.push("j2")
    before = writes(stack)
    ran = cli("deploy", "--image", f"web={stack.image('j2')}")
    refused_before_any_write(ran, before, stack, "journal.jsonl")
    assert victim.read_text() == "keep me\n"


@pytest.mark.parametrize("kind", ["under-a-file", "a-folder"])
def test_an_unwritable_journal_path_is_exit_2_naming_it(
    stack: Stack,
    cli: Callable[..., Ran],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    kind: str,
) -> None:
    if kind == "under-a-file":
        (tmp_path / "a-file").write_text("")
        path = tmp_path / "a-file" / "journal.jsonl"
    else:
        path = tmp_path / "a-folder.jsonl"
        path.mkdir()
    monkeypatch.setenv("BLUEGREEN_JOURNAL", str(path))
    stack.push("j3")
    before = writes(stack)
    ran = cli("deploy", "--image", f"web={stack.image('j3')}")
    refused_before_any_write(ran, before, stack, str(path))
    assert "BLUEGREEN_JOURNAL" in ran.stderr  # the way out
