"""API budget: control-plane calls a minute while following a release, and how late each
follower notices an unscheduled stop and the end — bluegreen side by side with its peers.

Three followers watch the same CodeDeploy deployment of the demo stack (`sandbox stack`) at the
same time, each through its own counting proxy in front of one sandbox:

- `bluegreen watch <id>` (the real CLI, a child process);
- the AWS CLI's waiter, `aws deploy wait deployment-successful`: GetDeployment every 15 s (its
  documented delay; botocore's `codedeploy` waiter model). When the AWS CLI is not installed in
  the project's venv, the waiter's cadence is replayed with boto3 (the same calls at the same
  pace), and the report says so;
- ecspresso's documented cadence for a CodeDeploy deployment: GetDeploymentTarget every 10 s
  (its progress display) beside the same waiter (GetDeployment every 15 s), replayed with boto3.

Parts:
1. calls a minute during a bake, in real time (sandbox time scale 1): a `linear:10%/1m`
   deployment is started (install at time scale 60), and once AllowTraffic has begun the clock
   runs at 1 and the three followers are counted for `--window` seconds (after a short warm-up);
2. unscheduled stop: during such a bake, StopDeployment is called at a random moment; the lag
   is from that call's answer to the moment each follower shows the stop (bluegreen: its status
   event on stdout; the others: the first read that saw it);
3. end → exit: `bluegreen deploy` of all-at-once, canary 10%/5m and linear 10%/1m releases at
   time scale 60 (the stack's 5-minute termination wait), from CodeDeploy's `completeTime` to
   the process's exit; the peers' notice of the same ends measured side by side.

Reproduce with: `.venv/bin/python -m bench.api_budget_bench [--runs 5] [--window 60]
[--stops 3]`.
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from bench.common import Stats, stats
from bench.harness import BLUEGREEN, Sandbox, Section, push_tag, sandbox

WAITER_DELAY = 15.0  # seconds: botocore's codedeploy DeploymentSuccessful waiter
ECSPRESSO_TARGET_EVERY = 10.0  # seconds: ecspresso's GetDeploymentTarget progress loop
BAKE_CONFIG = "linear:10%/1m"
END_CONFIGS = ("all-at-once", "canary:10%/5m", "linear:10%/1m")
END_SCALE = 60.0
FAN_SCALE = 1.0  # the fan-out's releases run on the wall clock, as AWS's buckets refill
FAN_CONFIG = "all-at-once"  # with the demo group's 5-minute termination wait
GOAL_CALLS = 10.0
GOAL_STOP = 6.0
GOAL_EXIT = 0.5


# --- the counting proxy -----------------------------------------------------------------------
def operation(path: str, headers: Any, body: bytes) -> str:
    """The AWS operation of a request: JSON protocols name it in X-Amz-Target, CBOR (rpc-v2)
    in the path, the query protocol in the form body."""
    target = headers.get("X-Amz-Target")
    if target:
        return str(target).rsplit(".", 1)[-1]
    if "/operation/" in path:
        return path.rsplit("/", 1)[-1]
    if path.startswith("/_sandbox/"):
        return "(sandbox control)"
    form = urllib.parse.parse_qs(body.decode("utf-8", "replace"))
    return form.get("Action", ["?"])[0]


@dataclass
class Call:
    at: float
    op: str
    status: int
    throttled: bool = False


class CountingProxy:
    """A loopback HTTP proxy in front of `upstream` that records every request it forwards."""

    def __init__(self, upstream: str) -> None:
        parsed = urllib.parse.urlsplit(upstream)
        self.host, self.port = parsed.hostname or "127.0.0.1", parsed.port or 80
        self.calls: list[Call] = []
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                op = operation(self.path, self.headers, body)
                upstream = http.client.HTTPConnection(proxy.host, proxy.port, timeout=60)
                try:
                    headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                    headers["Host"] = f"{proxy.host}:{proxy.port}"
                    upstream.request(self.command, self.path, body=body, headers=headers)
                    answer = upstream.getresponse()
                    data = answer.read()
                    self.send_response(answer.status)
                    for key, value in answer.getheaders():
                        if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                            self.send_header(key, value)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    throttled = answer.status >= 400 and b"Throttl" in data
                    with proxy._lock:
                        proxy.calls.append(Call(time.time(), op, answer.status, throttled))
                finally:
                    upstream.close()

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _forward

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def between(self, start: float, end: float) -> Counter[str]:
        with self._lock:
            return Counter(
                c.op for c in self.calls if start <= c.at < end and c.op != "(sandbox control)"
            )

    def throttled(self, start: float = 0.0, end: float = float("inf")) -> Counter[str]:
        """Requests the endpoint answered with a throttling error (botocore retried them)."""
        with self._lock:
            return Counter(c.op for c in self.calls if c.throttled and start <= c.at < end)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@contextmanager
def proxies(upstream: str, count: int) -> Iterator[list[CountingProxy]]:
    made = [CountingProxy(upstream) for _ in range(count)]
    try:
        yield made
    finally:
        for p in made:
            p.close()


# --- the peers' cadences, replayed -------------------------------------------------------------
def _client(url: str, service: str) -> Any:
    import boto3
    from botocore.config import Config

    make: Any = boto3.client
    return make(
        service,
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="bench",
        aws_secret_access_key="bench",  # noqa: S106 - the sandbox's dummy credentials
        config=Config(retries={"mode": "standard", "max_attempts": 3}),
    )


@dataclass
class Poller:
    """A follower that reads every `every` seconds (its first read at once) until it sees the
    deployment end, and records when it saw a status change."""

    name: str
    reads: list[tuple[Callable[[], str | None], float]]  # (read -> status or None, every)
    seen: dict[str, float] = field(default_factory=dict)  # status -> when first seen
    stop: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        for read, every in self.reads:
            thread = threading.Thread(target=self._run, args=(read, every), daemon=True)
            thread.start()
            self.threads.append(thread)

    def _run(self, read: Callable[[], str | None], every: float) -> None:
        while not self.stop.is_set():
            status = read()
            now = time.time()
            if status is not None:
                self.seen.setdefault(status, now)
                if status in ("Succeeded", "Failed", "Stopped"):
                    self.stop.set()
                    return
            self.stop.wait(every)

    def halt(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=5)


def waiter(url: str, deployment_id: str) -> Poller:
    cd = _client(url, "codedeploy")

    def read() -> str:
        return str(cd.get_deployment(deploymentId=deployment_id)["deploymentInfo"]["status"])

    return Poller("AWS CLI waiter", [(read, WAITER_DELAY)])


def ecspresso(url: str, deployment_id: str, target_id: str) -> Poller:
    cd = _client(url, "codedeploy")

    def deployment() -> str:
        return str(cd.get_deployment(deploymentId=deployment_id)["deploymentInfo"]["status"])

    def target() -> str | None:
        cd.get_deployment_target(deploymentId=deployment_id, targetId=target_id)
        return None  # the progress display; the waiter decides the end

    return Poller("ecspresso", [(deployment, WAITER_DELAY), (target, ECSPRESSO_TARGET_EVERY)])


def awscli_in_venv() -> Path | None:
    """The AWS CLI installed in the project's venv, if any (else its cadence is replayed)."""
    found = shutil.which("aws", path=str(Path(sys.executable).parent))
    return Path(found) if found else None


def awscli_waiter(url: str, deployment_id: str, aws: Path, env: dict[str, str]) -> Poller:
    """The real `aws deploy wait deployment-successful`, as a child process through the proxy;
    its stop is recorded when the process exits (the waiter fails on Stopped/Failed)."""
    poller = Poller("AWS CLI waiter", [])

    def run() -> None:
        done = subprocess.run(
            [str(aws), "deploy", "wait", "deployment-successful", "--deployment-id", deployment_id],
            env={**env, "AWS_ENDPOINT_URL": url},
            capture_output=True,
            text=True,
            check=False,
        )
        poller.seen.setdefault("Succeeded" if done.returncode == 0 else "Stopped", time.time())

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    poller.threads.append(thread)
    return poller


# --- bluegreen as a child process ---------------------------------------------------------------
@dataclass
class Child:
    """A `bluegreen -o json ...` process whose stdout lines are time-stamped as they arrive."""

    process: subprocess.Popen[str]
    lines: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    exited: float | None = None
    stderr: list[str] = field(default_factory=list)
    _reader: threading.Thread | None = None

    @classmethod
    def start(cls, argv: list[str], env: dict[str, str], cwd: Path) -> Child:
        process = subprocess.Popen(
            [str(BLUEGREEN), "-o", "json", *argv],
            env=env,
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        child = cls(process)
        child._reader = threading.Thread(target=child._read, daemon=True)
        child._reader.start()
        threading.Thread(target=child._drain, daemon=True).start()
        return child

    def _drain(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.stderr.append(line)

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            now = time.time()
            try:
                self.lines.append((now, json.loads(line)))
            except ValueError:
                continue
        self.process.wait()
        self.exited = time.time()

    def first(self, match: Callable[[dict[str, Any]], bool], timeout: float) -> float | None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            for at, obj in list(self.lines):
                if match(obj):
                    return at
            if self.exited is not None and self._reader is not None:
                self._reader.join()
                return next((at for at, obj in self.lines if match(obj)), None)
            time.sleep(0.01)
        return None

    def finish(self, timeout: float) -> int:
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.send_signal(signal.SIGTERM)
            try:
                code = self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                code = self.process.wait()
        if self._reader is not None:
            self._reader.join(timeout=5)
        return code


# --- the sandbox side ------------------------------------------------------------------------
def _deployment(sb: Sandbox, deployment_id: str) -> dict[str, Any]:
    info: dict[str, Any] = (
        sb.aws().codedeploy().get_deployment(deploymentId=deployment_id)["deploymentInfo"]
    )
    return info


def _allow_traffic_started(sb: Sandbox, deployment_id: str, target_id: str) -> bool:
    try:
        target = (
            sb.aws()
            .codedeploy()
            .get_deployment_target(deploymentId=deployment_id, targetId=target_id)[
                "deploymentTarget"
            ]["ecsTarget"]
        )
    except Exception:  # not started yet
        return False
    return any(
        e["lifecycleEventName"] == "AllowTraffic" and e["status"] != "Pending"
        for e in target.get("lifecycleEvents", [])
    )


def _wait_for(what: str, check: Callable[[], bool], timeout: float) -> None:
    deadline = time.time() + timeout
    while not check():
        if time.time() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _settle(sb: Sandbox, stack: Any) -> None:
    """Nothing in flight on the stack's group (time scale 60 while it drains)."""
    sb.time_scale(END_SCALE)
    cd = sb.aws().codedeploy()

    def idle() -> bool:
        ids = cd.list_deployments(
            applicationName=stack.application,
            deploymentGroupName=stack.deployment_group,
            includeOnlyStatuses=["Created", "Queued", "InProgress", "Ready"],
        )["deployments"]
        return not ids

    _wait_for("the stack to settle", idle, 120)


def _start_bake(sb: Sandbox, stack: Any, tag: str) -> str:
    """A `linear:10%/1m` deployment whose traffic shift has begun, the clock then at 1."""
    _settle(sb, stack)
    image = push_tag(sb.aws(), stack, tag)
    done = subprocess.run(
        [
            *(str(BLUEGREEN), "-o", "json", "deploy", "--image", f"web={image}", "--no-wait"),
            *("--deployment-config", BAKE_CONFIG),
        ],
        env=sb.env,
        cwd=stack.directory,
        capture_output=True,
        text=True,
        check=False,
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if done.returncode != 0 or not result.get("deploymentId"):
        raise RuntimeError(f"deploy --no-wait exited {done.returncode}: {done.stderr[-2000:]}")
    deployment_id = str(result["deploymentId"])
    target_id = f"{stack.cluster}:{stack.service}"
    _wait_for("AllowTraffic", lambda: _allow_traffic_started(sb, deployment_id, target_id), 60)
    sb.time_scale(1.0)
    return deployment_id


@dataclass
class Followers:
    bluegreen: Child
    peers: list[Poller]
    proxies: list[CountingProxy]


@contextmanager
def followers(sb: Sandbox, stack: Any, deployment_id: str) -> Iterator[Followers]:
    target_id = f"{stack.cluster}:{stack.service}"
    aws = awscli_in_venv()
    with proxies(sb.url, 3) as (ours, theirs, ecsp):
        env = {**sb.env, "AWS_ENDPOINT_URL": ours.url}
        child = Child.start(["watch", deployment_id, "--on-cancel", "detach"], env, stack.directory)
        peers = [
            awscli_waiter(theirs.url, deployment_id, aws, sb.env)
            if aws
            else waiter(theirs.url, deployment_id),
            ecspresso(ecsp.url, deployment_id, target_id),
        ]
        for peer in peers:
            if peer.reads:
                peer.start()
        try:
            yield Followers(child, peers, [ours, theirs, ecsp])
        finally:
            for peer in peers:
                peer.halt()
            if child.process.poll() is None:
                child.process.send_signal(signal.SIGTERM)
            child.finish(30)


NAMES = ("bluegreen watch", "AWS CLI waiter", "ecspresso (10 s target + waiter)")


@dataclass
class BakeCount:
    window: float
    per_minute: list[float]
    by_op: list[Counter[str]]


def bake_count(sb: Sandbox, stack: Any, window: float, warmup: float = 8.0) -> BakeCount:
    deployment_id = _start_bake(sb, stack, "bake-count")
    with followers(sb, stack, deployment_id) as f:
        start = time.time() + warmup
        time.sleep(warmup + window)
        end = time.time()
        counts = [p.between(start, end) for p in f.proxies]
    sb.aws().codedeploy().stop_deployment(deploymentId=deployment_id, autoRollbackEnabled=True)
    _settle(sb, stack)
    minutes = window / 60.0
    return BakeCount(window, [sum(c.values()) / minutes for c in counts], counts)


def _ended_line(deployment_id: str) -> Callable[[dict[str, Any]], bool]:
    def match(obj: dict[str, Any]) -> bool:
        return (
            obj.get("event") == "status"
            and obj.get("deploymentId") == deployment_id
            and obj.get("status") in ("Stopped", "Failed")
        )

    return match


def _saw(peer: Poller, status: str) -> Callable[[], bool]:
    return lambda: status in peer.seen


def stop_notice(sb: Sandbox, stack: Any, samples: int, seed: int = 14) -> list[list[float]]:
    """For each follower, the seconds from StopDeployment's answer to its notice."""
    rng = random.Random(seed)
    lags: list[list[float]] = [[] for _ in NAMES]
    for i in range(samples):
        deployment_id = _start_bake(sb, stack, f"stop-{i}")
        with followers(sb, stack, deployment_id) as f:
            time.sleep(6.0 + rng.uniform(0.0, 15.0))  # past start-up, a random phase
            sb.aws().codedeploy().stop_deployment(
                deploymentId=deployment_id, autoRollbackEnabled=True
            )
            stopped = time.time()
            seen = f.bluegreen.first(_ended_line(deployment_id), 60)
            lags[0].append((seen or float("inf")) - stopped)
            for n, peer in enumerate(f.peers, start=1):
                _wait_for(f"{peer.name} to see the stop", _saw(peer, "Stopped"), 40)
                lags[n].append(peer.seen["Stopped"] - stopped)
        _settle(sb, stack)
    return lags


def end_lags(sb: Sandbox, stack: Any, runs: int) -> dict[str, list[list[float]]]:
    """Per config, per follower: CodeDeploy's completeTime → bluegreen's exit / the peers'
    notice, for `runs` `bluegreen deploy` releases at time scale 60."""
    target_id = f"{stack.cluster}:{stack.service}"
    out: dict[str, list[list[float]]] = {}
    for config in END_CONFIGS:
        lags: list[list[float]] = [[] for _ in NAMES]
        for run in range(runs):
            _settle(sb, stack)
            image = push_tag(sb.aws(), stack, f"end-{config.split(':')[0]}-{run}")
            child = Child.start(
                ["deploy", "--image", f"web={image}", "--deployment-config", config],
                sb.env,
                stack.directory,
            )
            created = child.first(lambda o: o.get("event") == "created", 60)
            if created is None:
                child.finish(5)
                raise RuntimeError(f"deploy {config}: no deployment created")
            deployment_id = next(
                str(o["deploymentId"]) for _, o in child.lines if o.get("event") == "created"
            )
            aws = awscli_in_venv()
            peers = [
                awscli_waiter(sb.url, deployment_id, aws, sb.env)
                if aws
                else waiter(sb.url, deployment_id),
                ecspresso(sb.url, deployment_id, target_id),
            ]
            for peer in peers:
                if peer.reads:
                    peer.start()
            code = child.finish(300)
            if code != 0:
                raise RuntimeError(
                    f"deploy {config} exited {code}: {''.join(child.stderr)[-2000:]}"
                )
            assert child.exited is not None
            complete = _deployment(sb, deployment_id)["completeTime"].timestamp()
            lags[0].append(child.exited - complete)
            for n, peer in enumerate(peers, start=1):
                _wait_for(peer.name, _saw(peer, "Succeeded"), 40)
                lags[n].append(peer.seen["Succeeded"] - complete)
                peer.halt()
        out[config] = lags
    return out


@dataclass
class FanOut:
    count: int
    setup: float
    wall: dict[str, list[float]]  # "one" | "many" -> wall seconds per run
    per_minute: dict[str, list[float]]  # calls a wall minute, per run
    by_op: dict[str, Counter[str]]  # calls per release, summed over runs
    throttled: dict[str, Counter[str]]  # throttling answers the endpoint gave, by operation
    surfaced: int  # runs whose output or exit code showed throttling to the user


def fan_out(sb: Sandbox, count: int, runs: int) -> FanOut:
    """One `bluegreen deploy` of `count` services (`--max-parallel count`) against the same
    release of one, all-at-once with the group's 5-minute termination wait at time scale 1 (a
    release on the wall clock: AWS's token buckets refill in wall time, so only a release of
    real length compares), under the sandbox's realistic token buckets (AWS's published ECS
    and CloudWatch rates, a documented guess for CodeDeploy), counted through one proxy."""
    sb.time_scale(END_SCALE)  # the stacks' services start their tasks fast
    began = time.perf_counter()
    stacks = []
    for i in range(count):
        stacks.append(sb.stack(f"fan{i:03d}"))
        if (i + 1) % 20 == 0:
            _progress(f"fan-out: {i + 1}/{count} stacks")
    setup = time.perf_counter() - began
    sb.time_scale(FAN_SCALE)
    sb.control("/_sandbox/faults", {"kind": "throttle", "realistic": True})
    result = FanOut(count, setup, {"one": [], "many": []}, {"one": [], "many": []}, {}, {}, 0)
    with proxies(sb.url, 1) as (proxy,):
        env = {**sb.env, "AWS_ENDPOINT_URL": proxy.url}
        for run in range(runs):
            for kind in ("one", "many") if run % 2 == 0 else ("many", "one"):
                chosen = stacks[:1] if kind == "one" else stacks
                configs = [
                    a for st in chosen for a in ("--config", str(st.directory / "bluegreen.yaml"))
                ]
                parallel = ["--max-parallel", str(len(chosen))] if len(chosen) > 1 else []
                argv = [str(BLUEGREEN), "-o", "json", "deploy", *configs, *parallel]
                argv += ["--var", f"log_level=fan-{run}", "--deployment-config", FAN_CONFIG]
                _progress(f"fan-out run {run + 1}/{runs}: {len(chosen)} service(s)")
                start = time.time()
                done = subprocess.run(
                    argv, env=env, cwd=sb.work, capture_output=True, text=True, check=False
                )
                end = time.time()
                if done.returncode != 0:
                    raise RuntimeError(
                        f"fan-out of {len(chosen)} exited {done.returncode}:\n{done.stderr[-3000:]}"
                    )
                if "throttl" in (done.stdout + done.stderr).lower():
                    result.surfaced += 1
                calls = proxy.between(start, end)
                result.wall[kind].append(end - start)
                result.per_minute[kind].append(sum(calls.values()) / ((end - start) / 60.0))
                result.by_op.setdefault(kind, Counter()).update(calls)
                result.throttled.setdefault(kind, Counter()).update(proxy.throttled(start, end))
                _progress(f"fan-out of {len(chosen)}: {end - start:.1f} s")
    return result


# --- ECS-native -------------------------------------------------------------------------------
NATIVE_BAKE_CONFIG = "linear:10%/1m"
NATIVE_END_CONFIGS = ("all-at-once", "canary:10%/5m", "linear:10%/1m")
NATIVE_ACTIVE = ("PENDING", "IN_PROGRESS", "STOP_REQUESTED", "ROLLBACK_REQUESTED",
                 "ROLLBACK_IN_PROGRESS")  # fmt: skip


def native_stack(sb: Sandbox, name: str) -> Any:
    """An ECS-native demo stack (`sandbox stack --kind ecs-native`: BLUE_GREEN, a 5-minute
    bake time, alarms with rollback) named `name`."""
    from bench.sandbox_bench import sandbox_env
    from bluegreen.sandbox import StackKind
    from bluegreen.sandbox.stack import create_stack

    with sandbox_env(sb.url):
        from bluegreen.aws.session import Aws

        aws = Aws(region="us-east-1", max_attempts=20)
        return create_stack(aws, sb.work / name, name, kind=StackKind.ecs_native)


def _native(sb: Sandbox, arn: str) -> dict[str, Any]:
    (found,) = (
        sb.aws()
        .ecs()
        .describe_service_deployments(serviceDeploymentArns=[arn])["serviceDeployments"]
    )
    return dict(found)


def _native_settle(sb: Sandbox, stack: Any) -> None:
    """No service deployment in flight on the native stack (time scale 60 while it drains)."""
    sb.time_scale(END_SCALE)
    ecs = sb.aws().ecs()

    def idle() -> bool:
        return not ecs.list_service_deployments(
            cluster=stack.cluster, service=stack.service, status=list(NATIVE_ACTIVE)
        )["serviceDeployments"]

    _wait_for("the native stack to settle", idle, 180)


def _native_start_bake(sb: Sandbox, stack: Any, tag: str) -> str:
    """A `linear:10%/1m` service deployment whose production shift has begun (green has its
    first 10 %), the clock then at 1: each step's minute is a bake."""
    _native_settle(sb, stack)
    image = push_tag(sb.aws(), stack, tag)
    done = subprocess.run(
        [
            *(str(BLUEGREEN), "-o", "json", "deploy", "--image", f"web={image}", "--no-wait"),
            *("--deployment-config", NATIVE_BAKE_CONFIG),
        ],
        env=sb.env,
        cwd=stack.directory,
        capture_output=True,
        text=True,
        check=False,
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if done.returncode != 0 or not result.get("deploymentId"):
        raise RuntimeError(f"deploy --no-wait exited {done.returncode}: {done.stderr[-2000:]}")
    arn = str(result["deploymentId"])

    def shifting() -> bool:
        d = _native(sb, arn)
        weight = (d.get("targetServiceRevision") or {}).get("requestedProductionTrafficWeight")
        return d.get("status") == "IN_PROGRESS" and float(weight or 0) > 0

    _wait_for("the production shift", shifting, 120)
    sb.time_scale(1.0)
    return arn


@dataclass
class NativeBudget:
    window: float
    per_minute: float
    by_op: Counter[str]
    stops: list[float]
    ends: dict[str, list[float]]


def _native_ended_line(arn: str) -> Callable[[dict[str, Any]], bool]:
    def match(obj: dict[str, Any]) -> bool:
        return (
            obj.get("event") == "status"
            and obj.get("deploymentId") == arn
            and obj.get("status") not in ("PENDING", "IN_PROGRESS", "SUCCESSFUL")
        )

    return match


def native_bake_count(
    sb: Sandbox, stack: Any, window: float, warmup: float = 8.0
) -> tuple[float, Counter[str]]:
    """`bluegreen watch` of a native `linear:10%/1m` deployment at time scale 1: the calls a
    minute it sends through its counting proxy over `window` seconds."""
    arn = _native_start_bake(sb, stack, "native-bake-count")
    with proxies(sb.url, 1) as (proxy,):
        env = {**sb.env, "AWS_ENDPOINT_URL": proxy.url}
        child = Child.start(["watch", arn, "--on-cancel", "detach"], env, stack.directory)
        try:
            start = time.time() + warmup
            time.sleep(warmup + window)
            counts = proxy.between(start, time.time())
        finally:
            if child.process.poll() is None:
                child.process.send_signal(signal.SIGTERM)
            child.finish(30)
    sb.aws().ecs().stop_service_deployment(serviceDeploymentArn=arn, stopType="ROLLBACK")
    _native_settle(sb, stack)
    return sum(counts.values()) / (window / 60.0), counts


def native_stop_notice(sb: Sandbox, stack: Any, samples: int, seed: int = 15) -> list[float]:
    """Seconds from StopServiceDeployment's answer (asked from outside, during a bake) to
    `bluegreen watch` printing the deployment's new status."""
    rng = random.Random(seed)
    lags: list[float] = []
    for i in range(samples):
        arn = _native_start_bake(sb, stack, f"native-stop-{i}")
        child = Child.start(["watch", arn, "--on-cancel", "detach"], sb.env, stack.directory)
        try:
            time.sleep(6.0 + rng.uniform(0.0, 15.0))
            sb.aws().ecs().stop_service_deployment(serviceDeploymentArn=arn, stopType="ROLLBACK")
            stopped = time.time()
            seen = child.first(_native_ended_line(arn), 60)
            lags.append((seen or float("inf")) - stopped)
        finally:
            if child.process.poll() is None:
                child.process.send_signal(signal.SIGTERM)
            child.finish(30)
        _native_settle(sb, stack)
        _progress(f"native stop {i + 1}/{samples}: noticed in {lags[-1]:.2f} s")
    return lags


def native_end_lags(sb: Sandbox, stack: Any, runs: int) -> dict[str, list[float]]:
    """Per config: the service deployment's `finishedAt` → `bluegreen deploy`'s exit, for
    `runs` releases at time scale 60 (the stack's 5-minute bake time)."""
    out: dict[str, list[float]] = {}
    for config in NATIVE_END_CONFIGS:
        lags: list[float] = []
        for run in range(runs):
            _native_settle(sb, stack)
            image = push_tag(sb.aws(), stack, f"native-end-{config.split(':')[0]}-{run}")
            child = Child.start(
                ["deploy", "--image", f"web={image}", "--deployment-config", config],
                sb.env,
                stack.directory,
            )
            code = child.finish(300)
            if code != 0:
                raise RuntimeError(
                    f"native deploy {config} exited {code}: {''.join(child.stderr)[-2000:]}"
                )
            assert child.exited is not None
            arn = next(
                str(o["deploymentId"]) for _, o in child.lines if o.get("event") == "created"
            )
            finished = _native(sb, arn)["finishedAt"].timestamp()
            lags.append(child.exited - finished)
        out[config] = lags
        _progress(f"native end → exit {config}: {', '.join(f'{x:.2f}' for x in lags)} s")
    return out


def native_budget(sb: Sandbox, window: float, stops: int, runs: int) -> NativeBudget:
    stack = native_stack(sb, "nat")
    rate, ops = native_bake_count(sb, stack, window)
    _progress(f"native bake: {rate:.1f} calls/min")
    stop = native_stop_notice(sb, stack, stops)
    ends = native_end_lags(sb, stack, runs)
    return NativeBudget(window, rate, ops, stop, ends)


def _progress(message: str) -> None:
    print(f"[api budget {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- the report -----------------------------------------------------------------------------
def _ops(counter: Counter[str], minutes: float) -> str:
    return ", ".join(f"{op} {n / minutes:.1f}" for op, n in counter.most_common()) or "none"


def _verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def section(
    runs: int, window: float = 60.0, stops: int = 3, services: int = 100, fan_runs: int = 3
) -> Section:
    peer_how = (
        "the AWS CLI in the venv"
        if awscli_in_venv()
        else "its cadence replayed with boto3 (the AWS CLI is not installed in the project's venv)"
    )
    began = time.perf_counter()
    with sandbox(END_SCALE) as sb:
        stack = sb.stack("web")
        bake = bake_count(sb, stack, window)
        _progress(f"CodeDeploy bake: {bake.per_minute[0]:.1f} calls/min")
        stop = stop_notice(sb, stack, stops)
        _progress("CodeDeploy stops: " + ", ".join(f"{x:.2f}" for x in stop[0]) + " s")
        ends = end_lags(sb, stack, runs)
        _progress("CodeDeploy end → exit measured")
        native = native_budget(sb, window, stops, runs)
        fan = fan_out(sb, services, fan_runs) if services > 1 else None
    took = time.perf_counter() - began
    ours = bake.per_minute[0]
    stop_ours: Stats = stats(stop[0])
    lines = [
        "## API budget: calls a minute, unscheduled stop, end → exit",
        "",
        f"Command: `.venv/bin/python -m bench.api_budget_bench --runs {runs} --window "
        f"{window:g} --stops {stops} --services {services} --fan-runs {fan_runs}` "
        f"({took:.0f} s)",
        "",
        "Three followers of the same CodeDeploy deployment of the demo stack, side by side, each "
        "through its own counting proxy: `bluegreen watch`, the AWS CLI's waiter (`aws deploy "
        f"wait deployment-successful`: GetDeployment every 15 s; {peer_how}) and ecspresso's "
        "documented cadence (GetDeploymentTarget every 10 s beside the same waiter, replayed "
        "with boto3).",
        "",
        f"### Calls a minute during a bake (`{BAKE_CONFIG}`, time scale 1, {window:g} s)",
        "",
        "| follower | calls a minute | by operation (a minute) |",
        "|---|---|---|",
        *(
            f"| {name} | {rate:.1f} | {_ops(c, bake.window / 60)} |"
            for name, rate, c in zip(NAMES, bake.per_minute, bake.by_op, strict=True)
        ),
        "",
        f"Goal ≤ {GOAL_CALLS:g} calls a minute: {_verdict(ours <= GOAL_CALLS)} ({ours:.1f}).",
        "",
        f"### Unscheduled stop: StopDeployment → noticed ({stops} stops at random moments "
        "of a bake, time scale 1)",
        "",
        "| follower | median | min | max | runs |",
        "|---|---|---|---|---|",
        *(
            f"| {name} | {stats(lag).cells('s', 1.0)} |"
            for name, lag in zip(NAMES, stop, strict=True)
        ),
        "",
        f"Goal ≤ {GOAL_STOP:g} s (every stop): {_verdict(stop_ours.maximum <= GOAL_STOP)} "
        f"(max {stop_ours.maximum:.2f} s).",
        "",
        f"### End → exit (`bluegreen deploy`, time scale {END_SCALE:g}, the stack's 5-minute "
        "termination wait)",
        "",
        "bluegreen: CodeDeploy's `completeTime` → the process's exit; the peers: → their first "
        "read that saw `Succeeded`.",
        "",
        "| config | follower | median | min | max | runs |",
        "|---|---|---|---|---|---|",
    ]
    headline_exit = []
    met_exit = True
    for config, lags in ends.items():
        for name, lag in zip(NAMES, lags, strict=True):
            label = name if name != NAMES[0] else "bluegreen deploy"
            lines.append(f"| {config} | {label} | {stats(lag).cells('s', 1.0)} |")
        median = statistics.median(lags[0])
        met_exit = met_exit and median <= GOAL_EXIT
        headline_exit.append(f"{config} {median:.2f} s")
    lines += [
        "",
        f"Goal: median ≤ {GOAL_EXIT:g} s for each config: {_verdict(met_exit)} "
        f"({', '.join(headline_exit)}).",
        "",
    ]
    native_stop: Stats = stats(native.stops)
    native_exit = {c: statistics.median(lags) for c, lags in native.ends.items()}
    native_exit_ok = all(m <= GOAL_EXIT for m in native_exit.values())
    native_exit_text = ", ".join(f"{c} {m:.2f} s" for c, m in native_exit.items())
    lines += [
        "### ECS-native: the same three measures",
        "",
        "An ECS-native demo stack (`sandbox stack --kind ecs-native`: the ECS controller, two "
        "target groups behind production and test listener rules, the stack's alarms with "
        "rollback, a 5-minute bake time); the sandbox runs its service deployments. "
        "`--deployment-config` sets the release's strategy (all-at-once is BLUE_GREEN).",
        "",
        "| measure | bluegreen | runs | goal |",
        "|---|---|---|---|",
        f"| calls a minute during a bake (`bluegreen watch`, `{NATIVE_BAKE_CONFIG}`, time "
        f"scale 1, {window:g} s of step bakes) | {native.per_minute:.1f} "
        f"({_ops(native.by_op, native.window / 60)}) | 1 | ≤ {GOAL_CALLS:g}: "
        f"{_verdict(native.per_minute <= GOAL_CALLS)} |",
        f"| unscheduled stop: StopServiceDeployment (ROLLBACK, from outside, at a random "
        f"moment of a bake) → `bluegreen watch` prints the new status, median / max | "
        f"{native_stop.median:.2f} s / {native_stop.maximum:.2f} s | {len(native.stops)} | "
        f"≤ {GOAL_STOP:g} s: {_verdict(native_stop.maximum <= GOAL_STOP)} |",
        *(
            f"| end → exit, `bluegreen deploy --deployment-config {config}` (time scale "
            f"{END_SCALE:g}; the deployment's `finishedAt` → the process's exit), median "
            f"(min–max) | {stats(lags).median:.2f} s ({min(lags):.2f}–{max(lags):.2f} s) | "
            f"{len(lags)} | ≤ {GOAL_EXIT:g} s: {_verdict(native_exit[config] <= GOAL_EXIT)} |"
            for config, lags in native.ends.items()
        ),
        "",
    ]
    fan_headline = ""
    if fan is not None:
        one, many = stats(fan.wall["one"]), stats(fan.wall["many"])
        ratio = many.median / one.median
        ok = ratio <= 1.3 and fan.surfaced == 0
        lines += [
            f"### Fan-out: {services} services against one, under realistic throttling",
            "",
            f"{services} demo stacks (created in {fan.setup:.0f} s, not timed), one `bluegreen "
            f"deploy` with {services} `--config` and `--max-parallel {services}` against one "
            f"`--config`, `{FAN_CONFIG}` with the demo group's 5-minute termination wait at "
            f"time scale {FAN_SCALE:g}, the sandbox's realistic token buckets on (`sandbox "
            "fault throttle --realistic`), all calls through one counting proxy. The releases "
            "run on the wall clock because AWS's token buckets refill in wall time: a release "
            "compressed into seconds (time scale 60) can never absorb the minute or more that "
            "100 registrations take at RegisterTaskDefinition's rate (a bucket of 20, refilled "
            "1 a second), whereas a real release lasts minutes. All-at-once is the shortest "
            "release of minutes the demo group has (the traffic switch, then the termination "
            "wait), so the 100 deployments overlap wholly; a canary would add its bake to both "
            "sides and make the run twice as long.",
            "",
            "| what | median | min | max | runs |",
            "|---|---|---|---|---|",
            f"| 1 service: start to exit | {one.cells('s', 1.0)} |",
            f"| {services} services: start to exit | {many.cells('s', 1.0)} |",
            "",
            "| what | 1 service | " + f"{services} services |",
            "|---|---|---|",
            "| calls a wall minute (median) | "
            f"{statistics.median(fan.per_minute['one']):.0f} | "
            f"{statistics.median(fan.per_minute['many']):.0f} |",
            "| throttling answers the endpoint gave (all runs; retried by botocore) | "
            f"{_ops(fan.throttled.get('one', Counter()), 1.0)} | "
            f"{_ops(fan.throttled.get('many', Counter()), 1.0)} |",
            "| calls per release, by operation | "
            f"{_ops(fan.by_op.get('one', Counter()), fan_runs)} | "
            f"{_ops(fan.by_op.get('many', Counter()), fan_runs)} |",
            "",
            f"{services} services take {ratio:.2f}× the wall time of one; throttling surfaced to "
            f"the user in {fan.surfaced} of {2 * fan_runs} runs (goal ≤ 1.3×, none surfaced: "
            f"{_verdict(ok)}).",
            "",
        ]
        fan_headline = (
            f"; fan-out {services} services {ratio:.2f}× one service's wall time, "
            f"throttling surfaced in {fan.surfaced} runs (goal ≤ 1.3×, none: {_verdict(ok)})"
        )
    headlines = (
        f"API budget during a `{BAKE_CONFIG}` bake at time scale 1: bluegreen {ours:.1f} "
        f"calls/min, AWS CLI waiter {bake.per_minute[1]:.1f}, ecspresso "
        f"{bake.per_minute[2]:.1f} (goal ≤ {GOAL_CALLS:g}: {_verdict(ours <= GOAL_CALLS)})",
        f"Unscheduled stop noticed by bluegreen in {stop_ours.median:.2f} s median, "
        f"{stop_ours.maximum:.2f} s max (goal ≤ {GOAL_STOP:g} s: "
        f"{_verdict(stop_ours.maximum <= GOAL_STOP)}); end → exit medians "
        f"{', '.join(headline_exit)} (goal ≤ {GOAL_EXIT:g} s: {_verdict(met_exit)})" + fan_headline,
        f"ECS-native: bluegreen watch {native.per_minute:.1f} calls/min during a "
        f"`{NATIVE_BAKE_CONFIG}` bake (goal ≤ {GOAL_CALLS:g}: "
        f"{_verdict(native.per_minute <= GOAL_CALLS)}); unscheduled stop noticed in "
        f"{native_stop.median:.2f} s median, {native_stop.maximum:.2f} s max (goal ≤ "
        f"{GOAL_STOP:g} s: {_verdict(native_stop.maximum <= GOAL_STOP)}); end → exit medians "
        f"{native_exit_text} (goal ≤ {GOAL_EXIT:g} s: {_verdict(native_exit_ok)})",
    )
    return Section("\n".join(lines), headlines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=5, help="releases per config (end → exit)")
    parser.add_argument("--window", type=float, default=60.0, help="seconds of bake counted")
    parser.add_argument("--stops", type=int, default=3, help="unscheduled stops")
    parser.add_argument("--services", type=int, default=100, help="fan-out size")
    parser.add_argument("--fan-runs", type=int, default=3, help="fan-out releases of each")
    parser.add_argument(
        "--only",
        default="bake,stop,end,native,fanout",
        help="parts: bake, stop, end, native, fanout",
    )
    args = parser.parse_args()
    parts = set(args.only.split(","))
    if parts == {"bake", "stop", "end", "native", "fanout"}:
        print(section(args.runs, args.window, args.stops, args.services, args.fan_runs).markdown)
        return
    with sandbox(END_SCALE) as sb:
        stack = sb.stack("web")
        if "bake" in parts:
            bake = bake_count(sb, stack, args.window)
            for name, rate, c in zip(NAMES, bake.per_minute, bake.by_op, strict=True):
                print(f"{name}: {rate:.1f} calls/min ({_ops(c, bake.window / 60)})")
        if "stop" in parts:
            for name, lag in zip(NAMES, stop_notice(sb, stack, args.stops), strict=True):
                print(f"stop noticed by {name}: {', '.join(f'{x:.2f}' for x in lag)} s")
        if "end" in parts:
            for config, lags in end_lags(sb, stack, args.runs).items():
                for name, lag in zip(NAMES, lags, strict=True):
                    print(f"end → exit {config} {name}: {', '.join(f'{x:.2f}' for x in lag)} s")
        if "native" in parts:
            native = native_budget(sb, args.window, args.stops, args.runs)
            print(f"native: {native.per_minute:.1f} calls/min ({_ops(native.by_op, 1.0)})")
            print(f"native stop noticed: {', '.join(f'{x:.2f}' for x in native.stops)} s")
            for config, ends in native.ends.items():
                print(f"native end → exit {config}: {', '.join(f'{x:.2f}' for x in ends)} s")
        if "fanout" in parts:
            fan = fan_out(sb, args.services, args.fan_runs)
            print(f"fan-out setup {fan.setup:.0f} s; surfaced throttling in {fan.surfaced} runs")
            for kind in ("one", "many"):
                print(
                    f"{kind}: wall {', '.join(f'{x:.1f}' for x in fan.wall[kind])} s; "
                    f"calls/min {', '.join(f'{x:.0f}' for x in fan.per_minute[kind])}; "
                    f"throttled answers {_ops(fan.throttled.get(kind, Counter()), 1.0)}; "
                    f"{_ops(fan.by_op.get(kind, Counter()), float(args.fan_runs))} per release"
                )


if __name__ == "__main__":
    main()
