"""The sandbox clock: simulated time that runs `time_scale` times faster than the wall.

Every wait in the sandbox (deployment config intervals, ready and termination waits, hook
timeouts, task start-up) is measured in *simulated* seconds on this clock, so a 5-minute
canary at `time_scale=60` takes about 5 s of wall time. Timestamps in API responses stay
real wall-clock times (`wall()`), as AWS returns them.
"""

from __future__ import annotations

import threading
import time


class SandboxClock:
    """Monotonic simulated time; the scale can change while running without jumps."""

    def __init__(self, time_scale: float = 1.0) -> None:
        if time_scale <= 0:
            raise ValueError("time_scale must be positive")
        self._lock = threading.Lock()
        self._scale = float(time_scale)
        self._base_mono = time.monotonic()
        self._base_sim = 0.0

    @property
    def time_scale(self) -> float:
        return self._scale

    def set_time_scale(self, time_scale: float) -> None:
        if time_scale <= 0:
            raise ValueError("time_scale must be positive")
        with self._lock:
            mono = time.monotonic()
            self._base_sim += (mono - self._base_mono) * self._scale
            self._base_mono = mono
            self._scale = float(time_scale)

    def now(self) -> float:
        """Simulated seconds since the clock was made (fractional, never quantised)."""
        with self._lock:
            return self._base_sim + (time.monotonic() - self._base_mono) * self._scale

    def wall_seconds(self, simulated: float) -> float:
        """How long `simulated` seconds last on the wall at the current scale."""
        return max(0.0, simulated) / self._scale

    @staticmethod
    def wall() -> float:
        """Real epoch seconds, for timestamps in responses."""
        return time.time()
