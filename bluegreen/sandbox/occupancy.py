"""Whether the sandbox holds anything yet, so that a "not found" from an empty sandbox says
why: its state lives in memory, and a restart (or a reset) starts it empty.

Saving moto's state across restarts is not offered: moto keeps live Python objects (locks,
threads, generators, backends built on first use) that no format of its own can save and
load again, so a restored sandbox could not be trusted to answer as the one saved did.
Instead every "not found" answered while the sandbox holds nothing names the cause and the
way back (`bluegreen sandbox stack`), and `GET /_sandbox/info` reports the start time and
whether anything was created since.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

StartResponse = Callable[..., Any]

# Operations whose success leaves something in the sandbox.
CREATING = ("Create", "Register", "Put", "Run", "Start", "Import")
# "Not found" errors of the services the sandbox serves (JSON __type or query Code).
NOT_FOUND = (
    "ClusterNotFoundException",
    "ServiceNotFoundException",
    "TaskSetNotFoundException",
    "ApplicationDoesNotExistException",
    "DeploymentGroupDoesNotExistException",
    "DeploymentDoesNotExistException",
    "RepositoryNotFoundException",
    "ImageNotFoundException",
    "LoadBalancerNotFound",
    "TargetGroupNotFound",
    "ListenerNotFound",
    "NoSuchEntity",
    "ResourceNotFound",
    "ResourceNotFoundException",
)


class Occupancy:
    def __init__(self, wall: Callable[[], float] = time.time) -> None:
        self._wall = wall
        self._lock = threading.Lock()
        self.started_at = wall()
        self.emptied_at = self.started_at
        self.holds_state = False

    def reset(self) -> None:
        with self._lock:
            self.emptied_at = self._wall()
            self.holds_state = False

    def note(self, operation: str | None, status: int) -> None:
        if status < 300 and operation and operation.startswith(CREATING):
            with self._lock:
                self.holds_state = True

    def to_json(self) -> dict[str, Any]:
        return {
            "startedAt": _iso(self.started_at),
            "emptiedAt": _iso(self.emptied_at),
            "empty": not self.holds_state,
        }

    def hint(self) -> str:
        since = "started" if self.emptied_at == self.started_at else "was reset"
        return (
            f" (the sandbox holds nothing: it {since} at {_iso(self.emptied_at)} and nothing "
            "has been created in it since; its state lives in memory and does not survive a "
            "restart, so build the stack again with `bluegreen sandbox stack`)"
        )

    def explain(self, headers: list[tuple[str, str]], body: bytes) -> bytes | None:
        """The error answer `body` with the hint added to its message, when it is a "not
        found" error; None otherwise."""
        kind = next((v for k, v in headers if k.lower() == "content-type"), "")
        if "json" in kind:
            try:
                decoded = json.loads(body or b"{}")
            except ValueError:
                return None
            if not isinstance(decoded, dict):
                return None
            code = str(decoded.get("__type", "")).rsplit("#", 1)[-1]
            key = "message" if "message" in decoded else "Message"
            if code not in NOT_FOUND:
                return None
            decoded[key] = f"{decoded.get(key) or code}{self.hint()}"
            return json.dumps(decoded).encode()
        if "xml" in kind or body.lstrip().startswith(b"<"):
            text = body.decode("utf-8", "replace")
            if not any(f"<Code>{code}</Code>" in text for code in NOT_FOUND):
                return None
            from xml.sax.saxutils import escape

            if "</Message>" not in text:
                return None
            return text.replace("</Message>", escape(self.hint()) + "</Message>", 1).encode()
        return None

    def answer(
        self,
        serve: Callable[[dict[str, Any], StartResponse], Iterable[bytes]],
        environ: dict[str, Any],
        start_response: StartResponse,
        operation: str | None,
    ) -> Iterable[bytes]:
        """Serve a request through `serve`; note what it created; while the sandbox holds
        nothing, explain its "not found" errors."""
        if self.holds_state:
            captured: dict[str, Any] = {}

            def noting(status: str, headers: list[tuple[str, str]], *exc: Any) -> Any:
                captured["code"] = int(status.split(" ", 1)[0])
                return start_response(status, headers, *exc)

            chunks = serve(environ, noting)
            self.note(operation, captured.get("code", 500))
            return chunks
        held: dict[str, Any] = {}

        def hold(status: str, headers: list[tuple[str, str]], *exc: Any) -> None:
            held["status"], held["headers"] = status, list(headers)

        chunks = serve(environ, hold)
        try:
            body = b"".join(chunks)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        status = str(held.get("status", "500 Internal Server Error"))
        headers = list(held.get("headers", []))
        code = int(status.split(" ", 1)[0])
        self.note(operation, code)
        explained = self.explain(headers, body) if code >= 400 else None
        if explained is not None:
            body = explained
            headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
            headers.append(("Content-Length", str(len(body))))
        start_response(status, headers)
        return [body]


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
