"""`bluegreen --help` must stay fast: verb modules may not import the heavy libraries."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("boto3", "botocore", "jinja2", "jsonschema", "ruamel", "moto")

PROBE = """
import json, sys
from bluegreen.cli.app import run
code = run(["--help"])
heavy = sorted(m for m in sys.modules if m.split(".")[0] in {heavy!r})
print("\\nPROBE" + json.dumps({{"code": code, "heavy": heavy}}))
"""


def test_help_imports_no_heavy_library() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=set(HEAVY))],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    line = next(x for x in proc.stdout.splitlines() if x.startswith("PROBE"))
    result = json.loads(line.removeprefix("PROBE"))
    assert result == {"code": 0, "heavy": []}


def test_version_flag() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "bluegreen", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0
    assert proc.stdout.startswith("bluegreen ")
