"""What the release benchmarks share: a sandbox in its own process, demo stacks, images.

The sandbox runs as `bluegreen sandbox up --port 0` in a child process, so that neither the
benchmark runner nor the processes under test share its interpreter (and its GIL). Processes
under test get an environment that reaches only the sandbox: its endpoint, dummy credentials,
an empty HOME and a journal of their own.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.sandbox_bench import sandbox_env

if TYPE_CHECKING:
    from bluegreen.sandbox.stack import StackResult

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
BLUEGREEN = BIN / "bluegreen"


@dataclass
class Sandbox:
    """A running sandbox process, the environment that reaches it, and a scratch folder."""

    url: str
    work: Path
    process: subprocess.Popen[str]
    env: dict[str, str] = field(default_factory=dict)

    def control(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(  # noqa: S310 - loopback URL of our own sandbox
            f"{self.url}{path}",
            data=data,
            method="GET" if body is None else "POST",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            answer: dict[str, Any] = json.loads(response.read() or b"{}")
            return answer

    def time_scale(self, scale: float) -> None:
        self.control("/_sandbox/settings", {"timeScale": scale})

    def aws(self) -> Any:
        """A bluegreen `Aws` session on the sandbox (clients keep the endpoint they were built
        with, so the session stays usable outside `sandbox_env`)."""
        with sandbox_env(self.url):
            from bluegreen.aws.session import Aws

            aws = Aws(region="us-east-1", max_attempts=20)
            for service in ("ecs", "ecr", "codedeploy"):
                getattr(aws, service)()
            return aws

    def stack(self, name: str) -> StackResult:
        """A demo stack (`sandbox stack`) named `name`, its spec written under the work folder."""
        from bluegreen.sandbox.stack import create_stack

        with sandbox_env(self.url):
            from bluegreen.aws.session import Aws

            return create_stack(Aws(region="us-east-1", max_attempts=20), self.work / name, name)


def child_env(url: str, home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ENDPOINT_URL=url,
        AWS_ACCESS_KEY_ID="sandbox",
        AWS_SECRET_ACCESS_KEY="sandbox",  # noqa: S106 - the sandbox's dummy credentials
        AWS_DEFAULT_REGION="us-east-1",
        AWS_REGION="us-east-1",
        HOME=str(home),
        BLUEGREEN_JOURNAL=str(home / "journal.jsonl"),
        PYTHONDONTWRITEBYTECODE="1",
    )
    return env


@contextmanager
def sandbox(time_scale: float) -> Iterator[Sandbox]:
    """`bluegreen sandbox up --port 0 --time-scale K` in a child process, stopped on exit."""
    with ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bluegreen-bench-")))
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        argv = [str(BLUEGREEN), "-o", "json", "sandbox", "up", "--port", "0"]
        process = subprocess.Popen(
            [*argv, "--time-scale", f"{time_scale:g}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env,
        )
        try:
            assert process.stdout is not None
            url = json.loads(process.stdout.readline())["endpoint"]
            (work / "home").mkdir()
            yield Sandbox(url, work, process, child_env(url, work / "home"))
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def push_tag(aws: Any, stack: StackResult, tag: str) -> str:
    """Put a new image under `tag` in the stack's ECR repository; the reference to deploy."""
    from bluegreen.sandbox.stack import image_manifest

    aws.ecr().put_image(
        repositoryName=stack.repository, imageManifest=image_manifest(tag), imageTag=tag
    )
    return f"{stack.image.rsplit(':', 1)[0]}:{tag}"


@dataclass(frozen=True)
class Ended:
    """A deployment as CodeDeploy recorded it (epoch seconds)."""

    deployment_id: str
    status: str
    created: float
    completed: float


def ended(aws: Any, deployment_id: str) -> Ended:
    info = aws.codedeploy().get_deployment(deploymentId=deployment_id)["deploymentInfo"]
    if "completeTime" not in info:
        raise RuntimeError(f"deployment {deployment_id} has not ended ({info['status']})")
    return Ended(
        deployment_id,
        info["status"],
        info["createTime"].timestamp(),
        info["completeTime"].timestamp(),
    )


@dataclass(frozen=True)
class Timed:
    """One process under test: wall times (epoch) and its output."""

    began: float
    exited: float
    returncode: int
    stdout: str
    stderr: str


def run_timed(argv: list[str], env: dict[str, str], cwd: Path | None = None) -> Timed:
    began = time.time()
    done = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    return Timed(began, time.time(), done.returncode, done.stdout, done.stderr)


def result_line(stdout: str) -> dict[str, Any]:
    """The last line of a `--output json` run: the result."""
    lines = [line for line in stdout.splitlines() if line.strip()]
    if not lines:
        raise RuntimeError("no JSON result on stdout")
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def must_succeed(what: str, timed: Timed) -> None:
    if timed.returncode != 0:
        tail = "\n".join(timed.stderr.splitlines()[-15:])
        raise RuntimeError(f"{what} exited {timed.returncode}:\n{tail}")


@dataclass(frozen=True)
class Section:
    """One part of docs/benchmarks.md: its markdown and the headline lines for the summary."""

    markdown: str
    headlines: tuple[str, ...] = ()


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) a running process has used, from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children_cpu() -> float:
    """CPU seconds (user + system) of this process's waited-for children so far."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime
