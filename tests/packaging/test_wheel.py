"""The wheel ships the schemas and the AppSpec template: build it, install it into a fresh
virtualenv, and render examples/web from a folder outside the source tree."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

from tests.fixtures.world import EXAMPLE

ROOT = EXAMPLE.parents[1]


def sh(*args: str | Path, cwd: Path) -> str:
    done = subprocess.run(
        [str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr + done.stdout
    return done.stdout


def test_wheel_renders_the_example_outside_the_source_tree(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    sh(sys.executable, "-m", "hatchling", "build", "-t", "wheel", "-d", dist, cwd=ROOT)
    (wheel,) = dist.glob("bluegreen-*.whl")

    venv = tmp_path / "venv"
    sh(sys.executable, "-m", "venv", "--without-pip", venv, cwd=tmp_path)
    python = venv / "bin" / "python"
    sh(
        sys.executable,
        "-m",
        "pip",
        "--python",
        python,
        "install",
        "--no-deps",
        "--no-index",
        "--quiet",
        wheel,
        cwd=tmp_path,
    )
    # Dependencies come from the development environment's site-packages, added as a plain
    # path (its .pth files, among them the editable install of this checkout, are not run).
    site = Path(
        sh(
            python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))", cwd=tmp_path
        ).strip()
    )
    (site / "deps.pth").write_text(sysconfig.get_path("purelib") + "\n")

    work = tmp_path / "elsewhere"
    shutil.copytree(EXAMPLE, work / "web")
    where = sh(
        python,
        "-c",
        "import bluegreen.resources as r; print(r.__file__); "
        "print(r.schemas_dir()); print(r.appspec_templates_dir())",
        cwd=work,
    )
    assert all(line.startswith(str(venv)) for line in where.split()), where

    out = sh(
        venv / "bin" / "bluegreen",
        "-c",
        "web/bluegreen.yaml",
        "--env",
        "staging",
        "-o",
        "json",
        "render",
        "--offline",
        cwd=work,
    )
    doc = json.loads(out.splitlines()[0])
    assert doc["taskDefinition"]["family"] == "web-staging"
    assert doc["appspec"]["Resources"][0]["TargetService"]["Properties"]["LoadBalancerInfo"] == {
        "ContainerName": "web",
        "ContainerPort": 8080,
    }
    # the packaged default AppSpec template, too
    spec = work / "web" / "bluegreen.yaml"
    spec.write_text(spec.read_text().replace("appspec: appspec.yaml.j2\n", ""))
    out = sh(
        venv / "bin" / "bluegreen",
        "-c",
        "web/bluegreen.yaml",
        "-o",
        "json",
        "render",
        "--offline",
        cwd=work,
    )
    assert json.loads(out.splitlines()[0])["appspec"]["Hooks"] == [
        {"AfterAllowTestTraffic": "web-smoke-tests"}
    ]
