"""Memory: the resident set of `bluegreen watch` over a deployment of simulated hours.

Five demo stacks in one sandbox; each gets a `bluegreen deploy --no-wait` with the custom config
`linear:10%/30m` (10 % at once, nine more 10 % steps 30 minutes apart, then the 5-minute
termination wait: about 4.6 simulated hours), and a `bluegreen watch DEPLOYMENT_ID` follows each
to its end, the five side by side. The time scale is chosen so that the deployment lasts about
`--seconds` of wall time (default 90 s). Each watch runs under `bench.release_bench --child`,
which counts the AWS requests it sends.

Sampled every 0.25 s from /proc/<pid>/status: VmRSS (resident now) and VmHWM (the peak).
Reported over the five watches: RSS at 10 %, 50 % and 100 % of each watch's life (at 0 % the
interpreter is still importing), the peak, and the growth over each half.

Reproduce with: `.venv/bin/python -m bench.memory_bench [--watches 5] [--seconds 90]`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.common import Stats, stats
from bench.harness import BLUEGREEN, Section, must_succeed, result_line, run_timed, sandbox

CONFIG = "linear:10%/30m"
SIMULATED_SECONDS = 9 * 30 * 60 + 5 * 60  # 10 % at once, 9 more steps 30 minutes apart, then
# the 5-minute termination wait
SAMPLE_EVERY = 0.25


def memory_kib(pid: int) -> tuple[int, int] | None:
    """(VmRSS, VmHWM) in KiB from /proc/<pid>/status; None once the process is gone."""
    values: dict[str, int] = {}
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                key, _, rest = line.partition(":")
                if key in ("VmRSS", "VmHWM"):
                    values[key] = int(rest.split()[0])
    except (FileNotFoundError, ProcessLookupError):
        return None
    if len(values) < 2:
        return None  # a zombie: exited, not yet reaped
    return values["VmRSS"], values["VmHWM"]


@dataclass
class Watched:
    process: subprocess.Popen[str]
    counts: Path
    samples: list[tuple[float, int, int]] = field(default_factory=list)  # (t, rss, hwm)
    requests: int = 0

    def at(self, fraction: float) -> int:
        """RSS (KiB) at `fraction` of the sampled life."""
        index = min(len(self.samples) - 1, round(fraction * (len(self.samples) - 1)))
        return self.samples[index][1]

    def read_requests(self) -> None:
        counts: dict[str, float] = json.loads(self.counts.read_text())
        self.requests = int(counts.get("(HTTP requests, retries included)", 0))


def measure(watches: int, seconds: float) -> tuple[list[Watched], float]:
    scale = SIMULATED_SECONDS / seconds
    with sandbox(scale) as sb:
        stacks = [sb.stack(f"mem{i}") for i in range(1, watches + 1)]
        ids = []
        for stack in stacks:
            argv = [str(BLUEGREEN), "-o", "json", "deploy", "--no-wait", "--var", "log_level=mem"]
            started = run_timed([*argv, "--deployment-config", CONFIG], sb.env, cwd=stack.directory)
            must_succeed("deploy --no-wait", started)
            ids.append(result_line(started.stdout)["deploymentId"])
        watched = []
        for index, (stack, deployment) in enumerate(zip(stacks, ids, strict=True)):
            counts = sb.work / f"watch-counts-{index}.json"
            child = [sys.executable, "-m", "bench.release_bench", "--child"]
            process = subprocess.Popen(
                [*child, "-o", "json", "watch", deployment],
                cwd=stack.directory,
                env={**sb.env, "BENCH_COUNTS": str(counts)},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            watched.append(Watched(process, counts))
        began = time.monotonic()
        while any(w.process.poll() is None for w in watched):
            for w in watched:
                if w.process.returncode is None:
                    sample = memory_kib(w.process.pid)
                    if sample is not None:
                        w.samples.append((time.monotonic() - began, *sample))
            time.sleep(SAMPLE_EVERY)
        for w in watched:
            if w.process.returncode != 0:
                err = w.process.stderr.read() if w.process.stderr else ""
                raise RuntimeError(f"watch exited {w.process.returncode}:\n{err[-2000:]}")
            if w.process.stderr:
                w.process.stderr.close()
            w.read_requests()
    return watched, scale


def _mib(kib: float) -> str:
    return f"{kib / 1024:.1f} MiB"


def _row(label: str, values: Stats) -> str:
    return f"| {label} | {_mib(values.median)} | {_mib(values.minimum)} | {_mib(values.maximum)} |"


def _kib_row(label: str, values: Stats) -> str:
    cells = (values.median, values.minimum, values.maximum)
    return f"| {label} | " + " | ".join(f"{v:.0f} KiB" for v in cells) + " |"


def report(watches: int = 5, seconds: float = 90.0) -> str:
    return section(watches, seconds).markdown


def section(watches: int = 5, seconds: float = 90.0) -> Section:
    watched, scale = measure(watches, seconds)
    start = stats([w.at(0.1) for w in watched])
    middle = stats([w.at(0.5) for w in watched])
    end = stats([w.at(1.0) for w in watched])
    peak = stats([max(s[2] for s in w.samples) for w in watched])
    lives = stats([w.samples[-1][0] for w in watched])
    per_minute = stats([w.requests / w.samples[-1][0] * 60 for w in watched])
    requests = stats([w.requests for w in watched])
    first_half = stats([w.at(0.5) - w.at(0.1) for w in watched])
    second_half = stats([w.at(1.0) - w.at(0.5) for w in watched])
    curve = watched[0]
    points = [round(i / 10 * (len(curve.samples) - 1)) for i in range(11)]
    hours = SIMULATED_SECONDS / 3600
    headline = (
        f"`watch` RSS over a {SIMULATED_SECONDS / 3600:.1f}-hour simulated deployment "
        f"(median of {watches}): {_mib(start.median)} at 10 %, {_mib(middle.median)} at 50 %, "
        f"{_mib(end.median)} at the end, peak {_mib(peak.median)}"
    )
    markdown = "\n".join(
        [
            "## Memory: `bluegreen watch` over a deployment of simulated hours",
            "",
            f"Command: `.venv/bin/python -m bench.memory_bench --watches {watches} "
            f"--seconds {seconds:g}`",
            "",
            f"{watches} watches side by side, each following its own `{CONFIG}` deployment "
            f"({hours:.1f} simulated hours) at time scale {scale:.0f}; each watch lived "
            f"{lives.median:.0f} s (median) and sent {requests.median:.0f} AWS requests "
            f"(median; min {requests.minimum:.0f}, max {requests.maximum:.0f}), "
            f"{per_minute.median:.0f} requests per wall minute (median; min "
            f"{per_minute.minimum:.0f}, max {per_minute.maximum:.0f}). RSS sampled every "
            f"{SAMPLE_EVERY:g} s from /proc/<pid>/status.",
            "",
            f"| over the {watches} watches | median | min | max |",
            "|---|---|---|---|",
            _row("RSS at 10 % of the watch", start),
            _row("RSS at 50 %", middle),
            _row("RSS at the end", end),
            _row("peak (VmHWM)", peak),
            _kib_row("growth, 10 % → 50 %", first_half),
            _kib_row("growth, 50 % → end", second_half),
            "",
            "The first watch's curve (RSS at each tenth of its life):",
            "",
            "| life | " + " | ".join(f"{i * 10} %" for i in range(11)) + " |",
            "|---|" + "---|" * 11,
            "| RSS (MiB) | "
            + " | ".join(f"{curve.samples[p][1] / 1024:.1f}" for p in points)
            + " |",
            "",
            "What this shows and what it does not: the watch's memory over "
            f"{requests.median:.0f} polling requests of a {hours:.1f}-hour deployment. At real "
            "time the same deployment is watched for hours, with about one request a second, "
            "so many more polls than here; a leak per poll would show as steady growth in the "
            "second half, which is the row to read.",
            "",
        ]
    )
    calls = (
        f"Control-plane calls while `watch` follows a long shift: {per_minute.median:.0f} per "
        "wall minute (median of 5; the monitor polls on the wall clock, so this is the rate "
        "a real multi-hour deployment sees)"
    )
    return Section(markdown, (headline, calls))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--watches", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=90.0)
    args = parser.parse_args()
    if not Path(f"/proc/{os.getpid()}/status").exists():
        raise SystemExit("memory_bench reads /proc/<pid>/status (Linux only)")
    print(report(args.watches, args.seconds))


if __name__ == "__main__":
    main()
