"""The `--verify` command: run (no shell) when test traffic reaches green, bounded in time."""

from __future__ import annotations

import os
import shlex
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING

from bluegreen.errors import UsageError
from bluegreen.render.redact import redact_text

if TYPE_CHECKING:
    from bluegreen.engines.model import Output

TAIL = 400  # characters of output kept for the report


def split_command(command: str | Sequence[str], where: str = "--verify") -> list[str]:
    if isinstance(command, str):
        try:
            argv = shlex.split(command)
        except ValueError as exc:
            raise UsageError(f"cannot split the verify command: {exc}", where=where) from exc
    else:
        argv = [str(a) for a in command]
    if not argv:
        raise UsageError("the verify command is empty", where=where)
    return argv


@dataclass
class VerifyRun:
    """One run of the verify command; `poll()` never blocks."""

    argv: list[str]
    env: Mapping[str, str]
    timeout: float
    clock: Callable[[], float] = time.monotonic
    # each line of the command's output as it comes (redacted), for a live view
    on_output: Callable[[str], None] | None = None
    _proc: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)
    _out: IO[bytes] | None = field(default=None, init=False, repr=False)
    _started: float = field(default=0.0, init=False)
    _result: tuple[bool, str] | None = field(default=None, init=False)
    _reported: bool = field(default=False, init=False)
    _read_at: int = field(default=0, init=False)
    _partial: bytes = field(default=b"", init=False)

    def start(self) -> None:
        env = {**os.environ, **self.env}
        self._started = self.clock()
        # A file, not a pipe: a chatty command never blocks. Closed in poll().
        self._out = tempfile.TemporaryFile()  # noqa: SIM115
        try:
            self._proc = subprocess.Popen(
                self.argv,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=self._out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # our Ctrl-C handling decides about it, not the tty
            )
        except OSError as exc:
            self._result = (False, f"cannot run {self.argv[0]}: {exc.strerror or exc}")

    def poll(self) -> tuple[bool, str] | None:
        """The result once, when the command has ended (or timed out); else None."""
        if self._reported:
            return None
        if self._result is None and self._proc is not None:
            code = self._proc.poll()
            self._stream(final=code is not None)
            if code is None and self.clock() - self._started >= self.timeout:
                self._proc.kill()
                self._proc.wait()
                self._result = (False, f"timed out after {self.timeout:g}s")
            elif code is not None:
                out = b""
                if self._out is not None:
                    self._out.seek(0)
                    out = self._out.read()
                    self._out.close()
                # credentials in the output (a verbose curl, a log line) never reach the report
                tail = redact_text(out.decode("utf-8", "replace")).strip()[-TAIL:]
                detail = f"exit {code}" + (f": {tail}" if tail else "")
                self._result = (code == 0, detail)
        if self._result is not None:
            self._reported = True
            return self._result
        return None

    def _stream(self, *, final: bool) -> None:
        """Hand the output's new complete lines to `on_output` (the rest on the `final` call).
        pread: the command writes through the same open file, whose offset must not move."""
        if self.on_output is None or self._out is None:
            return
        while chunk := os.pread(self._out.fileno(), 65536, self._read_at):
            self._read_at += len(chunk)
            self._partial += chunk
        *lines, self._partial = self._partial.split(b"\n")
        if final and self._partial:
            lines, self._partial = [*lines, self._partial], b""
        for line in lines:
            self.on_output(redact_text(line.decode("utf-8", "replace").rstrip("\r")))

    def kill(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()


def streamed(out: Output, deployment_id: str) -> Callable[[str], None]:
    """`on_output` that hands each verify output line (redacted by VerifyRun) to the output
    port as a `verifyOutput` event: the live panel shows it as it comes, JSON gets the event;
    plain text leaves it out (the result names the last lines)."""

    def line(text: str) -> None:
        out.emit({"event": "verifyOutput", "deploymentId": deployment_id, "line": text}, None)

    return line
