"""The sandbox's HTTP endpoint: one threaded WSGI server on loopback.

Requests whose `X-Amz-Target` is `CodeDeploy_20141006.*` go to bluegreen's CodeDeploy
engine; `/_sandbox/*` is the control endpoint (faults, reset, settings); everything else
goes to moto's server application.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from typing import Any

from bluegreen.errors import UsageError

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

CODEDEPLOY_TARGET_PREFIX = "CodeDeploy_20141006."
CONTROL_PREFIX = "/_sandbox/"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_bind(host: str, allow_non_loopback: bool) -> None:
    if not is_loopback(host) and not allow_non_loopback:
        raise UsageError(
            f"refusing to bind the sandbox to {host}: it has no authentication and must listen "
            "on loopback only",
            hint="use 127.0.0.1 (the default), or pass --allow-non-loopback if you really mean it",
        )
