"""`bluegreen sandbox up --background`: the README's quick start runs the next line at once,
so the command returns only when the sandbox answers, with the env file written whole."""

from __future__ import annotations

import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from tests.sandbox_cli.test_up import clean_env

STOP_TIMEOUT = 10


@pytest.fixture
def pids() -> Iterator[list[int]]:
    """Background sandboxes a test started; each is stopped at the end (SIGTERM, by pid)."""
    started: list[int] = []
    yield started
    for pid in started:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            continue
        deadline = time.monotonic() + STOP_TIMEOUT
        while time.monotonic() < deadline and alive(pid):
            time.sleep(0.1)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:  # a zombie has exited
        return f.read().split(")")[-1].split()[0] != "Z"


def up(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bluegreen", *args],
        capture_output=True,
        text=True,
        env=clean_env(tmp_path),
        cwd=tmp_path,
        timeout=90,
        check=False,
    )


def exports(text: str) -> dict[str, str]:
    return {
        name: shlex.split(value)[0]
        for line in text.splitlines()
        if line.startswith("export ")
        for name, _, value in [line.removeprefix("export ").partition("=")]
    }


def test_background_returns_once_the_sandbox_answers(tmp_path: Path, pids: list[int]) -> None:
    env_file = tmp_path / "sandbox.env"
    ran = up(
        tmp_path, "-o", "json", "sandbox", "up", "--background", "--port", "0",
        "--time-scale", "60", "--env-file", str(env_file),
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    announced = json.loads(ran.stdout.splitlines()[0])
    pids.append(announced["pid"])
    # at once, with no wait: the file is complete and the endpoint in it answers AWS calls
    env = exports(env_file.read_text())
    assert env == announced["env"]
    ecs = boto3.client(
        "ecs",
        endpoint_url=env["AWS_ENDPOINT_URL"],
        region_name=env["AWS_REGION"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    )
    ecs.create_cluster(clusterName="bg")
    assert [c["clusterName"] for c in ecs.describe_clusters(clusters=["bg"])["clusters"]] == ["bg"]
    assert f"kill {announced['pid']}" in ran.stderr  # how to stop it
    assert alive(announced["pid"])
    os.kill(announced["pid"], signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    while alive(announced["pid"]) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(announced["pid"])
    assert "bluegreen sandbox stopped" in Path(announced["log"]).read_text()


def test_background_text_mode_prints_the_exports(tmp_path: Path, pids: list[int]) -> None:
    ran = up(tmp_path, "sandbox", "up", "--background", "--port", "0")
    assert ran.returncode == 0, ran.stderr
    pid = int(ran.stderr.rsplit("kill ", 1)[1].split("`")[0])
    pids.append(pid)
    env = exports(ran.stdout)
    sts = boto3.client(
        "sts",
        endpoint_url=env["AWS_ENDPOINT_URL"],
        region_name=env["AWS_REGION"],
        aws_access_key_id="sandbox",
        aws_secret_access_key="sandbox",
    )
    assert sts.get_caller_identity()["Account"]


def test_background_on_a_taken_port_is_exit_2_and_leaves_nothing_running(
    tmp_path: Path,
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env_file = tmp_path / "sandbox.env"
        ran = up(
            tmp_path, "sandbox", "up", "--background", "--port", str(port),
            "--env-file", str(env_file),
        )  # fmt: skip
    assert ran.returncode == 2, ran.stderr
    assert f"cannot listen on 127.0.0.1:{port}" in ran.stderr
    assert not env_file.exists()
    assert "kill" not in ran.stderr


def test_log_file_without_background_is_exit_2(tmp_path: Path) -> None:
    ran = up(tmp_path, "sandbox", "up", "--port", "0", "--log-file", str(tmp_path / "x.log"))
    assert ran.returncode == 2
    assert "--log-file goes with --background" in ran.stderr
