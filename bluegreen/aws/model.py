"""Typed values the AWS gateways return and the layers above share."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class LiveService:
    """The ECS service as DescribeServices answers it (ECS API shapes, camelCase): what
    rendering needs, and what the engine selection reads (controller and strategy)."""

    cluster: str
    service: str
    task_definition_arn: str | None
    deployment_controller: str
    load_balancers: list[dict[str, Any]]
    network_configuration: dict[str, Any] | None
    platform_version: str | None
    capacity_provider_strategy: list[dict[str, Any]]
    # deploymentConfiguration.strategy (ROLLING | BLUE_GREEN | LINEAR | CANARY); None when the
    # service's answer carries none (ROLLING, the ECS default, or an older API answer)
    deployment_strategy: str | None = None
    deployment_configuration: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ContainerRun:
    """One container of a task as DescribeTasks reports it."""

    name: str
    last_status: str | None
    exit_code: int | None  # None until the container stopped (or when it never started)
    reason: str | None  # why it stopped, when ECS gives one (e.g. CannotPullContainerError)


@dataclass(frozen=True)
class TaskRun:
    """A task as RunTask, DescribeTasks or StopTask answer it: its state and its containers."""

    task_arn: str
    task_definition_arn: str | None
    last_status: str | None
    desired_status: str | None
    stop_code: str | None
    stopped_reason: str | None
    containers: tuple[ContainerRun, ...]
    overrides: dict[str, Any] = field(default_factory=dict)

    @property
    def stopped(self) -> bool:
        return self.last_status == "STOPPED"
