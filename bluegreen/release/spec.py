"""The spec file (bluegreen.yaml): load, overlay an environment, validate, and type it.

The JSON Schema in schemas/spec.schema.json is the truth about the structure; this module adds
what a schema cannot say (durations, shorthands, defaults) and turns every finding into a
message naming `file:line: json.path`.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import difflib
import os
import re
import shlex
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bluegreen.errors import BluegreenError, SpecError
from bluegreen.release import raise_problems

PathItem = str | int
JsonPath = tuple[PathItem, ...]

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
    lines: dict[JsonPath, int] | None = None  # JSON path -> line in the spec file (env-merged)

    @property
    def display(self) -> str:
        return display_path(self.path)

    def where(self, path: JsonPath) -> str:
        """`file:line: json.path` for a place in the (env-merged) document."""
        return locate(self.display, self.lines or {}, path)


# --- paths and positions ------------------------------------------------------------------------
def display_path(path: Path) -> str:
    """A path as a user wants to read it: relative to the working folder when below it."""
    try:
        rel = os.path.relpath(path)
    except ValueError:  # pragma: no cover - another drive on Windows
        return str(path)
    return str(path) if rel.startswith("..") else rel


def json_path(path: Iterable[PathItem]) -> str:
    out = ""
    for item in path:
        if isinstance(item, int):
            out += f"[{item}]"
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", item):
            out += f".{item}" if out else item
        else:
            out += f"[{item!r}]"
    return out or "(top level)"


def locate(file: str, lines: Mapping[JsonPath, int], path: JsonPath) -> str:
    probe = tuple(path)
    while probe and probe not in lines:
        probe = probe[:-1]
    line = lines.get(probe, 1)
    return f"{file}:{line}: {json_path(path)}"


def plain(node: Any, lines: dict[JsonPath, int], at: JsonPath = ()) -> Any:
    """ruamel round-trip data -> plain JSON-like data, recording the line of every key/item."""
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for key, value in node.items():
            sub = (*at, str(key))
            lc = getattr(node, "lc", None)
            if lc is not None:
                with contextlib.suppress(KeyError, TypeError):
                    lines[sub] = int(lc.key(key)[0]) + 1
            out[str(key)] = plain(value, lines, sub)
        return out
    if isinstance(node, list):
        items: list[Any] = []
        for i, value in enumerate(node):
            sub = (*at, i)
            lc = getattr(node, "lc", None)
            if lc is not None:
                with contextlib.suppress(KeyError, TypeError, IndexError):
                    lines[sub] = int(lc.item(i)[0]) + 1
            items.append(plain(value, lines, sub))
        return items
    if isinstance(node, bool) or node is None:
        return node
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, dt.datetime | dt.date):
        return node.isoformat()
    if isinstance(node, str):
        return str(node)
    return str(node)


def load_yaml(path: Path, *, what: str, error: type[BluegreenError] = SpecError) -> Any:
    """Read a YAML (or JSON) file with the round-trip loader; errors name file:line."""
    display = display_path(path)
    text = read_text(path, what=what, error=error)
    return parse_yaml(text, display, error=error)


def read_text(path: Path, *, what: str, error: type[BluegreenError] = SpecError) -> str:
    display = display_path(path)
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(
            f"{what} not found",
            where=display,
            hint="check the path (relative paths in the "
            "spec are resolved against the spec file's folder)",
        ) from None
    except IsADirectoryError:
        raise error(f"{what} is a directory, not a file", where=display) from None
    except PermissionError:
        raise error(f"{what} is not readable (permission denied)", where=display) from None
    except UnicodeDecodeError as exc:
        raise error(f"{what} is not UTF-8 text: {exc.reason}", where=display) from None
    except OSError as exc:
        raise error(f"{what} cannot be read: {exc.strerror}", where=display) from None


def parse_yaml(text: str, display: str, *, error: type[BluegreenError] = SpecError) -> Any:
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    yaml = YAML(typ="rt")
    try:
        return yaml.load(text)
    except MarkedYAMLError as exc:
        raise error(f"invalid YAML: {yaml_problem(exc)}", where=yaml_where(exc, display)) from None
    except YAMLError as exc:
        raise error(f"invalid YAML: {exc}", where=display) from None


def yaml_where(exc: Any, display: str) -> str:
    mark = exc.problem_mark or exc.context_mark
    return f"{display}:{mark.line + 1}" if mark is not None else display


def yaml_problem(exc: Any) -> str:
    """The parser's complaint, with where the construct it was parsing began."""
    context = exc.context or ""
    begin, end = exc.context_mark, exc.problem_mark
    if begin is not None and end is not None and begin.line != end.line:
        context += f" (started on line {begin.line + 1})"
    return " ".join(p for p in (context, exc.problem) if p) or "invalid YAML"


# --- durations ----------------------------------------------------------------------------------
_DURATION = re.compile(r"(?=\d)(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")


def parse_duration(value: str | int, where: str) -> float:
    """Seconds in `90s`, `5m`, `1h30m`, or an integer number of seconds."""
    if isinstance(value, bool):
        raise SpecError(f"expected a duration, got {value!r}", where=where)
    if isinstance(value, int):
        if value < 0:
            raise SpecError(f"a duration cannot be negative: {value}", where=where)
        return float(value)
    text = str(value).strip()
    if text.isdigit():
        return float(text)
    m = _DURATION.fullmatch(text)
    if not text or m is None:
        raise SpecError(
            f"invalid duration {value!r}",
            where=where,
            hint="write 90s, 5m, 1h30m, or an integer number of seconds",
        )
    hours, minutes, seconds = (int(g) if g else 0 for g in m.groups())
    return float(hours * 3600 + minutes * 60 + seconds)


# --- environments -------------------------------------------------------------------------------
def deep_merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """Mappings merged key by key (recursively); anything else (lists too) replaced."""
    out = copy.deepcopy(dict(base))
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


# --- schema -------------------------------------------------------------------------------------
def schema_problems(
    instance: Any,
    schema: dict[str, Any],
    where: Callable[[JsonPath], str],
    *,
    error: type[BluegreenError] = SpecError,
    conceal: Callable[[JsonPath], bool] | None = None,
) -> list[BluegreenError]:
    """Every violation of `schema`, each as an error whose `where` is `where(json_path)`.

    Where `conceal(json_path)` is true the message names the kind of the offending value but
    never quotes it (environment values of a task definition, for example)."""
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError

    validator = Draft202012Validator(schema)
    found: list[BluegreenError] = []

    def leaves(err: ValidationError) -> Iterable[ValidationError]:
        # For oneOf/anyOf report the best sub-error rather than the opaque summary.
        if err.context:
            from jsonschema.exceptions import best_match

            yield best_match(err.context)
        else:
            yield err

    for top in validator.iter_errors(instance):
        top_schema = top.schema if isinstance(top.schema, dict) else {}
        if top.validator == "oneOf" and str(top_schema.get("description", "")).startswith(
            "A duration"
        ):
            found.append(
                error(
                    f"invalid duration {_short(top.instance)}",
                    where=where(tuple(top.absolute_path)),
                    hint="write 90s, 5m, 1h30m, or an integer number of seconds",
                )
            )
            continue
        for err in leaves(top):
            path: JsonPath = tuple(err.absolute_path)
            if err.validator == "additionalProperties" and isinstance(err.instance, dict):
                sub_schema = err.schema if isinstance(err.schema, dict) else {}
                known = list(sub_schema.get("properties", {}))
                for key in err.instance:
                    if key in known:
                        continue
                    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
                    found.append(
                        error(
                            f"unknown key {key!r}"
                            + (f" (did you mean {close[0]!r}?)" if close else ""),
                            where=where((*path, key)),
                            hint="allowed keys here: " + ", ".join(known) if known else None,
                        )
                    )
                continue
            hidden = conceal is not None and conceal(path)
            found.append(error(_schema_message(err, hidden=hidden), where=where(path)))
    return sorted(found, key=_line_of)


def _line_of(err: BluegreenError) -> int:
    m = re.match(r"[^:]*:(\d+):", err.where or "")
    return int(m.group(1)) if m else 0


def _schema_message(err: Any, *, hidden: bool = False) -> str:
    v = err.validator
    shown = f"a {_kind(err.instance)} (value hidden)" if hidden else _short(err.instance)
    if v == "required":
        missing = re.findall(r"'([^']+)' is a required property", err.message)
        return f"missing required key {missing[0]!r}" if missing else err.message
    if v == "type":
        want = err.validator_value
        want = " or ".join(want) if isinstance(want, list) else want
        if hidden:
            return f"expected {want}, got {shown}"
        return f"expected {want}, got {_kind(err.instance)} {shown}"
    if v == "enum":
        return f"{shown} is not one of: " + ", ".join(str(x) for x in err.validator_value)
    if v == "const":
        return f"must be {err.validator_value!r}, got {shown}"
    if v == "pattern":
        described = err.schema.get("description") if isinstance(err.schema, dict) else None
        if described:
            return f"{shown} is not valid here: {described}"
        return f"{shown} has an invalid format (expected /{err.validator_value}/)"
    if hidden:  # jsonschema's own messages quote the value
        return f"{shown} violates the schema's {v!r} rule ({err.validator_value!r})"
    return str(err.message)


def _kind(value: Any) -> str:
    return {
        bool: "boolean",
        int: "integer",
        float: "number",
        str: "string",
        list: "list",
        dict: "mapping",
        type(None): "null",
    }.get(type(value), type(value).__name__)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# --- loading ------------------------------------------------------------------------------------
def load_spec(path: Path, env: str | None = None) -> Spec:
    """Load, overlay `env`, validate and type the spec file. SpecError (exit 2) on any problem."""
    from bluegreen.resources import load_schema

    path = Path(path)
    display = display_path(path)
    raw = load_yaml(path, what="spec file")
    lines: dict[JsonPath, int] = {}
    doc = plain(raw, lines)
    if doc is None:
        raise SpecError("the spec file is empty", where=display, hint="start from `bluegreen init`")
    if not isinstance(doc, dict):
        raise SpecError(f"the spec file must be a mapping, got a {_kind(doc)}", where=display)

    if isinstance(doc.get("environments"), dict):  # `prod:` with nothing under it is `prod: {}`
        doc["environments"] = {k: {} if v is None else v for k, v in doc["environments"].items()}
    schema = load_schema("spec")
    relaxed = {k: v for k, v in schema.items() if k != "required"}

    def where_raw(p: JsonPath) -> str:
        return locate(display, lines, p)

    # Without --env the document is complete as it stands; with one, required keys may come
    # from the environment's overlay, so they are checked after merging.
    first = schema if env is None else relaxed
    raise_problems(schema_problems(doc, first, where_raw), subject=display)

    envs: dict[str, Any] = doc.get("environments") or {}
    merged_lines = {p: n for p, n in lines.items() if not p or p[0] != "environments"}
    if env is not None:
        if env not in envs:
            known = ", ".join(sorted(envs)) or "(none defined)"
            close = difflib.get_close_matches(env, list(envs), n=1)
            raise SpecError(
                f"unknown environment {env!r}"
                + (f" (did you mean {close[0]!r}?)" if close else "")
                + f"; known environments: {known}",
                where=f"{display}:{lines.get(('environments',), 1)}: environments",
            )
        overlay = envs[env] or {}
        base = {k: v for k, v in doc.items() if k != "environments"}
        data = deep_merge(base, overlay)
        prefix = ("environments", env)
        for p, n in lines.items():
            if p[: len(prefix)] == prefix and len(p) > len(prefix):
                merged_lines[p[len(prefix) :]] = n
    else:
        data = {k: v for k, v in doc.items() if k != "environments"}

    def where(p: JsonPath) -> str:
        return locate(display, merged_lines, p)

    raise_problems(schema_problems(data, schema, where), subject=display)
    return _typed(path, env, data, where, merged_lines)


def _typed(
    path: Path,
    env: str | None,
    data: dict[str, Any],
    where: Callable[[JsonPath], str],
    lines: dict[JsonPath, int],
) -> Spec:
    problems: list[BluegreenError] = []
    folder = path.resolve().parent
    cluster = str(data["cluster"])
    service = str(data["service"])
    cluster_name = cluster.rsplit("/", 1)[-1]

    def duration(p: JsonPath, default: float | None) -> float | None:
        node: Any = data
        for item in p:
            if not isinstance(node, dict) or item not in node:
                return default
            node = node[item]
        try:
            return parse_duration(node, where(p))
        except SpecError as exc:
            problems.append(exc)
            return default

    lb = data.get("load_balancer")
    load_balancer = (
        LoadBalancerSpec(str(lb["container_name"]), int(lb["container_port"])) if lb else None
    )
    cd = data.get("codedeploy") or {}
    codedeploy = CodeDeploySpec(
        application=str(cd.get("application") or f"AppECS-{cluster_name}-{service}"),
        deployment_group=str(cd.get("deployment_group") or f"DgpECS-{cluster_name}-{service}"),
        deployment_config=cd.get("deployment_config"),
        hooks={str(k): str(v) for k, v in (cd.get("hooks") or {}).items()},
    )
    rb = data.get("rollback") or {}
    metrics = [
        MetricCheck(
            name=str(m["name"]),
            namespace=str(m.get("namespace", "AWS/ApplicationELB")),
            metric=str(m["metric"]),
            stat=str(m.get("stat", "Average")),
            period=int(m.get("period", 60)),
            target_group=str(m.get("target_group", "green")),
            dimensions={str(k): str(v) for k, v in (m.get("dimensions") or {}).items()},
            comparison=str(m.get("comparison", "GreaterThanThreshold")),
            threshold=float(m["threshold"]),
            relative_to_blue=bool(m.get("relative_to_blue", False)),
        )
        for m in rb.get("metrics") or []
    ]
    names = [m.name for m in metrics]
    for i, name in enumerate(names):
        if name in names[:i]:
            problems.append(
                SpecError(
                    f"duplicate metric check name {name!r}",
                    where=where(("rollback", "metrics", i, "name")),
                )
            )
    rollback = RollbackSpec(
        on_failure=bool(rb.get("on_failure", True)),
        alarms=[str(a) for a in rb.get("alarms") or []],
        metrics=metrics,
    )
    verify: VerifySpec | None = None
    vf = data.get("verify")
    if vf:
        command = vf["command"]
        if isinstance(command, str):
            try:
                argv = shlex.split(command)
            except ValueError as exc:
                problems.append(
                    SpecError(
                        f"cannot split the command: {exc}", where=where(("verify", "command"))
                    )
                )
                argv = []
        else:
            argv = [str(c) for c in command]
        if not argv and not problems:
            problems.append(SpecError("the command is empty", where=where(("verify", "command"))))
        timeout = duration(("verify", "timeout"), DEFAULT_VERIFY_TIMEOUT)
        verify = VerifySpec(argv, timeout if timeout is not None else DEFAULT_VERIFY_TIMEOUT)
    timeout_seconds = duration(("timeout",), None)
    if timeout_seconds == 0:
        problems.append(SpecError("the release timeout must be above 0", where=where(("timeout",))))
    appspec = data.get("appspec")
    spec = Spec(
        path=path,
        env=env,
        data=data,
        region=data.get("region"),
        cluster=cluster,
        service=service,
        task_definition=(folder / str(data["task_definition"])).resolve(),
        appspec=(folder / str(appspec)).resolve() if appspec else None,
        images={str(k): str(v) for k, v in (data.get("images") or {}).items()},
        pin_digests=bool(data.get("pin_digests", True)),
        load_balancer=load_balancer,
        codedeploy=codedeploy,
        rollback=rollback,
        verify=verify,
        timeout_seconds=timeout_seconds,
        vars=dict(data.get("vars") or {}),
        windows=data.get("windows"),
        lines=lines,
    )
    raise_problems(problems, subject=display_path(path))
    return spec
