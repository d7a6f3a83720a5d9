"""The local deployment journal: append-only JSON lines, fsynced.

Written before and after every mutation, so a killed process loses nothing: `watch`
finds the last in-flight deployment here, and `rollback` the previous revision.
Default path `.bluegreen/journal.jsonl` beside the spec file; `BLUEGREEN_JOURNAL` overrides.

The file is opened without following symlinks (O_NOFOLLOW, and a symlinked `.bluegreen` folder
is refused), must be the user's own regular file, and is created owner-only; a journal that is
refused or cannot be written is a UsageError (exit 2) naming the path, raised by the first
append, which comes before the first AWS write.
"""

from __future__ import annotations

import errno
import json
import os
import stat
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bluegreen.errors import UsageError

ENV_VAR = "BLUEGREEN_JOURNAL"
_HINT = (
    f"remove the link or fix the permissions, or set {ENV_VAR} to a file of your own "
    "(e.g. ~/.bluegreen-journal.jsonl)"
)

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
        self._folder()
        fd = self._open(os.O_RDWR | os.O_APPEND | os.O_CREAT)
        try:
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                line = "\n" + line  # a torn line from a killed writer stays on its own
            os.write(fd, line.encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)
        return record

    def _refused(self, what: str) -> UsageError:
        return UsageError(what, where=str(self.path), hint=_HINT)

    def _folder(self) -> None:
        """The journal's folder, created owner-only when missing; never a symlink."""
        folder = self.path.parent
        try:
            found = folder.lstat()
        except FileNotFoundError:
            try:
                folder.mkdir(mode=0o700, parents=True)
            except FileExistsError:
                pass
            except OSError as exc:
                raise self._refused(
                    f"the journal's folder {folder} cannot be created: {exc.strerror}"
                ) from None
            found = folder.lstat()
        except OSError as exc:
            raise self._refused(
                f"the journal's folder {folder} cannot be read: {exc.strerror}"
            ) from None
        if stat.S_ISLNK(found.st_mode):
            raise self._refused(
                f"the journal's folder {folder} is a symlink, which is not followed"
            )
        if not stat.S_ISDIR(found.st_mode):
            raise self._refused(f"the journal's folder {folder} is not a folder")

    def _open(self, flags: int) -> int:
        """A descriptor of the journal: never through a symlink, only the user's own regular
        file."""
        try:
            fd = os.open(
                self.path,
                flags | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0),
                0o600,
            )
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise self._refused("the journal is a symlink, which is not followed") from None
            if exc.errno == errno.ENOENT and not flags & os.O_CREAT:
                raise
            raise self._refused(f"the journal cannot be opened: {exc.strerror}") from None
        found = os.fstat(fd)
        problem = None
        if not stat.S_ISREG(found.st_mode):
            problem = "the journal is not a regular file"
        elif hasattr(os, "getuid") and found.st_uid != os.getuid():
            problem = f"the journal is owned by another user (uid {found.st_uid})"
        if problem:
            os.close(fd)
            raise self._refused(problem)
        return fd

    def records(self) -> Iterator[dict[str, Any]]:
        """Every readable record, oldest first (a torn last line is skipped)."""
        try:
            fd = self._open(os.O_RDONLY)
        except FileNotFoundError:
            return
        with os.fdopen(fd, encoding="utf-8", errors="replace") as fh:
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


def rolling_releases(journal: Journal, cluster: str, service: str) -> list[dict[str, Any]]:
    """The service's rolling releases as the journal recorded them, oldest first: each CREATED
    record with the RESULT that followed it (ECS may name the deployment only after the update,
    so a result is matched by deployment id, else to the newest open release)."""
    rows: list[dict[str, Any]] = []
    for rec in journal.records():
        if rec.get("strategy") != "rolling":
            continue
        if rec.get("cluster") != cluster or rec.get("service") != service:
            continue
        kind = rec.get("kind")
        if kind == CREATED:
            rows.append({k: v for k, v in rec.items() if k != "kind"})
        elif kind == RESULT:
            dep = rec.get("deploymentId")
            row = next((r for r in reversed(rows) if dep and r.get("deploymentId") == dep), None)
            if row is None:
                row = next((r for r in reversed(rows) if "result" not in r), None)
            if row is None:
                continue
            if dep and not row.get("deploymentId"):
                row["deploymentId"] = dep
            row["result"] = {
                k: rec.get(k) for k in ("status", "rolledBack", "exitCode", "reason", "ts")
            }
    return rows
