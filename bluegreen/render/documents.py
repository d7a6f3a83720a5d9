"""Rendered text parsed back to data, with excerpts and lines for errors."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from bluegreen.errors import (
    BluegreenError,
    TemplateError,
)
from bluegreen.spec.yaml import (
    JsonPath,
    LazyLines,
    fast_yaml,
    plain,
    yaml_problem,
    yaml_where,
)

if TYPE_CHECKING:
    pass


# --- parsing rendered text ------------------------------------------------------------------------
def _parse_rendered(
    text: str, display: str, *, yaml: bool, error: type[BluegreenError] = TemplateError
) -> tuple[Any, Mapping[JsonPath, int]]:
    """Rendered text -> data plus the rendered line of every key (for schema messages; the
    lines are found only when a message asks for one)."""
    if yaml:
        sure, data = fast_yaml(text)
        if sure:
            return data, LazyLines(lambda: _yaml_lines(text, display, error))
        lines: dict[JsonPath, int] = {}
        return plain(_load_rendered_yaml(text, display, error), lines), lines
    duplicates: list[str] = []

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        seen: dict[str, Any] = {}
        for key, value in items:
            if key in seen:
                duplicates.append(key)
            seen[key] = value
        return seen

    try:
        data = json.loads(text, object_pairs_hook=pairs)
    except json.JSONDecodeError as exc:
        raise error(
            f"the rendered text is not valid JSON: {exc.msg} (column {exc.colno})"
            f"{_excerpt(text, exc.lineno)}",
            where=f"{display}:{exc.lineno}",
            hint="the line is counted in the rendered output; check commas and quoting around "
            "template expressions (the tojson filter quotes a value safely)",
        ) from None
    if duplicates:
        key = duplicates[0]
        rows = [
            i
            for i, row in enumerate(text.splitlines(), 1)
            if re.search(rf'"{re.escape(key)}"\s*:', row)
        ]
        line = rows[1] if len(rows) > 1 else 0
        raise error(
            f"the rendered JSON has the key {key!r} twice in one object (the last would win)"
            f"{_excerpt(text, line)}",
            where=f"{display}:{line}" if line else display,
        )
    return data, LazyLines(lambda: _json_lines(text))


def _load_rendered_yaml(text: str, display: str, error: type[BluegreenError]) -> Any:
    """Rendered YAML through the round-trip loader (aliases bounded); its errors name the
    rendered line."""
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    from bluegreen.spec.yaml import round_trip_load

    try:
        return round_trip_load(text, display, error)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 0
        raise error(
            f"the rendered text is not valid YAML: {yaml_problem(exc)}{_excerpt(text, line)}",
            where=yaml_where(exc, display),
        ) from None
    except YAMLError as exc:
        raise error(f"the rendered text is not valid YAML: {exc}", where=display) from None


def _yaml_lines(text: str, display: str, error: type[BluegreenError]) -> dict[JsonPath, int]:
    lines: dict[JsonPath, int] = {}
    plain(_load_rendered_yaml(text, display, error), lines)
    return lines


def _json_lines(text: str) -> dict[JsonPath, int]:
    """JSON is YAML: the round-trip loader finds the line of every key and item."""
    lines: dict[JsonPath, int] = {}
    try:
        from ruamel.yaml import YAML

        plain(YAML(typ="rt").load(text.replace("\t", " ")), lines)
    except Exception:  # noqa: S110 - line numbers are a nicety
        pass
    return lines


# One token of a rendered JSON/YAML line: a key (quoted or bare, with its colon), punctuation,
# white space, a quoted string, or a bare value.
_ROW_TOKEN = re.compile(
    r'"(?:[^"\\]|\\.)*"\s*:(?!\S)|"(?:[^"\\]|\\.)*"\s*:(?=[\s{\[])'
    r"|[A-Za-z_][\w.-]*\s*:(?=\s|$)"
    r"|[{}\[\],]|\s+|-(?=\s)"
    r'|"(?:[^"\\]|\\.)*"?|[^\s{}\[\],"]+'
)


def _masked_row(row: str) -> str:
    """The structure of a rendered line with every value masked: the line may carry an
    environment value or a secret, and only its shape helps find the mistake."""
    out = []
    key_may_follow = True  # at the start, and after `{`, `,` or `- `
    for m in _ROW_TOKEN.finditer(row):
        piece = m.group(0)
        if piece.isspace():
            out.append(piece)
        elif piece in "{,-":
            out.append(piece)
            key_may_follow = True
        elif piece in "}[]" or (key_may_follow and piece.rstrip().endswith(":")):
            out.append(piece)
            key_may_follow = False
        else:
            out.append("…")
            key_may_follow = False
    return "".join(out)


def _excerpt(text: str, line: int) -> str:
    rows = text.splitlines()
    if 1 <= line <= len(rows):
        row = _masked_row(rows[line - 1].strip())
        if len(row) > 100:
            row = row[:97] + "..."
        return f"\n  rendered line {line} (values hidden): {row}"
    return ""


def _at(doc: Any, path: JsonPath) -> Any:
    """The value at `path` in `doc` (None when there is none)."""
    for step in path:
        try:
            doc = doc[step]
        except (KeyError, IndexError, TypeError):
            return None
    return doc


def _environment_path(path: JsonPath) -> bool:
    """Paths whose values schema messages must not quote: container environment entries."""
    return "environment" in path
