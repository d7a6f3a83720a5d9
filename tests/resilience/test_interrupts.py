"""Ctrl-C or SIGTERM at any moment ends the process with exit code 130, never by a signal.

CPython 3.11 marks a KeyboardInterrupt that passes through eval() or exec() of a string as
"unhandled" even when it is caught further up, and a process started as `python -m bluegreen`
then ends itself by SIGINT at exit (it shows -2 instead of 130). Such evals happen while the CLI
works: typer reads the verbs' string annotations when it builds the command, and a lazy import
making a dataclass or a namedtuple execs a string. CI scripts read exit codes (DESIGN.md: 130 =
cancelled), so `main` leaves with the code it decided whenever a signal ended the run."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

INTERRUPTED_INSIDE_EVAL = """
import os, signal, time
from bluegreen.cli import app

def interrupted_run() -> int:
    with app._signals_as_interrupt():
        try:
            eval("os.kill(os.getpid(), signal.{name}) or time.sleep(10)")
        except KeyboardInterrupt:
            return 130
    return 0

app.run = interrupted_run
app.main()
"""


@pytest.mark.parametrize("name", ["SIGTERM", "SIGINT"])
def test_a_signal_caught_inside_eval_still_exits_130(name: str, tmp_path: Path) -> None:
    (tmp_path / "interrupted.py").write_text(INTERRUPTED_INSIDE_EVAL.format(name=name))
    ran = subprocess.run(  # run with -m, as the tests and many users start the CLI
        [sys.executable, "-m", "interrupted"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ran.returncode == 130, (ran.returncode, ran.stderr)
    assert ran.returncode != -getattr(signal, name)
