"""Errors the sandbox answers on AWS's behalf, in the protocol the request spoke.

JSON 1.0/1.1 (ECS, ECR, CodeDeploy): `{"__type", "message"}`; awsQueryCompatible JSON and
smithy-rpc-v2-cbor (CloudWatch): the same body, CBOR-encoded for CBOR requests, with the query
code in `x-amzn-query-error`; query (ELBv2, IAM, STS): an `<ErrorResponse>` document; EC2: its
`<Response><Errors>` document. Every answer names its request in x-amzn-RequestId.
"""

from __future__ import annotations

import json
import struct
import uuid
from collections.abc import Callable
from functools import cache
from typing import Any
from xml.sax.saxutils import escape

StartResponse = Callable[..., Any]
REASONS = {400: "Bad Request", 403: "Forbidden"}


def _cbor_head(major: int, length: int) -> bytes:
    if length < 24:
        return bytes([major << 5 | length])
    if length < 0x100:
        return bytes([major << 5 | 24, length])
    if length < 0x10000:
        return bytes([major << 5 | 25]) + struct.pack(">H", length)
    return bytes([major << 5 | 26]) + struct.pack(">I", length)


def cbor_text_map(values: dict[str, str]) -> bytes:
    """A CBOR map of text strings (all an error body holds)."""
    out = bytearray(_cbor_head(5, len(values)))
    for key, value in values.items():
        for text in (key, value):
            data = text.encode()
            out += _cbor_head(3, len(data)) + data
    return bytes(out)


def protocol(environ: dict[str, Any], service: str | None) -> str:
    """The request's protocol ("cbor", "json", "ec2" or "query"), from its headers."""
    content_type = environ.get("CONTENT_TYPE", "").lower()
    if environ.get("HTTP_SMITHY_PROTOCOL", "").lower() == "rpc-v2-cbor" or "cbor" in content_type:
        return "cbor"
    if "json" in content_type:
        return "json"
    if service == "ec2":
        return "ec2"
    if "x-www-form-urlencoded" in content_type or environ.get("REQUEST_METHOD") == "GET":
        return "query"
    return "json"


def error_response(
    environ: dict[str, Any],
    start_response: StartResponse,
    service: str | None,
    status: int,
    json_code: str,
    query_code: str,
    message: str,
) -> list[bytes]:
    """An AWS error in the request's protocol: `json_code` for JSON services, `query_code` for
    query ones (and, for query-compatible JSON/CBOR, in x-amzn-query-error)."""
    request_id = str(uuid.uuid4())
    reason = f"{status} {REASONS.get(status, 'Error')}"
    kind = protocol(environ, service)
    headers: list[tuple[str, str]] = [("x-amzn-RequestId", request_id)]
    query_compatible = environ.get("HTTP_X_AMZN_QUERY_MODE", "").lower() == "true"
    if kind in ("json", "cbor"):
        code = json_code
        if query_compatible:
            # awsQueryCompatible services (CloudWatch) carry the query code for SDKs that
            # map it back; its Sender/Receiver type follows the HTTP status.
            code = query_code
            side = "Sender" if status < 500 else "Receiver"
            headers.append(("x-amzn-query-error", f"{query_code};{side}"))
        payload = {"__type": code, "message": message}
        if kind == "cbor":
            body = cbor_text_map(payload)
            headers += [("Content-Type", "application/cbor"), ("smithy-protocol", "rpc-v2-cbor")]
        else:
            body = json.dumps(payload).encode()
            content_type = environ.get("CONTENT_TYPE") or "application/x-amz-json-1.1"
            headers.append(("Content-Type", content_type))
    elif kind == "ec2":
        body = (
            f"<Response><Errors><Error><Code>{escape(query_code)}</Code>"
            f"<Message>{escape(message)}</Message></Error></Errors>"
            f"<RequestID>{request_id}</RequestID></Response>"
        ).encode()
        headers.append(("Content-Type", "text/xml"))
    else:
        side = "Sender" if status < 500 else "Receiver"
        body = (
            "<ErrorResponse><Error>"
            f"<Type>{side}</Type><Code>{escape(query_code)}</Code>"
            f"<Message>{escape(message)}</Message></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>"
        ).encode()
        headers.append(("Content-Type", "text/xml"))
    headers.append(("Content-Length", str(len(body))))
    start_response(reason, headers)
    return [body]


@cache
def known_regions() -> frozenset[str]:
    """Every region of every partition botocore knows (the regions moto serves)."""
    from botocore.loaders import create_loader

    endpoints = create_loader().load_data("endpoints")
    return frozenset(
        region for partition in endpoints["partitions"] for region in partition["regions"]
    )


def invalid_region(
    environ: dict[str, Any], start_response: StartResponse, service: str | None, region: str
) -> list[bytes]:
    """AWS refuses a request signed for a region that does not exist before any service sees
    it: HTTP 403, "Credential should be scoped to a valid region, not '<region>'."
    (InvalidSignatureException in JSON protocols, SignatureDoesNotMatch in query ones; the
    SigV4 credential scope names the region:
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html)."""
    return error_response(
        environ,
        start_response,
        service,
        403,
        "InvalidSignatureException",
        "SignatureDoesNotMatch",
        f"Credential should be scoped to a valid region, not '{region}'. ",
    )


def operation_of(environ: dict[str, Any]) -> str | None:
    """The operation a request calls: the X-Amz-Target suffix (JSON), the path's last part
    (smithy-rpc-v2-cbor: `/service/<name>/operation/<Op>`), or the query `Action` (in the
    form body, which is read and put back, or the query string)."""
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target:
        return str(target).rsplit(".", 1)[-1]
    path = environ.get("PATH_INFO", "")
    if "/operation/" in path:
        return str(path).rsplit("/operation/", 1)[-1].strip("/") or None
    from urllib.parse import parse_qs

    query = parse_qs(environ.get("QUERY_STRING", ""))
    if "Action" in query:
        return str(query["Action"][0])
    if "x-www-form-urlencoded" not in environ.get("CONTENT_TYPE", ""):
        return None
    import io

    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    stream = environ.get("wsgi.input")
    if stream is None or length <= 0:
        return None
    raw: bytes = stream.read(length)
    environ["wsgi.input"] = io.BytesIO(raw)
    action = parse_qs(raw.decode("utf-8", "replace")).get("Action")
    return action[0] if action else None


IAM_PREFIXES = {"monitoring": "cloudwatch"}  # signing name -> IAM action prefix


def access_denied(
    environ: dict[str, Any],
    start_response: StartResponse,
    service: str | None,
    operation: str | None,
    mode: str,
) -> list[bytes]:
    """The `access-denied` fault's answer: AccessDeniedException / AccessDenied naming the
    denied action, or, for expired credentials, ExpiredTokenException / ExpiredToken
    (https://docs.aws.amazon.com/awsconsolehelpdocs/latest/gsg/common-errors.html; the
    operation reference pages list them with the common errors:
    https://docs.aws.amazon.com/AmazonECS/latest/APIReference/CommonErrors.html)."""
    if mode == "expired":
        return error_response(
            environ,
            start_response,
            service,
            403 if protocol(environ, service) in ("query", "ec2") else 400,
            "ExpiredTokenException",
            "ExpiredToken",
            "The security token included in the request is expired",
        )
    action = f"{IAM_PREFIXES.get(service or '', service or 'aws')}:{operation}"
    return error_response(
        environ,
        start_response,
        service,
        403 if protocol(environ, service) in ("query", "ec2") else 400,
        "AccessDeniedException",
        "AccessDenied",
        "User: arn:aws:iam::123456789012:user/sandbox is not authorized to perform: "
        f"{action} because no identity-based policy allows the {action} action",
    )
