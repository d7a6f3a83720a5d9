"""Deployment engines, and `select`: the one place that reads a service's deployment controller
and deployment strategy to decide which engine releases it.

- CODE_DEPLOY controller: CodeDeploy blue/green (task sets, the group's traffic shift).
- ECS controller, strategy ROLLING (or none: ECS's default): a rolling update.
- ECS controller, strategy BLUE_GREEN | LINEAR | CANARY: ECS-native blue/green (engines/ecs_native:
  UpdateService starts a ServiceDeployment that bluegreen follows) — never a rolling update,
  which would report "rollout completed" for a deployment ECS itself runs as blue/green.
- EXTERNAL, or anything else: refused (exit 2), naming the controller.

Everything that differs by engine is looked up by the EngineKind `select` returns, with
`pick`: a verb without a way for that engine says so (exit 2) instead of taking another path.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import TYPE_CHECKING, TypeVar

from bluegreen.errors import UnsupportedEngine

if TYPE_CHECKING:
    from bluegreen.aws.model import LiveService
    from bluegreen.aws.session import Aws
    from bluegreen.spec.model import Spec

T = TypeVar("T")


class EngineKind(StrEnum):
    CODEDEPLOY = "codedeploy"
    ROLLING = "rolling"
    ECS_NATIVE = "ecs-native"

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS = {
    EngineKind.CODEDEPLOY: "CodeDeploy blue/green",
    EngineKind.ROLLING: "rolling update (ECS)",
    EngineKind.ECS_NATIVE: "ECS-native blue/green",
}

# deploymentConfiguration.strategy values under the ECS controller that ECS runs as blue/green
NATIVE_STRATEGIES = frozenset({"BLUE_GREEN", "LINEAR", "CANARY"})
# The engines bluegreen can release through today.
SUPPORTED = frozenset({EngineKind.CODEDEPLOY, EngineKind.ROLLING, EngineKind.ECS_NATIVE})


def engine_kind(controller: str | None, strategy: str | None) -> EngineKind | None:
    """The engine for a controller and strategy as DescribeServices names them; None when no
    engine fits (EXTERNAL, an unknown strategy)."""
    controller = controller or "ECS"
    if controller == "CODE_DEPLOY":
        return EngineKind.CODEDEPLOY
    if controller != "ECS":
        return None
    strategy = (strategy or "ROLLING").upper()
    if strategy == "ROLLING":
        return EngineKind.ROLLING
    if strategy in NATIVE_STRATEGIES:
        return EngineKind.ECS_NATIVE
    return None


def select(live: LiveService) -> EngineKind:
    """The engine that releases the live service; UnsupportedEngine (exit 2) naming the
    controller and strategy when bluegreen has none for it."""
    where = f"ECS service {live.cluster}/{live.service}"
    controller = live.deployment_controller or "ECS"
    strategy = live.deployment_strategy
    kind = engine_kind(controller, strategy)
    if kind is None:
        what = f"the {controller} deployment controller" + (
            f" with deployment strategy {strategy}" if controller == "ECS" and strategy else ""
        )
        raise UnsupportedEngine(
            f"the service uses {what}, which bluegreen does not drive",
            where=where,
            hint="bluegreen releases CODE_DEPLOY services (CodeDeploy blue/green) and ECS "
            "services with the ROLLING, BLUE_GREEN, LINEAR or CANARY strategy",
        )
    if kind not in SUPPORTED:
        raise UnsupportedEngine(
            f"the service uses ECS-native blue/green (deploymentController ECS, deployment "
            f"strategy {strategy}), which bluegreen does not drive yet; it refuses rather "
            "than run the release as a rolling update",
            where=where,
            hint="release it with `aws ecs update-service` and watch it in the ECS console, "
            "or use a CODE_DEPLOY or ROLLING service",
        )
    return kind


def engine_of(aws: Aws, spec: Spec) -> EngineKind:
    """The engine that releases the spec's service: `select` on the live service."""
    from bluegreen.aws import ecs

    return select(ecs.describe_service(aws, spec.cluster, spec.service))


def pick(ways: Mapping[EngineKind, T], kind: EngineKind, what: str) -> T:
    """The way `what` is done on engine `kind`; UnsupportedEngine (exit 2) when it has none."""
    try:
        return ways[kind]
    except KeyError:
        raise UnsupportedEngine(
            f"{what} is not available for a service released by {kind.label}",
            hint="supported here: " + ", ".join(k.label for k in ways),
        ) from None
