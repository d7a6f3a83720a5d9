"""A docker-compose service as an ECS container definition (for `init --from-compose`).

Supported keys: image, ports, environment, command, entrypoint, healthcheck,
deploy.resources (limits cpus/memory, reservations memory), working_dir, user, labels.
Every other key is reported by its path (`services.web.volumes`), never silently dropped.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bluegreen.errors import SpecError

SUPPORTED = {
    "image",
    "ports",
    "environment",
    "command",
    "entrypoint",
    "healthcheck",
    "deploy",
    "working_dir",
    "user",
    "labels",
}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(us|ms|s|m|h)")
_MEMORY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([bkmg]?)i?b?\s*$", re.IGNORECASE)
_PORT = re.compile(
    r"^(?:(?P<ip>\[[^\]]+\]|[0-9.]+):)?(?:(?P<published>[0-9-]+)?:)?(?P<target>[0-9-]+)"
    r"(?:/(?P<protocol>tcp|udp))?$"
)

# Fargate task sizes: cpu units -> allowed memory (MiB)
FARGATE_SIZES: dict[int, tuple[int, ...]] = {
    256: (512, 1024, 2048),
    512: tuple(range(1024, 4097, 1024)),
    1024: tuple(range(2048, 8193, 1024)),
    2048: tuple(range(4096, 16385, 1024)),
    4096: tuple(range(8192, 30721, 1024)),
    8192: tuple(range(16384, 61441, 4096)),
    16384: tuple(range(32768, 122881, 8192)),
}


@dataclass
class ComposeService:
    name: str
    image: str | None
    container: dict[str, Any]  # container definition without image
    environment: dict[str, str]
    task_cpu: str
    task_memory: str
    unsupported: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def load_compose(path: Path, service: str | None) -> ComposeService:
    from bluegreen.spec.yaml import load_yaml

    doc = load_yaml(path, what="compose file")
    where = str(path)
    if not isinstance(doc, Mapping) or not isinstance(doc.get("services"), Mapping):
        raise SpecError("has no `services` mapping", where=where, hint="is it a compose file?")
    services: Mapping[str, Any] = doc["services"]
    if not services:
        raise SpecError("`services` is empty", where=f"{where}: services")
    if service is None:
        if len(services) > 1:
            raise SpecError(
                f"has {len(services)} services: " + ", ".join(sorted(services)),
                where=f"{where}: services",
                hint="choose one with --service NAME",
            )
        service = next(iter(services))
    if service not in services:
        raise SpecError(
            f"no service {service!r} (services: {', '.join(sorted(services))})",
            where=f"{where}: services",
        )
    body = services[service]
    if not isinstance(body, Mapping):
        raise SpecError("must be a mapping", where=f"{where}: services.{service}")
    return convert_service(service, body, f"{where}: services.{service}")


def convert_service(name: str, body: Mapping[str, Any], where: str) -> ComposeService:
    unsupported = [f"services.{name}.{k}" for k in body if k not in SUPPORTED]
    notes: list[str] = []
    c: dict[str, Any] = {"name": name, "essential": True}
    image = body.get("image")
    if image is not None and not isinstance(image, str):
        raise SpecError("must be a string", where=f"{where}.image")
    if image is None:
        notes.append(f"services.{name} has no image (only build?): set images.{name} in the spec")
    if "ports" in body:
        c["portMappings"] = _ports(body["ports"], f"{where}.ports", unsupported, name, notes)
    env = _environment(body.get("environment"), f"{where}.environment")
    for key in ("command", "entrypoint"):
        if body.get(key) is not None:
            target = "command" if key == "command" else "entryPoint"
            c[target] = _argv(body[key], f"{where}.{key}")
    if body.get("working_dir") is not None:
        c["workingDirectory"] = str(body["working_dir"])
    if body.get("user") is not None:
        c["user"] = str(body["user"])
    if body.get("labels") is not None:
        c["dockerLabels"] = _labels(body["labels"], f"{where}.labels")
    if body.get("healthcheck") is not None:
        hc = _healthcheck(body["healthcheck"], f"{where}.healthcheck", unsupported, name)
        if hc is not None:
            c["healthCheck"] = hc
    cpu_units, mem_mib = _resources(body.get("deploy"), f"{where}.deploy", unsupported, name, c)
    task_cpu, task_mem = fargate_size(cpu_units, mem_mib)
    return ComposeService(
        name=name,
        image=image,
        container=c,
        environment=env,
        task_cpu=str(task_cpu),
        task_memory=str(task_mem),
        unsupported=unsupported,
        notes=notes,
    )


def fargate_size(cpu: int | None, memory: int | None) -> tuple[int, int]:
    """The smallest Fargate (cpu, memory) pair that fits the container's needs."""
    for units, memories in FARGATE_SIZES.items():
        if cpu is not None and units < cpu:
            continue
        for mib in memories:
            if memory is None or mib >= memory:
                return units, mib
    raise SpecError(
        f"no Fargate task size fits cpu {cpu} units and memory {memory} MiB",
        hint="lower deploy.resources.limits",
    )


def _ports(
    raw: Any, where: str, unsupported: list[str], name: str, notes: list[str]
) -> list[dict[str, Any]]:
    if not isinstance(raw, list):
        raise SpecError("must be a list", where=where)
    out: list[dict[str, Any]] = []
    for i, item in enumerate(raw):
        at = f"{where}[{i}]"
        if isinstance(item, Mapping):
            target = item.get("target")
            protocol = str(item.get("protocol", "tcp"))
            published = item.get("published")
            extra = sorted(set(item) - {"target", "published", "protocol", "mode", "name"})
            unsupported.extend(f"services.{name}.ports[{i}].{k}" for k in extra)
        else:
            m = _PORT.match(str(item).strip())
            if m is None:
                raise SpecError(f"cannot read port {item!r}", where=at)
            if "-" in m.group("target") or "-" in (m.group("published") or ""):
                unsupported.append(f"services.{name}.ports[{i}] (port range {item})")
                continue
            target = m.group("target")
            published = m.group("published")
            protocol = m.group("protocol") or "tcp"
            if m.group("ip"):
                notes.append(f"services.{name}.ports[{i}]: host address {m.group('ip')} ignored")
        try:
            port = int(str(target))
        except ValueError as exc:
            raise SpecError(f"port target {target!r} is not a number", where=at) from exc
        if protocol not in ("tcp", "udp"):
            raise SpecError(f"protocol {protocol!r} is not tcp or udp", where=at)
        if published is not None and str(published) != str(port):
            notes.append(
                f"services.{name}.ports[{i}]: published port {published} dropped; with awsvpc "
                f"the host port is the container port {port} (route through the load balancer)"
            )
        mapping: dict[str, Any] = {"containerPort": port, "hostPort": port}
        if protocol != "tcp":
            mapping["protocol"] = protocol
        out.append(mapping)
    return out


def _environment(raw: Any, where: str) -> dict[str, str]:
    if raw is None:
        return {}
    out: dict[str, str] = {}
    if isinstance(raw, Mapping):
        for k, v in raw.items():
            out[str(k)] = "" if v is None else _scalar(v)
        return out
    if isinstance(raw, list):
        for i, item in enumerate(raw):
            key, sep, value = str(item).partition("=")
            if not key:
                raise SpecError(f"cannot read {item!r}", where=f"{where}[{i}]")
            out[key] = value if sep else ""
        return out
    raise SpecError("must be a mapping or a list of NAME=VALUE", where=where)


def _scalar(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _argv(raw: Any, where: str) -> list[str]:
    if isinstance(raw, str):
        try:
            return shlex.split(raw)
        except ValueError as exc:
            raise SpecError(f"cannot split {raw!r}: {exc}", where=where) from exc
    if isinstance(raw, list):
        return [str(x) for x in raw]
    raise SpecError("must be a string or a list", where=where)


def _labels(raw: Any, where: str) -> dict[str, str]:
    if isinstance(raw, Mapping):
        return {str(k): _scalar(v) for k, v in raw.items()}
    if isinstance(raw, list):
        out: dict[str, str] = {}
        for item in raw:
            key, _, value = str(item).partition("=")
            out[key] = value
        return out
    raise SpecError("must be a mapping or a list of NAME=VALUE", where=where)


def duration_seconds(raw: Any, where: str) -> int:
    """Compose durations (`1m30s`, `500ms`, or a number of seconds) as whole seconds."""
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        return round(raw)
    text = str(raw).strip()
    if not text or _DURATION.sub("", text):
        raise SpecError(f"{raw!r} is not a duration such as 30s or 1m30s", where=where)
    scale = {"us": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}
    return round(sum(float(n) * scale[u] for n, u in _DURATION.findall(text)))


def _healthcheck(raw: Any, where: str, unsupported: list[str], name: str) -> dict[str, Any] | None:
    if not isinstance(raw, Mapping):
        raise SpecError("must be a mapping", where=where)
    if raw.get("disable"):
        return None
    test = raw.get("test")
    if test is None:
        raise SpecError("has no test", where=where)
    if isinstance(test, str):
        command = ["CMD-SHELL", test]
    elif isinstance(test, list) and test and str(test[0]) in ("CMD", "CMD-SHELL"):
        command = [str(x) for x in test]
    elif isinstance(test, list) and test and str(test[0]) == "NONE":
        return None
    else:
        raise SpecError(f"test {test!r} must start with CMD or CMD-SHELL", where=f"{where}.test")
    hc: dict[str, Any] = {"command": command}
    keys = {
        "interval": "interval",
        "timeout": "timeout",
        "start_period": "startPeriod",
    }
    for key, target in keys.items():
        if raw.get(key) is not None:
            hc[target] = duration_seconds(raw[key], f"{where}.{key}")
    if raw.get("retries") is not None:
        hc["retries"] = int(raw["retries"])
    extra = sorted(set(raw) - {*keys, "test", "retries", "disable"})
    unsupported.extend(f"services.{name}.healthcheck.{k}" for k in extra)
    return hc


def memory_mib(raw: Any, where: str) -> int:
    """Compose memory (`512M`, `1g`, `1.5GiB`, bytes as a number) in MiB, rounded up."""
    if isinstance(raw, int) and not isinstance(raw, bool):
        return max(1, -(-raw // (1024 * 1024)))
    m = _MEMORY.match(str(raw))
    if m is None:
        raise SpecError(f"{raw!r} is not a memory size such as 512M or 1G", where=where)
    value, unit = float(m.group(1)), m.group(2).lower()
    mib = {"": value / 1024 / 1024, "b": value / 1024 / 1024, "k": value / 1024, "m": value}.get(
        unit, value * 1024
    )
    return max(1, int(-(-mib // 1)))


def _resources(
    raw: Any, where: str, unsupported: list[str], name: str, c: dict[str, Any]
) -> tuple[int | None, int | None]:
    if raw is None:
        return None, None
    if not isinstance(raw, Mapping):
        raise SpecError("must be a mapping", where=where)
    unsupported.extend(f"services.{name}.deploy.{k}" for k in raw if k != "resources")
    res = raw.get("resources") or {}
    if not isinstance(res, Mapping):
        raise SpecError("must be a mapping", where=f"{where}.resources")
    unsupported.extend(
        f"services.{name}.deploy.resources.{k}" for k in res if k not in ("limits", "reservations")
    )
    limits = res.get("limits") or {}
    reservations = res.get("reservations") or {}
    cpu: int | None = None
    memory: int | None = None
    if limits.get("cpus") is not None:
        try:
            cpus = float(limits["cpus"])
        except ValueError as exc:
            raise SpecError(
                f"cpus {limits['cpus']!r} is not a number", where=f"{where}.resources.limits.cpus"
            ) from exc
        cpu = round(cpus * 1024)
        c["cpu"] = cpu
    if limits.get("memory") is not None:
        memory = memory_mib(limits["memory"], f"{where}.resources.limits.memory")
        c["memory"] = memory
    if reservations.get("memory") is not None:
        c["memoryReservation"] = memory_mib(
            reservations["memory"], f"{where}.resources.reservations.memory"
        )
    unsupported.extend(
        f"services.{name}.deploy.resources.limits.{k}"
        for k in limits
        if k not in ("cpus", "memory")
    )
    unsupported.extend(
        f"services.{name}.deploy.resources.reservations.{k}" for k in reservations if k != "memory"
    )
    return cpu, memory
