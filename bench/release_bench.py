"""The release monitor: exit lag and control-plane calls, against the sandbox.

What is measured (wall time, on this machine), over N releases of the demo stack with
`CodeDeployDefault.ECSCanary10Percent5Minutes` (5-minute termination wait) at time scale 60:
1. exit lag: from the deployment's end (the engine's `completeTime`) to the exit of the
   `bluegreen deploy` process (goal: median <= 1 s);
2. control-plane calls per deployment-minute: every AWS request the process sends (counted
   with a botocore `before-send` hook on each client), from the first to the last, divided by
   the wall minutes between CreateDeployment and the exit; and the split by operation.

Each release runs as its own process: `python -m bench.release_bench --child ...` installs the
counting hook and then runs the ordinary CLI entry point.

Reproduce with: `.venv/bin/python -m bench.release_bench [--runs 5] [--time-scale 60]`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench.common import machine, stats

CONFIG = "CodeDeployDefault.ECSCanary10Percent5Minutes"
MONITOR_OPS = {"GetDeployment", "GetDeploymentTarget", "DescribeAlarms", "GetMetricData"}


def child(argv: list[str]) -> int:
    """Run the CLI with a request counter on every botocore client; write the counts."""
    from bluegreen.aws.session import Aws
    from bluegreen.cli.app import run

    counts: Counter[str] = Counter()
    original = Aws.client

    def counted(self: Aws, service: str) -> Any:
        client = original(self, service)
        if not getattr(client, "_bench_counted", False):

            def call(**kwargs: Any) -> None:
                model = kwargs.get("model")
                counts[f"{service}:{getattr(model, 'name', '?')}"] += 1

            def send(**kwargs: Any) -> None:
                counts["(HTTP requests, retries included)"] += 1

            client.meta.events.register("before-call", call)
            client.meta.events.register("before-send", send)
            client._bench_counted = True
        return client

    Aws.client = counted  # type: ignore[method-assign]
    code = run(argv)
    counts["(run returned at)"] = time.time()  # type: ignore[assignment]
    Path(os.environ["BENCH_COUNTS"]).write_text(json.dumps(counts))
    return code


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--time-scale", type=float, default=60.0)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args, rest = parser.parse_known_args()
    if args.child:
        sys.exit(child(rest))

    import boto3

    from bluegreen.aws.session import Aws
    from bluegreen.sandbox.server import SandboxServer
    from bluegreen.sandbox.stack import create_stack, image_manifest

    server = SandboxServer(port=0, time_scale=args.time_scale)
    server.start()
    work = Path(tempfile.mkdtemp(prefix="bluegreen-bench-"))
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": server.url,
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
        "BLUEGREEN_JOURNAL": str(work / "journal.jsonl"),
        "HOME": str(work),
    }
    env.pop("AWS_PROFILE", None)
    os.environ.update({k: env[k] for k in env if k.startswith(("AWS_", "HOME"))})
    try:
        stack = create_stack(Aws(region="us-east-1"), work / "app", "web")
        ecr = boto3.client("ecr", endpoint_url=server.url, region_name="us-east-1")
        cd = boto3.client("codedeploy", endpoint_url=server.url, region_name="us-east-1")
        repo = stack.image.rsplit(":", 1)[0]
        lags: list[float] = []
        rates: list[float] = []
        ops: Counter[str] = Counter()
        durations: list[float] = []
        returned: list[float] = []
        requests: list[int] = []
        monitor_rates: list[float] = []
        for i in range(args.runs):
            tag = f"bench{i}"
            ecr.put_image(
                repositoryName=stack.repository, imageManifest=image_manifest(tag), imageTag=tag
            )
            counts_file = work / f"counts{i}.json"
            argv = [
                sys.executable,
                "-m",
                "bench.release_bench",
                "--child",
                "-o",
                "json",
                "deploy",
                "--image",
                f"web={repo}:{tag}",
                "--deployment-config",
                CONFIG,
            ]
            start = time.time()
            done = subprocess.run(
                argv,
                cwd=work / "app",
                env={**env, "BENCH_COUNTS": str(counts_file)},
                capture_output=True,
                text=True,
                check=False,
            )
            exited = time.time()
            if done.returncode != 0:
                raise SystemExit(f"release {i} failed ({done.returncode}):\n{done.stderr}")
            result = json.loads(done.stdout.strip().splitlines()[-1])
            created = next(
                json.loads(line)
                for line in done.stdout.splitlines()
                if json.loads(line).get("event") == "created"
            )
            del created
            info = cd.get_deployment(deploymentId=result["deploymentId"])["deploymentInfo"]
            complete = info["completeTime"].timestamp()
            create = info["createTime"].timestamp()
            lags.append(exited - complete)
            counts = Counter(json.loads(counts_file.read_text()))
            returned.append(float(counts.pop("(run returned at)")) - complete)
            requests.append(counts.pop("(HTTP requests, retries included)", 0))
            ops.update(counts)
            minutes = (exited - create) / 60
            durations.append(exited - start)
            rates.append(requests[-1] / minutes)
            watching = sum(n for op, n in counts.items() if op.split(":")[1] in MONITOR_OPS)
            monitor_rates.append(watching / minutes)
        lag, rate = stats(lags), stats(rates)
        print(
            f"## Release monitor — {args.runs} releases, {CONFIG}, time scale {args.time_scale:g}\n"
        )
        print(f"Machine: {machine()}\n")
        print("| measure | median | min | max | runs |")
        print("|---|---|---|---|---|")
        print(f"| exit lag: deployment end → process exit | {lag.cells()} |")
        print(f"| of which: deployment end → CLI returns | {stats(returned).cells()} |")
        print(
            f"| control-plane calls per deployment-minute | {rate.median:.0f} | "
            f"{rate.minimum:.0f} | {rate.maximum:.0f} | {rate.runs} |"
        )
        mon = stats(monitor_rates)
        print(
            f"| of which the monitor's reads per minute | {mon.median:.0f} | "
            f"{mon.minimum:.0f} | {mon.maximum:.0f} | {mon.runs} |"
        )
        whole = stats(durations)
        print(f"| whole `deploy` process (wall) | {whole.cells('s', 1.0)} |")
        print("\nCalls per release, by operation (mean):\n")
        print("| operation | calls |")
        print("|---|---|")
        for op, n in ops.most_common():
            print(f"| {op} | {n / args.runs:.1f} |")
        print(f"\nGoal: exit lag median ≤ 1 s — {'met' if lag.median <= 1.0 else 'NOT met'}.")
        print(
            "\nReproduce: `.venv/bin/python -m bench.release_bench "
            f"--runs {args.runs} --time-scale {args.time_scale:g}`"
        )
    finally:
        server.stop()


if __name__ == "__main__":
    main()
