"""Keep secrets out of output: task definitions, diffs, plans, logs and JSON.

Environment values are always redacted (they are where people put tokens). Elsewhere in a task
definition a value is redacted whole when its place says it is secret: it sits under a key whose
name looks secret (`dockerLabels`, `logConfiguration.options`, `firelensConfiguration.options`,
any mapping), it is the `value` of a `{name, value}` pair whose name looks secret, or it follows
an argument like `--password` in a list (`command`, `entryPoint`, a health check). Anything that
looks like a credential by its shape (AWS keys, passwords in URLs or in `name=value` /
`--flag value` text, bearer tokens, private keys, well-known token formats) is redacted wherever
it appears. `secrets[].valueFrom` is an ARN and stays visible: it names where the secret lives,
not the secret (and bluegreen never resolves it).
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
# Names (keys, variables, environment names, `--flags`) that say their value is a secret.
_SECRET_NAME = re.compile(
    r"secret|passw(?:or)?d|pass(?:phrase)?(?![a-z])|pwd|token|api[_-]?key|access[_-]?key"
    r"|private[_-]?key|signing[_-]?key|session[_-]?key|credential|authori[sz]ation"
    r"|auth(?![a-z])|dsn|connection[_-]?string",
    re.IGNORECASE,
)
# Task definition fields whose names match but whose values are references to secrets (ARNs,
# parameter names), never the secrets themselves.
_REFERENCE_KEYS = frozenset(
    {
        "secrets",
        "secretOptions",
        "valueFrom",
        "credentialSpecs",
        "credentialsParameter",
        "repositoryCredentials",
        "authorizationConfig",
    }
)
# An argument that names a secret and takes its value as the next argument: --password, -token
_SECRET_FLAG = re.compile(r"--?[A-Za-z][\w.-]*")

JsonPath = tuple[str | int, ...]

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
    # --name value, where the flag says secret (in one command string)
    (
        re.compile(
            rf"(?P<keep>(?<![\w-])--?[\w.-]*{_SENSITIVE_KEYS}[\w.-]*\s+[\"']?)(?!\*\*\*)(?!-)[^\s\"'&,;]+",
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


def looks_secret_name(name: str) -> bool:
    """Whether a key, variable or argument name says its value is a secret."""
    return bool(_SECRET_NAME.search(name))


def looks_secret_value(value: str) -> bool:
    """Whether a string holds something shaped like a credential."""
    return not _ARN.fullmatch(value) and redact_text(value) != value


def _secret_key(key: Any) -> bool:
    return isinstance(key, str) and key not in _REFERENCE_KEYS and looks_secret_name(key)


def secret_places(doc: Any) -> list[JsonPath]:
    """Where a document holds secrets by their place (not their shape): every scalar under a
    key whose name looks secret, the `value` of a `{name, value}` pair whose name looks secret,
    and the argument after a secret-looking `--flag` in a list of strings."""
    found: list[JsonPath] = []

    def everything(value: Any, path: JsonPath) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                everything(v, (*path, k))
        elif isinstance(value, list):
            for i, v in enumerate(value):
                everything(v, (*path, i))
        elif value is not None and not isinstance(value, bool):
            found.append(path)

    def walk(value: Any, path: JsonPath) -> None:
        if isinstance(value, dict):
            name = value.get("name")
            pair = isinstance(name, str) and "value" in value and looks_secret_name(name)
            for k, v in value.items():
                if _secret_key(k) or (pair and k == "value"):
                    everything(v, (*path, k))
                else:
                    walk(v, (*path, k))
        elif isinstance(value, list):
            previous: Any = None
            for i, v in enumerate(value):
                if (
                    isinstance(previous, str)
                    and isinstance(v, str)
                    and _SECRET_FLAG.fullmatch(previous)
                    and looks_secret_name(previous)
                    and not v.startswith("-")
                ):
                    found.append((*path, i))
                else:
                    walk(v, (*path, i))
                previous = v

    walk(doc, ())
    return found


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return value if _ARN.fullmatch(value) else redact_text(value)
    if isinstance(value, dict):
        return {k: _redact_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact_value(v) for v in value]
    return value


def _mask_at(doc: Any, path: JsonPath) -> None:
    parent = doc
    for step in path[:-1]:
        parent = parent[step]
    parent[path[-1]] = MASK


def redact_task_definition(td: dict[str, Any]) -> dict[str, Any]:
    """A copy of a task definition with environment values, values whose place says secret
    (secret_places) and credential-like strings masked."""
    out: dict[str, Any] = copy.deepcopy(td)
    for path in secret_places(out):
        _mask_at(out, path)
    out = _redact_value(out)
    for container in out.get("containerDefinitions") or []:
        if not isinstance(container, dict):
            continue
        for entry in container.get("environment") or []:
            if isinstance(entry, dict) and "value" in entry:
                entry["value"] = MASK
    return out
