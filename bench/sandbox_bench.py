"""The sandbox: start-up, per-call latency, one full canary deployment, 50 concurrent ones.

What is measured (wall time, on this machine):
1. start-up: `python -m bluegreen sandbox up --port 0` from spawn until `/_sandbox/info`
   answers, and until a first ECS call answers (moto loads EC2 on first use);
2. per-call latency of a few read operations against a running sandbox (median of N calls);
3. one `CodeDeployDefault.ECSCanary10Percent5Minutes` deployment on the demo stack (5-minute
   termination wait) at `--time-scale 60`: 10 simulated minutes, goal <= 10 s of wall time;
4. 50 deployments started at once on 50 services (`CodeDeployDefault.ECSAllAtOnce`, 5-minute
   termination wait, time scale 60), until all have succeeded.

Reproduce with: `.venv/bin/python -m bench.sandbox_bench [--runs 5] [--calls 200] [--fleet 50]`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.common import Stats, machine, stats
from bluegreen.render.taskdef import READ_ONLY_FIELDS

CANARY = "CodeDeployDefault.ECSCanary10Percent5Minutes"
ALL_AT_ONCE = "CodeDeployDefault.ECSAllAtOnce"
TIME_SCALE = 60.0
POLL_SECONDS = 0.05
DEPLOY_TIMEOUT = 120.0


# --- 1. start-up ---------------------------------------------------------------------------
def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_sandbox/info", timeout=1) as response:  # noqa: S310
            return bool(json.loads(response.read()).get("sandbox") == "bluegreen")
    except OSError:
        return False


def startup_once() -> tuple[float, float]:
    """(seconds until /_sandbox/info answers, seconds until a first ECS call answers)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    began = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bluegreen", "--output", "json", "sandbox", "up", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        url = json.loads(proc.stdout.readline())["endpoint"]
        while not _answers(url):
            time.sleep(0.005)
        ready = time.perf_counter() - began
        with sandbox_env(url):
            from bluegreen.aws.session import Aws

            Aws().ecs().list_clusters()
        first_call = time.perf_counter() - began
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    return ready, first_call


# --- shared: an in-process sandbox with the demo stack ---------------------------------------
@contextmanager
def sandbox_env(url: str) -> Iterator[None]:
    saved = dict(os.environ)
    for name in list(os.environ):
        if name.startswith("AWS_"):
            del os.environ[name]
    os.environ.update(
        AWS_ENDPOINT_URL=url,
        AWS_ACCESS_KEY_ID="sandbox",
        AWS_SECRET_ACCESS_KEY="sandbox",  # noqa: S106 - the sandbox's dummy credentials
        AWS_DEFAULT_REGION="us-east-1",
    )
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@contextmanager
def running_sandbox(time_scale: float) -> Iterator[str]:
    from bluegreen.sandbox.server import SandboxServer

    server = SandboxServer(port=0, time_scale=time_scale)
    server.start()
    try:
        with sandbox_env(server.url):
            yield server.url
    finally:
        server.stop()


def new_revision(aws: Any, cluster: str, service: str, build: str) -> str:
    """Register a new revision of the service's task definition (a new BUILD variable)."""
    ecs = aws.ecs()
    current = ecs.describe_services(cluster=cluster, services=[service])["services"][0]
    td = ecs.describe_task_definition(taskDefinition=current["taskDefinition"])["taskDefinition"]
    for key in READ_ONLY_FIELDS:
        td.pop(key, None)
    container = td["containerDefinitions"][0]
    env = [e for e in container.get("environment", []) if e["name"] != "BUILD"]
    container["environment"] = [*env, {"name": "BUILD", "value": build}]
    arn: str = ecs.register_task_definition(**td)["taskDefinition"]["taskDefinitionArn"]
    return arn


def start_deployment(aws: Any, stack: Any, taskdef_arn: str, config: str) -> str:
    appspec = {
        "version": 0.0,
        "Resources": [
            {
                "TargetService": {
                    "Type": "AWS::ECS::Service",
                    "Properties": {
                        "TaskDefinition": taskdef_arn,
                        "LoadBalancerInfo": {"ContainerName": "web", "ContainerPort": 8080},
                    },
                }
            }
        ],
    }
    content = json.dumps(appspec)
    deployment_id: str = aws.codedeploy().create_deployment(
        applicationName=stack.application,
        deploymentGroupName=stack.deployment_group,
        deploymentConfigName=config,
        revision={
            "revisionType": "AppSpecContent",
            "appSpecContent": {
                "content": content,
                "sha256": hashlib.sha256(content.encode()).hexdigest(),
            },
        },
    )["deploymentId"]
    return deployment_id


def wait_all(aws: Any, ids: list[str], started: float) -> dict[str, float]:
    """Poll until every deployment has ended; seconds from `started` to Succeeded for each."""
    done: dict[str, float] = {}
    codedeploy = aws.codedeploy()
    deadline = started + DEPLOY_TIMEOUT
    while len(done) < len(ids):
        if time.perf_counter() > deadline:
            raise TimeoutError(f"{len(ids) - len(done)} deployments still running")
        pending = [i for i in ids if i not in done]
        for chunk in range(0, len(pending), 25):
            infos = codedeploy.batch_get_deployments(deploymentIds=pending[chunk : chunk + 25])
            for info in infos["deploymentsInfo"]:
                status = info["status"]
                if status == "Succeeded":
                    done[info["deploymentId"]] = time.perf_counter() - started
                elif status in ("Failed", "Stopped"):
                    raise RuntimeError(f"deployment {info['deploymentId']} ended {status}")
        time.sleep(POLL_SECONDS)
    return done


# --- 2. per-call latency ------------------------------------------------------------------
def call_latency(calls: int) -> dict[str, Stats]:
    from bluegreen.aws.session import Aws
    from bluegreen.sandbox.stack import create_stack

    results: dict[str, Stats] = {}
    with running_sandbox(TIME_SCALE), tempfile.TemporaryDirectory() as folder:
        aws = Aws()
        s = create_stack(aws, Path(folder))
        operations: dict[str, Callable[[], object]] = {
            "ecs DescribeServices": lambda: aws.ecs().describe_services(
                cluster=s.cluster, services=[s.service]
            ),
            "elbv2 DescribeListeners": lambda: aws.elbv2().describe_listeners(
                ListenerArns=[s.prod_listener]
            ),
            "cloudwatch DescribeAlarms": lambda: aws.cloudwatch().describe_alarms(
                AlarmNames=["web-5xx", "web-latency"]
            ),
            "codedeploy GetDeploymentGroup": lambda: aws.codedeploy().get_deployment_group(
                applicationName=s.application, deploymentGroupName=s.deployment_group
            ),
            "sts GetCallerIdentity": lambda: aws.sts().get_caller_identity(),
        }
        for label, operation in operations.items():
            for _ in range(5):  # warm-up: clients built, moto backends loaded
                operation()
            samples = []
            for _ in range(calls):
                began = time.perf_counter()
                operation()
                samples.append(time.perf_counter() - began)
            results[label] = stats(samples)
    return results


# --- 3. one canary deployment ---------------------------------------------------------------
def canary(runs: int) -> tuple[Stats, Stats, dict[str, Stats]]:
    """(wall seconds to Succeeded, seconds to create the demo stack, wall seconds per phase)."""
    from bluegreen.aws.session import Aws
    from bluegreen.sandbox.stack import create_stack

    walls: list[float] = []
    setups: list[float] = []
    phases: dict[str, list[float]] = {}
    with running_sandbox(TIME_SCALE) as url:
        for run in range(runs):
            _reset(url)
            with tempfile.TemporaryDirectory() as folder:
                aws = Aws()
                began = time.perf_counter()
                s = create_stack(aws, Path(folder))
                setups.append(time.perf_counter() - began)
                arn = new_revision(aws, s.cluster, s.service, f"canary-{run}")
                began, began_epoch = time.perf_counter(), time.time()
                deployment = start_deployment(aws, s, arn, CANARY)
                created = time.perf_counter() - began
                walls.append(wait_all(aws, [deployment], began)[deployment])
                for phase, seconds in canary_phases(aws, s, deployment, began_epoch).items():
                    phases.setdefault(phase, []).append(seconds)
                phases.setdefault("CreateDeployment call", []).append(created)
    return stats(walls), stats(setups), {k: stats(v) for k, v in phases.items()}


def canary_phases(aws: Any, s: Any, deployment: str, began_epoch: float) -> dict[str, float]:
    """Where the wall time of one deployment went, from its lifecycle event timestamps."""
    codedeploy = aws.codedeploy()
    info = codedeploy.get_deployment(deploymentId=deployment)["deploymentInfo"]
    target = codedeploy.get_deployment_target(
        deploymentId=deployment, targetId=f"{s.cluster}:{s.service}"
    )["deploymentTarget"]["ecsTarget"]
    events = {e["lifecycleEventName"]: e for e in target["lifecycleEvents"]}

    def span(name: str) -> float:
        event = events[name]
        return float((event["endTime"] - event["startTime"]).total_seconds())

    return {
        "created until BeforeInstall starts": events["BeforeInstall"]["startTime"].timestamp()
        - info["createTime"].timestamp(),
        "Install (green task set running)": span("Install"),
        "AllowTraffic (10% for 5m, then 100%)": span("AllowTraffic"),
        "after AfterAllowTraffic (5m termination wait)": info["completeTime"].timestamp()
        - events["AfterAllowTraffic"]["endTime"].timestamp(),
    }


def _reset(url: str) -> None:
    request = urllib.request.Request(f"{url}/_sandbox/reset", data=b"{}", method="POST")  # noqa: S310
    with urllib.request.urlopen(request, timeout=30):  # noqa: S310
        pass


# --- 4. a fleet deploying at once --------------------------------------------------------------
def fleet(size: int, runs: int) -> tuple[Stats, Stats, float]:
    """(wall seconds until all succeeded, per-deployment seconds, setup seconds)."""
    from bluegreen.aws.session import Aws
    from bluegreen.sandbox.stack import create_stack

    walls: list[float] = []
    each: list[float] = []
    with running_sandbox(TIME_SCALE), tempfile.TemporaryDirectory() as folder:
        aws = Aws(max_attempts=20)
        began = time.perf_counter()
        stacks = [
            create_stack(aws, Path(folder) / f"s{i}", f"svc{i:02d}") for i in range(1, size + 1)
        ]
        setup = time.perf_counter() - began
        for run in range(runs):
            arns = [new_revision(aws, s.cluster, s.service, f"fleet-{run}") for s in stacks]
            began = time.perf_counter()
            with ThreadPoolExecutor(max_workers=10) as pool:
                ids = list(
                    pool.map(
                        lambda pair: start_deployment(aws, pair[0], pair[1], ALL_AT_ONCE),
                        zip(stacks, arns, strict=True),
                    )
                )
            done = wait_all(aws, ids, began)
            walls.append(max(done.values()))
            each.extend(done.values())
    return stats(walls), stats(each), setup


# --- report ------------------------------------------------------------------------------------
def row(label: str, s: Stats, unit: str = "ms", scale: float = 1000.0) -> str:
    return f"| {label} | {s.cells(unit, scale)} |"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs of each measurement (>= 5)")
    parser.add_argument("--calls", type=int, default=200, help="calls per operation")
    parser.add_argument("--fleet", type=int, default=50, help="services deploying at once")
    parser.add_argument("--fleet-runs", type=int, default=None, help="default: --runs")
    parser.add_argument(
        "--only",
        default="startup,latency,canary,fleet",
        help="comma-separated parts to run (default: all of startup,latency,canary,fleet)",
    )
    args = parser.parse_args(argv)
    parts = set(args.only.split(","))
    if not parts <= {"startup", "latency", "canary", "fleet"}:
        parser.error(f"--only: unknown part(s) in {args.only!r}")
    fleet_setup: float | None = None

    from bluegreen.aws.session import Aws

    Aws(region="us-east-1").ecs()  # boto3 imported and its loader warm before any timing
    lines = ["| measurement | median | min | max | runs |", "|---|---|---|---|---|"]
    if "startup" in parts:
        ready, first = zip(*(startup_once() for _ in range(args.runs)), strict=True)
        lines.append(row("start-up: spawn until /_sandbox/info answers", stats(ready)))
        lines.append(
            row("start-up: spawn until a first ECS call (fresh client) answers", stats(first))
        )
    if "latency" in parts:
        for label, s in call_latency(args.calls).items():
            lines.append(row(f"latency: {label} ({args.calls} calls)", s))
    if "canary" in parts:
        wall, setup, phases = canary(args.runs)
        lines.append(row("`sandbox stack`: demo stack created", setup, "s", 1.0))
        lines.append(
            row(
                f"canary 10%/5m + 5m termination wait at x{TIME_SCALE:g} (goal <= 10 s)",
                wall,
                "s",
                1.0,
            )
        )
        for phase, s in phases.items():
            lines.append(row(f"... {phase}", s))
    if "fleet" in parts:
        all_done, each, fleet_setup = fleet(args.fleet, args.fleet_runs or args.runs)
        lines.append(
            row(
                f"{args.fleet} concurrent all-at-once deployments + 5m wait at "
                f"x{TIME_SCALE:g}: all succeeded",
                all_done,
                "s",
                1.0,
            )
        )
        lines.append(row(f"... each of the {args.fleet} deployments", each, "s", 1.0))
    print(f"Machine: {machine()}; load average {os.getloadavg()[0]:.1f} at the end")
    if fleet_setup is not None:
        print(f"{args.fleet} demo stacks created in {fleet_setup:.1f} s (setup, not timed below)")
    print()
    print("\n".join(lines))
    print()
    cmd = " ".join(["python -m bench.sandbox_bench", *(argv or sys.argv[1:])]).strip()
    print(f"Reproduce: `.venv/bin/{cmd}`")
    return 0


if __name__ == "__main__":
    sys.exit(main())
