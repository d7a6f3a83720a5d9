"""Shared fixtures: one sandbox server per test session (per xdist worker), and a clean AWS
environment per test that points every boto3 client at it."""

from __future__ import annotations

import json
import os
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bluegreen.sandbox.server import SandboxServer

# The shared fixtures plugin (tests/fixtures/): the sandbox stacks and runners every folder may
# use. A folder's own conftest only narrows a name for that folder (e.g. `stack`).
pytest_plugins = [
    "tests.fixtures.codedeploy",
    "tests.fixtures.native",
    "tests.fixtures.rolling",
    "tests.fixtures.verbs",
    "tests.fixtures.world",
    "tests.fixtures.project",
    "tests.fixtures.migrate",
]

SANDBOX_TIME_SCALE = 600.0


def pytest_configure(config: pytest.Config) -> None:
    """Compiled templates are cached in a folder of this run's, never the user's ~/.cache
    (subprocesses inherit it)."""
    import tempfile

    from bluegreen.render.templates import CACHE_ENV_VAR

    os.environ[CACHE_ENV_VAR] = tempfile.mkdtemp(prefix="bluegreen-test-templates-")
    from tests import model_guard

    model_guard.install()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """The whole run's sandbox answers, held to botocore's model (tests/model_guard.py). An
    xdist worker hands what it found to the controller (`pytest_testnodedown`), which reports."""
    from tests import model_guard

    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["model_guard"] = model_guard.as_data()
        return
    found = model_guard.report()
    if found is not None:
        print("\n" + found)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """An xdist worker ended: the sandbox answers it found not to fit botocore's model."""
    from tests import model_guard

    model_guard.merge(getattr(node, "workeroutput", {}).get("model_guard", {}))


def sandbox_call(
    server: SandboxServer, path: str, body: object | None = None, method: str = "POST"
) -> dict[str, Any]:
    """Call the sandbox control API (`/_sandbox/<path>`) and return its JSON answer."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(  # noqa: S310 - loopback URL of our own server
        f"{server.url}/_sandbox/{path}", data=data, method=method
    )
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        answer: dict[str, Any] = json.loads(response.read())
    return answer


@pytest.fixture(scope="session")
def sandbox() -> Iterator[SandboxServer]:
    from tests import model_guard

    server = SandboxServer(port=0, time_scale=SANDBOX_TIME_SCALE)
    server.start()
    model_guard.SANDBOX_URLS.add(server.url)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def aws_env(
    sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> SandboxServer:
    sandbox_call(sandbox, "reset")
    sandbox_call(sandbox, "settings", {"timeScale": SANDBOX_TIME_SCALE, "hooks": "succeed"})
    monkeypatch.setenv("AWS_ENDPOINT_URL", sandbox.url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    for name in (
        "AWS_REGION",
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_SESSION_TOKEN",
        "AWS_SECURITY_TOKEN",
        "AWS_CONFIG_FILE",
        "AWS_SHARED_CREDENTIALS_FILE",
        "AWS_CA_BUNDLE",
    ):
        monkeypatch.delenv(name, raising=False)
    for name in list(os.environ):
        if name.startswith("AWS_ENDPOINT_URL_"):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    return sandbox
