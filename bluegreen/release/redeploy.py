"""`redeploy`: the revision the service runs now, on fresh tasks.

- ECS deployment controller: UpdateService(forceNewDeployment=True), then the rolling watch.
  Fresh tasks pull the image again, which is how a mutable tag picks up a new push.
- CODE_DEPLOY controller: a blue/green deployment of the current revision, through the
  CodeDeploy release (the replacement task set starts fresh tasks).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from bluegreen.engines.model import Outcome, Output, revision
from bluegreen.engines.rolling.rollout import (
    Loop,
    RollingRequest,
    check_headroom,
    update_and_watch,
)
from bluegreen.errors import PreflightError
from bluegreen.journal import Journal, journal_path

if TYPE_CHECKING:
    from bluegreen.aws.session import Aws
    from bluegreen.engines.codedeploy.follow import CancelFlag
    from bluegreen.spec.model import Spec

DEFAULT_TIMEOUT = 1800.0


@dataclass(frozen=True)
class RedeployRequest:
    dry_run: bool = False
    wait: bool = True
    timeout: float | None = None


def redeploy(
    spec: Spec,
    aws: Aws,
    out: Output,
    request: RedeployRequest,
    *,
    loop: Loop | None = None,
    journal: Journal | None = None,
    cancel: CancelFlag | None = None,
) -> Outcome:
    from bluegreen.aws import ecs

    where = f"{spec.cluster}/{spec.service}"
    live = ecs.describe_service(aws, spec.cluster, spec.service)
    if live.task_definition_arn is None:
        raise PreflightError("the service runs no task definition to redeploy", where=where)
    from bluegreen.engines import EngineKind, select

    if select(live) is EngineKind.CODEDEPLOY:
        return _codedeploy(spec, aws, out, request, live.task_definition_arn, cancel)
    service = ecs.describe_service_raw(aws, spec.cluster, spec.service)
    check_headroom(service, where=where)
    out.emit(
        {
            "event": "plan",
            "strategy": "redeploy",
            "cluster": spec.cluster,
            "service": spec.service,
            "taskDefinitionArn": live.task_definition_arn,
            "desiredCount": int(service.get("desiredCount", 0) or 0),
        },
        f"redeploy of {where}: fresh tasks of {revision(live.task_definition_arn)} "
        f"({int(service.get('desiredCount', 0) or 0)} tasks)",
    )
    if request.dry_run:
        return Outcome.dry_run(live.task_definition_arn)
    return update_and_watch(
        aws,
        out,
        cluster=spec.cluster,
        service=spec.service,
        task_definition_arn=None,
        previous=live.task_definition_arn,
        timeout=request.timeout or spec.timeout_seconds or DEFAULT_TIMEOUT,
        request=RollingRequest(wait=request.wait),
        loop=loop or Loop(),
        journal=journal or Journal(journal_path(spec.path)),
        force_new_deployment=True,
    )


def _codedeploy(
    spec: Spec,
    aws: Aws,
    out: Output,
    request: RedeployRequest,
    task_definition_arn: str,
    cancel: CancelFlag | None,
) -> Outcome:
    """A CodeDeploy deployment of the revision the service runs (its images as they are)."""
    from bluegreen.aws import ecs
    from bluegreen.aws.ecr import EcrResolver
    from bluegreen.release.fanout import ReleaseRequest, prepare_codedeploy
    from bluegreen.release.promote import pin_images

    live_td = ecs.describe_task_definition(aws, task_definition_arn)
    images = pin_images(live_td, EcrResolver(aws), f"{spec.cluster}/{spec.service}")
    release = ReleaseRequest(
        image_overrides=images,
        timeout_seconds=request.timeout,
        dry_run=request.dry_run,
        wait=request.wait,
    )
    runner = prepare_codedeploy(spec, aws, release, cancel=cancel, reuse=task_definition_arn)
    return runner(out)
