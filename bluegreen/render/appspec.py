"""The CodeDeploy AppSpec of a release."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bluegreen.aws.model import LiveService
from bluegreen.errors import (
    SchemaError,
    SpecError,
    raise_problems,
)
from bluegreen.spec.model import HOOK_EVENTS, Spec
from bluegreen.spec.schema import schema_problems
from bluegreen.spec.yaml import (
    JsonPath,
    display_path,
    locate,
)

if TYPE_CHECKING:
    pass
from bluegreen.render.documents import _parse_rendered
from bluegreen.render.templates import _Templates

PLACEHOLDER_TASK_DEFINITION = "<TASK_DEFINITION>"
DEFAULT_APPSPEC = "appspec_templates/ecs.yaml.j2"


# --- AppSpec ----------------------------------------------------------------------------------
def without_load_balancer(spec: Spec, live: LiveService | None) -> bool:
    """True when neither the spec nor the live service names a load balancer: such a service
    needs no AppSpec (ECS accepts no CODE_DEPLOY service without one, so it is never one that
    CodeDeploy deploys)."""
    return live is not None and spec.load_balancer is None and not live.load_balancers


def _appspec(
    spec: Spec, templates: _Templates, live: LiveService | None, task_definition_arn: str | None
) -> dict[str, Any]:
    lb = _load_balancer(spec, live)
    extra: dict[str, Any] = {
        "task_definition_arn": task_definition_arn or PLACEHOLDER_TASK_DEFINITION,
        "load_balancer": lb,
        "platform_version": live.platform_version if live else None,
        "network_configuration": _network(live.network_configuration if live else None),
        "capacity_provider_strategy": [
            {
                key: item[src]
                for key, src in (
                    ("CapacityProvider", "capacityProvider"),
                    ("Base", "base"),
                    ("Weight", "weight"),
                )
                if src in item
            }
            for item in (live.capacity_provider_strategy if live else [])
        ],
        "hooks": {e: spec.codedeploy.hooks[e] for e in HOOK_EVENTS if e in spec.codedeploy.hooks},
    }
    if spec.appspec is not None:
        display = display_path(spec.appspec)
        text = templates.render_file(spec.appspec, extra)
    else:
        from bluegreen.resources import appspec_template

        display = DEFAULT_APPSPEC
        source = appspec_template("ecs.yaml.j2")
        text = templates.render_packaged(DEFAULT_APPSPEC, source, extra)
    is_json = display.endswith((".json.j2", ".json"))
    doc, lines = _parse_rendered(text, display, yaml=not is_json)
    from bluegreen.resources import load_schema

    def where(p: JsonPath) -> str:
        return locate(display, lines, p)

    raise_problems(
        schema_problems(doc, load_schema("appspec"), where, error=SchemaError), subject=display
    )
    result: dict[str, Any] = doc
    return result


def _load_balancer(spec: Spec, live: LiveService | None) -> dict[str, Any]:
    if spec.load_balancer is not None:
        return {
            "container_name": spec.load_balancer.container_name,
            "container_port": spec.load_balancer.container_port,
        }
    if live and live.load_balancers:
        first = live.load_balancers[0]
        if "containerName" in first and "containerPort" in first:
            return {
                "container_name": first["containerName"],
                "container_port": int(first["containerPort"]),
            }
    source = "the live service has no load balancer" if live else "no live service was read"
    raise SpecError(
        f"the AppSpec needs the load balancer's container and port, and {source}",
        where=f"{spec.display}: load_balancer",
        hint="add `load_balancer: {container_name: ..., container_port: ...}` to the spec"
        + (" or drop --offline" if live is None else ""),
    )


def _network(config: dict[str, Any] | None) -> dict[str, Any] | None:
    vpc = (config or {}).get("awsvpcConfiguration")
    if not vpc:
        return None
    out: dict[str, Any] = {"Subnets": list(vpc.get("subnets") or [])}
    if vpc.get("securityGroups"):
        out["SecurityGroups"] = list(vpc["securityGroups"])
    if vpc.get("assignPublicIp"):
        out["AssignPublicIp"] = vpc["assignPublicIp"]
    return {"AwsvpcConfiguration": out}
