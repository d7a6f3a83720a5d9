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
    from bluegreen.engines import EngineKind, pick, select

    ways = {
        EngineKind.CODEDEPLOY: _codedeploy,
        EngineKind.ROLLING: _rolling,
        EngineKind.ECS_NATIVE: _native,
    }
    way = pick(ways, select(live), "redeploy")
    return way(spec, aws, out, request, live.task_definition_arn, loop, journal, cancel)


def _plan_line(out: Output, spec: Spec, arn: str, desired: int) -> None:
    where = f"{spec.cluster}/{spec.service}"
    out.emit(
        {
            "event": "plan",
            "strategy": "redeploy",
            "cluster": spec.cluster,
            "service": spec.service,
            "taskDefinitionArn": arn,
            "desiredCount": desired,
        },
        f"redeploy of {where}: fresh tasks of {revision(arn)} ({desired} tasks)",
    )


def _rolling(
    spec: Spec,
    aws: Aws,
    out: Output,
    request: RedeployRequest,
    task_definition_arn: str,
    loop: Loop | None,
    journal: Journal | None,
    cancel: CancelFlag | None,
) -> Outcome:
    """forceNewDeployment: fresh tasks of the same revision, watched as a rolling update."""
    from bluegreen.aws import ecs

    del cancel  # the rolling watch's loop carries the cancel
    where = f"{spec.cluster}/{spec.service}"
    service = ecs.describe_service_raw(aws, spec.cluster, spec.service)
    check_headroom(service, where=where)
    _plan_line(out, spec, task_definition_arn, int(service.get("desiredCount", 0) or 0))
    if request.dry_run:
        return Outcome.dry_run(task_definition_arn)
    return update_and_watch(
        aws,
        out,
        cluster=spec.cluster,
        service=spec.service,
        task_definition_arn=None,
        previous=task_definition_arn,
        timeout=request.timeout or spec.timeout_seconds or DEFAULT_TIMEOUT,
        request=RollingRequest(wait=request.wait),
        loop=loop or Loop(),
        journal=journal or Journal(journal_path(spec.path)),
        force_new_deployment=True,
    )


def _native(
    spec: Spec,
    aws: Aws,
    out: Output,
    request: RedeployRequest,
    task_definition_arn: str,
    loop: Loop | None,
    journal: Journal | None,
    cancel: CancelFlag | None,
) -> Outcome:
    """forceNewDeployment on an ECS-native service: a ServiceDeployment of the same revision
    (green scaled up, traffic shifted per the service's strategy), followed to its end."""
    from bluegreen.aws import ecs
    from bluegreen.engines.ecs_native import apply as native

    del loop
    service = ecs.describe_service_raw(aws, spec.cluster, spec.service)
    _plan_line(out, spec, task_definition_arn, int(service.get("desiredCount", 0) or 0))
    if request.dry_run:
        return Outcome.dry_run(task_definition_arn)
    native_loop = native.Loop()
    if cancel is not None:
        native_loop = native.Loop(sleep=cancel.sleep, cancelled=lambda: cancel.is_set)
    return native.update_and_follow(
        aws,
        out,
        journal or Journal(journal_path(spec.path)),
        cluster=spec.cluster,
        service=spec.service,
        task_definition_arn=task_definition_arn,
        previous=task_definition_arn,
        deployment_configuration=None,
        timeout=request.timeout or spec.timeout_seconds or DEFAULT_TIMEOUT,
        wait=request.wait,
        on_cancel="rollback",
        loop=native_loop,
        force_new_deployment=True,
    )


def _codedeploy(
    spec: Spec,
    aws: Aws,
    out: Output,
    request: RedeployRequest,
    task_definition_arn: str,
    loop: Loop | None,
    journal: Journal | None,
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
