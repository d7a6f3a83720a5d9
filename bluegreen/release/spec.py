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
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bluegreen.errors import BluegreenError, SpecError
from bluegreen.release import raise_problems

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator

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
    folder: Path  # the spec file's folder, symlinks resolved: relative paths start here
    # JSON path -> line in the spec file (env-merged); built on first use (see LazyLines)
    lines: Mapping[JsonPath, int] | None = None

    @property
    def display(self) -> str:
        return display_path(self.path)

    def where(self, path: JsonPath) -> str:
        """`file:line: json.path` for a place in the (env-merged) document."""
        return locate(self.display, self.lines if self.lines is not None else {}, path)


# --- paths and positions ------------------------------------------------------------------------
def display_path(path: Path) -> str:
    """A path as a user wants to read it: relative to the working folder when below it."""
    return _display_path(str(path), os.getcwd())


@lru_cache(maxsize=1024)
def _display_path(path: str, cwd: str) -> str:
    try:
        rel = os.path.relpath(path, cwd)
    except ValueError:  # pragma: no cover - another drive on Windows
        return path
    return path if rel.startswith("..") else rel


def resolved(path: Path) -> Path:
    """`path.resolve()`, with the resolution of its folder kept for the process: the specs and
    templates of one folder resolve it once, then each file costs one check that it is not a
    link itself (a link, or a name such as `..`, is resolved in full)."""
    text = os.fspath(path)
    parent, name = os.path.split(text)
    if name in ("", ".", "..") or os.path.islink(text):
        return path.resolve()
    return Path(os.path.join(_real_folder(os.getcwd(), parent), name))


@lru_cache(maxsize=1024)
def _real_folder(cwd: str, folder: str) -> str:
    return os.path.realpath(os.path.join(cwd, folder))


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


class LazyLines(Mapping[JsonPath, int]):
    """A JSON path -> line map that is built the first time it is read.

    Positions cost a second, slow parse with the round-trip loader; most documents are valid
    and no message ever needs a line, so the parse happens only when one does."""

    def __init__(self, build: Callable[[], Mapping[JsonPath, int]]) -> None:
        self._build: Callable[[], Mapping[JsonPath, int]] | None = build
        self._lines: dict[JsonPath, int] = {}

    def _map(self) -> dict[JsonPath, int]:
        build = self._build
        if build is not None:
            self._lines = dict(build())
            self._build = None
        return self._lines

    @property
    def built(self) -> bool:
        return self._build is None

    def __getitem__(self, key: JsonPath) -> int:
        return self._map()[key]

    def __iter__(self) -> Iterator[JsonPath]:
        return iter(self._map())

    def __len__(self) -> int:
        return len(self._map())

    def __contains__(self, key: object) -> bool:
        return key in self._map()


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


def load_document(
    text: str, display: str, *, error: type[BluegreenError] = SpecError
) -> tuple[Any, Mapping[JsonPath, int]]:
    """YAML (or JSON) text -> (plain data, JSON path -> line), read as the round-trip loader
    reads it. The data comes from the fast loader when it can tell for sure; the lines (and
    every parse error, with its position) come from the round-trip loader, only when needed."""
    sure, data = fast_yaml(text)
    if sure:
        return data, LazyLines(lambda: line_map(text, display, error=error))
    lines: dict[JsonPath, int] = {}
    return plain(parse_yaml(text, display, error=error), lines), lines


def line_map(
    text: str, display: str, *, error: type[BluegreenError] = SpecError
) -> dict[JsonPath, int]:
    """JSON path -> line of every key and item, from the round-trip loader."""
    lines: dict[JsonPath, int] = {}
    plain(parse_yaml(text, display, error=error), lines)
    return lines


# The fast loader: libyaml (PyYAML's C parser, when installed) builds the node tree; scalars are
# typed by the round-trip loader's own YAML 1.2 resolver. Anything whose reading is not
# certain to match the round-trip loader's (explicit tags, merge keys, timestamps, non-decimal
# numbers, non-string or duplicate keys, recursive aliases, directives, any parse error) is
# left to the round-trip loader.
_PLAIN_TAG, _QUOTED_TAG, _MAP_TAG, _SEQ_TAG = "!bg-plain", "!bg-quoted", "!bg-map", "!bg-seq"
_STR, _NULL, _BOOL, _INT, _FLOAT = (
    f"tag:yaml.org,2002:{kind}" for kind in ("str", "null", "bool", "int", "float")
)
_SIMPLE_INT = re.compile(r"[-+]?(?:0|[1-9][0-9]*)")
_SIMPLE_FLOAT = re.compile(r"[-+]?(?:0|[1-9][0-9]*)\.[0-9]+")
_DIRECTIVE = re.compile(r"^%", re.MULTILINE)


class _Unsure(Exception):
    """The fast loader cannot vouch for its reading; the round-trip loader decides."""


@cache
def _fast_loader() -> tuple[type[Any], Callable[[str], str], Any] | None:
    """(loader class, YAML 1.2 scalar resolver, non-printable pattern), or None without
    libyaml."""
    try:  # PyYAML is optional (no stubs): without it every document takes the round-trip way
        import yaml  # type: ignore[import-untyped]

        CSafeLoader: Any = yaml.CSafeLoader
    except (ImportError, AttributeError):  # pragma: no cover - no PyYAML, or no libyaml in it
        return None
    from ruamel.yaml.reader import Reader
    from ruamel.yaml.resolver import VersionedResolver

    class Loader(CSafeLoader):  # type: ignore[misc]
        def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
            if kind is yaml.ScalarNode:
                if implicit == (True, False):
                    return _PLAIN_TAG
                if implicit == (False, True):
                    return _QUOTED_TAG
                return "!bg-unsure"
            return _MAP_TAG if kind is yaml.MappingNode else _SEQ_TAG

        # no path-based resolvers here: skip PyYAML's bookkeeping for them on every node
        def descend_resolver(self, current_node: Any, current_index: Any) -> None:
            return None

        def ascend_resolver(self) -> None:
            return None

    # The YAML 1.2 implicit resolvers, by first character, taken once from the round-trip
    # loader's resolver and matched as its resolve() matches them (without its per-call lookups
    # of the document's YAML version: a document with a %YAML directive never comes here).
    resolver = VersionedResolver()
    table = resolver.versioned_resolver
    anywhere = tuple(table.get(None, ()))
    by_first = {  # (tag, the pattern's match: taken out of ruamel's lazily compiled wrapper)
        first: tuple((str(tag), regexp.match) for tag, regexp in (*rules, *anywhere))
        for first, rules in table.items()
        if first is not None
    }
    fallback = tuple((str(tag), regexp.match) for tag, regexp in anywhere)

    @lru_cache(maxsize=4096)  # keys and small values repeat from document to document
    def resolve(value: str) -> str:
        for tag, match in by_first.get(value[:1], fallback):
            if match(value):
                return tag
        return _STR

    return Loader, resolve, Reader.NON_PRINTABLE


def fast_yaml(text: str) -> tuple[bool, Any]:
    """(True, plain data) when the fast loader's reading is certain to be the round-trip
    loader's; (False, None) when the round-trip loader must read it."""
    parts = _fast_loader()
    if parts is None:
        return False, None
    loader_class, resolve, non_printable = parts
    if "\t" in text or _DIRECTIVE.search(text) or non_printable.search(text):
        return False, None
    try:
        loader = loader_class(text.encode("utf-8"))  # libyaml reads UTF-8 bytes quickest
        try:
            node = loader.get_single_node()
        finally:
            loader.dispose()
    except Exception:
        return False, None
    if node is None:
        return True, None
    if "*" in text and alias_overflow(node) is not None:
        return False, None  # the round-trip loader refuses it, naming the line
    try:
        return True, _construct(node, resolve, set())
    except (_Unsure, RecursionError):
        return False, None


def _construct(node: Any, resolve: Callable[[str], str], open_nodes: set[int]) -> Any:
    tag = node.tag
    if tag == _QUOTED_TAG:
        return node.value
    if tag == _PLAIN_TAG:
        return _scalar(node.value, resolve)
    if tag not in (_MAP_TAG, _SEQ_TAG) or id(node) in open_nodes:
        raise _Unsure
    open_nodes.add(id(node))
    if tag == _SEQ_TAG:
        result: Any = [
            item.value
            if item.tag == _QUOTED_TAG
            else _scalar(item.value, resolve)
            if item.tag == _PLAIN_TAG
            else _construct(item, resolve, open_nodes)
            for item in node.value
        ]
    else:
        result = {}
        for key_node, value_node in node.value:
            if key_node.tag == _QUOTED_TAG:
                key = key_node.value
            elif key_node.tag == _PLAIN_TAG:
                key = _scalar(key_node.value, resolve)
            else:
                raise _Unsure
            if not isinstance(key, str) or key in result:
                raise _Unsure
            value_tag = value_node.tag  # scalars inline: one call fewer for most nodes
            if value_tag == _QUOTED_TAG:
                result[key] = value_node.value
            elif value_tag == _PLAIN_TAG:
                result[key] = _scalar(value_node.value, resolve)
            else:
                result[key] = _construct(value_node, resolve, open_nodes)
    open_nodes.discard(id(node))
    return result


def _scalar(value: str, resolve: Callable[[str], str]) -> Any:
    tag = resolve(value)
    if tag == _STR:
        return value
    if tag == _NULL:
        return None
    if tag == _BOOL:
        return value.lower() == "true"
    if tag == _INT and _SIMPLE_INT.fullmatch(value):
        return int(value)
    if tag == _FLOAT and _SIMPLE_FLOAT.fullmatch(value):
        return float(value)
    raise _Unsure


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


# How many nodes aliases may add to a document. A YAML alias repeats a whole subtree without
# copying it in the text, so nested aliases ("billion laughs") grow a few lines into billions of
# values; reading such a document is refused (exit 2) before anything is built from it.
ALIAS_LIMIT = 100_000


def alias_overflow(root: Any) -> int | None:
    """The 1-based line of a node of a composed YAML document (PyYAML's or ruamel's node tree)
    whose expansion through aliases adds more than ALIAS_LIMIT nodes; None when none does.
    Linear in the number of distinct nodes: an aliased node is sized once."""
    sizes: dict[int, int] = {}
    started: set[int] = set()
    distinct = 0
    stack: list[Any] = [root]
    while stack:
        node = stack[-1]
        key = id(node)
        value = node.value
        if not isinstance(value, list):  # a scalar
            stack.pop()
            if key not in sizes:
                sizes[key] = 1
                distinct += 1
            continue
        children = (
            [c for pair in value for c in pair] if value and isinstance(value[0], tuple) else value
        )
        if key not in started:
            started.add(key)
            stack.extend(c for c in children if id(c) not in sizes and id(c) not in started)
            continue
        stack.pop()
        if key in sizes:
            continue
        size = 1 + sum(sizes.get(id(c), 1) for c in children)  # a cycle counts once
        sizes[key] = size
        distinct += 1
        if size - distinct > ALIAS_LIMIT:
            return int(node.start_mark.line) + 1
    return None


def round_trip_load(text: str, display: str, error: type[BluegreenError]) -> Any:
    """YAML text through the round-trip loader, refusing (exit 2, file:line) a document whose
    aliases expand past ALIAS_LIMIT before it is constructed."""
    from ruamel.yaml import YAML

    yaml = YAML(typ="rt")
    if "*" in text:
        composer = yaml.composer
        compose = composer.get_single_node

        def checked() -> Any:
            node = compose()
            line = alias_overflow(node) if node is not None else None
            if line is not None:
                raise error(
                    f"YAML aliases here expand to more than {ALIAS_LIMIT} values "
                    "(an alias bomb?); not read",
                    where=f"{display}:{line}",
                    hint="write the values out, or use fewer nested aliases",
                )
            return node

        composer.get_single_node = checked
    return yaml.load(text)


def parse_yaml(text: str, display: str, *, error: type[BluegreenError] = SpecError) -> Any:
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    try:
        return round_trip_load(text, display, error)
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


# --- schema -------------------------------------------------------------------------------------
def schema_problems(
    instance: Any,
    schema: dict[str, Any],
    where: Callable[[JsonPath], str],
    *,
    error: type[BluegreenError] = SpecError,
    conceal: Callable[[JsonPath], bool | str] | None = None,
) -> list[BluegreenError]:
    """Every violation of `schema`, each as an error whose `where` is `where(json_path)`.

    Where `conceal(json_path)` is true the message names the kind of the offending value but
    never quotes it (environment values of a task definition, for example); where it is a
    string, that string also says where the value came from (`vars.port (--var port)`)."""
    check = _fast_check(schema)
    if check is not None and check(instance):
        return []  # valid: jsonschema would find nothing
    from jsonschema.exceptions import ValidationError

    validator = _validator(schema)
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
            hidden = conceal(path) if conceal is not None else False
            found.append(error(_schema_message(err, hidden=hidden), where=where(path)))
    return sorted(found, key=_line_of)


# Compiled validators, one per schema object (the packaged schemas are loaded once, so a
# process builds each validator once). The schema is kept with its validator: an id is only
# unique while its object lives.
_VALIDATORS: dict[int, tuple[dict[str, Any], Draft202012Validator]] = {}


def _validator(schema: dict[str, Any]) -> Draft202012Validator:
    cached = _VALIDATORS.get(id(schema))
    if cached is not None and cached[0] is schema:
        return cached[1]
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(schema)
    if len(_VALIDATORS) >= 64:  # schemas built on the fly; the packaged ones are a handful
        _VALIDATORS.clear()
    _VALIDATORS[id(schema)] = (schema, validator)
    return validator


_RELAXED: dict[int, tuple[dict[str, Any], dict[str, Any]]] = {}


# --- schema: the fast validity check -------------------------------------------------------------
# jsonschema walks a schema anew for every instance; most documents are valid, and for them a
# yes/no answer is all that is needed. The schema is compiled once into nested closures that
# answer exactly that, with jsonschema's Draft 2020-12 semantics, for the keywords the packaged
# schemas use; a schema with any other keyword gets no fast check. Every "no" (and every schema
# without a fast check) goes to jsonschema, which produces the messages.
Check = Callable[[Any], bool]
_ANNOTATIONS = frozenset(
    {"$schema", "$id", "$comment", "$defs", "title", "description", "examples", "default"}
    | {"format", "deprecated", "readOnly", "writeOnly"}  # format: not asserted (no checker)
)
_FAST: dict[int, tuple[dict[str, Any], Check | None]] = {}


class _Unsupported(Exception):
    """A keyword (or form of one) the fast check does not implement."""


def _fast_check(schema: dict[str, Any]) -> Check | None:
    cached = _FAST.get(id(schema))
    if cached is not None and cached[0] is schema:
        return cached[1]
    try:
        check: Check | None = _SchemaCompiler(schema).compile(schema)
    except _Unsupported:
        check = None
    if len(_FAST) >= 64:
        _FAST.clear()
    _FAST[id(schema)] = (schema, check)
    return check


def _is_type(value: Any, kind: str) -> bool:
    """jsonschema's Draft 2020-12 types: booleans are not numbers; 1.0 is an integer."""
    if kind == "object":
        return isinstance(value, dict)
    if kind == "array":
        return isinstance(value, list)
    if kind == "string":
        return isinstance(value, str)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "null":
        return value is None
    if isinstance(value, bool):
        return False
    if kind == "number":
        return isinstance(value, int | float)
    if kind == "integer":
        return isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    raise _Unsupported(kind)


# Types whose check is one isinstance (bool is an int, so "integer" and "number" are not here).
_PLAIN_TYPES: dict[str, type] = {"object": dict, "array": list, "string": str, "boolean": bool}


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _all_of(checks: list[Check]) -> Check:
    if len(checks) == 1:
        return checks[0]

    def check(value: Any) -> bool:
        for one in checks:  # noqa: SIM110 - a loop: quicker than all() over a generator
            if not one(value):
                return False
        return True

    return check


def _equal(one: Any, two: Any) -> bool:
    """jsonschema's equality: True is not 1, 1 is 1.0, containers compared item by item."""
    if one is two:
        return True
    if isinstance(one, str) or isinstance(two, str):
        return bool(one == two)
    if isinstance(one, list) and isinstance(two, list):
        return len(one) == len(two) and all(_equal(a, b) for a, b in zip(one, two, strict=True))
    if isinstance(one, dict) and isinstance(two, dict):
        return one.keys() == two.keys() and all(_equal(one[k], two[k]) for k in one)
    if isinstance(one, bool) or isinstance(two, bool):
        return isinstance(one, bool) and isinstance(two, bool) and one == two
    if isinstance(one, list | dict) or isinstance(two, list | dict):
        return False
    return bool(one == two)


_KEYWORDS = {
    keyword: "_" + keyword.lstrip("$")
    for keyword in (
        "$ref",
        "type",
        "required",
        "enum",
        "const",
        "pattern",
        "minLength",
        "maxLength",
        "minItems",
        "maxItems",
        "minProperties",
        "maxProperties",
        "minimum",
        "maximum",
        "items",
        "uniqueItems",
        "propertyNames",
        "allOf",
        "oneOf",
    )
}


class _SchemaCompiler:
    def __init__(self, root: dict[str, Any]) -> None:
        self.root = root
        self.refs: dict[str, Check] = {}

    def compile(self, schema: Any) -> Check:
        if schema is True:
            return lambda value: True
        if schema is False:
            return lambda value: False
        if not isinstance(schema, dict):
            raise _Unsupported("schema")
        checks: list[Check] = []
        for key, arg in schema.items():
            if key in _ANNOTATIONS:
                continue
            if key in ("additionalProperties", "properties"):
                continue  # compiled together below
            if key not in _KEYWORDS:
                raise _Unsupported(key)
            make: Callable[[Any, dict[str, Any]], Check] = getattr(self, _KEYWORDS[key])
            checks.append(make(arg, schema))
        if "properties" in schema or "additionalProperties" in schema:
            checks.append(self._object(schema))
        return _all_of(checks)

    def _object(self, schema: dict[str, Any]) -> Check:
        properties = {k: self.compile(v) for k, v in schema.get("properties", {}).items()}
        extra = schema.get("additionalProperties", True)
        other = None if extra is True else self.compile(extra)

        def check(value: Any) -> bool:
            if not isinstance(value, dict):
                return True
            for key, item in value.items():
                sub = properties.get(key)
                if sub is not None:
                    if not sub(item):
                        return False
                elif other is not None and not other(item):
                    return False
            return True

        return check

    def _ref(self, ref: Any, schema: dict[str, Any]) -> Check:
        if not isinstance(ref, str) or not ref.startswith("#/"):
            raise _Unsupported("$ref")
        if ref not in self.refs:
            target: Any = self.root
            for part in ref[2:].split("/"):
                part = part.replace("~1", "/").replace("~0", "~")
                if not isinstance(target, dict) or part not in target:
                    raise _Unsupported("$ref")
                target = target[part]
            holder: list[Check] = []
            self.refs[ref] = lambda value: holder[0](value)  # recursion: filled in below
            holder.append(self.compile(target))
        return self.refs[ref]

    def _type(self, kinds: Any, schema: dict[str, Any]) -> Check:
        wanted = [kinds] if isinstance(kinds, str) else list(kinds)
        for kind in wanted:
            _is_type(None, kind)  # unknown type names are unsupported
        if len(wanted) == 1 and wanted[0] in _PLAIN_TYPES:
            exact = _PLAIN_TYPES[wanted[0]]
            return lambda value: isinstance(value, exact)
        return lambda value: any(_is_type(value, kind) for kind in wanted)

    def _required(self, names: Any, schema: dict[str, Any]) -> Check:
        keys = list(names)
        return lambda value: not isinstance(value, dict) or all(k in value for k in keys)

    def _enum(self, options: Any, schema: dict[str, Any]) -> Check:
        allowed = list(options)
        return lambda value: any(_equal(value, option) for option in allowed)

    def _const(self, const: Any, schema: dict[str, Any]) -> Check:
        return lambda value: _equal(value, const)

    def _pattern(self, pattern: Any, schema: dict[str, Any]) -> Check:
        search = re.compile(pattern).search
        return lambda value: not isinstance(value, str) or search(value) is not None

    def _minLength(self, limit: Any, schema: dict[str, Any]) -> Check:
        return lambda value: not isinstance(value, str) or len(value) >= limit

    def _maxLength(self, limit: Any, schema: dict[str, Any]) -> Check:
        return lambda value: not isinstance(value, str) or len(value) <= limit

    def _minItems(self, limit: Any, schema: dict[str, Any]) -> Check:
        return lambda value: not isinstance(value, list) or len(value) >= limit

    def _maxItems(self, limit: Any, schema: dict[str, Any]) -> Check:
        return lambda value: not isinstance(value, list) or len(value) <= limit

    def _minProperties(self, limit: Any, schema: dict[str, Any]) -> Check:
        return lambda value: not isinstance(value, dict) or len(value) >= limit

    def _maxProperties(self, limit: Any, schema: dict[str, Any]) -> Check:
        return lambda value: not isinstance(value, dict) or len(value) <= limit

    def _minimum(self, limit: Any, schema: dict[str, Any]) -> Check:
        return lambda value: not _is_number(value) or value >= limit

    def _maximum(self, limit: Any, schema: dict[str, Any]) -> Check:
        return lambda value: not _is_number(value) or value <= limit

    def _items(self, items: Any, schema: dict[str, Any]) -> Check:
        if "prefixItems" in schema:
            raise _Unsupported("prefixItems")
        each = self.compile(items)

        def check(value: Any) -> bool:
            if isinstance(value, list):
                for item in value:  # a loop: quicker than all() over a generator
                    if not each(item):
                        return False
            return True

        return check

    def _uniqueItems(self, unique: Any, schema: dict[str, Any]) -> Check:
        if not unique:
            return lambda value: True

        def check(value: Any) -> bool:
            if not isinstance(value, list):
                return True
            return not any(
                _equal(value[i], value[j])
                for i in range(len(value))
                for j in range(i + 1, len(value))
            )

        return check

    def _propertyNames(self, names: Any, schema: dict[str, Any]) -> Check:
        each = self.compile(names)
        return lambda value: not isinstance(value, dict) or all(each(k) for k in value)

    def _allOf(self, subs: Any, schema: dict[str, Any]) -> Check:
        return _all_of([self.compile(sub) for sub in subs])

    def _oneOf(self, subs: Any, schema: dict[str, Any]) -> Check:
        checks = [self.compile(sub) for sub in subs]
        return lambda value: sum(1 for check in checks if check(value)) == 1


def _relaxed(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema without its top-level `required` (one object per schema, so that its
    validator is cached too)."""
    cached = _RELAXED.get(id(schema))
    if cached is not None and cached[0] is schema:
        return cached[1]
    relaxed = {k: v for k, v in schema.items() if k != "required"}
    _RELAXED[id(schema)] = (schema, relaxed)
    return relaxed


def _line_of(err: BluegreenError) -> int:
    m = re.match(r"[^:]*:(\d+):", err.where or "")
    return int(m.group(1)) if m else 0


def _schema_message(err: Any, *, hidden: bool | str = False) -> str:
    v = err.validator
    source = f" from {hidden}" if isinstance(hidden, str) else ""
    shown = f"a {_kind(err.instance)}{source} (value hidden)" if hidden else _short(err.instance)
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
    raise_problems(schema_problems(doc, first, where_raw), subject=display)

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

    raise_problems(schema_problems(data, schema, where), subject=display)
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
    )
    raise_problems(problems, subject=display_path(path))
    return spec
