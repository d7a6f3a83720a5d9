"""The sandbox demo (`make demo`): two real releases, end to end, with no AWS account.

1. `bluegreen sandbox up` starts the offline AWS (moto + bluegreen's CodeDeploy engine) on
   127.0.0.1 at --time-scale 60: every simulated minute takes a second.
2. `bluegreen sandbox stack` creates a CodeDeploy blue/green stack (VPC, ALB with production
   and test listeners, two target groups, ECS cluster and service, ECR repository, alarms,
   CodeDeploy application and group) and writes a ready bluegreen.yaml.
3. A new build is pushed to ECR (as CI would), and `bluegreen deploy` releases it with a
   10 % canary: the traffic shift is watched live and the release succeeds (exit 0).
4. Another build goes out, and while its canary takes 10 % of production the `web-5xx` alarm
   fires: CodeDeploy stops the deployment and rolls production back to blue (exit 1).
5. `bluegreen history` shows both releases.

Run it with `make demo [PORT=4599]`, or `.venv/bin/python examples/demo.py [--keep DIR]
[--port P]`.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import boto3

from bluegreen.sandbox.stack import MANIFEST_MEDIA_TYPE, image_manifest

TIME_SCALE = 60
BLUEGREEN = [sys.executable, "-m", "bluegreen"]


def banner(text: str) -> None:
    print(f"\n\033[1m== {text}\033[0m" if sys.stdout.isatty() else f"\n== {text}", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start_sandbox(workdir: Path, port: int = 0) -> tuple[subprocess.Popen[bytes], dict[str, str]]:
    env_file = workdir / "sandbox.env"
    port = port or free_port()
    cmd = [*BLUEGREEN, "sandbox", "up", "--port", str(port), "--time-scale", str(TIME_SCALE)]
    print("$ bluegreen " + " ".join(cmd[3:]) + f" --env-file {env_file}", flush=True)
    proc = subprocess.Popen(
        [*cmd, "--env-file", str(env_file)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 60
    while not env_file.exists() or not env_file.read_text().strip():
        if proc.poll() is not None or time.monotonic() > deadline:
            err = proc.stderr.read().decode() if proc.stderr else ""
            raise SystemExit(f"the sandbox did not start: {err}")
        time.sleep(0.1)
    env = dict(os.environ)
    env.pop("AWS_PROFILE", None)
    for line in env_file.read_text().splitlines():
        if line.startswith("export "):
            key, _, value = line.removeprefix("export ").partition("=")
            env[key] = value.strip("'\"")
        elif line.startswith("unset "):
            env.pop(line.removeprefix("unset ").strip(), None)
    print(f"sandbox listening on {env['AWS_ENDPOINT_URL']}", flush=True)
    return proc, env


def bluegreen(args: list[str], env: dict[str, str], cwd: Path) -> int:
    print("$ bluegreen " + " ".join(args), flush=True)
    return subprocess.run([*BLUEGREEN, *args], env=env, cwd=cwd, check=False).returncode


def client(env: dict[str, str], service: str) -> Any:
    """A boto3 client for the sandbox named by the exports in `env`."""
    return boto3.Session(
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region_name=env["AWS_REGION"],
    ).client(service, endpoint_url=env["AWS_ENDPOINT_URL"])  # type: ignore[call-overload]


def push_build(env: dict[str, str], repository: str, tag: str) -> str:
    """What CI does after `docker build`: put a new image into ECR under `tag`."""
    ecr = client(env, "ecr")
    image = ecr.put_image(
        repositoryName=repository,
        imageManifest=image_manifest(f"demo build {tag} {time.time()}"),
        imageManifestMediaType=MANIFEST_MEDIA_TYPE,
        imageTag=tag,
    )["image"]
    uri = ecr.describe_repositories(repositoryNames=[repository])["repositories"][0][
        "repositoryUri"
    ]
    print(f"pushed {uri}:{tag} ({image['imageId']['imageDigest'][:19]}…)", flush=True)
    return f"{uri}:{tag}"


def fire_alarm_during_canary(env: dict[str, str], listener: str, alarm: str) -> threading.Thread:
    """Set `alarm` to ALARM as soon as the canary takes production traffic."""
    elbv2 = client(env, "elbv2")
    cloudwatch = client(env, "cloudwatch")

    def run() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            action = elbv2.describe_listeners(ListenerArns=[listener])["Listeners"][0][
                "DefaultActions"
            ][0]
            groups = action.get("ForwardConfig", {}).get("TargetGroups", [])
            if len([g for g in groups if g.get("Weight", 0) > 0]) > 1:
                cloudwatch.set_alarm_state(
                    AlarmName=alarm,
                    StateValue="ALARM",
                    StateReason="demo: the canary's 5xx rate is above the threshold",
                )
                print(f"\n>>> alarm {alarm} is now ALARM (canary serving errors)\n", flush=True)
                return
            time.sleep(0.1)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="write the stack's files here and keep them")
    parser.add_argument(
        "--port", type=int, default=0, help="where the sandbox listens (0, default: a free port)"
    )
    args = parser.parse_args()
    if not 0 <= args.port <= 65535:
        parser.error(f"--port {args.port}: a port is 0..65535")
    workdir = args.keep or Path(tempfile.mkdtemp(prefix="bluegreen-demo-"))
    workdir.mkdir(parents=True, exist_ok=True)
    stack_dir = workdir / "stack"

    banner("1. Start the sandbox (an offline AWS on 127.0.0.1, 1 simulated minute = 1 second)")
    sandbox, env = start_sandbox(workdir, args.port)
    failures: list[str] = []
    try:
        banner("2. Create a CodeDeploy blue/green stack and its bluegreen.yaml")
        stack_json = workdir / "stack.json"
        with stack_json.open("w") as out:
            code = subprocess.run(
                [*BLUEGREEN, "--output", "json", "sandbox", "stack", "--dir", str(stack_dir)],
                env=env,
                stdout=out,
                check=False,
            ).returncode
        if code != 0:
            raise SystemExit(f"sandbox stack failed with exit {code}")
        # the stack's document, then (JSON mode) the result line
        lines = [json.loads(line) for line in stack_json.read_text().splitlines() if line.strip()]
        stack = next(obj for obj in lines if "cluster" in obj)
        print(
            f"stack: cluster {stack['cluster']}, service {stack['service']}, "
            f"group {stack['deploymentGroup']}; spec in {stack_dir}/bluegreen.yaml",
            flush=True,
        )

        banner("3. Release build v2 with a 10% canary: watched live, succeeds")
        image = push_build(env, stack["repository"], "v2")
        code = bluegreen(["deploy", "--image", f"web={image}"], env, stack_dir)
        print(f"exit code {code} (expected 0)", flush=True)
        if code != 0:
            failures.append(f"release v2 exited {code}, expected 0")

        banner("4. Release build v3: its canary trips the web-5xx alarm, production rolls back")
        image = push_build(env, stack["repository"], "v3")
        alarm = f"{stack['service']}-5xx"
        watcher = fire_alarm_during_canary(env, stack["listeners"]["prod"], alarm)
        code = bluegreen(["deploy", "--image", f"web={image}"], env, stack_dir)
        watcher.join(timeout=5)
        print(f"exit code {code} (expected 1: rolled back)", flush=True)
        if code != 1:
            failures.append(f"release v3 exited {code}, expected 1 (rolled back)")

        banner("5. History: who released what, and how it ended")
        bluegreen(["history"], env, stack_dir)
    finally:
        sandbox.send_signal(signal.SIGTERM)
        try:
            sandbox.wait(timeout=10)
        except subprocess.TimeoutExpired:
            sandbox.kill()
    if failures:
        print("\ndemo FAILED: " + "; ".join(failures), file=sys.stderr)
        return 1
    print(f"\ndemo finished: v2 is live, v3 was rolled back automatically. Files: {workdir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
