"""`cleanup`: deregister old revisions of the spec's task-definition family.

Keeps the newest N ACTIVE revisions and never touches one that is serving or may serve:
any revision a service of the cluster runs (its task definition, deployments, task sets),
the rollback target (the revision production ran before the live one: rollback_target.py),
and any revision an in-flight CodeDeploy deployment names. `--delete` also deletes the INACTIVE
revisions that nothing uses.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bluegreen.errors import UsageError

if TYPE_CHECKING:
    from bluegreen.aws.session import Aws
    from bluegreen.spec.model import Spec

_REVISION = re.compile(r":task-definition/([A-Za-z0-9_-]+):(\d+)$")


def revision_number(arn: str) -> int:
    m = _REVISION.search(arn)
    if m is None:
        raise ValueError(f"not a task definition revision ARN: {arn}")
    return int(m.group(2))


def short(arn: str) -> str:
    """`arn:aws:ecs:r:a:task-definition/web:3` -> `web:3`."""
    m = _REVISION.search(arn)
    return f"{m.group(1)}:{m.group(2)}" if m else arn


@dataclass(frozen=True)
class CleanupPlan:
    family: str
    keep: list[str]  # the newest N ACTIVE revisions
    protected: dict[str, list[str]]  # older ACTIVE or INACTIVE revisions kept, and why
    deregister: list[str]
    delete: list[str]  # only with --delete


@dataclass
class CleanupResult:
    plan: CleanupPlan
    dry_run: bool
    deregistered: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    delete_failures: dict[str, str] = field(default_factory=dict)


def plan_cleanup(
    family: str,
    *,
    active: Sequence[str],
    inactive: Sequence[str],
    keep: int,
    in_use: Mapping[str, Sequence[str]],
    current: str | None,
    delete: bool,
    rollback_target: str | None = None,
) -> CleanupPlan:
    """Pure: which revisions to keep, protect, deregister and delete.

    `rollback_target`: the revision production ran before `current` (`rollback_target.py`);
    when no record says (None), the ACTIVE revision numbered just below `current` is kept in
    its place."""
    if keep < 1:
        raise UsageError(
            f"--keep must be at least 1, got {keep}",
            where="--keep",
            hint="the newest revision is always kept",
        )
    newest = sorted(active, key=revision_number, reverse=True)
    kept = newest[:keep]
    protected: dict[str, list[str]] = {}
    for arn, reasons in in_use.items():
        if arn in active or arn in inactive:
            protected.setdefault(arn, []).extend(reasons)
    if rollback_target is not None and current is not None:
        protected.setdefault(rollback_target, []).append(
            f"rollback target (before {short(current)})"
        )
    elif current is not None and short(current).startswith(f"{family}:"):
        now = revision_number(current)
        older = [a for a in newest if revision_number(a) < now]
        if older:
            protected.setdefault(older[0], []).append(f"rollback target (before {short(current)})")
    deregister = [a for a in newest[keep:] if a not in protected]
    to_delete: list[str] = []
    if delete:
        inactive_free = [a for a in inactive if a not in protected]
        to_delete = sorted({*deregister, *inactive_free}, key=revision_number, reverse=True)
    return CleanupPlan(
        family=family,
        keep=kept,
        protected={
            a: protected[a]
            for a in sorted(protected, key=revision_number, reverse=True)
            if a not in kept
        },
        deregister=deregister,
        delete=to_delete,
    )


def run_cleanup(aws: Aws, spec: Spec, *, keep: int, dry_run: bool, delete: bool) -> CleanupResult:
    """Gather, plan, and (unless dry_run) deregister then delete."""
    from bluegreen.aws import cleanup as gw
    from bluegreen.aws.codedeploy import active_deployments
    from bluegreen.aws.ecs import describe_service
    from bluegreen.render.release import render_release

    if keep < 1:  # before any AWS call
        plan_cleanup("", active=[], inactive=[], keep=keep, in_use={}, current=None, delete=False)
    live = describe_service(aws, spec.cluster, spec.service)
    family = str(render_release(spec, live=live, aws=aws).task_definition["family"])
    active = gw.family_revisions(aws, family, "ACTIVE")
    inactive = gw.family_revisions(aws, family, "INACTIVE") if delete else []
    in_use: dict[str, list[str]] = {
        k: list(v) for k, v in gw.task_definitions_in_use(aws, spec.cluster).items()
    }
    from bluegreen.engines import EngineKind, select

    if select(live) is EngineKind.CODEDEPLOY:
        ids = active_deployments(aws, spec.codedeploy.application, spec.codedeploy.deployment_group)
        for arn, deployment_id in gw.deployment_task_definitions(aws, ids).items():
            in_use.setdefault(arn, []).append(f"in-flight deployment {deployment_id}")
    from bluegreen.engines.rollback_target import rollback_target
    from bluegreen.journal import Journal, journal_path

    target = rollback_target(aws, spec, Journal(journal_path(spec.path)), live)
    plan = plan_cleanup(
        family,
        active=active,
        inactive=inactive,
        keep=keep,
        in_use=in_use,
        current=live.task_definition_arn,
        delete=delete,
        rollback_target=target.task_definition_arn if target is not None else None,
    )
    result = CleanupResult(plan=plan, dry_run=dry_run)
    if dry_run:
        return result
    for arn in plan.deregister:
        gw.deregister(aws, arn)
        result.deregistered.append(arn)
    if plan.delete:
        result.deleted, result.delete_failures = gw.delete(aws, plan.delete)
    return result
