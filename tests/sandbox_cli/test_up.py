"""`bluegreen sandbox up`: a foreground server that prints the exports a shell needs."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from bluegreen.cli.app import run
from tests.sandbox_cli.conftest import free_port

STOP_TIMEOUT = 10


def clean_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["HOME"] = str(tmp_path)
    env["PYTHONUNBUFFERED"] = "1"
    return env


@pytest.fixture
def started() -> Iterator[list[subprocess.Popen[str]]]:
    """Processes started by a test; whatever is still running at the end is killed."""
    procs: list[subprocess.Popen[str]] = []
    yield procs
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait(STOP_TIMEOUT)


def start_up(
    started: list[subprocess.Popen[str]], tmp_path: Path, *args: str
) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "bluegreen", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=clean_env(tmp_path),
        cwd=tmp_path,
    )
    started.append(proc)
    return proc


def stop(proc: subprocess.Popen[str]) -> tuple[int, float, str]:
    began = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    code = proc.wait(STOP_TIMEOUT)
    assert proc.stderr is not None
    return code, time.monotonic() - began, proc.stderr.read()


def test_up_prints_exports_that_work_and_stops_on_sigterm(
    tmp_path: Path, started: list[subprocess.Popen[str]]
) -> None:
    port = free_port()
    env_file = tmp_path / "sandbox.env"
    proc = start_up(
        started, tmp_path, "sandbox", "up", "--port", str(port), "--time-scale", "60",
        "--env-file", str(env_file),
    )  # fmt: skip
    assert proc.stdout is not None
    lines = [proc.stdout.readline() for _ in range(7)]
    url = f"http://127.0.0.1:{port}"
    expected = (
        f"export AWS_ENDPOINT_URL={url}\n"
        "export AWS_REGION=us-east-1\n"
        "export AWS_DEFAULT_REGION=us-east-1\n"
        "export AWS_ACCESS_KEY_ID=sandbox\n"
        "export AWS_SECRET_ACCESS_KEY=sandbox\n"
        "unset AWS_PROFILE\n"
        "unset AWS_SESSION_TOKEN\n"
    )
    assert "".join(lines) == expected
    assert env_file.read_text() == expected

    # the sandbox answers on exactly what was exported
    exported = dict(
        line.removeprefix("export ").strip().split("=", 1)
        for line in lines
        if line.startswith("export ")
    )
    with urllib.request.urlopen(f"{url}/_sandbox/info", timeout=5) as response:  # noqa: S310
        info = json.loads(response.read())
    assert (info["sandbox"], info["timeScale"], info["hooks"]) == ("bluegreen", 60.0, "succeed")
    session = boto3.Session(
        aws_access_key_id=exported["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=exported["AWS_SECRET_ACCESS_KEY"],
        region_name=exported["AWS_REGION"],
    )
    ecs = session.client("ecs", endpoint_url=exported["AWS_ENDPOINT_URL"])
    ecs.create_cluster(clusterName="up-test")
    assert [c["clusterName"] for c in ecs.describe_clusters(clusters=["up-test"])["clusters"]] == [
        "up-test"
    ]

    code, took, err = stop(proc)
    assert code == 0
    assert took < 5
    assert err.splitlines()[0] == (
        f"bluegreen sandbox listening on {url} (time scale 60, hooks succeed); Ctrl-C to stop"
    )
    assert err.splitlines()[-1] == "bluegreen sandbox stopped"
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        pass


def test_up_json_prints_one_object_and_stops_on_sigint(
    tmp_path: Path, started: list[subprocess.Popen[str]]
) -> None:
    port = free_port()
    proc = start_up(
        started, tmp_path, "--output", "json", "--region", "eu-west-1", "sandbox", "up",
        "--port", str(port), "--hooks", "wait",
    )  # fmt: skip
    assert proc.stdout is not None
    url = f"http://127.0.0.1:{port}"
    assert json.loads(proc.stdout.readline()) == {
        "endpoint": url,
        "region": "eu-west-1",
        "env": {
            "AWS_ENDPOINT_URL": url,
            "AWS_REGION": "eu-west-1",
            "AWS_DEFAULT_REGION": "eu-west-1",
            "AWS_ACCESS_KEY_ID": "sandbox",
            "AWS_SECRET_ACCESS_KEY": "sandbox",
        },
        "unset": ["AWS_PROFILE", "AWS_SESSION_TOKEN"],
    }
    with urllib.request.urlopen(f"{url}/_sandbox/info", timeout=5) as response:  # noqa: S310
        assert json.loads(response.read())["hooks"] == "wait"
    proc.send_signal(signal.SIGINT)
    assert proc.wait(STOP_TIMEOUT) == 0
    # nothing but the one JSON object, then the result line when it stops
    assert proc.stdout.read() == '{"event": "result", "exitCode": 0, "reason": "ok"}\n'


@pytest.mark.parametrize("host", ["0.0.0.0", "10.1.2.3", "::"])
def test_non_loopback_bind_is_refused(
    host: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    env_file = tmp_path / "env"
    assert run(["sandbox", "up", "--host", host, "--port", "0", "--env-file", str(env_file)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        f"error: refusing to bind the sandbox to {host}: it has no authentication and must listen "
        "on loopback only\n"
        "  hint: use 127.0.0.1 (the default), or pass --allow-non-loopback if you really mean it\n"
    )
    assert not env_file.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--time-scale", "0"], "error: --time-scale: the time scale must be a positive number"),
        (["--time-scale", "-3"], "error: --time-scale: the time scale must be a positive number"),
        (["--hooks", "maybe"], "Invalid value for '--hooks': 'maybe' is not one of"),
        (["--port", "70000"], "Invalid value for '--port': 70000 is not in the range"),
    ],
)
def test_bad_options_exit_2(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["sandbox", "up", *args]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert message in captured.err


def test_port_in_use_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert run(["sandbox", "up", "--port", str(port)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"error: --port: cannot listen on 127.0.0.1:{port}: ")
