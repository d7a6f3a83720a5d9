"""Task definitions as RegisterTaskDefinition input.

One answer, used by render, diff, deploy and the rolling path, to two questions: which fields of
DescribeTaskDefinition output RegisterTaskDefinition does not take, and whether two task
definitions are the same revision once what ECS adds on describe is set aside (ARN, revision,
status, defaults such as `essential: true`, `cpu: 0` or `protocol: tcp`, empty lists, the host
port of an awsvpc port mapping, sizes as numbers instead of strings, the order of environment
and secrets entries).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

# Fields DescribeTaskDefinition returns that RegisterTaskDefinition does not take.
READ_ONLY_FIELDS = (
    "taskDefinitionArn",
    "revision",
    "status",
    "requiresAttributes",
    "compatibilities",
    "registeredAt",
    "registeredBy",
    "deregisteredAt",
    "deleteRequestedAt",
)

# Container fields ECS fills in on register when the input leaves them out.
_CONTAINER_DEFAULTS: dict[str, Any] = {"essential": True, "cpu": 0}


def to_register_input(described: Mapping[str, Any]) -> dict[str, Any]:
    """A DescribeTaskDefinition `taskDefinition` as RegisterTaskDefinition input."""
    return {k: copy.deepcopy(v) for k, v in described.items() if k not in READ_ONLY_FIELDS}


def _prune(value: Any) -> Any:
    if isinstance(value, dict):
        out = {k: _prune(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v not in (None, [], {}, "")}
    if isinstance(value, list):
        return [_prune(v) for v in value]
    return value


def normalise(td: Mapping[str, Any]) -> dict[str, Any]:
    """The comparable form of a task definition (register input or describe output)."""
    doc = to_register_input(td)
    awsvpc = doc.get("networkMode") == "awsvpc"
    for c in doc.get("containerDefinitions") or []:
        if not isinstance(c, dict):
            continue
        for key, default in _CONTAINER_DEFAULTS.items():
            if c.get(key) == default:
                del c[key]
        for pm in c.get("portMappings") or []:
            if isinstance(pm, dict):
                if pm.get("protocol") == "tcp":
                    del pm["protocol"]
                if awsvpc and pm.get("hostPort") == pm.get("containerPort"):
                    pm.pop("hostPort", None)
        for key in ("environment", "secrets"):
            items = c.get(key)
            if isinstance(items, list):
                c[key] = sorted(items, key=lambda e: str(e.get("name", "")))
    for key in ("cpu", "memory"):  # ECS returns task-level sizes as strings
        if key in doc and isinstance(doc[key], int):
            doc[key] = str(doc[key])
    pruned: dict[str, Any] = _prune(doc)
    return pruned


def same_task_definition(a: Mapping[str, Any] | None, b: Mapping[str, Any] | None) -> bool:
    """Whether registering one would only repeat the other."""
    if a is None or b is None:
        return False
    return normalise(a) == normalise(b)
