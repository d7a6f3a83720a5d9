"""Fan-out: one `bluegreen deploy` releasing 20 services against the same release of one.

Twenty demo stacks (`sandbox stack`) in one sandbox at time scale 60; every release is the
deployment group's own `CodeDeployDefault.ECSAllAtOnce` with its 5-minute termination wait and a
new task-definition revision (the `LOG_LEVEL` variable changes). One service is released with
`bluegreen deploy --config svc01/bluegreen.yaml`, twenty with one `bluegreen deploy --config
svc01/bluegreen.yaml ... --config svc20/bluegreen.yaml --max-parallel 20`; the two take turns.

Measured: the wall time of the process, start to exit, and the deployments' span as CodeDeploy
records them (first `createTime` to last `completeTime`). Goal: twenty ≤ 1.3× one.

When the CLI has no fan-out (no `--max-parallel` in `deploy --help`), twenty separate
`bluegreen deploy` processes are started at once instead, and the report says so.

Reproduce with: `.venv/bin/python -m bench.fanout_bench [--runs 5] [--services 20]`.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import time
from typing import TYPE_CHECKING

from bench.common import Stats, stats
from bench.harness import (
    BLUEGREEN,
    Sandbox,
    Section,
    Timed,
    children_cpu,
    must_succeed,
    process_cpu,
    run_timed,
    sandbox,
)

if TYPE_CHECKING:
    from bluegreen.sandbox.stack import StackResult

TIME_SCALE = 60.0
CONFIG = "CodeDeployDefault.ECSAllAtOnce"


def fan_out_available() -> bool:
    done = subprocess.run(
        [str(BLUEGREEN), "deploy", "--help"], capture_output=True, text=True, check=True
    )
    return "--max-parallel" in done.stdout


def _span(sb: Sandbox, stacks: list[StackResult], since: float) -> tuple[float, float]:
    """(first createTime, last completeTime) of the deployments created since `since`."""
    codedeploy = sb.aws().codedeploy()
    ids: list[str] = []
    for stack in stacks:
        ids += codedeploy.list_deployments(
            applicationName=stack.application, deploymentGroupName=stack.deployment_group
        )["deployments"]
    infos = []
    for chunk in range(0, len(ids), 25):
        found = codedeploy.batch_get_deployments(deploymentIds=ids[chunk : chunk + 25])
        infos += [i for i in found["deploymentsInfo"] if i["createTime"].timestamp() >= since]
    if len(infos) != len(stacks) or any(i["status"] != "Succeeded" for i in infos):
        states = sorted(i["status"] for i in infos)
        raise RuntimeError(f"expected {len(stacks)} succeeded deployments, found {states}")
    first: float = min(i["createTime"].timestamp() for i in infos)
    last: float = max(i["completeTime"].timestamp() for i in infos)
    return first, last


def _argv(stacks: list[StackResult], run: int) -> list[str]:
    configs = [a for s in stacks for a in ("--config", str(s.directory / "bluegreen.yaml"))]
    flags = ["--var", f"log_level=run-{run}", "--deployment-config", CONFIG]
    parallel = ["--max-parallel", str(len(stacks))] if len(stacks) > 1 else []
    return [str(BLUEGREEN), "-o", "json", "deploy", *configs, *parallel, *flags]


def _release(sb: Sandbox, stacks: list[StackResult], run: int, fan_out: bool) -> Timed:
    if fan_out or len(stacks) == 1:
        timed = run_timed(_argv(stacks, run), sb.env, cwd=sb.work)
        must_succeed(f"deploy of {len(stacks)} service(s)", timed)
        return timed
    began = time.time()
    processes = [
        subprocess.Popen(
            _argv([s], run),
            env=sb.env,
            cwd=sb.work,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for s in stacks
    ]
    errors = [p.communicate()[1] for p in processes]
    exited = time.time()
    codes = [p.returncode for p in processes]
    for code, err in zip(codes, errors, strict=True):
        if code != 0:
            raise RuntimeError(f"a deploy process exited {code}:\n{err[-2000:]}")
    return Timed(began, exited, 0, "", "")


ROWS = ("wall", "span", "to_create", "to_exit", "cli_cpu", "sandbox_cpu")


def measure(runs: int, count: int) -> tuple[dict[str, dict[str, Stats]], bool, float]:
    """{"one"|"many": {row: Stats}}, whether the CLI fans out, the stacks' setup seconds."""
    fan_out = fan_out_available()
    samples: dict[str, dict[str, list[float]]] = {
        kind: {row: [] for row in ROWS} for kind in ("one", "many")
    }
    with sandbox(TIME_SCALE) as sb:
        began = time.perf_counter()
        stacks = [sb.stack(f"svc{i:02d}") for i in range(1, count + 1)]
        setup = time.perf_counter() - began
        for run in range(runs):
            order = ("one", "many") if run % 2 == 0 else ("many", "one")
            for kind in order:
                chosen = stacks[:1] if kind == "one" else stacks
                cpu, sandbox_cpu = children_cpu(), process_cpu(sb.process.pid)
                timed = _release(sb, chosen, run, fan_out)
                cpu, sandbox_cpu = children_cpu() - cpu, process_cpu(sb.process.pid) - sandbox_cpu
                first, last = _span(sb, chosen, timed.began)
                into = samples[kind]
                into["wall"].append(timed.exited - timed.began)
                into["span"].append(last - first)
                into["to_create"].append(first - timed.began)
                into["to_exit"].append(timed.exited - last)
                into["cli_cpu"].append(cpu)
                into["sandbox_cpu"].append(sandbox_cpu)
    figures = {kind: {row: stats(v) for row, v in rows.items()} for kind, rows in samples.items()}
    return figures, fan_out, setup


LABELS = {
    "wall": "start to exit (wall)",
    "span": "CodeDeploy: first createTime → last completeTime",
    "to_create": "start → first createTime (preflight, registration)",
    "to_exit": "last completeTime → exit",
    "cli_cpu": "CPU seconds of the `bluegreen` process(es)",
    "sandbox_cpu": "CPU seconds of the sandbox process meanwhile",
}


def _rows(figures: dict[str, dict[str, Stats]], count: int) -> list[str]:
    lines = []
    for row in ROWS:
        for kind, label in (("one", "1 service"), ("many", f"{count} services")):
            lines.append(f"| {label}: {LABELS[row]} | {figures[kind][row].cells('s', 1.0)} |")
    return lines


def report(runs: int, count: int = 20) -> str:
    return section(runs, count).markdown


def section(runs: int, count: int = 20) -> Section:
    figures, fan_out, setup = measure(runs, count)
    one, many = figures["one"]["wall"], figures["many"]["wall"]
    ratio = many.median / one.median
    goal = "met" if ratio <= 1.3 else "NOT met"
    how = (
        f"one `bluegreen deploy` process with {count} `--config` and `--max-parallel {count}`"
        if fan_out
        else f"{count} `bluegreen deploy` processes started at once (this build's `deploy` "
        "has no fan-out)"
    )
    headline = (
        f"Fan-out: {count} services {many.median:.1f} s against one {one.median:.1f} s, "
        f"{ratio:.2f}× (goal ≤ 1.3×: {goal})" + ("" if fan_out else f"; {count} processes")
    )
    markdown = "\n".join(
        [
            f"## Fan-out: {count} services against one",
            "",
            f"Command: `.venv/bin/python -m bench.fanout_bench --runs {runs} --services {count}`",
            "",
            f"{count} demo stacks (created in {setup:.0f} s, not timed) in one sandbox at time "
            f"scale {TIME_SCALE:g}, `{CONFIG}` with the 5-minute termination wait. "
            f"{count} services: {how}.",
            "",
            "| what | median | min | max | runs |",
            "|---|---|---|---|---|",
            *_rows(figures, count),
            "",
            f"{count} services take {ratio:.2f}× the wall time of one (medians; goal ≤ 1.3× — "
            f"{goal}). The sandbox (one process) runs all {count} deployments' engines and "
            f"moto on the same {os.cpu_count()} cores as the CLI: the CodeDeploy span and the "
            "CPU rows show how much of the difference is the sandbox's own work, the other "
            "rows what the CLI adds before the first and after the last deployment.",
            "",
        ]
    )
    return Section(markdown, (headline,))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--services", type=int, default=20)
    args = parser.parse_args()
    print(report(args.runs, args.services))


if __name__ == "__main__":
    main()
