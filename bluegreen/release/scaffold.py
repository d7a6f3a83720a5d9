"""`init`: write a starting `bluegreen.yaml`, `taskdef.json.j2` and `appspec.yaml.j2`.

Three sources: a generic example, a live ECS service (its task definition as register input,
images factored out into `images:`, environment values moved to `vars` unless they look like
secrets) or a docker-compose service. The task definition template is JSON with jinja2
expressions that render through `tojson`, so any value stays valid JSON.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bluegreen.errors import UsageError

if TYPE_CHECKING:
    from bluegreen.aws.model import LiveService
    from bluegreen.aws.session import Aws

SPEC_FILE = "bluegreen.yaml"
TASKDEF_FILE = "taskdef.json.j2"
APPSPEC_FILE = "appspec.yaml.j2"

_SECRET_NAME = re.compile(
    r"(secret|passw(or)?d|pwd|token|api[_-]?key|private[_-]?key|credential|access[_-]?key|"
    r"auth|session[_-]?key|signing[_-]?key|dsn|connection[_-]?string)",
    re.IGNORECASE,
)
_RESERVED = {
    "images",
    "vars",
    "env",
    "cluster",
    "service",
    "region",
    "task_definition_arn",
    "load_balancer",
    "hooks",
    "platform_version",
    "network_configuration",
    "capacity_provider_strategy",
}
_IDENT = re.compile(r"[^a-z0-9_]")


@dataclass
class Model:
    """What the files are written from."""

    cluster: str
    service: str
    region: str | None
    task_definition: dict[str, Any]  # register input; images and env values as placeholders
    images: dict[str, str] = field(default_factory=dict)
    vars: dict[str, str] = field(default_factory=dict)
    source: str = "example"
    load_balancer: tuple[str, int] | None = None  # (container, port) the AppSpec routes to
    notes: list[str] = field(default_factory=list)
    unsupported: list[str] = field(default_factory=list)
    rollback: RollbackModel | None = None  # the deployment group's, for `rollback:`


@dataclass(frozen=True)
class RollbackModel:
    """The `rollback:` block carried over from a live deployment group."""

    source: str  # e.g. "deployment group DgpECS-c-s"
    on_failure: bool
    alarms: tuple[str, ...]


class _Expr:
    """A jinja2 expression standing in for a JSON value in the template."""

    def __init__(self, expr: str) -> None:
        self.expr = expr


def looks_secret(name: str, value: str) -> bool:
    from bluegreen.render.redact import redact_text

    if _SECRET_NAME.search(name):
        return True
    return bool(value) and redact_text(value) != value


def var_name(env_name: str, taken: set[str]) -> str:
    base = _IDENT.sub("_", env_name.lower()).strip("_") or "value"
    if base[0].isdigit() or base in _RESERVED:
        base = f"env_{base}"
    name, n = base, 2
    while name in taken:
        name, n = f"{base}_{n}", n + 1
    taken.add(name)
    return name


def factor_out(
    td: Mapping[str, Any], images: dict[str, str], variables: dict[str, str], notes: list[str]
) -> dict[str, Any]:
    """Replace each container's image with `images[name]` and each environment value with a
    var (or drop it, with a note, when it looks like a secret)."""
    out = copy.deepcopy(dict(td))
    taken = set(variables)
    for c in out.get("containerDefinitions") or []:
        name = str(c.get("name", ""))
        if c.get("image"):
            images[name] = str(c["image"])
            c["image"] = _Expr(f"images[{json.dumps(name)}]")
        env = c.get("environment")
        if isinstance(env, list):
            kept: list[dict[str, Any]] = []
            for item in env:
                key, value = str(item.get("name", "")), str(item.get("value", ""))
                if looks_secret(key, value):
                    notes.append(
                        f"environment {key} of container {name} looks like a secret: not written;"
                        " add it under `secrets` with a valueFrom (Secrets Manager or SSM)"
                    )
                    continue
                v = var_name(key, taken)
                variables[v] = value
                kept.append({"name": key, "value": _Expr(f"vars.{v}")})
            if kept:
                c["environment"] = kept
            else:
                c.pop("environment", None)
        _secrets_to_vars(c, name, taken, notes)
    return out


def _secrets_to_vars(
    container: dict[str, Any], name: str, taken: set[str], notes: list[str]
) -> None:
    """Replace every other secret in a container (a command argument, a docker label, a log
    option, ...: by its place or its shape) with a reference to a variable that is not written,
    and say so: the value must come from --var / --vars-file, or better from `secrets`."""
    from bluegreen.render.redact import looks_secret_value, secret_places
    from bluegreen.spec.yaml import json_path

    places = set(secret_places(container))

    def shaped(value: Any, path: tuple[str | int, ...]) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                shaped(v, (*path, k))
        elif isinstance(value, list):
            for i, v in enumerate(value):
                shaped(v, (*path, i))
        elif isinstance(value, str) and looks_secret_value(value):
            places.add(path)

    shaped({k: v for k, v in container.items() if k != "environment"}, ())
    for path in sorted(places, key=str):
        parent: Any = container
        for step in path[:-1]:
            parent = parent[step]
        if isinstance(parent[path[-1]], _Expr):
            continue
        label = next((str(p) for p in reversed(path) if isinstance(p, str)), "value")
        v = var_name(f"{name}_{label}", taken)
        parent[path[-1]] = _Expr(f"vars.{v}")
        notes.append(
            f"{json_path(path)} of container {name} looks like a secret: not written; the "
            f"template reads vars.{v}: pass it with --var {v}=... or --vars-file, or better "
            "move it to `secrets` with a valueFrom (Secrets Manager or SSM)"
        )


def template_text(td: Mapping[str, Any]) -> str:
    exprs: list[str] = []

    def encode(value: Any) -> Any:
        if isinstance(value, _Expr):
            exprs.append(value.expr)
            return f"@@bluegreen-expr-{len(exprs) - 1}@@"
        if isinstance(value, Mapping):
            return {k: encode(v) for k, v in value.items()}
        if isinstance(value, list):
            return [encode(v) for v in value]
        return value

    text = json.dumps(encode(td), indent=2)
    for i, expr in enumerate(exprs):
        text = text.replace(f'"@@bluegreen-expr-{i}@@"', f"{{{{ {expr} | tojson }}}}")
    return text + "\n"


def _escape_jinja(td: Any) -> Any:
    """Strings holding jinja2 delimiters (e.g. a command) become literals, not templates."""
    if isinstance(td, str) and ("{{" in td or "{%" in td or "{#" in td):
        return _Expr(json.dumps(td, ensure_ascii=False))  # renders back to the same string
    if isinstance(td, Mapping):
        return {k: _escape_jinja(v) for k, v in td.items()}
    if isinstance(td, list):
        return [_escape_jinja(v) for v in td]
    return td


def _yaml_scalar(value: Any) -> str:
    return json.dumps(value)  # a JSON scalar is a YAML scalar


def spec_text(m: Model) -> str:
    lines = [
        f"# bluegreen release spec ({m.source}). Check it with `bluegreen validate`,",
        "# preview with `bluegreen render` / `bluegreen diff`, release with `bluegreen deploy`.",
        "version: 1",
    ]
    if m.region:
        lines.append(f"region: {_yaml_scalar(m.region)}")
    else:
        lines.append("# region: us-east-1              # else --region or the AWS chain")
    lines += [
        f"cluster: {_yaml_scalar(m.cluster)}",
        f"service: {_yaml_scalar(m.service)}",
        f"task_definition: {TASKDEF_FILE}",
        f"appspec: {APPSPEC_FILE}",
        "# container -> image; a tag is resolved to its digest before registration",
    ]
    if m.images:
        lines.append("images:")
        lines += [f"  {_yaml_scalar(k)}: {_yaml_scalar(v)}" for k, v in sorted(m.images.items())]
    else:
        lines.append("images: {}")
    lines.append("pin_digests: true")
    if m.load_balancer:
        lines += [
            "load_balancer:                     # the container and port the target groups reach",
            f"  container_name: {_yaml_scalar(m.load_balancer[0])}",
            f"  container_port: {m.load_balancer[1]}",
        ]
    else:
        lines += [
            "# load_balancer:                   # default: the live service's loadBalancers[0]",
            "#   container_name: web",
            "#   container_port: 8080",
        ]
    if m.vars:
        lines.append("vars:                              # template variables")
        lines += [f"  {k}: {_yaml_scalar(v)}" for k, v in sorted(m.vars.items())]
    lines += [
        "# codedeploy:                        # defaults: AppECS-<cluster>-<service> and",
        "#   application: AppECS-cluster-svc  #           DgpECS-<cluster>-<service>",
        "#   deployment_group: DgpECS-cluster-svc",
        "#   deployment_config: canary:10%/5m",
    ]
    lines += _rollback_lines(m.rollback)
    lines += [
        "# windows:",
        "#   timezone: Europe/Berlin",
        '#   allow: [{days: [mon, tue, wed, thu], hours: "09:00-16:00"}]',
        "# environments:",
        "#   staging: {cluster: staging}",
    ]
    return "\n".join(lines) + "\n"


def _rollback_lines(rb: RollbackModel | None) -> list[str]:
    if rb is None:
        return ["# rollback:", "#   alarms: [service-5xx]"]
    lines = [f"rollback:                          # from {rb.source}"]
    lines.append(f"  on_failure: {'true' if rb.on_failure else 'false'}")
    if rb.alarms:
        lines.append("  alarms: [" + ", ".join(_yaml_scalar(a) for a in rb.alarms) + "]")
    return lines


def appspec_text() -> str:
    from bluegreen.resources import appspec_templates_dir

    default = appspec_templates_dir().joinpath("ecs.yaml.j2").read_text(encoding="utf-8")
    header = (
        "{#- AppSpec for this service's CodeDeploy blue/green deployments (jinja2 -> YAML).\n"
        "    Written by `bluegreen init` from the default; edit it to add hooks or settings,\n"
        "    or delete it and the spec's `appspec:` line to use the default.\n"
        "    Hooks are simpler in the spec: codedeploy.hooks {AfterAllowTestTraffic: fn}. -#}\n"
    )
    return header + default


def example_model(cluster: str, service: str, region: str | None) -> Model:
    td: dict[str, Any] = {
        "family": service,
        "networkMode": "awsvpc",
        "requiresCompatibilities": ["FARGATE"],
        "cpu": "256",
        "memory": "512",
        "containerDefinitions": [
            {
                "name": service,
                "image": _Expr(f"images[{json.dumps(service)}]"),
                "essential": True,
                "portMappings": [{"containerPort": 80, "hostPort": 80}],
                "environment": [{"name": "LOG_LEVEL", "value": _Expr("vars.log_level")}],
            }
        ],
    }
    return Model(
        cluster=cluster,
        service=service,
        region=region,
        task_definition=td,
        images={service: "public.ecr.aws/nginx/nginx:stable"},
        load_balancer=(service, 80),
        vars={"log_level": "info"},
        notes=[
            "add executionRoleArn to the task definition to pull from private ECR and send "
            "logs; replace the example image in bluegreen.yaml"
        ],
    )


def compose_model(
    path: Path, compose_service: str | None, cluster: str, service: str | None, region: str | None
) -> Model:
    from bluegreen.release.compose import load_compose

    cs = load_compose(path, compose_service)
    container = dict(cs.container)
    notes = list(cs.notes)
    container["image"] = cs.image or f"{cs.name}:latest"
    if cs.environment:
        container["environment"] = [{"name": k, "value": v} for k, v in cs.environment.items()]
    register: dict[str, Any] = {
        "family": service or cs.name,
        "networkMode": "awsvpc",
        "requiresCompatibilities": ["FARGATE"],
        "cpu": cs.task_cpu,
        "memory": cs.task_memory,
        "containerDefinitions": [container],
    }
    images: dict[str, str] = {}
    variables: dict[str, str] = {}
    td = _escape_jinja(factor_out(register, images, variables, notes))
    notes.append(
        "add executionRoleArn to the task definition to pull from private ECR and send logs"
    )
    return Model(
        cluster=cluster,
        service=service or cs.name,
        region=region,
        task_definition=td,
        images=images,
        vars=variables,
        source=f"from {path} service {cs.name}",
        load_balancer=_first_port(register),
        notes=notes,
        unsupported=list(cs.unsupported),
    )


def service_model(aws: Aws, target: str, region: str | None) -> Model:
    from bluegreen.aws.ecs import describe_service, describe_task_definition
    from bluegreen.render.taskdef import to_register_input

    cluster, sep, service = target.partition("/")
    if not sep or not cluster or not service or "/" in service:
        raise UsageError(
            f"--from-service {target!r} is not CLUSTER/SERVICE", where="--from-service"
        )
    live = describe_service(aws, cluster, service)
    if not live.task_definition_arn:
        raise UsageError(
            f"service {cluster}/{service} has no task definition to start from",
            where=f"{cluster}/{service}",
        )
    described = describe_task_definition(aws, live.task_definition_arn)
    register = to_register_input(described)
    register.pop("tags", None)
    for c in register.get("containerDefinitions") or []:
        for key in [k for k, v in c.items() if v in ([], {}, None)]:
            del c[key]
    register = {k: v for k, v in register.items() if v not in ([], {}, None)}
    notes: list[str] = []
    images: dict[str, str] = {}
    variables: dict[str, str] = {}
    lb = _first_port(register)
    for item in live.load_balancers:
        if item.get("containerName") and item.get("containerPort"):
            lb = (str(item["containerName"]), int(item["containerPort"]))
            break
    td = _escape_jinja(factor_out(register, images, variables, notes))
    return Model(
        cluster=cluster,
        service=service,
        region=region,
        task_definition=td,
        images=images,
        vars=variables,
        source=f"from service {cluster}/{service}, {live.task_definition_arn}",
        load_balancer=lb,
        notes=notes,
        rollback=_group_rollback(aws, live, cluster, service, notes),
    )


def _group_rollback(
    aws: Aws, live: LiveService, cluster: str, service: str, notes: list[str]
) -> RollbackModel | None:
    """The rollback settings of the service's deployment group (the default names the spec
    will use), so that the spec states what releases already do."""
    from bluegreen.engines import EngineKind, engine_kind

    if engine_kind(live.deployment_controller, live.deployment_strategy) is not (
        EngineKind.CODEDEPLOY
    ):
        return None
    from bluegreen.aws.codedeploy import parse_group
    from bluegreen.aws.doctor import deployment_group_info
    from bluegreen.engines.codedeploy.rollback_settings import FAILURE, STOP_ON_ALARM

    app, name = f"AppECS-{cluster}-{service}", f"DgpECS-{cluster}-{service}"
    info = deployment_group_info(aws, app, name)
    if info is None:
        notes.append(
            f"no deployment group {app}/{name}: set codedeploy.application/deployment_group "
            "and the rollback settings in bluegreen.yaml"
        )
        return None
    group = parse_group(app, name, info)
    events = group.auto_rollback_events if group.auto_rollback_enabled else ()
    alarms = group.alarms if group.alarms_enabled else ()
    if alarms and STOP_ON_ALARM not in events:
        notes.append(
            f"deployment group {name} stops on alarms {', '.join(alarms)} without rolling "
            "back; the spec lists them under rollback.alarms, so releases roll back on them"
        )
    return RollbackModel(f"deployment group {name}", FAILURE in events, tuple(alarms))


def _first_port(td: Mapping[str, Any]) -> tuple[str, int] | None:
    for c in td.get("containerDefinitions") or []:
        for pm in c.get("portMappings") or []:
            if pm.get("containerPort"):
                return str(c.get("name")), int(pm["containerPort"])
    return None


def files_for(m: Model) -> dict[str, str]:
    return {
        SPEC_FILE: spec_text(m),
        TASKDEF_FILE: template_text(m.task_definition),
        APPSPEC_FILE: appspec_text(),
    }


def write_files(folder: Path, files: Mapping[str, str], *, force: bool) -> list[Path]:
    """Write all files or none: refuses (exit 2) when one exists and `force` is off."""
    existing = [folder / name for name in files if (folder / name).exists()]
    if existing and not force:
        raise UsageError(
            "refusing to overwrite " + ", ".join(str(p) for p in existing),
            where=str(existing[0]),
            hint="pass --force to overwrite, or --dir to write elsewhere",
        )
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in files.items():
        path = folder / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    ignored = ignore_journal(folder)
    if ignored is not None:
        written.append(ignored)
    return written


JOURNAL_IGNORE = ".bluegreen/"


def ignore_journal(folder: Path) -> Path | None:
    """Keep the local journal out of version control: add `.bluegreen/` to the folder's
    .gitignore (created when missing); the path when it was written, None when it already
    ignores the journal. A .gitignore that is a symlink is left alone."""
    path = folder / ".gitignore"
    if path.is_symlink():
        return None
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    lines = {line.strip() for line in text.splitlines()}
    if JOURNAL_IGNORE in lines or JOURNAL_IGNORE.rstrip("/") in lines:
        return None
    if text and not text.endswith("\n"):
        text += "\n"
    path.write_text(text + "# bluegreen's local journal of releases\n" + JOURNAL_IGNORE + "\n")
    return path
