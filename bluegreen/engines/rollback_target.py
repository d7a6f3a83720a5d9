"""The rollback target: the revision production ran before the live one.

One answer for `rollback` (what it returns to) and `cleanup` (what it must never deregister),
so the two cannot disagree (invariant I3). A rolled-back or failed release never counts: it
never ran production, so after good A, rolled-back B and good C the target is A, not B.

- CodeDeploy: the deployment group's history. The newest Succeeded deployment (not a
  CodeDeploy rollback deployment) that put the live revision in place; the target is the
  revision of the newest Succeeded deployment before it with another revision. When the
  history does not reach that far, the journal's record of that release (its
  `previousTaskDefinitionArn`), else the journal's newest succeeded release of the live
  revision.
- Rolling (ECS controller): the journal's release that put the live revision in place, else
  the family's newest ACTIVE revision below it.

`unfinished` covers the one case where `rollback` returns to another revision: the group's
newest deployment stopped or failed without a rollback, so production may still carry part
of its green; rollback then returns to what ran before that deployment.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bluegreen.errors import PreflightError

if TYPE_CHECKING:
    from bluegreen.aws.model import LiveService
    from bluegreen.aws.session import Aws
    from bluegreen.journal import Journal
    from bluegreen.spec.model import Spec

HISTORY = 100  # deployments of the group read, newest first


@dataclass(frozen=True)
class RollbackTarget:
    task_definition_arn: str
    how: str  # for humans: where the answer came from
    source: str | None = None  # the deployment whose revision (and AppSpec) it is, if known


def _epoch(value: Any) -> float:
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, int | float):
        return float(value)
    return 0.0


def _revision(info: Mapping[str, Any], journal: Mapping[str, Mapping[str, Any]]) -> str | None:
    from bluegreen.aws.cleanup import appspec_task_definitions

    found = appspec_task_definitions(info)
    if found:
        return found[0]
    mine = journal.get(str(info.get("deploymentId"))) or {}
    arn = mine.get("taskDefinitionArn")
    return str(arn) if arn else None


def _is_rollback(info: Mapping[str, Any]) -> bool:
    """A deployment CodeDeploy started to roll another back (its revision is not a release)."""
    return bool((info.get("rollbackInfo") or {}).get("rollbackTriggeringDeploymentId"))


def target_in_history(
    infos: Sequence[Mapping[str, Any]],
    journal: Mapping[str, Mapping[str, Any]],
    current: str | None,
) -> RollbackTarget | None:
    """Pure: the revision before `current` from a group's deployments (any order) and the
    journal's deployment views (`Journal.deployments()`)."""
    if not current:
        return None
    ordered = sorted(infos, key=lambda i: _epoch(i.get("createTime")), reverse=True)
    releases = [i for i in ordered if i.get("status") == "Succeeded" and not _is_rollback(i)]
    made_live = next((n for n, i in enumerate(releases) if _revision(i, journal) == current), None)
    if made_live is not None:
        for info in releases[made_live + 1 :]:
            arn = _revision(info, journal)
            if arn and arn != current:
                dep = str(info.get("deploymentId"))
                return RollbackTarget(
                    arn, f"CodeDeploy: the release {dep} before the live one", dep
                )
        dep = str(releases[made_live].get("deploymentId"))
        prev = (journal.get(dep) or {}).get("previousTaskDefinitionArn")
        if prev and prev != current:
            return RollbackTarget(str(prev), f"the journal: the release {dep} replaced it")
    for dep, view in reversed(list(journal.items())):  # newest first
        result = view.get("result") or {}
        if result.get("status") != "Succeeded" or result.get("rolledBack"):
            continue
        prev = view.get("previousTaskDefinitionArn")
        if view.get("taskDefinitionArn") == current and prev and prev != current:
            return RollbackTarget(str(prev), f"the journal: the release {dep} replaced it")
    return None


def codedeploy_history(aws: Aws, application: str, group: str) -> list[dict[str, Any]]:
    from bluegreen.aws import codedeploy

    ids = codedeploy.list_deployments(aws, application, group, HISTORY)
    return codedeploy.batch_get_deployments(aws, ids)


def _group_views(journal: Journal, application: str, group: str) -> dict[str, dict[str, Any]]:
    return {
        dep: view
        for dep, view in journal.deployments().items()
        if view.get("application") == application and view.get("group") == group
    }


def codedeploy_target(
    aws: Aws, application: str, group: str, journal: Journal, current: str | None
) -> RollbackTarget | None:
    """The revision before `current` on a CodeDeploy deployment group (None: unknown)."""
    views = _group_views(journal, application, group)
    return target_in_history(codedeploy_history(aws, application, group), views, current)


def unfinished(
    aws: Aws, application: str, group: str, journal: Journal, current: str | None
) -> RollbackTarget | None:
    """When the group's newest release stopped or failed without a rollback (production may
    still carry part of its green): the revision that ran before it. Else None."""
    infos = sorted(
        codedeploy_history(aws, application, group),
        key=lambda i: _epoch(i.get("createTime")),
        reverse=True,
    )
    releases = [i for i in infos if not _is_rollback(i)]
    if not releases or releases[0].get("status") not in ("Stopped", "Failed"):
        return None
    last = releases[0]
    dep = str(last.get("deploymentId"))
    rolled = (last.get("rollbackInfo") or {}).get("rollbackDeploymentId")
    if rolled and any(
        i.get("deploymentId") == rolled and i.get("status") == "Succeeded" for i in infos
    ):
        return None
    views = _group_views(journal, application, group)
    stopped = _revision(last, views)
    before = (views.get(dep) or {}).get("previousTaskDefinitionArn") or current
    if before and before != stopped:
        return RollbackTarget(
            str(before), f"the revision before {dep}, which stopped without a rollback"
        )
    return None


def rollback_target(
    aws: Aws, spec: Spec, journal: Journal, live: LiveService
) -> RollbackTarget | None:
    """The revision production ran before the live one, for the spec's service (None when no
    record says)."""
    from bluegreen.engines import EngineKind, select

    current = live.task_definition_arn
    kind = select(live)
    if kind is EngineKind.CODEDEPLOY:
        cd = spec.codedeploy
        return codedeploy_target(aws, cd.application, cd.deployment_group, journal, current)
    if kind is EngineKind.ROLLING:
        return rolling_target(aws, spec, journal, current)
    if kind is EngineKind.ECS_NATIVE:
        return native_target(aws, spec, journal, current)
    return None


def _number(arn: str) -> int:
    tail = arn.rsplit(":", 1)[-1]
    return int(tail) if tail.isdigit() else -1


def rolling_target(
    aws: Aws, spec: Spec, journal: Journal, current: str | None
) -> RollbackTarget | None:
    """A rolling service's revision before `current`: the journal's succeeded release that put
    it in place, else the family's newest ACTIVE revision numbered below it."""
    from bluegreen.aws import ecs
    from bluegreen.journal import rolling_releases

    if not current:
        return None
    for rel in reversed(rolling_releases(journal, spec.cluster, spec.service)):
        result = rel.get("result") or {}
        prev = rel.get("previousTaskDefinitionArn")
        if result.get("status") != "Succeeded" or result.get("rolledBack"):
            continue
        if rel.get("taskDefinitionArn") == current and prev and prev != current:
            dep = rel.get("deploymentId")
            return RollbackTarget(
                str(prev), f"the journal: the release {dep or '?'} replaced it", dep
            )
    family = current.rsplit("/", 1)[-1].rsplit(":", 1)[0]
    older = [a for a in ecs.family_revisions(aws, family) if 0 <= _number(a) < _number(current)]
    if not older:
        return None
    return RollbackTarget(
        max(older, key=_number), f"the family {family}: the newest ACTIVE older revision"
    )


def native_target(
    aws: Aws, spec: Spec, journal: Journal, current: str | None
) -> RollbackTarget | None:
    """An ECS-native service's revision before `current`: the source revision of the newest
    SUCCESSFUL service deployment that put `current` in place (ECS's own record), else the
    rolling rule (the family's newest ACTIVE revision numbered below it)."""
    from bluegreen.aws import ecs_native

    if not current:
        return None
    briefs = ecs_native.list_deployments(
        aws, spec.cluster, spec.service, statuses=["SUCCESSFUL"], limit=HISTORY
    )
    deps = ecs_native.describe_deployments(
        aws, [str(b.get("serviceDeploymentArn")) for b in briefs[:20]]
    )
    for dep in sorted(deps, key=lambda d: str(d.get("createdAt") or ""), reverse=True):
        target = str((dep.get("targetServiceRevision") or {}).get("arn") or "")
        sources = [str(s.get("arn")) for s in dep.get("sourceServiceRevisions") or []]
        if not sources:
            continue
        found = ecs_native.describe_revisions(aws, [target, sources[0]])
        if (found.get(target) or {}).get("taskDefinition") != current:
            continue
        before = (found.get(sources[0]) or {}).get("taskDefinition")
        if before and before != current:
            arn = str(dep.get("serviceDeploymentArn"))
            return RollbackTarget(
                str(before), f"ECS: the service deployment {arn} replaced it", arn
            )
    return rolling_target(aws, spec, journal, current)


def require_active(aws: Aws, arn: str, how: str) -> None:
    """Refuse (exit 2, before any write) to return to a revision that is not ACTIVE."""
    from bluegreen.aws import ecs

    td = ecs.describe_task_definition(aws, arn)
    status = str(td.get("status") or "ACTIVE")
    if status != "ACTIVE":
        raise PreflightError(
            f"the rollback target {arn} ({how}) is {status}: ECS refuses it for a service "
            "update, so there is nothing to roll back to; nothing was changed",
            where=f"task definition {arn}",
            hint="deploy that build again as a new revision with `bluegreen deploy --image "
            "NAME=REF` (its image digests are in `bluegreen history`)",
        )
