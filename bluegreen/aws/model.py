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
