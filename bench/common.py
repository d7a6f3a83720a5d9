"""Shared helpers for the benchmarks: timing statistics and machine info."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Stats:
    runs: int
    median: float
    minimum: float
    maximum: float

    def cells(self, unit: str = "ms", scale: float = 1000.0) -> str:
        return (
            f"{self.median * scale:.1f} {unit} | {self.minimum * scale:.1f} {unit} | "
            f"{self.maximum * scale:.1f} {unit} | {self.runs}"
        )


def stats(samples: Sequence[float]) -> Stats:
    return Stats(len(samples), statistics.median(samples), min(samples), max(samples))


def time_command(argv: Sequence[str], runs: int, env: dict[str, str] | None = None) -> Stats:
    """Wall time of a whole process, `runs` times, after one warm-up run."""
    subprocess.run(argv, capture_output=True, check=True, env=env)
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, capture_output=True, check=True, env=env)
        samples.append(time.perf_counter() - start)
    return stats(samples)


def time_call(fn: Callable[[], object], runs: int) -> Stats:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return stats(samples)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = ""
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        mem = f", {pages / 2**30:.0f} GiB"
    except (ValueError, OSError):
        pass
    return (
        f"{cpu}, {os.cpu_count()} cores{mem}, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}"
    )
