"""The spec's JSON Schema: a full validator for messages, a compiled fast check."""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from bluegreen.errors import BluegreenError, SpecError

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator
from bluegreen.spec.yaml import JsonPath


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
