"""Keep secrets out of output: task definitions, diffs, plans, logs and JSON.

Environment values are always redacted (they are where people put tokens); anything else that
looks like a credential (AWS keys, passwords in URLs or key=value pairs, bearer tokens, private
keys, well-known token formats) is redacted wherever it appears. `secrets[].valueFrom` is an ARN
and stays visible: it names where the secret lives, not the secret.
"""

from __future__ import annotations

import copy
import re
from typing import Any

MASK = "***"

_SENSITIVE_KEYS = (
    r"(?:pass(?:word|wd)?|pwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key"
    r"|credentials?|authorization)"
)
_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    # PEM private keys
    (
        re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.S),
        MASK,
    ),
    # AWS access key ids
    (re.compile(r"\b(?:AKIA|ASIA|AIDA|AROA|AGPA|ANPA)[A-Z0-9]{16}\b"), MASK),
    # userinfo in URLs: scheme://user:password@host
    (
        re.compile(r"(?P<keep>[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@]+:)[^/\s@]+(?=@)"),
        rf"\g<keep>{MASK}",
    ),
    # Authorization: Bearer/Basic xxx
    (
        re.compile(r"(?P<keep>\b(?:Bearer|Basic|Token)\s+)[A-Za-z0-9._~+/=-]{8,}", re.I),
        rf"\g<keep>{MASK}",
    ),
    # name=value / name: value where the name says secret
    (
        re.compile(
            rf"(?P<keep>\b[\w.-]*{_SENSITIVE_KEYS}[\w.-]*\s*[=:]\s*[\"']?)(?!\*\*\*)(?!(?:Bearer|Basic|Token)\s)[^\s\"'&,;]+",
            re.I,
        ),
        rf"\g<keep>{MASK}",
    ),
    # well-known token formats (GitHub, Slack, Stripe, JWT)
    (
        re.compile(
            r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|xox[abposr]-[A-Za-z0-9-]{10,}|sk_live_[A-Za-z0-9]{16,})\b"
        ),
        MASK,
    ),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\b"), MASK),
    # AWS secret access keys: 40 base64 characters standing alone
    (
        re.compile(
            r"(?<![A-Za-z0-9/+=])(?=[A-Za-z0-9/+]*[A-Z])(?=[A-Za-z0-9/+]*[a-z])"
            r"[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])"
        ),
        MASK,
    ),
]
_ARN = re.compile(r"arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:\d{0,12}:\S+")


def redact_text(text: str) -> str:
    """Credential-looking substrings of `text` replaced by ***."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return value if _ARN.fullmatch(value) else redact_text(value)
    if isinstance(value, dict):
        return {k: _redact_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact_value(v) for v in value]
    return value


def redact_task_definition(td: dict[str, Any]) -> dict[str, Any]:
    """A copy of a task definition with environment values and credential-like strings masked."""
    out: dict[str, Any] = _redact_value(copy.deepcopy(td))
    for container in out.get("containerDefinitions") or []:
        if not isinstance(container, dict):
            continue
        for entry in container.get("environment") or []:
            if isinstance(entry, dict) and "value" in entry:
                entry["value"] = MASK
    return out
