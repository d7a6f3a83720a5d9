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
from bench.harness import BLUEGREEN, Sandbox, Section, Timed, must_succeed, run_timed, sandbox

if TYPE_CHECKING:
    from bluegreen.sandbox.stack import StackResult

TIME_SCALE = 60.0
CONFIG = "CodeDeployDefault.ECSAllAtOnce"


def fan_out_available() -> bool:
    done = subprocess.run(
        [str(BLUEGREEN), "deploy", "--help"], capture_output=True, text=True, check=True
    )
    return "--max-parallel" in done.stdout


def _span(sb: Sandbox, stacks: list[StackResult], since: float) -> float:
    """First createTime to last completeTime of the deployments created since `since`."""
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
    return last - first


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


def measure(runs: int, count: int) -> tuple[dict[str, tuple[Stats, Stats]], bool, float]:
    fan_out = fan_out_available()
    walls: dict[str, list[float]] = {"one": [], "many": []}
    spans: dict[str, list[float]] = {"one": [], "many": []}
    with sandbox(TIME_SCALE) as sb:
        began = time.perf_counter()
        stacks = [sb.stack(f"svc{i:02d}") for i in range(1, count + 1)]
        setup = time.perf_counter() - began
        for run in range(runs):
            order = ("one", "many") if run % 2 == 0 else ("many", "one")
            for kind in order:
                chosen = stacks[:1] if kind == "one" else stacks
                timed = _release(sb, chosen, run, fan_out)
                walls[kind].append(timed.exited - timed.began)
                spans[kind].append(_span(sb, chosen, timed.began))
    figures = {k: (stats(walls[k]), stats(spans[k])) for k in walls}
    return figures, fan_out, setup


def report(runs: int, count: int = 20) -> str:
    return section(runs, count).markdown


def section(runs: int, count: int = 20) -> Section:
    figures, fan_out, setup = measure(runs, count)
    (one, one_span), (many, many_span) = figures["one"], figures["many"]
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
            f"| 1 service: `bluegreen deploy`, start to exit | {one.cells('s', 1.0)} |",
            f"| {count} services, start to exit | {many.cells('s', 1.0)} |",
            f"| 1 service: CodeDeploy span (create → complete) | {one_span.cells('s', 1.0)} |",
            f"| {count} services: CodeDeploy span (first create → last complete) | "
            f"{many_span.cells('s', 1.0)} |",
            "",
            f"{count} services take {ratio:.2f}× the wall time of one (medians; goal ≤ 1.3× — "
            f"{goal}). The sandbox (one process) runs all {count} deployments' engines and "
            f"moto on the same {os.cpu_count()} cores as the CLI, so the span row shows how "
            "much of the difference is the sandbox's own slow-down.",
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
