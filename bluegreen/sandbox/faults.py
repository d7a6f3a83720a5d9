"""Fault injection for the sandbox: throttling, latency, unhealthy green tasks, failing hooks,
one-off tasks that exit non-zero.

Faults are plain records kept in a thread-safe registry; the HTTP front end asks it whether
to throttle or delay a request, and the engines ask it whether green tasks are healthy and
whether a lifecycle hook should fail.
"""

from __future__ import annotations

import random
import threading
import uuid
from dataclasses import asdict, dataclass
from typing import Any

from bluegreen.sandbox.clock import SandboxClock
from bluegreen.sandbox.throttling import TokenBuckets

KINDS = (
    "throttle",
    "latency",
    "unhealthy-green",
    "hook-fail",
    "lost-answer",
    "access-denied",
    "task-exit",
)
ACCESS_DENIED_MODES = ("denied", "expired")  # AccessDenied, or expired credentials
LOST_ANSWER_MODES = ("error", "reset")  # answer HTTP 500, or close the connection unanswered
HOOK_EVENTS = (
    "BeforeInstall",
    "AfterInstall",
    "AfterAllowTestTraffic",
    "BeforeAllowTraffic",
    "AfterAllowTraffic",
)


# Friendly names → the SigV4 signing names requests carry in their credential scope.
SERVICE_ALIASES = {
    "elbv2": "elasticloadbalancing",
    "elb": "elasticloadbalancing",
    "cloudwatch": "monitoring",
}


class FaultError(ValueError):
    """A fault request that does not make sense (answered with HTTP 400)."""


@dataclass(frozen=True)
class Fault:
    id: str
    kind: str
    service: str | None = None  # throttle/latency: signing name (ecs, monitoring, ...) or all
    rate: float = 1.0  # throttle: probability per request
    count: int | None = None  # throttle: only this many requests, then the fault is gone
    ms: int = 0  # latency
    after_seconds: float | None = None  # unhealthy-green: simulated seconds of health first
    event: str | None = None  # hook-fail: one lifecycle event, or all hooks
    created_at: float = 0.0  # simulated time of injection
    operation: str | None = None  # lost-answer: the CodeDeploy operation (CreateDeployment, ...)
    mode: str | None = None  # lost-answer: LOST_ANSWER_MODES; access-denied: ACCESS_DENIED_MODES
    realistic: bool | None = None  # throttle: AWS's token buckets instead of a rate
    exit_code: int | None = None  # task-exit: what the essential container of a RunTask exits with
    container: str | None = None  # task-exit: only tasks whose essential container has this name

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}

    def applies_to(self, service: str | None) -> bool:
        return self.service is None or self.service == service


def _number(body: dict[str, Any], key: str, default: float | None) -> float | None:
    value = body.get(key, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FaultError(f"fault field {key!r} must be a number, got {value!r}")
    return float(value)


class FaultRegistry:
    def __init__(self, clock: SandboxClock, rng: random.Random | None = None) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._faults: dict[str, Fault] = {}
        self._remaining: dict[str, int] = {}  # throttle faults limited by count
        self._rng = rng or random.Random()
        self._buckets = TokenBuckets()

    def add(self, body: dict[str, Any]) -> Fault:
        kind = body.get("kind")
        if kind not in KINDS:
            raise FaultError(f"unknown fault kind {kind!r}; expected one of {', '.join(KINDS)}")
        service = body.get("service")
        if service in ("all", "*", ""):
            service = None
        if service is not None and not isinstance(service, str):
            raise FaultError("fault field 'service' must be a string")
        if service is not None:
            service = SERVICE_ALIASES.get(service.lower(), service.lower())
        fault_id = uuid.uuid4().hex[:12]
        now = self._clock.now()
        if kind == "throttle" and body.get("realistic") is True:
            fault = Fault(fault_id, kind, service=service, realistic=True, created_at=now)
        elif kind == "throttle":
            rate = _number(body, "rate", 1.0)
            if rate is None or not 0.0 < rate <= 1.0:
                raise FaultError("throttle 'rate' must be in (0, 1]")
            count = _number(body, "count", None)
            if count is not None and count < 1:
                raise FaultError("throttle 'count' must be at least 1")
            fault = Fault(
                fault_id,
                kind,
                service=service,
                rate=rate,
                count=None if count is None else int(count),
                created_at=now,
            )
            if fault.count is not None:
                self._remaining[fault_id] = fault.count
        elif kind == "latency":
            ms = _number(body, "ms", None)
            if ms is None or ms < 0:
                raise FaultError("latency needs 'ms' >= 0")
            fault = Fault(fault_id, kind, service=service, ms=int(ms), created_at=now)
        elif kind == "lost-answer":
            fault = self._lost_answer(fault_id, body, now)
        elif kind == "access-denied":
            fault = self._access_denied(fault_id, body, service, now)
        elif kind == "task-exit":
            fault = self._task_exit(fault_id, body, now)
        elif kind == "unhealthy-green":
            after = _number(body, "after_seconds", None)
            if after is not None and after < 0:
                raise FaultError("'after_seconds' must be >= 0")
            fault = Fault(fault_id, kind, after_seconds=after, created_at=now)
        else:
            event = body.get("event")
            if event is not None and event not in HOOK_EVENTS:
                raise FaultError(f"unknown lifecycle event {event!r} for hook-fail")
            fault = Fault(fault_id, kind, event=event, created_at=now)
        with self._lock:
            self._faults[fault_id] = fault
        return fault

    def _lost_answer(self, fault_id: str, body: dict[str, Any], now: float) -> Fault:
        """`lost-answer`: the request is carried out, then its answer is lost (a 500, or the
        connection closed), `count` times (default once)."""
        operation, mode = body.get("operation"), body.get("mode", "error")
        if not isinstance(operation, str) or not operation:
            raise FaultError("lost-answer needs 'operation' (e.g. CreateDeployment)")
        if mode not in LOST_ANSWER_MODES:
            raise FaultError(f"lost-answer 'mode' must be one of {', '.join(LOST_ANSWER_MODES)}")
        count = _number(body, "count", 1)
        if count is None or count < 1:
            raise FaultError("lost-answer 'count' must be at least 1")
        fault = Fault(
            fault_id,
            "lost-answer",
            count=int(count),
            operation=operation,
            mode=mode,
            created_at=now,
        )
        self._remaining[fault_id] = fault.count or 1
        return fault

    def _task_exit(self, fault_id: str, body: dict[str, Any], now: float) -> Fault:
        """`task-exit`: the essential container of every task RunTask starts (of `container`,
        when given) exits with `code` (default 1) instead of 0, optionally after
        `after_seconds` simulated seconds of running."""
        code = _number(body, "code", 1)
        if code is None or code != int(code) or not 1 <= code <= 255:
            raise FaultError("task-exit 'code' must be a whole number from 1 to 255")
        after = _number(body, "after_seconds", None)
        if after is not None and after < 0:
            raise FaultError("'after_seconds' must be >= 0")
        container = body.get("container")
        if container is not None and (not isinstance(container, str) or not container):
            raise FaultError("task-exit 'container' must be a container name")
        return Fault(
            fault_id,
            "task-exit",
            exit_code=int(code),
            container=container,
            after_seconds=after,
            created_at=now,
        )

    def task_exit(self, essential: str) -> tuple[int, float | None] | None:
        """(exit code, simulated seconds of running or None) for a new one-off task whose
        essential container is `essential`; None when no task-exit fault applies."""
        for fault in self._of_kind("task-exit"):
            if fault.container in (None, essential) and fault.exit_code is not None:
                return fault.exit_code, fault.after_seconds
        return None

    def lost_answer(self, operation: str) -> str | None:
        """The mode ("error" | "reset") when this request's answer is to be lost, else None."""
        with self._lock:
            for fault in list(self._faults.values()):
                if fault.kind != "lost-answer" or fault.operation != operation:
                    continue
                self._remaining[fault.id] = self._remaining.get(fault.id, 1) - 1
                if self._remaining[fault.id] <= 0:
                    del self._remaining[fault.id]
                    del self._faults[fault.id]
                return fault.mode
        return None

    def all(self) -> list[Fault]:
        with self._lock:
            return list(self._faults.values())

    def clear(self) -> None:
        self._buckets.clear()
        with self._lock:
            self._faults.clear()
            self._remaining.clear()

    def _of_kind(self, kind: str) -> list[Fault]:
        with self._lock:
            return [f for f in self._faults.values() if f.kind == kind]

    def should_throttle(
        self, service: str | None, operation: str | None = None, region: str | None = None
    ) -> bool:
        realistic = False
        with self._lock:
            for fault in list(self._faults.values()):
                if fault.kind != "throttle" or not fault.applies_to(service):
                    continue
                if fault.realistic:
                    realistic = True
                    continue
                if self._rng.random() >= fault.rate:
                    continue
                if fault.id in self._remaining:
                    self._remaining[fault.id] -= 1
                    if self._remaining[fault.id] <= 0:
                        del self._remaining[fault.id]
                        del self._faults[fault.id]
                return True
        return realistic and not self._buckets.take(region, service, operation)

    def _access_denied(
        self, fault_id: str, body: dict[str, Any], service: str | None, now: float
    ) -> Fault:
        """`access-denied`: requests for `operation` (of `service`, or of any service) are
        refused as AccessDenied ("denied") or as signed with expired credentials
        ("expired"), `count` times or until cleared."""
        operation, mode = body.get("operation"), body.get("mode", "denied")
        if not isinstance(operation, str) or not operation:
            raise FaultError("access-denied needs 'operation' (e.g. UpdateService)")
        if mode not in ACCESS_DENIED_MODES:
            raise FaultError(
                f"access-denied 'mode' must be one of {', '.join(ACCESS_DENIED_MODES)}"
            )
        count = _number(body, "count", None)
        if count is not None and count < 1:
            raise FaultError("access-denied 'count' must be at least 1")
        fault = Fault(
            fault_id,
            "access-denied",
            service=service,
            count=None if count is None else int(count),
            operation=operation,
            mode=mode,
            created_at=now,
        )
        if fault.count is not None:
            self._remaining[fault_id] = fault.count
        return fault

    def access_denied(self, service: str | None, operation: str | None) -> str | None:
        """The mode ("denied" | "expired") when this request is to be refused, else None."""
        with self._lock:
            for fault in list(self._faults.values()):
                if fault.kind != "access-denied" or fault.operation != operation:
                    continue
                if not fault.applies_to(service):
                    continue
                if fault.id in self._remaining:
                    self._remaining[fault.id] -= 1
                    if self._remaining[fault.id] <= 0:
                        del self._remaining[fault.id]
                        del self._faults[fault.id]
                return fault.mode
        return None

    def latency_ms(self, service: str | None) -> int:
        return sum(f.ms for f in self._of_kind("latency") if f.applies_to(service))

    def green_healthy(self, healthy_since: float, now: float) -> bool:
        """Whether a green task that became healthy at `healthy_since` is healthy at `now`.

        `unhealthy-green` without `after_seconds`: green never becomes healthy; with it,
        green turns unhealthy once it has been healthy that many simulated seconds.
        """
        for fault in self._of_kind("unhealthy-green"):
            if fault.after_seconds is None:
                return False
            if now - healthy_since >= fault.after_seconds:
                return False
        return True

    def green_ever_healthy(self) -> bool:
        return not any(f.after_seconds is None for f in self._of_kind("unhealthy-green"))

    def hook_fails(self, event: str) -> bool:
        return any(f.event in (None, event) for f in self._of_kind("hook-fail"))
