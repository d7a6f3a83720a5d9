"""`make bench`: run every benchmark side by side in one go and write docs/benchmarks.md.

Each part measures in its own sandbox (a `bluegreen sandbox up` process) or its own processes,
one after another, and reports median, min and max over `--runs` runs (at least 5) with the
command that reproduces it alone. The AWS CLI (for the comparisons) is installed on first use
into bench/.venv-awscli.

Usage: `.venv/bin/python -m bench.run [--runs 5] [--only part,...] [--out docs/benchmarks.md]`
Parts: startup, render, deploy, fanout, release, memory, budget. With `--only`, the sections
(and headlines) of the parts not run are kept from the existing file, each marked with the
date it was measured.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from bench.common import machine
from bench.harness import ROOT, Section

PARTS = ("startup", "render", "deploy", "fanout", "release", "memory", "budget")
# How each part's section and headlines begin in docs/benchmarks.md (to keep the parts not run)
SECTION_STARTS = {
    "startup": ("## Start-up",),
    "render": ("## Render",),
    "deploy": ("## Deployment end",),
    "fanout": ("## Fan-out",),
    "release": ("## Release monitor",),
    "memory": ("## Memory",),
    "budget": ("## API budget",),
}
HEADLINE_STARTS = {
    "startup": ("Start-up:",),
    "render": ("Render + validate", "One `validate"),
    "deploy": ("Deployment end",),
    "fanout": ("Fan-out:",),
    "release": ("Canary 10%/5m", "Control-plane calls per deployment-minute"),
    "memory": ("`watch` RSS", "Control-plane calls while `watch`"),
    "budget": ("API budget", "Unscheduled stop", "ECS-native:"),
}
MIN_RUNS = 5


def startup(runs: int) -> Section:
    from bench.startup import measure

    runs = max(runs, 10)
    ours, theirs, version = measure(runs)
    ratio = ours.median / theirs.median
    goal = "met" if ratio <= 0.5 else "NOT met"
    markdown = "\n".join(
        [
            "## Start-up: `bluegreen --help` vs `aws --version`",
            "",
            f"Command: `.venv/bin/python -m bench.startup --runs {runs}`",
            "",
            "Whole process, spawn to exit, after one warm-up run of each.",
            "",
            "| command | median | min | max | runs |",
            "|---|---|---|---|---|",
            f"| `bluegreen --help` | {ours.cells()} |",
            f"| `aws --version` ({version.split()[0]}) | {theirs.cells()} |",
            "",
            f"bluegreen's median is {ratio:.2f}× the AWS CLI's (goal ≤ 0.5×: {goal}).",
            "",
        ]
    )
    headline = (
        f"Start-up: `bluegreen --help` {ours.median * 1000:.0f} ms, `aws --version` "
        f"{theirs.median * 1000:.0f} ms median ({ratio:.2f}×; goal ≤ 0.5×: {goal})"
    )
    return Section(markdown, (headline,))


def render(runs: int) -> Section:
    from bench.render_bench import section

    return section(runs, 1000)


def deploy(runs: int) -> Section:
    from bench.awscli_deploy_bench import section

    return section(runs)


def fanout(runs: int) -> Section:
    from bench.fanout_bench import section

    return section(runs, 20)


def _cell(markdown: str, row_start: str) -> str | None:
    """The median cell of the table row that starts with `| row_start`."""
    for line in markdown.splitlines():
        if line.startswith(f"| {row_start}"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            return cells[1] if len(cells) > 1 else None
    return None


def release(runs: int) -> Section:
    """The release monitor's own benchmark (bench/release_bench.py), run as it is documented:
    a canary 10%/5m with its 5-minute termination wait at time scale 60, through `deploy`."""
    argv = [sys.executable, "-m", "bench.release_bench", "--runs", str(runs)]
    done = subprocess.run(
        [*argv, "--time-scale", "60"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"bench.release_bench exited {done.returncode}:\n{done.stderr[-3000:]}")
    markdown = done.stdout.strip() + "\n"
    markdown = re.sub(r"^Machine: .*\n\n?", "", markdown, flags=re.MULTILINE)  # in the header
    headlines = []
    whole = _cell(markdown, "whole `deploy` process")
    lag = _cell(markdown, "exit lag")
    calls = _cell(markdown, "control-plane calls per deployment-minute")
    if whole and lag:
        headlines.append(
            f"Canary 10%/5m + 5m termination wait at time scale 60 through `bluegreen deploy`: "
            f"{whole} whole process, {lag} from the deployment's end to exit (medians)"
        )
    if calls:
        headlines.append(
            f"Control-plane calls per deployment-minute during that canary: {calls} per wall "
            "minute (median; preflight and 10 simulated minutes compressed into seconds)"
        )
    return Section(markdown, tuple(headlines))


def memory(runs: int) -> Section:
    from bench.memory_bench import section

    return section(max(runs, 5), 75.0)


def budget(runs: int) -> Section:
    """Calls a minute during a bake in real time (60 s), 3 unscheduled stops, end → exit of
    `runs` releases per config (bluegreen beside the AWS CLI's waiter and ecspresso), and one
    100-service fan-out against one service under realistic throttling."""
    from bench.api_budget_bench import section

    return section(runs, 60.0, 3, 100, 1)


MEASURE: dict[str, Callable[[int], Section]] = {
    "startup": startup,
    "render": render,
    "deploy": deploy,
    "fanout": fanout,
    "release": release,
    "memory": memory,
    "budget": budget,
}


def kept(path: Path, parts: list[str]) -> tuple[list[tuple[str, Section, float]], str]:
    """From an existing benchmarks file, the sections and headlines of the parts not in
    `parts` (each headline marked with when it was measured), and what was kept from when."""
    if not path.exists():
        return [], ""
    text = path.read_text(encoding="utf-8")
    found = re.search(r"^- Measured: (.*?) at commit", text, flags=re.MULTILINE)
    when = found.group(1) if found else "an earlier run"
    blocks = re.split(r"(?m)^(?=## )", text)
    headlines = [
        line[2:]
        for block in blocks
        if block.startswith("## Headlines")
        for line in block.splitlines()
        if line.startswith("- ")
    ]
    out = []
    dates = []
    for part in PARTS:
        if part in parts:
            continue
        body = [b for b in blocks if b.startswith(SECTION_STARTS[part])]
        if not body:
            continue
        lines = tuple(
            h if "(measured " in h else f"{h} (measured {when})"
            for h in headlines
            if h.startswith(HEADLINE_STARTS[part])
        )
        measured = re.search(r"\(measured ([^)]*)\)$", lines[0]) if lines else None
        dates.append(f"{part} ({measured.group(1) if measured else when})")
        out.append((part, Section("".join(body), lines), 0.0))
    return out, ", ".join(dates)


def _git(*args: str) -> str:
    done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
    return done.stdout.strip() if done.returncode == 0 else ""


def _log(message: str) -> None:
    print(f"[bench {dt.datetime.now(dt.UTC):%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=MIN_RUNS, help=f"at least {MIN_RUNS}")
    parser.add_argument("--only", default=",".join(PARTS), help="comma-separated parts")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md")
    args = parser.parse_args(argv)
    parts = [p for p in args.only.split(",") if p]
    unknown = [p for p in parts if p not in PARTS]
    if unknown:
        parser.error(f"--only: unknown part(s) {', '.join(unknown)}; parts: {', '.join(PARTS)}")
    if args.runs < MIN_RUNS:
        parser.error(f"--runs must be at least {MIN_RUNS}")

    began = time.perf_counter()
    load_before = os.getloadavg()[0]
    previous, when = kept(args.out, parts) if len(parts) != len(PARTS) else ([], "")
    sections: list[tuple[str, Section, float]] = []
    failed: list[str] = []
    for part in parts:
        _log(f"{part} ...")
        start = time.perf_counter()
        try:
            section = MEASURE[part](args.runs)
        except Exception as exc:  # a failed part is reported; the others still run
            traceback.print_exc()
            failed.append(part)
            section = Section(f"## {part}\n\nNot measured: the benchmark failed ({exc}).\n")
        took = time.perf_counter() - start
        _log(f"{part} done in {took:.0f} s")
        sections.append((part, section, took))
    total = time.perf_counter() - began
    ran = dict.fromkeys(part for part, _, _ in sections)
    sections = sorted([*sections, *previous], key=lambda item: PARTS.index(item[0]))

    commit = _git("rev-parse", "--short", "HEAD")
    dirty = (
        " (with uncommitted changes in the working tree)" if _git("status", "--porcelain") else ""
    )
    now = dt.datetime.now(dt.UTC)
    headlines = [h for _, s, _ in sections for h in s.headlines]
    timings = ", ".join(f"{part} {took:.0f} s" for part, _, took in sections if part in ran)
    lines = [
        "# Benchmarks",
        "",
        "Generated by `make bench` (`.venv/bin/python -m bench.run"
        + (f" --runs {args.runs}" if args.runs != MIN_RUNS else "")
        + (f" --only {','.join(parts)}" if len(parts) != len(PARTS) else "")
        + "`); do not edit by hand.",
        "",
        f"- Measured: {now:%Y-%m-%d %H:%M} UTC at commit `{commit}`{dirty}",
        f"- Machine: {machine()}",
        f"- Load average (1 min): {load_before:.1f} at the start, "
        f"{os.getloadavg()[0]:.1f} at the end (other work shares these cores)",
        f"- Wall time of the whole run: {total / 60:.1f} min ({timings})",
        "- Every figure is the median, min and max over the runs given in its table (at least "
        f"{MIN_RUNS}), measured in this one run; each section names the command that "
        "reproduces it alone. Times are wall-clock times on this machine.",
        *([f"- Kept from earlier runs (not measured this time): {when}"] if previous else []),
        "",
        "## Headlines",
        "",
        *(f"- {h}" for h in headlines),
        *(f"- **{part}: not measured** (the benchmark failed)" for part in failed),
        "",
    ]
    for _, section, _ in sections:
        lines.append(section.markdown.rstrip() + "\n")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines), encoding="utf-8")
    _log(f"wrote {args.out} in {total / 60:.1f} min")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
