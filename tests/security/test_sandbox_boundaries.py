"""The sandbox has no authentication, so it listens on loopback only; and `sandbox stack`, which
creates resources wherever the endpoint points, refuses any endpoint that does not prove to be a
bluegreen sandbox, before it sends a single AWS request."""

from __future__ import annotations

import io
import json
import socket
import subprocess
import sys
import threading
from contextlib import redirect_stderr, redirect_stdout
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from bluegreen.errors import UsageError
from bluegreen.sandbox.server import SandboxServer

NON_LOOPBACK = [
    "0.0.0.0",
    "::",
    "",
    "0",
    "10.0.0.1",
    "192.168.1.20",
    "169.254.169.254",
    "::ffff:10.0.0.1",
    "example.com",
    "127.0.0.1.nip.io",
]


@pytest.mark.parametrize("host", NON_LOOPBACK)
def test_the_server_refuses_a_non_loopback_address(host: str) -> None:
    with pytest.raises(UsageError, match="must listen on loopback only"):
        SandboxServer(host=host, port=0)


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "localhost"])
def test_loopback_addresses_are_accepted(host: str) -> None:
    assert SandboxServer(host=host, port=0).host == host


@pytest.mark.parametrize("host", ["0.0.0.0", "::", ""])
def test_sandbox_up_refuses_and_exits_without_serving(host: str, tmp_path: Path) -> None:
    """As a real process: it must end at once with exit 2 (a bind would keep it serving)."""
    env_file = tmp_path / "exports"
    command = [sys.executable, "-m", "bluegreen", "sandbox", "up", "--host", host, "--port", "0"]
    done = subprocess.run(
        [*command, "--env-file", str(env_file)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""  # no exports printed
    assert f"refusing to bind the sandbox to {host}" in done.stderr
    assert not env_file.exists()


def _local_addresses() -> list[str]:
    """This machine's non-loopback IPv4 addresses (those the resolver or routing table know)."""
    found: set[str] = set()
    try:
        for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET):
            found.add(str(info[4][0]))
    except OSError:
        pass
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("10.255.255.255", 1))  # no packet is sent: picks the outgoing address
            found.add(str(probe.getsockname()[0]))
        except OSError:
            pass
    return sorted(a for a in found if not a.startswith("127.") and a != "0.0.0.0")


def test_the_running_sandbox_is_unreachable_from_other_addresses(sandbox: SandboxServer) -> None:
    addresses = _local_addresses()
    if not addresses:
        pytest.skip("this machine has no non-loopback IPv4 address to try")
    with socket.create_connection(("127.0.0.1", sandbox.port), timeout=5):
        pass  # the control: it is listening
    for address in addresses:
        with pytest.raises(OSError):
            socket.create_connection((address, sandbox.port), timeout=2).close()


# --- sandbox stack against endpoints that are not a bluegreen sandbox ----------------------------
class Impostor:
    """A loopback HTTP server that answers every request the same way and records them."""

    def __init__(self, status: int, body: bytes, content_type: str) -> None:
        self.requests: list[tuple[str, str]] = []
        impostor = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                impostor.requests.append((self.command, self.path))
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_DELETE = _answer

            def log_message(self, *args: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Impostor:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


IMPOSTORS = {
    "an AWS-like error for every path": (
        404,
        b"<ErrorResponse><Error><Code>UnknownOperation</Code></Error></ErrorResponse>",
        "text/xml",
    ),
    "another emulator's info": (200, json.dumps({"sandbox": "other"}).encode(), "application/json"),
    "a web page": (200, b"<html><body>hello</body></html>", "text/html"),
    "a JSON list": (200, b'["bluegreen"]', "application/json"),
    "a server error": (500, b"{}", "application/json"),
}


@pytest.mark.parametrize("kind", list(IMPOSTORS))
def test_sandbox_stack_refuses_an_endpoint_that_is_not_a_sandbox(
    kind: str, aws_env: SandboxServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """With the sandbox's own environment (dummy credentials, isolated HOME) but the endpoint
    swapped for an impostor."""
    from bluegreen.cli.app import run

    status, body, content_type = IMPOSTORS[kind]
    with Impostor(status, body, content_type) as impostor:
        monkeypatch.setenv("AWS_ENDPOINT_URL", impostor.url)
        out, err = io.StringIO(), io.StringIO()
        with redirect_stdout(out), redirect_stderr(err):
            code = run(["sandbox", "stack", "--dir", str(tmp_path / "demo")])
    assert code == 2, err.getvalue()
    assert out.getvalue() == ""
    assert f"{impostor.url} is not a bluegreen sandbox, so nothing was changed" in err.getvalue()
    assert impostor.requests == [("GET", "/_sandbox/info")]  # not one AWS request
    assert not (tmp_path / "demo").exists()
