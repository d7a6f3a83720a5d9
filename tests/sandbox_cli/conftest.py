"""Fixtures of the sandbox CLI tests: a plain moto server (an AWS endpoint that is *not* a
bluegreen sandbox) and a free loopback port."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from moto.server import ThreadedMotoServer


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture(scope="module")
def plain_moto() -> Iterator[str]:
    """moto's own server: speaks AWS, but has no /_sandbox/info."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()
