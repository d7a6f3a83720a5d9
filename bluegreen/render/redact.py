"""Keep secrets out of output: task definitions, diffs, plans, logs and JSON.

Output shows real values, so a release can be reviewed, except secrets. A value is redacted when

- its **name** looks secret: the environment variable, docker label, log or FireLens option,
  `{key, value}` tag or `--flag` argument it belongs to has a word part that says so (see
  `looks_secret_name`: PASSWORD, SECRET, TOKEN, KEY, CREDENTIAL, PRIVATE, AUTH, DSN, COOKIE,
  SESSION, SIGNATURE, ..., case-insensitive; `DB_PASSWORD`, `apiKey`, `db.password`,
  `--upload-key`), unless its last word part says the value only describes the secret
  (`KMS_KEY_ARN`, `TOKEN_URL`, `PASSWORD_FILE`, `SESSION_TIMEOUT`);
- or its **value** looks like a credential, wherever it sits (`redact_text`): a URL with
  `user:password@` (only the password is hidden), AWS access key ids (AKIA/ASIA/...), 40-character
  AWS-secret-key-like base64, JWTs, PEM private keys, `Bearer`/`Basic` credentials, GitHub and
  Slack tokens, `name=value` / `--flag value` text whose name looks secret, and long
  random-looking strings (`high_entropy`: 32+ characters mixing upper case, lower case and
  digits, at least 4.2 bits of entropy a character, and no words in it: its lower-case runs
  average at most 3 letters, so `MyApplicationServiceHandler2` or a path stays visible;
  hexadecimal strings are left alone, as they are digests, commit SHAs and ids).

The places looked at are the whole task definition: `environment`, `command`, `entryPoint`,
`dockerLabels`, `logConfiguration` and `firelensConfiguration` options, health checks, anything
else. What stays visible: a value that is exactly an ARN, and the fields that hold references to
secrets rather than secrets (`secrets[].valueFrom`, `secretOptions`, `repositoryCredentials`,
`credentialSpecs`, `authorizationConfig`): they name where a secret lives, and bluegreen never
resolves them (a credential pasted into one of them is still caught by its shape). Error
excerpts of rendered templates are stricter (documents.py masks every value there), and a
`--var` value is never quoted in an error.
"""

from __future__ import annotations

import copy
import math
import re
from collections import Counter
from collections.abc import Callable
from typing import Any

from bluegreen.render.known_secrets import redact_known, redact_known_doc

MASK = "***"

# --- names --------------------------------------------------------------------------------------
# A name's word parts: snake, kebab, dotted and camel case (`HTTP_Passwd`, `apiKey`, `db.password`).
_WORD_PARTS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
# A word part that says the value is a secret.
_SECRET_PARTS = frozenset(
    {
        "password",
        "passwords",
        "passwd",
        "pwd",
        "pass",
        "passphrase",
        "secret",
        "secrets",
        "token",
        "tokens",
        "key",
        "keys",
        "apikey",
        "credential",
        "credentials",
        "creds",
        "private",
        "auth",
        "authorization",
        "dsn",
        "cookie",
        "cookies",
        "session",
        "sessions",
        "signature",
        "jwt",
    }
)
# The same words run together without a separator (`DBPASSWORD`, `xapikey`, `authtoken`).
_SECRET_INFIXES = ("password", "passwd", "passphrase", "secret", "token", "credential", "apikey")
# A last word part that says the value describes the secret instead of holding it.
_DESCRIPTIVE_PARTS = frozenset(
    {
        "arn",
        "name",
        "file",
        "path",
        "dir",
        "url",
        "uri",
        "endpoint",
        "host",
        "port",
        "region",
        "header",
        "ttl",
        "timeout",
        "expiry",
        "length",
        "size",
        "enabled",
    }
)
# Task definition fields that hold references to secrets (ARNs, parameter names), never the
# secrets themselves; and `key`, the structural field of `{key, value}` tags.
_REFERENCE_KEYS = frozenset(
    {
        "secrets",
        "secretOptions",
        "valueFrom",
        "credentialSpecs",
        "credentialsParameter",
        "repositoryCredentials",
        "authorizationConfig",
        "key",
    }
)
# An argument that names a secret and takes its value as the next argument: --password, -token
_SECRET_FLAG = re.compile(r"--?[A-Za-z][\w.-]*")

JsonPath = tuple[str | int, ...]


def looks_secret_name(name: str) -> bool:
    """Whether a key, variable or argument name says its value is a secret."""
    parts = [p.lower() for p in _WORD_PARTS.findall(name)]
    if not parts or parts[-1] in _DESCRIPTIVE_PARTS:
        return False
    if any(p in _SECRET_PARTS for p in parts):
        return True
    return any(infix in p for p in parts for infix in _SECRET_INFIXES)


# --- values -------------------------------------------------------------------------------------
_CREDENTIAL_WORDS = r"(?:Bearer|Basic|Token)"


def _named(match: re.Match[str]) -> str:
    """`name=value`, `name: value` or `--name value` text: the value hidden when the name looks
    secret."""
    value = match["value"]
    if (
        not looks_secret_name(match["name"])
        or value.startswith(MASK)
        or re.fullmatch(_CREDENTIAL_WORDS, value, re.I)
    ):
        return match[0]
    return f"{match['name']}{match['sep']}{MASK}"


_ENTROPY_CANDIDATE = re.compile(
    r"(?<![A-Za-z0-9+/=_-])[A-Za-z0-9+/_-]{32,}={0,2}(?![A-Za-z0-9+/=_-])"
)
_HEX = re.compile(r"[0-9a-fA-F-]+")
MIN_ENTROPY = 4.2  # bits a character
MAX_WORDINESS = 3.0  # mean length of the lower-case runs (random base64: about 1.7)


def entropy(text: str) -> float:
    """Shannon entropy of a string, in bits a character."""
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


def high_entropy(text: str) -> bool:
    """Whether a run of 32+ token characters looks random rather than made of words."""
    lower = re.findall(r"[a-z]+", text)
    return (
        not _HEX.fullmatch(text)
        and bool(re.search(r"[A-Z]", text))
        and bool(lower)
        and bool(re.search(r"[0-9]", text))
        and entropy(text.rstrip("=")) >= MIN_ENTROPY
        and sum(map(len, lower)) / len(lower) <= MAX_WORDINESS
    )


def _high_entropy(match: re.Match[str]) -> str:
    return MASK if high_entropy(match[0]) else match[0]


_Replacement = str | Callable[[re.Match[str]], str]
_PATTERNS: list[tuple[re.Pattern[str], _Replacement]] = [
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
        re.compile(rf"(?P<keep>\b{_CREDENTIAL_WORDS}\s+)[A-Za-z0-9._~+/=-]{{8,}}", re.I),
        rf"\g<keep>{MASK}",
    ),
    # name=value / name: value where the name says secret
    (
        re.compile(r"(?P<name>\b[A-Za-z][\w.-]*)(?P<sep>\s*[=:]\s*[\"']?)(?P<value>[^\s\"'&,;]+)"),
        _named,
    ),
    # --name value, where the flag says secret (in one command string)
    (
        re.compile(
            r"(?<![\w-])(?P<name>--?[A-Za-z][\w.-]*)(?P<sep>\s+[\"']?)(?P<value>(?!-)[^\s\"'&,;]+)"
        ),
        _named,
    ),
    # well-known token formats (GitHub, GitLab, Slack, Stripe, JWT)
    (
        re.compile(
            r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,}|glpat-[A-Za-z0-9_-]{20,}"
            r"|xox[abposr]-[A-Za-z0-9-]{10,}|sk_live_[A-Za-z0-9]{16,})\b"
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
    # anything else long and random
    (_ENTROPY_CANDIDATE, _high_entropy),
]
_ARN = re.compile(r"arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:\d{0,12}:\S+")


def redact_text(text: str) -> str:
    """Known secrets (`known_secrets`: what template lookups resolved from SecureString
    parameters) and credential-looking substrings of `text` replaced by ***."""
    text = redact_known(text)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def looks_secret_value(value: str) -> bool:
    """Whether a string holds something shaped like a credential."""
    return not _ARN.fullmatch(value) and redact_text(value) != value


# --- documents ----------------------------------------------------------------------------------
def _secret_key(key: Any) -> bool:
    return isinstance(key, str) and key not in _REFERENCE_KEYS and looks_secret_name(key)


def _shown_anyway(value: Any) -> bool:
    """A value that is exactly an ARN names a resource, never a credential."""
    return isinstance(value, str) and bool(_ARN.fullmatch(value))


def secret_places(doc: Any) -> list[JsonPath]:
    """Where a document holds secrets by their place (not their shape): every scalar under a
    key whose name looks secret, the `value` of a `{name, value}` pair (an environment
    variable) or `{key, value}` pair (a tag) whose name looks secret, and the argument after a
    secret-looking `--flag` in a list of strings. ARNs are not secrets and are left out."""
    found: list[JsonPath] = []

    def everything(value: Any, path: JsonPath) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                everything(v, (*path, k))
        elif isinstance(value, list):
            for i, v in enumerate(value):
                everything(v, (*path, i))
        elif value is not None and not isinstance(value, bool) and not _shown_anyway(value):
            found.append(path)

    def walk(value: Any, path: JsonPath) -> None:
        if isinstance(value, dict):
            name = value.get("name", value.get("key"))
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
                    and not _shown_anyway(v)
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
    """A copy of a task definition with the values whose place says secret (secret_places) and
    credential-like strings (redact_text) masked; everything else as it is."""
    out: dict[str, Any] = copy.deepcopy(td)
    for path in secret_places(out):
        _mask_at(out, path)
    redacted: dict[str, Any] = redact_known_doc(_redact_value(out))  # ARNs and numbers too
    return redacted
