"""The release use case: apply a plan (register, config, CreateDeployment), then follow it.

Every mutation is journalled before and after, so a killed process loses nothing.
"""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bluegreen import journal as J
from bluegreen.aws.iam import who
from bluegreen.engines.codedeploy.configs import TrafficRouting
from bluegreen.engines.codedeploy.follow import CancelFlag, Loop, Probe, SharedReads, Sink
from bluegreen.engines.codedeploy.machine import MonitorConfig
from bluegreen.engines.model import Event, Outcome
from bluegreen.engines.revision import await_registration_turn
from bluegreen.engines.verify import VerifyRun
from bluegreen.errors import DeploymentActive, DeploymentTimeout

if TYPE_CHECKING:
    from bluegreen.aws.codedeploy import DeploymentGroup
    from bluegreen.aws.session import Aws
    from bluegreen.engines.codedeploy.metrics import Check
    from bluegreen.engines.codedeploy.plan import ReleasePlan
    from bluegreen.spec.model import Spec

QUEUE_POLL = 2.0
Notify = Callable[[Event], None]


def git_sha(folder: Path) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(folder), "rev-parse", "--short=12", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    sha = done.stdout.strip()
    return sha if done.returncode == 0 and sha else None


def description(
    caller: str, sha: str | None, images: dict[str, str], release_id: str | None = None
) -> str:
    """What a deployment's description says: who, the release id (how a run recognises its own
    deployment after a lost answer; early, so the length cut never drops it), git, images."""
    parts = [f"bluegreen release by {caller}"]
    if release_id:
        parts.append(f"release-id {release_id}")
    if sha:
        parts.append(f"git {sha}")
    parts.extend(f"{name}={ref}" for name, ref in sorted(images.items()))
    return "; ".join(parts)[:1000]


def with_task_definition(appspec: Any, arn: str) -> Any:
    """The AppSpec with every TaskDefinition property set to `arn` (keys matched any case)."""
    if isinstance(appspec, dict):
        return {
            k: (arn if str(k).lower() == "taskdefinition" else with_task_definition(v, arn))
            for k, v in appspec.items()
        }
    if isinstance(appspec, list):
        return [with_task_definition(v, arn) for v in appspec]
    return appspec


@dataclass
class Started:
    deployment_id: str
    task_definition_arn: str
    registered: bool


def wait_until_idle(
    aws: Aws,
    group: DeploymentGroup,
    notify: Notify,
    *,
    deadline: float,
    clock: Callable[[], float] = time.monotonic,
    cancel: CancelFlag | None = None,
) -> None:
    """`--queue`: wait for the group's active deployment to end (nothing is written yet, so a
    cancel here just ends the command)."""
    from bluegreen.aws import codedeploy
    from bluegreen.errors import Cancelled

    cancel = cancel or CancelFlag()
    announced: str | None = None
    while True:
        if cancel.is_set:
            raise Cancelled(
                "cancelled while queued; nothing was deployed",
                where=f"CodeDeploy deployment group {group.application}/{group.name}",
            )
        active = codedeploy.active_deployments(aws, group.application, group.name)
        if not active:
            return
        if active[0] != announced:
            announced = active[0]
            notify(
                Event(
                    "queued",
                    {"behind": announced},
                    f"queued: waiting for deployment {announced} to end",
                )
            )
        if clock() >= deadline:
            raise DeploymentTimeout(
                f"deployment {announced} was still active when the timeout ran out",
                where=f"CodeDeploy deployment group {group.application}/{group.name}",
                hint=f"follow it with `bluegreen watch {announced}`",
            )
        cancel.sleep(QUEUE_POLL)


def ensure_idle(aws: Aws, group: DeploymentGroup) -> None:
    from bluegreen.aws import codedeploy

    active = codedeploy.active_deployments(aws, group.application, group.name)
    if active:
        raise codedeploy.active_error(
            f"CodeDeploy deployment group {group.application}/{group.name}", active[0]
        )


def apply(
    aws: Aws,
    plan: ReleasePlan,
    journal: J.Journal,
    notify: Notify,
    *,
    spec_folder: Path,
    queue: bool,
    deadline: float,
    extra_description: str | None = None,
    cancel: CancelFlag | None = None,
    caller: Callable[[Aws], str] = who,
) -> Started:
    """Execute the plan's writes and start the deployment.

    Each run has a release id, journalled with the CreateDeployment intent and written into the
    deployment's description: after a lost answer or an "already active" answer the run
    recognises its own deployment and follows it, never starting a second one. After a cancel
    (SIGINT/SIGTERM) nothing more is written: exit 130 before the next write."""
    from bluegreen.aws import codedeploy, ecs
    from bluegreen.render.release import appspec_content

    group = plan.group
    release_id = str(uuid.uuid4())
    if queue:
        wait_until_idle(aws, group, notify, deadline=deadline, cancel=cancel)
    else:
        ensure_idle(aws, group)

    _not_cancelled(cancel, group, "nothing was written")
    if plan.tags is not None:  # --tag-as: the first write, checked while planning
        from bluegreen.engines.tagging import apply_tags

        apply_tags(
            aws,
            plan.tags,
            journal,
            lambda obj, text: notify(
                Event("tagged", {k: v for k, v in obj.items() if k != "event"}, text)
            ),
        )

    if plan.create_config and plan.routing is not None:
        _not_cancelled(cancel, group, "no deployment was created")
        journal.append(J.INTENT, action="CreateDeploymentConfig", name=plan.config.name)
        created = codedeploy.ensure_deployment_config(aws, plan.config.name, plan.routing.to_aws())
        journal.append(J.DONE, action="CreateDeploymentConfig", name=plan.config.name)
        if created:
            notify(
                Event(
                    "config",
                    {"name": plan.config.name, "created": True},
                    f"created deployment config {plan.config.name}",
                )
            )

    family = str(plan.task_definition.get("family", ""))
    if plan.register:
        await_registration_turn(aws, notify, cancel.sleep if cancel is not None else time.sleep)
        _not_cancelled(cancel, group, "no deployment was created")
        journal.append(J.INTENT, action="RegisterTaskDefinition", family=family)
        td_arn = ecs.register_task_definition(aws, plan.task_definition)
        journal.append(J.REGISTERED, family=family, taskDefinitionArn=td_arn)
        notify(
            Event(
                "registered",
                {"taskDefinitionArn": td_arn},
                f"registered task definition {td_arn}",
            )
        )
    else:
        td_arn = str(plan.task_definition_arn)
        notify(
            Event(
                "registered",
                {"taskDefinitionArn": td_arn, "reused": True},
                f"task definition unchanged: reusing {td_arn}",
            )
        )

    content, sha256 = appspec_content(with_task_definition(plan.appspec, td_arn))
    caller_arn = caller(aws)
    desc = description(caller_arn, git_sha(spec_folder), plan.images, release_id)
    if extra_description:
        desc = f"{extra_description}; release-id {release_id}"[-1000:]
    params: dict[str, Any] = {
        "applicationName": plan.application,
        "deploymentGroupName": plan.deployment_group,
        "deploymentConfigName": plan.config.name,
        "description": desc,
        "revision": {
            "revisionType": "AppSpecContent",
            "appSpecContent": {"content": content, "sha256": sha256},
        },
        "autoRollbackConfiguration": plan.auto_rollback,
    }
    if plan.alarm_override is not None:
        params["overrideAlarmConfiguration"] = plan.alarm_override
    record = {
        "application": plan.application,
        "group": plan.deployment_group,
        "cluster": plan.cluster,
        "service": plan.service,
        "taskDefinitionArn": td_arn,
        "previousTaskDefinitionArn": plan.previous_task_definition_arn,
        "images": plan.images,
        "deploymentConfig": plan.config.name,
        "who": caller_arn,
        "releaseId": release_id,
    }
    while True:
        _not_cancelled(cancel, group, f"no deployment was created (registered: {td_arn})")
        journal.append(J.INTENT, action="CreateDeployment", **record)
        try:
            dep_id = codedeploy.create_deployment(aws, params, marker=f"release-id {release_id}")
        except DeploymentActive:
            if not queue:
                raise
            wait_until_idle(aws, group, notify, deadline=deadline, cancel=cancel)
            continue
        break
    journal.append(J.CREATED, deploymentId=dep_id, **record)
    notify(
        Event(
            "created",
            {
                "deploymentId": dep_id,
                "taskDefinitionArn": td_arn,
                "deploymentConfig": plan.config.name,
            },
            f"created deployment {dep_id} ({plan.config.name})",
        )
    )
    return Started(dep_id, td_arn, plan.register)


def _not_cancelled(cancel: CancelFlag | None, group: DeploymentGroup, done: str) -> None:
    """Exit 130 before a write once a cancel was asked (a signal during the previous call)."""
    if cancel is not None and cancel.is_set:
        from bluegreen.errors import Cancelled

        raise Cancelled(
            f"cancelled before the deployment started; {done}",
            where=f"CodeDeploy deployment group {group.application}/{group.name}",
        )


@dataclass
class FollowSettings:
    """How to follow a deployment (shared by deploy, watch, stop and rollback)."""

    deployment_id: str
    group: DeploymentGroup
    task_definition_arn: str | None = None
    alarms: Sequence[str] = ()
    checks: Sequence[Check] = ()
    timeout_seconds: float | None = None
    routing: TrafficRouting | None = None
    verify: list[str] | None = None
    verify_timeout: float = 300.0
    on_cancel: str = "rollback"
    rollback_on_failure: bool = True
    cancel: CancelFlag = field(default_factory=CancelFlag)
    ask: Callable[[], str] | None = None
    on_end: Callable[[Any], None] | None = None
    requested_stop: tuple[bool, str] | None = None  # (rollback, reason) asked before following
    shared: SharedReads | None = None  # a fan-out's batched reads and common poll grid
    wait_until: str | None = None  # --wait-until: a lifecycle event, or "paused"
    on_verify_output: Callable[[str], None] | None = None  # each verify output line

    @classmethod
    def for_release(
        cls,
        plan: ReleasePlan,
        spec: Spec,
        started: Started,
        started_at: float,
        *,
        on_cancel: str,
        cancel: CancelFlag,
        ask: Callable[[], str] | None = None,
        shared: SharedReads | None = None,
    ) -> FollowSettings:
        """Follow a deployment just started from `plan` (at `started_at`, monotonic): its
        alarms, metric checks, routing and verify, within what is left of its timeout."""
        return cls(
            deployment_id=started.deployment_id,
            group=plan.group,
            task_definition_arn=started.task_definition_arn,
            alarms=plan.alarms,
            checks=spec.rollback.metrics,
            timeout_seconds=max(1.0, plan.timeout_seconds - (time.monotonic() - started_at)),
            routing=plan.routing,
            verify=plan.verify,
            verify_timeout=plan.verify_timeout,
            on_cancel=on_cancel,
            rollback_on_failure=bool(plan.auto_rollback.get("enabled")),
            cancel=cancel,
            ask=ask,
            shared=shared,
        )


def follow(aws: Aws, settings: FollowSettings, sink: Sink, journal: J.Journal | None) -> Outcome:
    from bluegreen.aws import endpoint
    from bluegreen.engines.cadence import steady_wait

    clock = time.monotonic
    now = clock()
    group = settings.group
    verify_factory = None
    if settings.verify:
        argv = list(settings.verify)
        timeout = settings.verify_timeout

        def verify_factory(deployment_id: str) -> VerifyRun:
            return VerifyRun(
                argv,
                verify_env(aws, group, deployment_id, settings),
                timeout,
                clock=clock,
                on_output=settings.on_verify_output,
            )

    config = MonitorConfig(
        deployment_id=settings.deployment_id,
        started_at=now,
        deadline=None if settings.timeout_seconds is None else now + settings.timeout_seconds,
        verify=bool(settings.verify),
        approve_after_verify=bool(settings.verify) and group.ready_action == "STOP_DEPLOYMENT",
        on_cancel=settings.on_cancel,
        rollback_expected_on_failure=settings.rollback_on_failure,
        task_definition_arn=settings.task_definition_arn,
        step_interval=settings.routing.step_seconds if settings.routing else None,
        shift_seconds=settings.routing.duration_seconds if settings.routing else None,
        termination_wait=group.termination_wait_minutes * 60.0
        if group.termination_action == "TERMINATE"
        else None,
        time_scale=endpoint.time_scale(aws),
        ready_wait=group.ready_wait_minutes * 60.0
        if group.ready_action == "STOP_DEPLOYMENT"
        else None,
        wait_until=settings.wait_until,
    )
    shared = settings.shared
    cadence = steady_wait(config.time_scale)
    loop = Loop(
        probe=Probe(aws, group, list(settings.alarms), list(settings.checks), shared),
        config=config,
        sink=sink,
        journal=journal,
        verify_factory=verify_factory,
        clock=clock,
        cancel=settings.cancel,
        sleep=None if shared is None else shared.sleeper(settings.cancel, clock, cadence=cadence),
        ask=settings.ask,
        on_end=settings.on_end,
        requested_stop=settings.requested_stop,
    )
    return loop.run()


def verify_env(
    aws: Aws, group: DeploymentGroup, deployment_id: str, settings: FollowSettings
) -> dict[str, str]:
    from bluegreen.aws import elbv2

    env = {
        "BLUEGREEN_DEPLOYMENT_ID": deployment_id,
        "BLUEGREEN_CLUSTER": group.cluster or "",
        "BLUEGREEN_SERVICE": group.service or "",
        "BLUEGREEN_APPLICATION": group.application,
        "BLUEGREEN_DEPLOYMENT_GROUP": group.name,
        "BLUEGREEN_TASK_DEFINITION_ARN": settings.task_definition_arn or "",
    }
    arns = [*group.test_listeners, *group.prod_listeners]
    if arns:
        found = elbv2.listeners(aws, arns)
        if group.test_listeners:
            env["BLUEGREEN_TEST_URL"] = elbv2.listener_url(aws, found[group.test_listeners[0]])
        if group.prod_listeners:
            env["BLUEGREEN_PROD_URL"] = elbv2.listener_url(aws, found[group.prod_listeners[0]])
        env.setdefault("BLUEGREEN_TEST_URL", env.get("BLUEGREEN_PROD_URL", ""))
    return env
