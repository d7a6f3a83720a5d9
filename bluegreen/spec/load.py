"""Loading a spec: environments overlaid, durations, typed values."""

from __future__ import annotations

import copy
import difflib
import re
import shlex
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bluegreen.errors import BluegreenError, SpecError, raise_problems

if TYPE_CHECKING:
    pass
from bluegreen.spec.model import (
    DEFAULT_VERIFY_TIMEOUT,
    CodeDeploySpec,
    LoadBalancerSpec,
    MetricCheck,
    NotifySpec,
    RollbackSpec,
    Spec,
    VerifySpec,
)
from bluegreen.spec.schema import _kind, _relaxed, schema_problems
from bluegreen.spec.yaml import (
    JsonPath,
    LazyLines,
    display_path,
    load_document,
    locate,
    read_text,
    resolved,
)

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
    out = {key: _copy(value) for key, value in base.items()}
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = _copy(value)
    return out


_ATOMS = (str, int, float, bool, type(None))


def _copy(value: Any) -> Any:
    """A deep copy of JSON-like data (what a YAML document holds), quicker than copy.deepcopy;
    anything else goes through copy.deepcopy."""
    kind = type(value)
    if kind in _ATOMS:
        return value
    if kind is dict:
        return {key: _copy(item) for key, item in value.items()}
    if kind is list:
        return [_copy(item) for item in value]
    return copy.deepcopy(value)


# --- loading ------------------------------------------------------------------------------------
def load_spec(path: Path, env: str | None = None) -> Spec:
    """Load, overlay `env`, validate and type the spec file. SpecError (exit 2) on any problem."""
    from bluegreen.resources import load_schema

    path = Path(path)
    display = display_path(path)
    doc, lines = load_document(read_text(path, what="spec file"), display)
    if doc is None:
        raise SpecError("the spec file is empty", where=display, hint="start from `bluegreen init`")
    if not isinstance(doc, dict):
        raise SpecError(f"the spec file must be a mapping, got a {_kind(doc)}", where=display)

    if isinstance(doc.get("environments"), dict):  # `prod:` with nothing under it is `prod: {}`
        doc["environments"] = {k: {} if v is None else v for k, v in doc["environments"].items()}
    schema = load_schema("spec")
    relaxed = _relaxed(schema)

    def where_raw(p: JsonPath) -> str:
        return locate(display, lines, p)

    # Without --env the document is complete as it stands; with one, required keys may come
    # from the environment's overlay, so they are checked after merging.
    first = schema if env is None else relaxed
    raise_problems(schema_problems(doc, first, where_raw, conceal=_webhook_value), subject=display)

    envs: dict[str, Any] = doc.get("environments") or {}
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
    else:
        data = {k: v for k, v in doc.items() if k != "environments"}
    merged_lines = LazyLines(lambda: _merged_lines(lines, env))

    def where(p: JsonPath) -> str:
        return locate(display, merged_lines, p)

    raise_problems(schema_problems(data, schema, where, conceal=_webhook_value), subject=display)
    return _typed(path, env, data, where, merged_lines)


def _merged_lines(lines: Mapping[JsonPath, int], env: str | None) -> dict[JsonPath, int]:
    """The spec file's lines for the env-merged document: an environment's keys where it sets
    them, the top-level ones elsewhere."""
    merged = {p: n for p, n in lines.items() if not p or p[0] != "environments"}
    if env is not None:
        prefix = ("environments", env)
        for p, n in lines.items():
            if p[: len(prefix)] == prefix and len(p) > len(prefix):
                merged[p[len(prefix) :]] = n
    return merged


NOTIFY_EVENTS = ("start", "end", "rollback")


def _webhook_value(path: JsonPath) -> bool:
    """A webhook URL is a credential (its path or its user info): messages never quote it."""
    return "notify" in path and "webhook" in path


def _notify(block: Any) -> NotifySpec | None:
    """`notify:` (schema-checked): its webhooks and the events they receive."""
    if not block:
        return None
    hooks = block["webhook"]
    webhooks = (hooks,) if isinstance(hooks, str) else tuple(str(h) for h in hooks)
    return NotifySpec(webhooks, frozenset(block.get("events") or NOTIFY_EVENTS))


def _typed(
    path: Path,
    env: str | None,
    data: dict[str, Any],
    where: Callable[[JsonPath], str],
    lines: Mapping[JsonPath, int],
) -> Spec:
    problems: list[BluegreenError] = []
    folder = resolved(path).parent
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
            return parse_duration(node, "")
        except SpecError:  # again, now naming the place (finding the line costs a parse)
            try:
                parse_duration(node, where(p))
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
        task_definition=resolved(folder / str(data["task_definition"])),
        appspec=resolved(folder / str(appspec)) if appspec else None,
        images={str(k): str(v) for k, v in (data.get("images") or {}).items()},
        pin_digests=bool(data.get("pin_digests", True)),
        load_balancer=load_balancer,
        codedeploy=codedeploy,
        rollback=rollback,
        verify=verify,
        timeout_seconds=timeout_seconds,
        vars=dict(data.get("vars") or {}),
        windows=data.get("windows"),
        folder=folder,
        lines=lines,
        role_arn=data.get("role_arn"),
        external_id=data.get("external_id"),
        notify=_notify(data.get("notify")),
    )
    raise_problems(problems, subject=display_path(path))
    return spec
