"""Hold the sandbox's raw answers to botocore's service model.

`RawResponses` records every raw response body a boto3 client receives (botocore's
`before-parse` event hands it over before parsing), and `check_shape` walks a decoded JSON
answer against an operation's output shape: every member present is in the shape and has the
shape's type (and enum value), every required member is there. A model mismatch is reported
with its JSON path.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from botocore.model import OperationModel, Shape

NUMBER_TYPES = {"integer": int, "long": int}
# Errors every AWS operation may answer though no operation's model lists them
# (https://docs.aws.amazon.com/awsconsolehelpdocs/latest/gsg/common-errors.html), with the
# signature errors AWS's front door answers before any service sees the request.
# The query and ec2 protocols spell two of them their own way: AccessDenied (e.g. ELBv2, IAM)
# and EC2's RequestLimitExceeded
# (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html#CommonErrors).
COMMON_ERRORS = frozenset(
    {
        "AccessDenied",
        "RequestLimitExceeded",
        "AccessDeniedException",
        "ExpiredTokenException",
        "IncompleteSignature",
        "InternalFailure",
        "InvalidSignatureException",
        "NotAuthorized",
        "OptInRequired",
        "RequestExpired",
        "ServiceUnavailable",
        "SignatureDoesNotMatch",
        "Throttling",
        "ThrottlingException",
        "ValidationError",
    }
)


def check_shape(shape: Shape, value: Any, path: str = "$") -> list[str]:
    """Every mismatch between a decoded JSON value and a botocore shape, as readable lines."""
    kind = shape.type_name
    problems: list[str] = []
    if kind == "structure":
        if not isinstance(value, dict):
            return [f"{path}: expected an object for {shape.name}, got {type(value).__name__}"]
        members = shape.members  # type: ignore[attr-defined]
        for key, item in value.items():
            if key not in members:
                problems.append(f"{path}.{key}: not a member of {shape.name}")
                continue
            if item is not None:
                problems += check_shape(members[key], item, f"{path}.{key}")
        for key in shape.required_members:
            if key not in value:
                problems.append(f"{path}.{key}: required member of {shape.name} missing")
        return problems
    if kind == "list":
        if not isinstance(value, list):
            return [f"{path}: expected a list, got {type(value).__name__}"]
        member = shape.member  # type: ignore[attr-defined]
        for index, item in enumerate(value):
            problems += check_shape(member, item, f"{path}[{index}]")
        return problems
    if kind == "map":
        if not isinstance(value, dict):
            return [f"{path}: expected a map, got {type(value).__name__}"]
        for key, item in value.items():
            problems += check_shape(shape.key, key, f"{path}<key>")  # type: ignore[attr-defined]
            problems += check_shape(shape.value, item, f"{path}[{key!r}]")  # type: ignore[attr-defined]
        return problems
    if kind == "string":
        if not isinstance(value, str):
            return [f"{path}: expected a string, got {type(value).__name__} {value!r}"]
        enum = getattr(shape, "enum", None)
        if enum and value not in enum:
            return [f"{path}: {value!r} is not one of {shape.name}'s values {enum}"]
        return []
    if kind == "boolean":
        return [] if isinstance(value, bool) else [f"{path}: expected a boolean, got {value!r}"]
    if kind in NUMBER_TYPES:
        ok = isinstance(value, int) and not isinstance(value, bool)
        return [] if ok else [f"{path}: expected an integer, got {value!r}"]
    if kind in ("double", "float"):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return [] if ok else [f"{path}: expected a number, got {value!r}"]
    if kind == "timestamp":
        # JSON protocols: epoch seconds (a number); botocore also parses ISO 8601 strings;
        # CBOR: a tagged epoch, decoded to a datetime.
        ok = isinstance(value, int | float | str | datetime) and not isinstance(value, bool)
        return [] if ok else [f"{path}: expected a timestamp, got {value!r}"]
    if kind == "blob":
        return [] if isinstance(value, str) else [f"{path}: expected base64 text, got {value!r}"]
    return []


def decode(headers: dict[str, str], body: bytes) -> dict[str, Any]:
    """A raw JSON or CBOR (smithy-rpc-v2-cbor: CloudWatch with botocore >= 1.40) body."""
    if "cbor" in headers.get("content-type", "") or headers.get("smithy-protocol"):
        if not body:
            return {}
        from botocore.parsers import BaseCBORParser

        parser = BaseCBORParser()
        decoded: dict[str, Any] = parser.parse_data_item(
            parser.get_peekable_stream_from_bytes(body)
        )
        return decoded
    loaded: dict[str, Any] = json.loads(body or b"{}")
    return loaded


@dataclass
class RawResponses:
    """Raw JSON bodies received by the clients it is attached to, per operation name."""

    seen: list[tuple[OperationModel, int, dict[str, str], bytes]] = field(default_factory=list)

    def attach(self, client: Any) -> Any:
        client.meta.events.register("before-parse", self._record)
        return client

    def _record(
        self, operation_model: OperationModel, response_dict: dict[str, Any], **_: Any
    ) -> None:
        self.seen.append(
            (
                operation_model,
                int(response_dict["status_code"]),
                {k.lower(): v for k, v in response_dict["headers"].items()},
                bytes(response_dict["body"]),
            )
        )

    def last(self, operation: str) -> tuple[OperationModel, int, dict[str, str], bytes]:
        for entry in reversed(self.seen):
            if entry[0].name == operation:
                return entry
        raise AssertionError(f"no {operation} answer was recorded")

    def check(self, operation: str) -> dict[str, Any]:
        """The last answer to `operation`, after asserting it fits the output shape (or, for an
        error, that its code is one the operation lists)."""
        model, status, headers, body = self.last(operation)
        decoded: dict[str, Any] = decode(headers, body)
        if status >= 400:
            code = str(decoded.get("__type", "")).rsplit("#", 1)[-1]
            listed = {error.name for error in model.error_shapes} | COMMON_ERRORS
            assert code in listed, f"{operation} answered {code!r}, not one of {sorted(listed)}"
            return decoded
        output = model.output_shape
        if output is not None:
            problems = check_shape(output, decoded)
            assert not problems, f"{operation} answer does not fit the model:\n" + "\n".join(
                problems
            )
        return decoded


# --- XML answers (the query and ec2 protocols: ELBv2, IAM, STS, EC2) ----------------------------
def _tag(element: Any) -> str:
    return str(element.tag).rsplit("}", 1)[-1]


def _wire_name(name: str, shape: Shape, protocol: str) -> str:
    """The element name a member travels under (ec2 lower-cases the first letter of names it
    does not give explicitly)."""
    given = shape.serialization.get("name")
    if protocol == "ec2":
        explicit = shape.serialization.get("queryName") or given
        return str(explicit) if explicit else name[:1].lower() + name[1:]
    return str(given or name)


def check_xml_shape(shape: Shape, element: Any, protocol: str, path: str = "$") -> list[str]:
    """Every mismatch between an XML element and a botocore shape."""
    kind = shape.type_name
    if kind == "structure":
        members = shape.members  # type: ignore[attr-defined]
        by_wire = {_wire_name(n, s, protocol): (n, s) for n, s in members.items()}
        problems: list[str] = []
        seen: set[str] = set()
        for child in element:
            tag = _tag(child)
            if tag not in by_wire:
                problems.append(f"{path}.{tag}: not a member of {shape.name}")
                continue
            name, member = by_wire[tag]
            seen.add(name)
            if member.type_name == "list" and member.serialization.get("flattened"):
                problems += check_xml_shape(member.member, child, protocol, f"{path}.{name}[]")  # type: ignore[attr-defined]
            else:
                problems += check_xml_shape(member, child, protocol, f"{path}.{name}")
        for name in shape.required_members:
            if name not in seen:
                problems.append(f"{path}.{name}: required member of {shape.name} missing")
        return problems
    if kind == "list":
        item = shape.member  # type: ignore[attr-defined]
        out: list[str] = []
        for i, child in enumerate(element):
            out += check_xml_shape(item, child, protocol, f"{path}[{i}]")
        return out
    if kind == "map":
        out = []
        for entry in element:
            parts = {_tag(part): part for part in entry}
            value = parts.get(shape.value.serialization.get("name") or "value")  # type: ignore[attr-defined]
            if value is not None:
                out += check_xml_shape(shape.value, value, protocol, f"{path}{{}}")  # type: ignore[attr-defined]
        return out
    text = (element.text or "").strip()
    if kind in ("integer", "long"):
        return [] if text.lstrip("-").isdigit() else [f"{path}: {text!r} is not an integer"]
    if kind == "boolean":
        return [] if text in ("true", "false") else [f"{path}: {text!r} is not a boolean"]
    if kind in ("double", "float"):
        try:
            float(text)
        except ValueError:
            return [f"{path}: {text!r} is not a number"]
        return []
    if kind == "string" and shape.enum and text and text not in shape.enum:
        return [f"{path}: {text!r} is not one of {shape.name}'s values"]
    return []


def check_xml(model: OperationModel, status: int, body: bytes) -> list[str]:
    """An XML answer against the operation's output shape, or its error code against the
    operation's errors."""
    import xml.etree.ElementTree as ET

    protocol = str(model.metadata.get("protocol"))
    root = ET.fromstring(body)  # noqa: S314 - our own sandbox's answer, parsed in a test
    if status >= 400:
        codes = [str(e.text) for e in root.iter() if _tag(e) == "Code"]
        listed = {error.name for error in model.error_shapes} | COMMON_ERRORS
        listed |= {str(e.error_code) for e in model.error_shapes if getattr(e, "error_code", None)}
        return [f"error {c!r} is not one the operation lists" for c in codes if c not in listed]
    output = model.output_shape
    if output is None:
        return []
    if protocol == "query":
        wrapper = output.serialization.get("resultWrapper")
        node = next((e for e in root if _tag(e) == wrapper), None)
        if node is None:
            return [f"$: no {wrapper} element"]
        return check_xml_shape(output, node, protocol)
    # ec2: the members sit in the root, beside the requestId every answer carries
    extra = [e for e in root if _tag(e) != "requestId"]
    wrapper_el = ET.Element("answer")
    wrapper_el.extend(extra)
    return check_xml_shape(output, wrapper_el, protocol)
