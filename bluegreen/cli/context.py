"""Global options shared by every verb, and the output channel."""

from __future__ import annotations

import json
import os
import sys
import threading
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import typer

from bluegreen.render.known_secrets import redact_known, redact_known_doc

if TYPE_CHECKING:
    from bluegreen.aws.session import Aws
    from bluegreen.spec.model import Spec


class OutputFormat(StrEnum):
    text = "text"
    json = "json"


@dataclass
class Options:
    config: Path = Path("bluegreen.yaml")
    config_given: bool = False
    env: str | None = None
    profile: str | None = None
    region: str | None = None
    output: OutputFormat = OutputFormat.text
    color: bool = True
    live: bool = True  # the live view on a terminal (--no-color turns it off, NO_COLOR does not)
    verbose: int = 0
    assume_role: str | None = None  # --assume-role: overrides the spec's role_arn
    _aws: Aws | None = field(default=None, init=False, repr=False)

    @property
    def json(self) -> bool:
        return self.output is OutputFormat.json

    def aws(self, region: str | None = None, spec: Spec | None = None) -> Aws:
        """The AWS session for this run; the spec's region applies when --region is absent, and
        its role (role_arn, external_id) when --assume-role is."""
        if self._aws is None:
            self._aws = self.new_aws(region, spec)
        return self._aws

    def new_aws(self, region: str | None, spec: Spec | None) -> Aws:
        """A session of this run's profile, in `region` (unless --region), as the role that
        --assume-role or the spec names."""
        from bluegreen.aws.session import Aws

        return Aws(
            profile=self.profile,
            region=self.region or region,
            role_arn=self.role_for(spec),
            external_id=spec.external_id if spec is not None else None,
        )

    def role_for(self, spec: Spec | None) -> str | None:
        """The role to assume: --assume-role, else the spec's role_arn (else none)."""
        return self.assume_role or (spec.role_arn if spec is not None else None)

    def out(self) -> Out:
        return Out(json_mode=self.json, color=self.color)


@dataclass
class Out:
    """Where things are printed.

    In JSON mode stdout carries JSON only, one object per line, the last line the result;
    human text goes to stderr. In text mode human text goes to stdout, warnings to stderr.
    """

    json_mode: bool = False
    color: bool = True
    stdout: IO[str] = field(default_factory=lambda: sys.stdout)
    stderr: IO[str] = field(default_factory=lambda: sys.stderr)

    def text(self, line: str = "") -> None:
        """Human output (stdout in text mode, stderr in JSON mode)."""
        stream = self.stderr if self.json_mode else self.stdout
        print(redact_known(line), file=stream, flush=True)

    def warn(self, line: str) -> None:
        print(f"warning: {redact_known(line)}", file=self.stderr, flush=True)

    def json(self, obj: dict[str, Any]) -> None:
        """One JSON object on one line of stdout (JSON mode only).

        A verb's result line (`"event": "result"`) is held back while the CLI entry point runs
        (`RESULT`): the entry point prints it last, once, with the exit code it decides."""
        if not self.json_mode:
            return
        obj = redact_known_doc(obj)  # secrets template lookups resolved, wherever they landed
        if obj.get("event") == "result" and RESULT.hold(obj):
            return
        print(json.dumps(obj, default=str, sort_keys=False), file=self.stdout, flush=True)

    def emit(self, obj: dict[str, Any], text: str | None) -> None:
        """An event: a JSON line in JSON mode, else `text` (when given) for humans."""
        if self.json_mode:
            self.json(obj)
        elif text is not None:
            self.text(text)


class ResultLine(threading.local):
    """The JSON result line of the running command (`bluegreen.cli.app.run`).

    While `collecting`, a verb's own result line is kept here instead of printed; the entry
    point then prints it once, as the last line, merged with the exit code and reason. One per
    thread: commands run side by side in one process (a library caller, the tests) keep their
    own."""

    def __init__(self) -> None:
        self.collecting = False
        self.fields: dict[str, Any] | None = None

    def start(self) -> None:
        self.collecting, self.fields = True, None

    def hold(self, obj: dict[str, Any]) -> bool:
        """Keep `obj` for the end; False when no command is collecting (print it now)."""
        if not self.collecting:
            return False
        self.fields = {**(self.fields or {}), **obj}
        return True

    def take(self) -> dict[str, Any] | None:
        fields, self.collecting, self.fields = self.fields, False, None
        return fields


RESULT = ResultLine()


def options(ctx: typer.Context) -> Options:
    obj = ctx.find_root().obj
    if not isinstance(obj, Options):  # pragma: no cover - the root callback always sets it
        obj = Options()
        ctx.find_root().obj = obj
    return obj


def color_default() -> bool:
    """Colours on a terminal, unless NO_COLOR is set to a non-empty value (https://no-color.org):
    it turns colours off and leaves the live view on (--no-color turns off both)."""
    return not os.environ.get("NO_COLOR") and sys.stdout.isatty()
