"""Every answer the sandbox gives any boto3 client in a test run is held to botocore's service
model (issue: sandbox fidelity): JSON and CBOR bodies of ECS, CodeDeploy, ECR and CloudWatch
fit the operation's output shape (no unknown members, types and enums right, required members
there), and an error's code is one the operation lists (or one every AWS API may answer).
XML answers (the query and ec2 protocols: ELBv2, IAM, STS, EC2) are walked against the same
shapes (element names, enums, numbers and booleans, required members).

Installed for the whole run by tests/conftest.py: one botocore handler on every client's
`after-call`, for answers from this run's sandboxes only. The problems found fail the run at
its end (every test still runs), listed by operation; with pytest-xdist each worker hands its
problems to the controller, which fails the run.
"""

from __future__ import annotations

from typing import Any

from botocore.model import OperationModel

from tests.sandbox.model_check import COMMON_ERRORS, check_shape, check_xml, decode

CHECKED_PROTOCOLS = frozenset({"json", "smithy-rpc-v2-cbor"})
XML_PROTOCOLS = frozenset({"query", "ec2"})
SANDBOX_URLS: set[str] = set()  # the sandboxes this run started (tests/conftest.py adds them)
PROBLEMS: dict[str, set[str]] = {}
CHECKED: dict[str, int] = {}


def _from_sandbox(url: str) -> bool:
    return any(url.startswith(base) for base in SANDBOX_URLS)


def check_answer(
    model: OperationModel, status: int, headers: dict[str, str], body: bytes
) -> list[str]:
    """What in one raw answer does not fit the operation's model (empty when all fits)."""
    protocol = model.metadata.get("protocol")
    if protocol in XML_PROTOCOLS:
        if not body.strip():
            return [] if status >= 500 else [f"empty answer (HTTP {status})"]
        try:
            return check_xml(model, status, body)
        except Exception as exc:
            return [] if status >= 500 else [f"answer is not XML: {exc}"]
    if protocol not in CHECKED_PROTOCOLS:
        return []
    try:
        decoded = decode(headers, body)
    except ValueError:
        # a fault injected to cut the answer (lost-answer, a 5xx with no body) is no shape
        return [] if status >= 500 else [f"answer is neither JSON nor CBOR (HTTP {status})"]
    if status >= 400:
        code = str(decoded.get("__type") or decoded.get("code") or "").rsplit("#", 1)[-1]
        listed = {error.name for error in model.error_shapes} | COMMON_ERRORS
        if status >= 500 and not code:
            return []
        return [] if code in listed else [f"error {code!r} is not one the operation lists"]
    if model.output_shape is None:
        return []
    return check_shape(model.output_shape, decoded)


def _after_call(http_response: Any, model: OperationModel, **_: Any) -> None:
    if http_response is None or not _from_sandbox(str(getattr(http_response, "url", ""))):
        return
    if model.has_streaming_output:
        return  # reading the body here would leave the caller's stream (S3 GetObject) empty
    name = f"{model.service_model.service_name}.{model.name}"
    CHECKED[name] = CHECKED.get(name, 0) + 1
    headers = {k.lower(): v for k, v in http_response.headers.items()}
    found = check_answer(model, int(http_response.status_code), headers, http_response.content)
    if found:
        PROBLEMS.setdefault(name, set()).update(found[:5])


def install() -> None:
    """Register the check for every botocore session created from now on in this process."""
    from botocore.handlers import BUILTIN_HANDLERS

    entry = ("after-call", _after_call)
    if entry not in BUILTIN_HANDLERS:
        BUILTIN_HANDLERS.append(entry)


def as_data() -> dict[str, list[str]]:
    """The problems found in this process, as JSON-able data (an xdist worker sends them to
    the controller, which reports for the whole run)."""
    return {name: sorted(found) for name, found in PROBLEMS.items()}


def merge(data: dict[str, list[str]]) -> None:
    """Add problems another process found (a worker's `as_data`)."""
    for name, found in data.items():
        PROBLEMS.setdefault(name, set()).update(found)


def report() -> str | None:
    if not PROBLEMS:
        return None
    lines = [f"sandbox answers that do not fit botocore's model ({len(PROBLEMS)} operations):"]
    for name in sorted(PROBLEMS):
        lines += [f"  {name}: {p}" for p in sorted(PROBLEMS[name])]
    return "\n".join(lines)
