"""Secrets known by their value: what template lookups resolved from SSM SecureString parameters
(and Terraform state attributes marked sensitive). Once a value is registered here it is
replaced by *** in everything the tool prints (`redact_text`, `redact_task_definition`, and the
CLI's output channel, error reports and tracebacks), wherever it lands: the environment, a
command, a label, the AppSpec, an error message.

The registry is process-wide and only grows: redacting a known secret in output that is not the
one it was rendered for is always safe, and every thread (fan-out renders specs side by side)
sees every value."""

from __future__ import annotations

import json
import re
import threading
from typing import Any

MASK = "***"
# Shorter values are masked only where they stand alone (not inside a longer word or number),
# so a 3-character secret does not turn every other word of the output into ***.
_SHORT = 4

_lock = threading.Lock()
_values: set[str] = set()
_pattern: re.Pattern[str] | None = None


def add(value: str) -> None:
    """Register `value` (and its JSON-escaped form, as it appears inside JSON text) as a secret."""
    global _pattern
    forms = {value, json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1]}
    forms = {f for f in forms if f.strip()}
    with _lock:
        if forms <= _values:
            return
        _values.update(forms)
        parts = []
        for form in sorted(_values, key=len, reverse=True):  # longest first
            escaped = re.escape(form)
            parts.append(
                escaped if len(form) >= _SHORT else rf"(?<![A-Za-z0-9]){escaped}(?![A-Za-z0-9])"
            )
        _pattern = re.compile("|".join(parts))


def any_known() -> bool:
    return _pattern is not None


def redact_known(text: str) -> str:
    """`text` with every known secret replaced by ***."""
    pattern = _pattern
    if pattern is None or not text:
        return text
    return pattern.sub(MASK, text)


def contains_known(text: str) -> bool:
    pattern = _pattern
    return pattern is not None and pattern.search(text) is not None


def redact_known_doc(value: Any) -> Any:
    """A copy of a JSON-like document with known secrets masked in its strings and keys (a
    number that is a secret becomes "***")."""
    if _pattern is None:
        return value
    if isinstance(value, str):
        return redact_known(value)
    if isinstance(value, dict):
        return {
            (redact_known(k) if isinstance(k, str) else k): redact_known_doc(v)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact_known_doc(v) for v in value]
    if isinstance(value, int | float) and not isinstance(value, bool):
        return MASK if redact_known(str(value)) != str(value) else value
    return value
