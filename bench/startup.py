"""Start-up: `bluegreen --help` against the AWS CLI's `aws --version`, side by side in one run.

The AWS CLI is installed into its own venv (bench/.venv-awscli) so that it cannot influence
bluegreen's environment. Reproduce with: `.venv/bin/python -m bench.startup [--runs N]`.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from bench.common import Stats, machine, time_command

ROOT = Path(__file__).resolve().parent.parent
AWSCLI_VENV = ROOT / "bench" / ".venv-awscli"


def awscli() -> Path:
    aws = AWSCLI_VENV / "bin" / "aws"
    if not aws.exists():
        subprocess.run([sys.executable, "-m", "venv", str(AWSCLI_VENV)], check=True)
        subprocess.run(
            [str(AWSCLI_VENV / "bin" / "pip"), "install", "--quiet", "awscli"], check=True
        )
    return aws


def measure(runs: int) -> tuple[Stats, Stats, str]:
    aws = awscli()
    version = (
        subprocess.run(
            [str(aws), "--version"], capture_output=True, text=True, check=True
        ).stdout.strip()
        or "aws"
    )
    bluegreen = [sys.executable, "-m", "bluegreen", "--help"]
    ours = time_command(bluegreen, runs)
    theirs = time_command([str(aws), "--version"], runs)
    return ours, theirs, version


def report(runs: int) -> str:
    ours, theirs, version = measure(runs)
    ratio = ours.median / theirs.median
    return "\n".join(
        [
            "## Start-up",
            "",
            f"Command: `.venv/bin/python -m bench.startup --runs {runs}`  ",
            f"Machine: {machine()}",
            "",
            "| command | median | min | max | runs |",
            "|---|---|---|---|---|",
            f"| `bluegreen --help` | {ours.cells()} |",
            f"| `aws --version` ({version.split()[0]}) | {theirs.cells()} |",
            "",
            f"bluegreen's median is {ratio:.2f}× the AWS CLI's (goal: ≤ 0.5×).",
            "",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10)
    print(report(parser.parse_args().runs))


if __name__ == "__main__":
    main()
