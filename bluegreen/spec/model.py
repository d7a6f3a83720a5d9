"""The spec's typed model: what bluegreen.yaml says, after loading."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    pass
from bluegreen.spec.yaml import JsonPath, display_path, locate

DEFAULT_VERIFY_TIMEOUT = 300.0
HOOK_EVENTS = (
    "BeforeInstall",
    "AfterInstall",
    "AfterAllowTestTraffic",
    "BeforeAllowTraffic",
    "AfterAllowTraffic",
)


@dataclass(frozen=True)
class LoadBalancerSpec:
    container_name: str
    container_port: int


@dataclass(frozen=True)
class CodeDeploySpec:
    application: str
    deployment_group: str
    deployment_config: str | None
    hooks: dict[str, str]


@dataclass(frozen=True)
class MetricCheck:
    name: str
    namespace: str
    metric: str
    stat: str
    period: int
    target_group: str
    dimensions: dict[str, str]
    comparison: str
    threshold: float
    relative_to_blue: bool


@dataclass(frozen=True)
class RollbackSpec:
    on_failure: bool
    alarms: list[str]
    metrics: list[MetricCheck]


@dataclass(frozen=True)
class VerifySpec:
    command: list[str]
    timeout_seconds: float


@dataclass(frozen=True)
class NotifySpec:
    """`notify:`: webhooks told of a release's events (start, end, rollback)."""

    webhooks: tuple[str, ...]
    events: frozenset[str]


@dataclass(frozen=True)
class Spec:
    path: Path
    env: str | None
    data: dict[str, Any]
    region: str | None
    cluster: str
    service: str
    task_definition: Path
    appspec: Path | None
    images: dict[str, str]
    pin_digests: bool
    load_balancer: LoadBalancerSpec | None
    codedeploy: CodeDeploySpec
    rollback: RollbackSpec
    verify: VerifySpec | None
    timeout_seconds: float | None
    vars: dict[str, Any]
    windows: dict[str, Any] | None
    folder: Path  # the spec file's folder, symlinks resolved: relative paths start here
    # JSON path -> line in the spec file (env-merged); built on first use (see LazyLines)
    lines: Mapping[JsonPath, int] | None = None
    role_arn: str | None = None  # assume this role for every AWS call (--assume-role wins)
    external_id: str | None = None  # AssumeRole's ExternalId
    notify: NotifySpec | None = None

    @property
    def display(self) -> str:
        return display_path(self.path)

    def where(self, path: JsonPath) -> str:
        """`file:line: json.path` for a place in the (env-merged) document."""
        return locate(self.display, self.lines if self.lines is not None else {}, path)
