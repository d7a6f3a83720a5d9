"""The GitHub Action (action.yml): its inputs and outputs, and its steps run with bash as a
runner would run them (GITHUB_OUTPUT, the inputs substituted) against the sandbox."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]

from tests.fixtures.codedeploy import Stack

ROOT = Path(__file__).resolve().parents[2]
ACTION: dict[str, Any] = yaml.safe_load((ROOT / "action.yml").read_text())
EXPRESSION = re.compile(r"\$\{\{\s*([^}]+?)\s*\}\}")


def read_outputs(path: Path) -> dict[str, str]:
    """A GITHUB_OUTPUT file: `name=value` lines and `name<<DELIMITER` blocks."""
    outputs: dict[str, str] = {}
    lines = path.read_text().split("\n") if path.exists() else []
    i = 0
    while i < len(lines):
        line = lines[i]
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            end = lines.index(delimiter, i + 1)
            outputs[name] = "\n".join(lines[i + 1 : end])
            i = end + 1
            continue
        if "=" in line:
            name, value = line.split("=", 1)
            outputs[name] = value
        i += 1
    return outputs


class Runner:
    """Runs the composite action's steps the way a GitHub runner does."""

    def __init__(self, tmp: Path, inputs: dict[str, str]) -> None:
        self.tmp = tmp
        self.inputs = {
            name: str(spec.get("default", "")) for name, spec in ACTION["inputs"].items()
        }
        self.inputs.update(inputs)
        self.steps: dict[str, dict[str, str]] = {}
        self.summary = tmp / "summary.md"
        self.code, self.stdout, self.stderr = 0, "", ""

    def expand(self, text: str) -> str:
        def value(match: re.Match[str]) -> str:
            parts = match.group(1).split(".")
            if parts[0] == "inputs":
                return self.inputs[parts[1]]
            if parts[0] == "steps" and parts[2] == "outputs":
                return self.steps.get(parts[1], {}).get(parts[3], "")
            raise AssertionError(f"expression not handled by the test: {match.group(0)}")

        return EXPRESSION.sub(value, text)

    def run(self, step_id: str, extra_env: dict[str, str] | None = None) -> int:
        (step,) = [s for s in ACTION["runs"]["steps"] if s.get("id") == step_id]
        assert step["shell"] == "bash"
        output = self.tmp / f"output-{step_id}"
        output.write_text("")
        env = dict(os.environ)
        env.update(
            GITHUB_OUTPUT=str(output),
            GITHUB_STEP_SUMMARY=str(self.summary),
            GITHUB_ACTIONS="true",
            RUNNER_TEMP=str(self.tmp),
        )
        env.update({k: self.expand(str(v)) for k, v in step.get("env", {}).items()})
        env.update(extra_env or {})
        cwd = self.expand(step.get("working-directory", "."))
        done = subprocess.run(
            ["bash", "-c", step["run"]],  # what `shell: bash` runs, as a file: bash -e {0}
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        self.stderr = done.stderr
        self.stdout = done.stdout
        self.steps[step_id] = read_outputs(output)
        return done.returncode

    def outputs(self) -> dict[str, str]:
        return {name: self.expand(o["value"]) for name, o in ACTION["outputs"].items()}


def test_inputs_and_outputs() -> None:
    assert ACTION["runs"]["using"] == "composite"
    assert {
        "version",
        "install-from",
        "config",
        "env",
        "image",
        "deployment-config",
        "verify",
        "timeout",
        "wait-until",
        "args",
    } <= set(ACTION["inputs"])
    assert set(ACTION["outputs"]) == {
        "deployment-id",
        "status",
        "task-definition-arn",
        "rolled-back",
        "exit-code",
        "reason",
    }
    for step in ACTION["runs"]["steps"]:
        # inputs reach the scripts through env only: never pasted into the script's text
        assert "${{" not in step["run"], step["id"]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Runner:
    """The install step, from a wheel of this checkout (no index: dependencies come from the
    development environment, as in tests/packaging/test_wheel.py)."""
    tmp = tmp_path_factory.mktemp("action")
    dist = tmp / "dist"
    subprocess.run(
        [sys.executable, "-m", "hatchling", "build", "-t", "wheel", "-d", str(dist)],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    (wheel,) = dist.glob("bluegreen-*.whl")
    runner = Runner(tmp, {"install-from": str(wheel), "python": sys.executable})
    deps = {"PIP_NO_DEPS": "1", "PIP_NO_INDEX": "1", "PYTHONPATH": sysconfig.get_path("purelib")}
    code = runner.run("install", deps)
    assert code == 0, runner.stderr
    venv = Path(runner.steps["install"]["venv"])
    assert venv == tmp / "bluegreen-venv"
    site = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import sysconfig; print(sysconfig.get_path('purelib'))",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    (Path(site) / "deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    assert runner.stdout.startswith("bluegreen ")  # the installed version answered
    return runner


def deploy(installed: Runner, stack: Stack, tmp: Path, **inputs: str) -> Runner:
    runner = Runner(tmp, {"working-directory": str(stack.dir), **inputs})
    runner.steps["install"] = installed.steps["install"]
    runner.code = runner.run("deploy")
    return runner


def test_a_release_sets_the_outputs(installed: Runner, stack: Stack, tmp_path: Path) -> None:
    stack.push("act1")
    runner = deploy(
        installed,
        stack,
        tmp_path,
        image=f"\n  web={stack.image('act1')}  \n\n",
        **{"deployment-config": "all-at-once", "args": "--timeout '20m' --on-cancel rollback"},
    )
    assert runner.code == 0, runner.stderr
    out = runner.outputs()
    assert out["exit-code"] == "0"
    assert (out["status"], out["rolled-back"]) == ("Succeeded", "false")
    assert out["task-definition-arn"] == stack.live_task_definition()
    info = stack.client("codedeploy").get_deployment(deploymentId=out["deployment-id"])
    assert info["deploymentInfo"]["status"] == "Succeeded"
    assert "act1" not in out["task-definition-arn"]
    assert "| status | Succeeded |" in runner.summary.read_text()


def test_bad_input_fails_the_step_with_its_exit_code(
    installed: Runner, stack: Stack, tmp_path: Path
) -> None:
    before = stack.live_task_definition()
    runner = deploy(installed, stack, tmp_path, image="web=not a reference", env="nope")
    assert runner.code == 2, runner.stderr
    out = runner.outputs()
    assert out["exit-code"] == "2"
    assert (out["deployment-id"], out["rolled-back"]) == ("", "false")
    assert out["reason"]
    assert "::error title=bluegreen::" in runner.stderr
    assert stack.live_task_definition() == before
