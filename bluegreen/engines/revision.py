"""The first writes of a release on the ECS-controller engines (rolling and ECS-native): the
plan printed, the --tag-as tags, and the task-definition revision registered unless an
identical one is there to reuse."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from bluegreen.engines.model import Event, Outcome, Output, revision
from bluegreen.errors import Cancelled, ExitCode
from bluegreen.journal import INTENT, REGISTERED, Journal

if TYPE_CHECKING:
    from bluegreen.aws.session import Aws
    from bluegreen.engines.tagging import TagPlan


class RevisionPlan(Protocol):
    """What these first writes read of an engine's plan."""

    @property
    def cluster(self) -> str: ...

    @property
    def service(self) -> str: ...

    @property
    def task_definition(self) -> dict[str, Any]: ...

    @property
    def reuse_task_definition(self) -> str | None: ...

    @property
    def tags(self) -> TagPlan | None: ...

    @property
    def no_change(self) -> bool: ...

    def json(self) -> dict[str, Any]: ...

    def lines(self) -> list[str]: ...


def emit_plan(out: Output, p: RevisionPlan) -> None:
    out.json(p.json())
    if not getattr(out, "json_mode", False):
        for line in p.lines():
            out.text(line)


def await_registration_turn(
    aws: Aws, tell: Callable[[Event], None], sleep: Callable[[float], None]
) -> None:
    """Wait for this session's next RegisterTaskDefinition turn (aws.pacing), saying so with a
    `paced` event when there is a wait; `sleep` is the caller's, which a cancel wakes (the
    caller checks the cancel afterwards, before it writes)."""
    from bluegreen.aws import ecs

    wait = ecs.registration_turn(aws)
    if wait <= 0:
        return
    text = (
        f"waiting {wait:.0f}s for this registration's turn (ECS registers task definitions "
        "at 1 a second per account and Region after a burst of 20)"
    )
    tell(Event("paced", {"seconds": round(wait, 1)}, text))
    sleep(wait)


def ready_revision(
    aws: Aws,
    p: RevisionPlan,
    journal: Journal,
    out: Output,
    *,
    sleep: Callable[[float], None] = time.sleep,
    cancelled: Callable[[], bool] = lambda: False,
) -> str | None:
    """Tag (--tag-as), then the revision to release: the identical one reused, else a new one
    registered once its turn comes (aws.pacing; `sleep` waits for it and a cancel meanwhile
    ends the release before the registration, exit 130). None when the service already runs
    it (nothing to deploy)."""
    from bluegreen.aws import ecs

    if p.tags is not None:
        # --tag-as: the first write, checked while planning; also when nothing else changes,
        # since the tag names what the service runs.
        from bluegreen.engines.tagging import apply_tags

        apply_tags(aws, p.tags, journal, out.emit)
    if p.no_change:
        return None
    arn = p.reuse_task_definition
    if arn is None:
        await_registration_turn(aws, lambda e: out.emit(e.json(), e.text), sleep)
        if cancelled():
            raise Cancelled(
                "cancelled before the release started; nothing was registered",
                where=f"{p.cluster}/{p.service}",
            )
        journal.append(
            INTENT, action="RegisterTaskDefinition", family=p.task_definition.get("family")
        )
        arn = ecs.register_task_definition(aws, p.task_definition)
        journal.append(REGISTERED, taskDefinitionArn=arn, cluster=p.cluster, service=p.service)
        out.emit({"event": "registered", "taskDefinitionArn": arn}, f"registered {revision(arn)}")
    return arn


def nothing_to_deploy(p: RevisionPlan, status: str) -> Outcome:
    """The outcome when the service already runs the revision: exit 0, nothing written."""
    live = p.reuse_task_definition
    return Outcome(
        "",
        status,
        False,
        ExitCode.OK,
        f"nothing to deploy: the service already runs {revision(live)} "
        "(use `bluegreen redeploy` for fresh tasks)",
        None,
        live,
    )
