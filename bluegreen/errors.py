"""One exception hierarchy for the whole tool.

Each class carries a message and an exit code; the CLI entry point
(`bluegreen.cli.app.main`) is the only place that turns them into a process exit.
Messages say *where* (file:line, JSON path or AWS resource), *what*, and *what to do*.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar


class ExitCode:
    """Pinned exit codes (DESIGN.md)."""

    OK = 0
    FAILED = 1  # deployment failed, stopped or rolled back
    USAGE = 2  # bad usage or invalid input; nothing was changed
    TIMEOUT = 3
    AWS = 4  # auth, permissions, throttled beyond retries, missing resource
    CANCELLED = 130


class BluegreenError(Exception):
    """Base of every error the tool reports to its user."""

    exit_code: ClassVar[int] = ExitCode.FAILED
    kind: ClassVar[str] = "error"

    def __init__(self, message: str, *, where: str | None = None, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.where = where
        self.hint = hint

    def render(self) -> str:
        head = f"{self.where}: {self.message}" if self.where else self.message
        return f"{head}\n  hint: {self.hint}" if self.hint else head

    def __str__(self) -> str:
        return self.render()


# --- exit 2: bad usage or invalid input, nothing changed -------------------------------------
class UsageError(BluegreenError):
    exit_code = ExitCode.USAGE
    kind = "usage"


class SpecError(UsageError):
    """The spec file (bluegreen.yaml) is unreadable or invalid."""

    kind = "spec"


class TemplateError(UsageError):
    """A jinja2 template failed to load or render, or rendered to invalid data."""

    kind = "template"


class SchemaError(UsageError):
    """Rendered data violates its JSON Schema."""

    kind = "schema"


class ImageError(UsageError):
    """An image reference is malformed or cannot be found in its registry."""

    kind = "image"


class PreflightError(UsageError):
    """The AWS setup does not fit the requested release; nothing was written."""

    kind = "preflight"


class UnsupportedEngine(UsageError):
    """The service is released by a deployment engine bluegreen does not drive (or not for
    this verb): refused before any write rather than run down another engine's path."""

    kind = "unsupported-engine"


class OutsideWindowError(UsageError):
    kind = "window"


# --- exit 1: the deployment failed, was stopped or was rolled back ----------------------------
class DeploymentFailed(BluegreenError):
    exit_code = ExitCode.FAILED
    kind = "deployment"


class DeploymentActive(BluegreenError):
    """Another deployment is active on the group (not bad input: exit 1)."""

    exit_code = ExitCode.FAILED
    kind = "deployment-active"


# --- exit 3 -----------------------------------------------------------------------------------
class DeploymentTimeout(BluegreenError):
    exit_code = ExitCode.TIMEOUT
    kind = "timeout"


# --- exit 4: AWS said no ------------------------------------------------------------------------
class AwsError(BluegreenError):
    exit_code = ExitCode.AWS
    kind = "aws"


class CredentialsError(AwsError):
    kind = "credentials"


class AccessDenied(AwsError):
    kind = "access-denied"


class Throttled(AwsError):
    kind = "throttled"


class ResourceNotFound(AwsError):
    kind = "not-found"


class ServiceNotFound(ResourceNotFound):
    """The spec's ECS cluster or service does not exist (where the command looked). The CLI adds
    where the names and the region came from (cli/origins.py)."""

    def __init__(
        self, message: str, *, cluster: str, service: str, where: str, hint: str | None = None
    ):
        super().__init__(message, where=where, hint=hint)
        self.cluster = cluster
        self.service = service


# --- exit 130 ---------------------------------------------------------------------------------
class Cancelled(BluegreenError):
    exit_code = ExitCode.CANCELLED
    kind = "cancelled"


class Problems(UsageError):
    """Several bad-input findings reported together (exit 2), each one a BluegreenError."""

    kind = "problems"

    def __init__(self, problems: Sequence[BluegreenError], *, subject: str) -> None:
        self.problems = list(problems)
        lines = [f"{len(self.problems)} problems in {subject}:"]
        lines += [f"  - {p.render()}".replace("\n", "\n    ") for p in self.problems]
        super().__init__("\n".join(lines))


def raise_problems(problems: Sequence[BluegreenError], *, subject: str) -> None:
    """Raise nothing, the one problem, or all of them as `Problems`."""
    if not problems:
        return
    if len(problems) == 1:
        raise problems[0]
    raise Problems(problems, subject=subject)


def flatten(exc: BluegreenError) -> list[BluegreenError]:
    """The individual findings inside an error (itself when it is a single one)."""
    return list(exc.problems) if isinstance(exc, Problems) else [exc]
