"""Rolling updates for ECS-controller services (placeholder engine filled in below)."""

from __future__ import annotations

from bluegreen.sandbox.clock import SandboxClock
from bluegreen.sandbox.faults import FaultRegistry


class RollingEngine:
    def __init__(self, *, clock: SandboxClock, faults: FaultRegistry) -> None:
        self.clock = clock
        self.faults = faults

    def reset(self) -> None:
        return None

    def tick(self) -> None:
        return None
