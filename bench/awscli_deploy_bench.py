"""Deployment end → process exit: `bluegreen deploy` against the AWS CLI's `aws ecs deploy`.

Both tools release the same demo stack (`sandbox stack`) in one sandbox, taking turns, each run
a new task-definition revision (the `LOG_LEVEL` variable changes) with the deployment group's
own configuration, `CodeDeployDefault.ECSAllAtOnce`, and its 5-minute termination wait, at
time scale 60. The AWS CLI gets the task definition `bluegreen render` produces (same image,
pinned by digest) and an AppSpec file; it waits with its `deployment_successful` waiter.

Measured per run, from the outside (wall clock, epoch seconds):
- end → exit: the process's exit minus the deployment's `completeTime` as CodeDeploy reports
  it (GetDeployment); the sandbox stamps it when its engine records Succeeded;
- start → CreateDeployment: the deployment's `createTime` minus the process's start;
- the whole process, start to exit.

Reproduce with: `.venv/bin/python -m bench.awscli_deploy_bench [--runs 5]`.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING

from bench.common import Stats, stats
from bench.harness import (
    BLUEGREEN,
    Sandbox,
    Section,
    ended,
    must_succeed,
    result_line,
    run_timed,
    sandbox,
)
from bench.startup import awscli

TIME_SCALE = 60.0
CONFIG = "CodeDeployDefault.ECSAllAtOnce"
APPSPEC = """\
version: 0.0
Resources:
  - TargetService:
      Type: AWS::ECS::Service
      Properties:
        TaskDefinition: replaced-by-the-aws-cli
        LoadBalancerInfo:
          ContainerName: web
          ContainerPort: 8080
"""
if TYPE_CHECKING:
    from bluegreen.sandbox.stack import StackResult

CREATED = re.compile(r"Successfully created deployment (d-[A-Z0-9]+)")


Figures = tuple[float, float, float]  # end → exit, start → create, whole process


def _bluegreen_run(sb: Sandbox, stack: StackResult, run: int) -> Figures:
    folder = stack.directory
    argv = [str(BLUEGREEN), "-o", "json", "deploy", "--var", f"log_level=bg-{run}"]
    timed = run_timed([*argv, "--deployment-config", CONFIG], sb.env, cwd=folder)
    must_succeed("bluegreen deploy", timed)
    result = result_line(timed.stdout)
    end = ended(sb.aws(), result["deploymentId"])
    if end.status != "Succeeded":
        raise RuntimeError(f"bluegreen's deployment ended {end.status}")
    return timed.exited - end.completed, end.created - timed.began, timed.exited - timed.began


def _awscli_run(
    sb: Sandbox, stack: StackResult, run: int, aws_bin: Path
) -> tuple[float, float, float]:
    folder = stack.directory
    rendered = run_timed(
        [str(BLUEGREEN), "-o", "json", "render", "--var", f"log_level=aws-{run}"],
        sb.env,
        cwd=folder,
    )
    must_succeed("bluegreen render", rendered)
    taskdef = folder / f"aws-taskdef-{run}.json"
    taskdef.write_text(json.dumps(json.loads(rendered.stdout.splitlines()[0])["taskDefinition"]))
    appspec = folder / "aws-appspec.yaml"
    appspec.write_text(APPSPEC)
    names = ["--cluster", stack.cluster, "--service", stack.service]
    files = ["--task-definition", str(taskdef), "--codedeploy-appspec", str(appspec)]
    timed = run_timed([str(aws_bin), "ecs", "deploy", *names, *files], sb.env, cwd=folder)
    must_succeed("aws ecs deploy", timed)
    found = CREATED.search(timed.stdout)
    if found is None:
        raise RuntimeError(f"no deployment id in the AWS CLI's output:\n{timed.stdout}")
    end = ended(sb.aws(), found.group(1))
    if end.status != "Succeeded":
        raise RuntimeError(f"the AWS CLI's deployment ended {end.status}")
    return timed.exited - end.completed, end.created - timed.began, timed.exited - timed.began


def measure(runs: int) -> tuple[dict[str, list[Stats]], str]:
    """{tool: [end→exit, start→create, whole]} and the AWS CLI's version."""
    aws_bin = awscli()
    version = run_timed([str(aws_bin), "--version"], {}).stdout.split()[0]
    samples: dict[str, list[list[float]]] = {"bluegreen": [[], [], []], "aws": [[], [], []]}
    with sandbox(TIME_SCALE) as sb:
        stack = sb.stack("web")
        for run in range(runs):
            order = ("bluegreen", "aws") if run % 2 == 0 else ("aws", "bluegreen")
            for tool in order:
                figures = (
                    _bluegreen_run(sb, stack, run)
                    if tool == "bluegreen"
                    else _awscli_run(sb, stack, run, aws_bin)
                )
                for into, value in zip(samples[tool], figures, strict=True):
                    into.append(value)
    return {tool: [stats(s) for s in lists] for tool, lists in samples.items()}, version


def report(runs: int) -> str:
    return section(runs).markdown


def section(runs: int) -> Section:
    figures, version = measure(runs)
    bg, aws = figures["bluegreen"], figures["aws"]
    deploy = f"`bluegreen deploy --deployment-config {CONFIG}`"
    theirs = f"`aws ecs deploy` ({version})"
    headline = (
        f"Deployment end → process exit (median): bluegreen {bg[0].median:.2f} s, "
        f"`aws ecs deploy` {aws[0].median:.1f} s"
    )
    markdown = "\n".join(
        [
            "## Deployment end → process exit: `bluegreen deploy` vs `aws ecs deploy`",
            "",
            f"Command: `.venv/bin/python -m bench.awscli_deploy_bench --runs {runs}`",
            "",
            f"The same demo stack, the group's own `{CONFIG}` with its 5-minute termination "
            f"wait, time scale {TIME_SCALE:g} (about 5 s of wall time per deployment); the "
            "tools take turns, each run a new revision. *End* is the deployment's "
            "`completeTime` from GetDeployment.",
            "",
            "| measure | tool | median | min | max | runs |",
            "|---|---|---|---|---|---|",
            f"| deployment end → process exit | {deploy} | {bg[0].cells('s', 1.0)} |",
            f"| deployment end → process exit | {theirs} | {aws[0].cells('s', 1.0)} |",
            f"| process start → CreateDeployment | {deploy} | {bg[1].cells('s', 1.0)} |",
            f"| process start → CreateDeployment | {theirs} | {aws[1].cells('s', 1.0)} |",
            f"| whole process | {deploy} | {bg[2].cells('s', 1.0)} |",
            f"| whole process | {theirs} | {aws[2].cells('s', 1.0)} |",
            "",
            "The AWS CLI waits with its `deployment_successful` waiter at a fixed 15 s delay "
            "(`DEFAULT_DELAY_SEC` in `awscli/customizations/ecs/deploy.py`), so its exit comes "
            "at the first poll after the end: anywhere from 0 to 15 s late, whatever the time "
            "scale. bluegreen polls every second and faster around the expected end of the "
            "termination wait. bluegreen's start → CreateDeployment also holds its preflight "
            "(spec, templates, digest pinning, service, group and listener checks), which the "
            "AWS CLI does not do.",
            "",
            "With an all-at-once config the traffic shift takes no time, so bluegreen cannot "
            "tell how fast the sandbox's clock runs and polls once a second through the "
            "(accelerated) termination wait: its exit follows the end by up to about a second "
            "here. With a canary it infers the clock from the shift and polls at 0.2 s around "
            "the expected end (the release monitor section below); against real AWS, where the "
            "clock is real, it does so for every config.",
            "",
        ]
    )
    return Section(markdown, (headline,))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=5)
    print(report(parser.parse_args().runs))


if __name__ == "__main__":
    main()
