"""Test helpers shared by several test folders: the in-process CLI runner and its result, the
reader of a JSON-lines journal, and the wait for a condition the sandbox reaches in its time."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class Ran:
    code: int
    stdout: str
    stderr: str

    @property
    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stdout.splitlines() if line.strip()]

    @property
    def result(self) -> dict[str, Any]:
        return self.lines[-1]

    def events(self, kind: str) -> list[dict[str, Any]]:
        return [o for o in self.lines if o.get("event") == kind]


def run_cli(*args: str) -> Ran:
    """Run `bluegreen ARGS` in this process and capture its exit code, stdout and stderr."""
    from bluegreen.cli.app import run

    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = run(list(args))
    return Ran(code, out.getvalue(), err.getvalue())


def records(path: Path) -> list[dict[str, Any]]:
    """The records of the JSON-lines journal at `path` (none when it does not exist)."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


# Long enough for a loaded machine (the suite runs on two workers side by side): this bounds a
# wait for something that must happen, it never decides how fast it happened (tests that time
# a thing measure it themselves).
WAIT_SECONDS = 30.0


def wait_for(
    predicate: Callable[[], Any],
    timeout: float = WAIT_SECONDS,
    what: str = "",
    *,
    every: float = 0.02,
    tolerate: bool = False,
) -> Any:
    """Poll `predicate` until it returns something true, and return that; AssertionError
    naming `what` when `timeout` seconds pass first. `tolerate`: an exception counts as not
    yet (the resource may not exist yet)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except Exception:
            if not tolerate:
                raise
            value = None
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what or predicate}")
