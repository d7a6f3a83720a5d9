"""The clock rate of the endpoint the clients talk to.

AWS runs at 1 endpoint second per wall second. A bluegreen sandbox on this machine may run its
clock faster (`sandbox up --time-scale K`) and tells its rate at `GET /_sandbox/info`; follow
loops read it so that their cadence, set in the endpoint's seconds, keeps its meaning there.
Only a loopback endpoint is asked (never a remote one), with a short timeout; any failure is 1.
"""

from __future__ import annotations

import ipaddress
import json
import urllib.parse
import urllib.request
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bluegreen.aws.session import Aws

INFO_PATH = "/_sandbox/info"
TIMEOUT = 1.0


def _loopback(url: str) -> bool:
    host = urllib.parse.urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def time_scale(aws: Aws, service: str = "codedeploy") -> float:
    """Endpoint seconds per wall second for `service`'s endpoint (1 unless a sandbox says)."""
    try:
        url = str(aws.client(service).meta.endpoint_url or "")
    except Exception:  # no region, no endpoint: the caller's own read reports it
        return 1.0
    if not url.startswith("http://") or not _loopback(url):
        return 1.0
    try:
        with urllib.request.urlopen(url.rstrip("/") + INFO_PATH, timeout=TIMEOUT) as answer:  # noqa: S310 - loopback http only
            info = json.loads(answer.read(65536))
    except (OSError, ValueError):
        return 1.0
    if not isinstance(info, dict) or info.get("sandbox") != "bluegreen":
        return 1.0
    scale = info.get("timeScale")
    return float(scale) if isinstance(scale, int | float) and scale > 0 else 1.0
