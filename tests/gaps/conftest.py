"""Fixtures of the gap tests: rolling services (tests/parity's Stack), a CodeDeploy demo stack,
and the CLI run in this process; everything against the `aws_env` sandbox."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bluegreen.aws.session import Aws
from bluegreen.sandbox.server import SandboxServer
from tests.helpers import Ran, run_cli
from tests.parity.conftest import Stack

Cli = Callable[..., Ran]


@pytest.fixture
def cli() -> Cli:
    """Run `bluegreen ARGS` in this process (stdin is not a TTY)."""
    return run_cli


@pytest.fixture
def journal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "journal.jsonl"
    monkeypatch.setenv("BLUEGREEN_JOURNAL", str(path))
    return path


@pytest.fixture
def rolling(aws_env: SandboxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Stack:
    """ECS-controller services in the sandbox; specs written to tmp_path/specs (the cwd)."""
    folder = tmp_path / "specs"
    folder.mkdir()
    monkeypatch.chdir(folder)
    return Stack(Aws(region="us-east-1"), folder, aws_env)


@pytest.fixture
def codedeploy_stack(aws_env: SandboxServer, tmp_path: Path, cli: Cli) -> dict[str, Any]:
    """A CodeDeploy blue/green demo stack (`sandbox stack`); `spec` is its spec file."""
    folder = tmp_path / "stack"
    ran = cli("--output", "json", "sandbox", "stack", "--dir", str(folder))
    assert ran.code == 0, ran.stderr
    result = ran.lines[0]  # the stack; the result line follows
    result["spec"] = folder / "bluegreen.yaml"
    return result


def ecr_tag_digest(aws: Aws, tag: str, repository: str = "web") -> str | None:
    ecr = aws.ecr()
    try:
        found = ecr.describe_images(repositoryName=repository, imageIds=[{"imageTag": tag}])
    except ecr.exceptions.ImageNotFoundException:
        return None
    return str(found["imageDetails"][0]["imageDigest"])


def git(folder: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(folder), "-c", "user.email=t@example.com", "-c", "user.name=t", *args],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()
