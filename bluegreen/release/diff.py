"""`diff`: the task definition a release would register against the one the service runs.

Both sides are normalised to RegisterTaskDefinition input before comparing, so what ECS
adds on describe (ARN, revision, status, registeredAt, requiresAttributes, defaults such as
`essential: true` or `protocol: tcp`, empty lists) is not reported as a change. The text is
made from redacted copies (render/redact.py): real values are shown, secrets never reach it; a
redacted environment value that changed is marked `*** (changed)`.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bluegreen.render.taskdef import normalise

if TYPE_CHECKING:
    from bluegreen.aws.session import Aws
    from bluegreen.spec.model import Spec


@dataclass(frozen=True)
class DiffResult:
    changed: bool
    diff: str  # unified diff of the redacted documents; "" when unchanged
    live_arn: str | None
    notes: tuple[str, ...]


def _lines(doc: Mapping[str, Any] | None) -> list[str]:
    if doc is None:
        return []
    return json.dumps(doc, indent=2, sort_keys=True).splitlines(keepends=True)


CHANGED = " (changed)"
CHANGED_MASK = "***" + CHANGED


def _env(td: Mapping[str, Any] | None) -> dict[tuple[str, str], Any]:
    out: dict[tuple[str, str], Any] = {}
    for c in (td or {}).get("containerDefinitions") or []:
        for e in c.get("environment") or []:
            out[(str(c.get("name")), str(e.get("name")))] = e.get("value")
    return out


def _mark_changed_env(
    old: Mapping[str, Any] | None,
    new: Mapping[str, Any],
    redacted_old: Mapping[str, Any] | None,
    redacted: dict[str, Any],
) -> dict[str, Any]:
    """In the redacted new document, say which redacted environment values changed (not to
    what): a value whose redacted text is the same on both sides gets " (changed)" appended
    (`*** (changed)`); values shown in clear speak for themselves."""
    if old is None:
        return redacted
    before, after = _env(old), _env(new)
    shown_before = _env(redacted_old)
    for c in redacted.get("containerDefinitions") or []:
        for e in c.get("environment") or []:
            key = (str(c.get("name")), str(e.get("name")))
            value = e.get("value")
            if (
                key in before
                and before[key] != after.get(key)
                and isinstance(value, str)
                and shown_before.get(key) == value
            ):
                e["value"] = value + CHANGED
    return redacted


def diff_task_definitions(
    live: Mapping[str, Any] | None, rendered: Mapping[str, Any], *, live_arn: str | None = None
) -> DiffResult:
    """Compare; `live` None means the service runs no task definition yet."""
    from bluegreen.render.redact import redact_task_definition

    new = normalise(rendered)
    old = normalise(live) if live is not None else None
    changed = old != new
    notes: list[str] = []
    if not changed:
        return DiffResult(False, "", live_arn, ())
    redacted_old = redact_task_definition(old) if old is not None else None
    old_text = _lines(redacted_old)
    new_text = _lines(_mark_changed_env(old, new, redacted_old, redact_task_definition(new)))
    text = "".join(
        difflib.unified_diff(
            old_text,
            new_text,
            fromfile=f"live {live_arn}" if live_arn else "live (none)",
            tofile="rendered",
        )
    )
    if not text:
        notes.append("values that are redacted (secrets) differ")
    return DiffResult(True, text, live_arn, tuple(notes))


def diff_release(
    aws: Aws,
    spec: Spec,
    *,
    image_overrides: Mapping[str, str] | None = None,
    var_overrides: Mapping[str, str] | None = None,
    vars_files: Sequence[Path] = (),
) -> DiffResult:
    """Render the release as `deploy` would (digests resolved) and compare it with the task
    definition the service runs now. Reads only."""
    from bluegreen.aws.ecs import describe_service, describe_task_definition
    from bluegreen.render.release import render_for_deploy

    live = describe_service(aws, spec.cluster, spec.service)
    rendered = render_for_deploy(
        spec,
        aws,
        live,
        image_overrides=image_overrides,
        var_overrides=var_overrides,
        vars_files=vars_files,
    )
    current: dict[str, Any] | None = None
    if live.task_definition_arn:
        current = describe_task_definition(aws, live.task_definition_arn)
    new = dict(rendered.task_definition)
    if current is not None and "tags" not in current:
        new.pop("tags", None)  # tags are not part of what describe returned
    return diff_task_definitions(current, new, live_arn=live.task_definition_arn)
