"""The ECS AppSpec sent inline with CreateDeployment: parsed (YAML or JSON, keys matched
case-insensitively, as public clients send them) and checked, with errors naming the path."""

from __future__ import annotations

import hashlib
from typing import Any

from bluegreen.sandbox.codedeploy.models import HOOK_EVENTS, ApiError, AppSpec, JsonDict


def _invalid(path: str, message: str) -> ApiError:
    return ApiError("InvalidRevisionException", f"AppSpec {path}: {message}")


def _get(mapping: JsonDict, key: str) -> Any:
    """Case-insensitive key lookup."""
    wanted = key.lower()
    for k, v in mapping.items():
        if isinstance(k, str) and k.lower() == wanted:
            return v
    return None


def _mapping(value: Any, path: str) -> JsonDict:
    if not isinstance(value, dict):
        raise _invalid(path, "must be a mapping")
    return value


def _text(value: Any, path: str) -> str:
    if not isinstance(value, str) or not value:
        raise _invalid(path, "must be a non-empty string")
    return value


def parse_revision(revision: Any) -> tuple[JsonDict, AppSpec]:
    """Validate a CreateDeployment `revision` and return it (as echoed) and the AppSpec."""
    if not isinstance(revision, dict) or not revision:
        raise ApiError("RevisionRequiredException", "The revision must be specified.")
    kind = revision.get("revisionType")
    if kind == "AppSpecContent":
        content_field = revision.get("appSpecContent")
    elif kind == "String":
        content_field = revision.get("string")
    else:
        raise ApiError(
            "InvalidRevisionException",
            f"revisionType {kind!r} is not supported for the ECS compute platform; "
            "use AppSpecContent",
        )
    if not isinstance(content_field, dict) or not isinstance(content_field.get("content"), str):
        raise ApiError("InvalidRevisionException", "The AppSpec content must be specified.")
    content: str = content_field["content"]
    digest = hashlib.sha256(content.encode()).hexdigest()
    given = content_field.get("sha256")
    if given is not None and given.lower() != digest:
        raise ApiError(
            "InvalidRevisionException",
            f"The sha256 of the AppSpec content ({digest}) does not match the sha256 given "
            f"({given}).",
        )
    echoed = {"revisionType": kind, "appSpecContent": {"content": content, "sha256": digest}}
    if kind == "String":
        echoed = {"revisionType": kind, "string": {"content": content, "sha256": digest}}
    return echoed, parse_appspec(content)


def parse_appspec(content: str) -> AppSpec:
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    try:
        doc = YAML(typ="safe", pure=True).load(content)
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "content"
        raise _invalid(
            where, f"is not valid YAML or JSON ({getattr(exc, 'problem', exc)})"
        ) from exc
    doc = _mapping(doc, "document")
    version = _get(doc, "version")
    if version is None or str(version) not in ("0.0", "0"):
        raise _invalid("version", f"must be 0.0, got {version!r}")
    resources = _get(doc, "Resources")
    if not isinstance(resources, list) or len(resources) != 1:
        raise _invalid("Resources", "must be a list with exactly one TargetService")
    entry = _mapping(resources[0], "Resources[0]")
    if len(entry) != 1:
        raise _invalid("Resources[0]", "must have exactly one key (the target's name)")
    ((name, target),) = entry.items()
    base = f"Resources[0].{name}"
    target = _mapping(target, base)
    kind = _get(target, "Type")
    if kind != "AWS::ECS::Service":
        raise _invalid(f"{base}.Type", f"must be AWS::ECS::Service, got {kind!r}")
    props = _mapping(_get(target, "Properties"), f"{base}.Properties")
    task_definition = _text(_get(props, "TaskDefinition"), f"{base}.Properties.TaskDefinition")
    lb_path = f"{base}.Properties.LoadBalancerInfo"
    lb = _mapping(_get(props, "LoadBalancerInfo"), lb_path)
    container_name = _text(_get(lb, "ContainerName"), f"{lb_path}.ContainerName")
    port = _get(lb, "ContainerPort")
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise _invalid(f"{lb_path}.ContainerPort", f"must be a port number, got {port!r}")
    platform = _get(props, "PlatformVersion")
    network = _network(_get(props, "NetworkConfiguration"), f"{base}.Properties")
    capacity = _capacity(_get(props, "CapacityProviderStrategy"), f"{base}.Properties")
    return AppSpec(
        task_definition=task_definition,
        container_name=container_name,
        container_port=port,
        platform_version=str(platform) if platform is not None else None,
        network_configuration=network,
        capacity_provider_strategy=capacity,
        hooks=_hooks(_get(doc, "Hooks")),
    )


def _network(value: Any, base: str) -> JsonDict | None:
    if value is None:
        return None
    path = f"{base}.NetworkConfiguration"
    aws = _mapping(
        _get(_mapping(value, path), "AwsvpcConfiguration"), f"{path}.AwsvpcConfiguration"
    )
    out: JsonDict = {}
    for key, api_key in (("Subnets", "subnets"), ("SecurityGroups", "securityGroups")):
        items = _get(aws, key)
        if items is None:
            continue
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
            raise _invalid(f"{path}.AwsvpcConfiguration.{key}", "must be a list of strings")
        out[api_key] = items
    public = _get(aws, "AssignPublicIp")
    if public is not None:
        if public not in ("ENABLED", "DISABLED"):
            raise _invalid(f"{path}.AwsvpcConfiguration.AssignPublicIp", "must be ENABLED|DISABLED")
        out["assignPublicIp"] = public
    return {"awsvpcConfiguration": out}


def _capacity(value: Any, base: str) -> list[JsonDict] | None:
    if value is None:
        return None
    path = f"{base}.CapacityProviderStrategy"
    if not isinstance(value, list):
        raise _invalid(path, "must be a list")
    out = []
    for i, item in enumerate(value):
        item = _mapping(item, f"{path}[{i}]")
        entry: JsonDict = {
            "capacityProvider": _text(
                _get(item, "CapacityProvider"), f"{path}[{i}].CapacityProvider"
            )
        }
        for key in ("Base", "Weight"):
            number = _get(item, key)
            if number is not None:
                if isinstance(number, bool) or not isinstance(number, int):
                    raise _invalid(f"{path}[{i}].{key}", "must be an integer")
                entry[key.lower()] = number
        out.append(entry)
    return out


def _hooks(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, list):
        raise _invalid("Hooks", "must be a list of one-key mappings")
    hooks: dict[str, str] = {}
    for i, item in enumerate(value):
        item = _mapping(item, f"Hooks[{i}]")
        for event, function in item.items():
            match = next((e for e in HOOK_EVENTS if e.lower() == str(event).lower()), None)
            if match is None:
                raise _invalid(
                    f"Hooks[{i}].{event}",
                    f"is not an ECS lifecycle hook; expected one of {', '.join(HOOK_EVENTS)}",
                )
            hooks[match] = _text(function, f"Hooks[{i}].{event}")
    return hooks
