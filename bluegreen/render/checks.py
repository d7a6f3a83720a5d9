"""Semantic checks of a rendered task definition."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from bluegreen.errors import (
    BluegreenError,
    SchemaError,
)
from bluegreen.spec.model import Spec
from bluegreen.spec.yaml import (
    JsonPath,
)

if TYPE_CHECKING:
    pass


# --- semantics --------------------------------------------------------------------------------
# Fargate task sizes: cpu units -> allowed memory (MiB).
FARGATE_SIZES: dict[int, list[int]] = {
    256: [512, 1024, 2048],
    512: list(range(1024, 4096 + 1, 1024)),
    1024: list(range(2048, 8192 + 1, 1024)),
    2048: list(range(4096, 16384 + 1, 1024)),
    4096: list(range(8192, 30720 + 1, 1024)),
    8192: list(range(16384, 61440 + 1, 4096)),
    16384: list(range(32768, 122880 + 1, 8192)),
}


def _units(value: Any, unit: str, scale: int) -> int | None:
    """'1024' / 1024 / '1 vCPU' / '2 GB' -> cpu units or MiB; None when unreadable."""
    text = str(value).strip()
    if re.fullmatch(r"\d+", text):
        return int(text)
    m = re.fullmatch(rf"(\d+(?:\.\d+)?)\s*{unit}", text, re.IGNORECASE)
    return round(float(m.group(1)) * scale) if m else None


def check_semantics(
    spec: Spec,
    td: dict[str, Any],
    appspec: dict[str, Any],
    td_where: Callable[[JsonPath], str],
    *,
    given: Callable[[Any], str | None] | None = None,
) -> list[BluegreenError]:
    """What a schema cannot check: load balancer container/port, Fargate sizes, essentials.
    `given` names the variable a value came from: such a value is named, never quoted."""
    problems: list[BluegreenError] = []
    containers = [c for c in td.get("containerDefinitions", []) if isinstance(c, dict)]
    if containers and not any(c.get("essential", True) for c in containers):
        problems.append(
            SchemaError(
                "no container is essential; ECS requires at least one",
                where=td_where(("containerDefinitions",)),
                hint="set `essential: true` on the main container (true is the default)",
            )
        )
    if containers and appspec:
        problems += _load_balancer_port(spec, containers, appspec, td_where)
    if "FARGATE" in (td.get("requiresCompatibilities") or []):
        problems += _fargate(td, td_where, given or (lambda value: None))
    return problems


def _load_balancer_port(
    spec: Spec,
    containers: list[dict[str, Any]],
    appspec: dict[str, Any],
    td_where: Callable[[JsonPath], str],
) -> list[BluegreenError]:
    problems: list[BluegreenError] = []
    by_name = {c.get("name"): c for c in containers}
    props = appspec["Resources"][0]["TargetService"]["Properties"]
    lb = props["LoadBalancerInfo"]

    def lb_where() -> str:
        if spec.load_balancer:
            return spec.where(("load_balancer",))
        return "live service loadBalancers[0]"

    container = by_name.get(lb["ContainerName"])
    if container is None:
        problems.append(
            SchemaError(
                f"load balancer container {lb['ContainerName']!r} is not in the task definition; "
                "its containers: " + ", ".join(str(n) for n in by_name),
                where=lb_where(),
            )
        )
    else:
        ports = [
            p.get("containerPort")
            for p in container.get("portMappings") or []
            if isinstance(p, dict)
        ]
        if lb["ContainerPort"] not in ports:
            index = containers.index(container)
            problems.append(
                SchemaError(
                    f"load balancer port {lb['ContainerPort']} is not in the portMappings of "
                    f"container {lb['ContainerName']!r} (ports: "
                    + (", ".join(str(p) for p in ports) or "none")
                    + ")",
                    where=td_where(("containerDefinitions", index, "portMappings")),
                    hint="add a portMappings entry with that containerPort, or fix "
                    "load_balancer.container_port",
                )
            )
    return problems


def _fargate(
    td: dict[str, Any],
    td_where: Callable[[JsonPath], str],
    given: Callable[[Any], str | None],
) -> list[BluegreenError]:
    problems: list[BluegreenError] = []

    def shown(value: Any) -> str:
        source = given(value)
        return f"from {source} (value hidden)" if source else repr(value)

    if td.get("networkMode") != "awsvpc":
        problems.append(
            SchemaError(
                "Fargate requires networkMode awsvpc",
                where=td_where(("networkMode",)),
            )
        )
    if "cpu" not in td or "memory" not in td:
        missing = " and ".join(k for k in ("cpu", "memory") if k not in td)
        problems.append(
            SchemaError(
                f"Fargate requires task-level {missing}",
                where=td_where(()),
                hint='e.g. "cpu": "256", "memory": "512"',
            )
        )
        return problems
    cpu = _units(td["cpu"], "vcpu", 1024)
    memory = _units(td["memory"], "gb", 1024)
    if cpu not in FARGATE_SIZES:
        problems.append(
            SchemaError(
                f"Fargate cpu {shown(td['cpu'])} is not a valid size; valid: "
                + ", ".join(str(c) for c in FARGATE_SIZES),
                where=td_where(("cpu",)),
            )
        )
    elif memory not in FARGATE_SIZES[cpu]:
        allowed = FARGATE_SIZES[cpu]
        problems.append(
            SchemaError(
                f"Fargate memory {shown(td['memory'])} does not fit cpu {shown(td['cpu'])}; "
                f"with {cpu} cpu "
                f"units memory is {allowed[0]}-{allowed[-1]} MiB"
                + (f" in steps of {allowed[1] - allowed[0]}" if len(allowed) > 2 else "")
                + " ("
                + ", ".join(str(m) for m in allowed[:3])
                + ", ...)",
                where=td_where(("memory",)),
            )
        )
    return problems
