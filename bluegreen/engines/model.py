"""What every engine reports, and where: events as they happen, the outcome of a release, and
the one output port every engine prints to."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from bluegreen.errors import ExitCode


@dataclass(frozen=True)
class Outcome:
    deployment_id: str
    status: str  # the original deployment's final status (or InProgress when detached)
    rolled_back: bool
    exit_code: int
    reason: str
    rollback_deployment_id: str | None = None
    task_definition_arn: str | None = None

    @classmethod
    def dry_run(cls, task_definition_arn: str | None = None) -> Outcome:
        """The outcome of a `--dry-run`: nothing started, nothing changed, exit 0."""
        return cls(
            "",
            "DryRun",
            False,
            ExitCode.OK,
            "dry run: nothing was changed",
            None,
            task_definition_arn,
        )

    @classmethod
    def started(cls, deployment_id: str, task_definition_arn: str | None) -> Outcome:
        """The outcome of `--no-wait`: the deployment is created and left running, exit 0."""
        return cls(
            deployment_id,
            "Created",
            False,
            ExitCode.OK,
            f"started; follow it with `bluegreen watch {deployment_id}`",
            None,
            task_definition_arn,
        )

    def result(self) -> dict[str, Any]:
        """The pinned JSON result line."""
        return {
            "event": "result",
            "deploymentId": self.deployment_id,
            "status": self.status,
            "taskDefinitionArn": self.task_definition_arn,
            "rolledBack": self.rolled_back,
            "exitCode": self.exit_code,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class Event:
    kind: str
    data: Mapping[str, Any]
    text: str

    def json(self) -> dict[str, Any]:
        return {"event": self.kind, **self.data}


class Output(Protocol):
    """Where a release prints (cli.context.Out satisfies it): text for people, one JSON object a
    line for machines, or `emit` for either."""

    def text(self, line: str = "") -> None: ...

    def json(self, obj: dict[str, Any]) -> None: ...

    def emit(self, obj: dict[str, Any], text: str | None) -> None: ...


def revision(arn: str | None) -> str:
    """`family:revision` from a task definition ARN (for humans)."""
    return arn.rsplit("/", 1)[-1] if arn else "-"
