"""The local deployment journal: append-only JSON lines, fsynced.

Written before and after every mutation, so a killed process loses nothing: `watch`
finds the last in-flight deployment here, and `rollback` the previous revision.
Default path `.bluegreen/journal.jsonl` beside the spec file; `BLUEGREEN_JOURNAL` overrides.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ENV_VAR = "BLUEGREEN_JOURNAL"

# Record kinds
INTENT = "intent"  # about to call a mutating API
CREATED = "created"  # CreateDeployment returned an id
STOP = "stop"  # StopDeployment asked
APPROVE = "approve"  # ContinueDeployment asked
RESULT = "result"  # the deployment ended (as observed)
DONE = "done"  # a mutating call (named by `action`) returned
REGISTERED = "registered"  # a task definition revision was registered


def journal_path(spec_path: Path | None) -> Path:
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env)
    base = spec_path.resolve().parent if spec_path is not None else Path.cwd()
    return base / ".bluegreen" / "journal.jsonl"


@dataclass
class Journal:
    path: Path

    def append(self, kind: str, **fields: Any) -> dict[str, Any]:
        record: dict[str, Any] = {"ts": round(time.time(), 3), "kind": kind, **fields}
        line = json.dumps(record, default=str, sort_keys=False) + "\n"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                line = "\n" + line  # a torn line from a killed writer stays on its own
            os.write(fd, line.encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)
        return record

    def records(self) -> Iterator[dict[str, Any]]:
        """Every readable record, oldest first (a torn last line is skipped)."""
        try:
            with self.path.open(encoding="utf-8") as fh:
                for line in fh:
                    line = line.strip()
                    if not line:
                        continue
                    try:
                        obj = json.loads(line)
                    except json.JSONDecodeError:
                        continue
                    if isinstance(obj, dict):
                        yield obj
        except FileNotFoundError:
            return

    def deployments(self) -> dict[str, dict[str, Any]]:
        """Deployment id -> merged view of its records (created fields, then result)."""
        merged: dict[str, dict[str, Any]] = {}
        for rec in self.records():
            dep = rec.get("deploymentId")
            if not isinstance(dep, str):
                continue
            view = merged.setdefault(dep, {"deploymentId": dep})
            kind = rec.get("kind")
            if kind == CREATED:
                view.update({k: v for k, v in rec.items() if k != "kind"})
                view["createdTs"] = rec.get("ts")
            elif kind == RESULT:
                view["result"] = {k: v for k, v in rec.items() if k not in ("kind", "deploymentId")}
            elif kind == STOP:
                view["stopRequested"] = rec.get("reason")
        return merged

    def last_in_flight(self, match: Mapping[str, Any] | None = None) -> str | None:
        """The most recently created deployment without a recorded result."""
        for dep, view in reversed(list(self.deployments().items())):  # newest first
            if "result" in view or "createdTs" not in view:
                continue
            if match and any(view.get(k) != v for k, v in match.items()):
                continue
            return str(dep)
        return None

    def succeeded(self, match: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """Deployments recorded as succeeded, oldest first."""
        out = []
        for view in self.deployments().values():
            res = view.get("result") or {}
            if res.get("status") != "Succeeded" or res.get("rolledBack"):
                continue
            if match and any(view.get(k) != v for k, v in match.items()):
                continue
            out.append(view)
        return out
