"""YAML for specs: a fast loader, positions (file:line) for errors, display paths."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from functools import cache, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bluegreen.errors import BluegreenError, SpecError

if TYPE_CHECKING:
    pass


PathItem = str | int
JsonPath = tuple[PathItem, ...]


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
        if what == "spec file":
            folder = display_path(path.parent.absolute()) if path.parent != Path() else None
            raise error(
                f"spec file not found in {folder or Path.cwd()}",
                where=display,
                hint="run from the spec's folder, name it with -c PATH (or --config PATH), or "
                "write one with `bluegreen init`",
            ) from None
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
