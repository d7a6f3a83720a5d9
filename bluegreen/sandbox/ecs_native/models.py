"""The records of ECS-native deployments: service revisions, service deployments and the
lifecycle hooks they run, in the shapes of botocore's ECS model (2014-11-13).

Behaviour followed: ../shared/reference/ecs-native-bluegreen.md (§2 stages, §3 observable
state). Timestamps are wall-clock epoch seconds, as the JSON protocol carries them.
"""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass, field
from typing import Any

JsonDict = dict[str, Any]

NATIVE_STRATEGIES = ("BLUE_GREEN", "LINEAR", "CANARY")
STRATEGIES = ("ROLLING", *NATIVE_STRATEGIES)

# §2: the stages a deployment reports (ServiceDeploymentLifecycleStage) ...
STAGES = (
    "RECONCILE_SERVICE",
    "PRE_SCALE_UP",
    "SCALE_UP",
    "POST_SCALE_UP",
    "TEST_TRAFFIC_SHIFT",
    "POST_TEST_TRAFFIC_SHIFT",
    "PRODUCTION_TRAFFIC_SHIFT",
    "POST_PRODUCTION_TRAFFIC_SHIFT",
    "BAKE_TIME",
    "CLEAN_UP",
)
# ... and the stages hooks may name (DeploymentLifecycleHookStage), which add
# PRE_PRODUCTION_TRAFFIC_SHIFT and leave out SCALE_UP, BAKE_TIME and CLEAN_UP.
HOOK_STAGES = (
    "RECONCILE_SERVICE",
    "PRE_SCALE_UP",
    "POST_SCALE_UP",
    "TEST_TRAFFIC_SHIFT",
    "POST_TEST_TRAFFIC_SHIFT",
    "PRE_PRODUCTION_TRAFFIC_SHIFT",
    "PRODUCTION_TRAFFIC_SHIFT",
    "POST_PRODUCTION_TRAFFIC_SHIFT",
)
# PAUSE hooks are refused where the stage re-runs on rollback [HOOKS].
PAUSE_REFUSED_STAGES = ("TEST_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT")
# Open question 2 (reference §6): PRE_PRODUCTION_TRAFFIC_SHIFT is not a value of
# ServiceDeploymentLifecycleStage. Reading taken: the deployment reports the stage it opens,
# PRODUCTION_TRAFFIC_SHIFT. Change the mapping here to report another.
REPORTED_STAGE = {"PRE_PRODUCTION_TRAFFIC_SHIFT": "PRODUCTION_TRAFFIC_SHIFT"}

TERMINAL = ("SUCCESSFUL", "STOPPED", "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED")

_ID_ALPHABET = string.ascii_letters + string.digits + "-_"


class ApiError(Exception):
    """An ECS error answer: `{"__type": code, "message": message}` with HTTP 400."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def new_deployment_suffix() -> str:
    """The last part of a service deployment ARN (e.g. `NCWGC2ZR-taawPAYrIaU5` in the API
    reference's examples)."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(21))


def new_revision_number() -> str:
    return str(secrets.randbelow(9 * 10**18) + 10**18)


def new_ecs_deployment_id() -> str:
    """The id of a Deployment in DescribeServices (`ecs-svc/<19 digits>`)."""
    return f"ecs-svc/{secrets.randbelow(10**19):019d}"


@dataclass
class ServiceRevision:
    """One ServiceRevision: what a deployment runs (task definition, load balancers, network)."""

    arn: str
    service_arn: str
    cluster_arn: str
    task_definition: str
    created_at: float
    load_balancers: list[JsonDict] = field(default_factory=list)
    launch_type: str | None = None
    platform_version: str | None = None
    network_configuration: JsonDict | None = None
    target_groups: list[str] = field(default_factory=list)  # the TG this revision serves from
    production_rules: list[str] = field(default_factory=list)

    def to_json(self) -> JsonDict:
        body: JsonDict = {
            "serviceRevisionArn": self.arn,
            "serviceArn": self.service_arn,
            "clusterArn": self.cluster_arn,
            "taskDefinition": self.task_definition,
            "createdAt": self.created_at,
            "loadBalancers": self.load_balancers,
        }
        if self.launch_type:
            body["launchType"] = self.launch_type
            body["platformFamily"] = "EC2" if self.launch_type == "EC2" else "LINUX"
        if self.platform_version:
            body["platformVersion"] = self.platform_version
        if self.network_configuration:
            body["networkConfiguration"] = self.network_configuration
        if self.target_groups:
            # §2: a revision's target group reads from resolvedConfiguration.loadBalancers[]
            body["resolvedConfiguration"] = {
                "loadBalancers": [
                    {"targetGroupArn": tg, **({"productionListenerRule": rule} if rule else {})}
                    for tg, rule in zip(
                        self.target_groups,
                        self.production_rules + [""] * len(self.target_groups),
                        strict=False,
                    )
                ]
            }
        return body


@dataclass
class RevisionRun:
    """A service revision with tasks: its ECS Deployment record in DescribeServices."""

    revision: ServiceRevision
    deployment_id: str  # ecs-svc/...
    desired: int
    running: int = 0
    pending: int = 0
    failed: int = 0
    created_at: float = 0.0
    updated_at: float = 0.0
    rollout_state: str = "IN_PROGRESS"

    def summary(self) -> JsonDict:
        return {
            "arn": self.revision.arn,
            "requestedTaskCount": self.desired,
            "runningTaskCount": self.running,
            "pendingTaskCount": self.pending,
        }


@dataclass
class Route:
    """One load balancer of the service as a deployment uses it: blue serves production,
    green is the alternate target group."""

    blue: str
    green: str
    production_rule: str
    test_rule: str | None


@dataclass
class HookRun:
    """One execution of a lifecycle hook at one stage (DeploymentLifecycleHookDetail)."""

    hook_id: str
    target_type: str  # AWS_LAMBDA | PAUSE
    target_arn: str | None
    stage: str
    started: float  # simulated
    timeout_seconds: float  # simulated
    timeout_action: str
    expires_at: float  # wall
    status: str = "IN_PROGRESS"
    action: str | None = None  # ContinueServiceDeployment's answer for a PAUSE hook

    def to_json(self) -> JsonDict:
        body: JsonDict = {
            "hookId": self.hook_id,
            "targetType": self.target_type,
            "status": self.status,
            "expiresAt": self.expires_at,
            "timeoutAction": self.timeout_action,
        }
        if self.target_arn:
            body["targetArn"] = self.target_arn
        return body


@dataclass
class Step:
    """One step of a deployment's plan: enter `stage`, do `action`, run the stage's hooks,
    then wait `wait` simulated seconds."""

    stage: str  # a HOOK_STAGES or STAGES value
    action: str | None = None  # scale-up | test-shift | prod-shift | clean-up | reconcile | ...
    percent: float = 0.0  # prod-shift: green's production weight after this step
    wait: float = 0.0


@dataclass
class ServiceDeployment:
    arn: str
    region: str
    cluster: str
    cluster_arn: str
    service: str
    service_arn: str
    created_at: float
    config: JsonDict  # the deploymentConfiguration snapshot
    target: RevisionRun
    sources: list[RevisionRun]
    routes: list[Route]
    plan: list[Step]
    status: str = "PENDING"
    status_reason: str | None = None
    started_at: float | None = None
    finished_at: float | None = None
    stopped_at: float | None = None
    updated_at: float = 0.0
    stage: str | None = None  # internal (a HOOK_STAGES or STAGES value)
    step: int = -1
    step_phase: str = "enter"  # enter | hooks | wait
    step_started: float = 0.0
    hooks: list[HookRun] = field(default_factory=list)
    rollback: JsonDict | None = None
    rolling_back: bool = False
    alarm_names: list[str] = field(default_factory=list)
    alarms_enabled: bool = False
    alarm_rollback: bool = False
    alarm_status: str = "DISABLED"
    ignored_alarms: set[str] | None = None  # in ALARM at the start: ignored (§4)
    triggered: list[str] = field(default_factory=list)
    production_weight: float = 0.0  # green's share of production traffic
    test_weight: float = 0.0
    green_since: float | None = None  # simulated time green became healthy
    scale_started: float | None = None
    stop_request: str | None = None  # ROLLBACK (user) | SUPERSEDED
    initial: bool = False  # the service's creation: scale up only

    @property
    def active(self) -> bool:
        return self.status not in TERMINAL

    @property
    def reported_stage(self) -> str | None:
        if self.stage is None:
            return None
        return REPORTED_STAGE.get(self.stage, self.stage)

    def to_json(self) -> JsonDict:
        body: JsonDict = {
            "serviceDeploymentArn": self.arn,
            "serviceArn": self.service_arn,
            "clusterArn": self.cluster_arn,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at or self.created_at,
            "sourceServiceRevisions": [s.summary() for s in self.sources],
            "targetServiceRevision": {
                **self.target.summary(),
                "requestedTestTrafficWeight": self.test_weight,
                "requestedProductionTrafficWeight": self.production_weight,
            },
            "status": self.status,
            "deploymentConfiguration": self.config,
            "alarms": {
                "status": self.alarm_status,
                "alarmNames": list(self.alarm_names),
                "triggeredAlarmNames": list(self.triggered),
            },
        }
        if self.status == "PENDING":  # the API reference's example: no counts, no stage yet
            body["targetServiceRevision"] = {"arn": self.target.revision.arn}
        for key, value in (
            ("startedAt", self.started_at),
            ("finishedAt", self.finished_at),
            ("stoppedAt", self.stopped_at),
            ("statusReason", self.status_reason),
            ("lifecycleStage", self.reported_stage),
            ("rollback", self.rollback),
        ):
            if value is not None:
                body[key] = value
        if self.hooks:
            body["lifecycleHookDetails"] = [h.to_json() for h in self.hooks]
        return body

    def brief(self) -> JsonDict:
        body: JsonDict = {
            "serviceDeploymentArn": self.arn,
            "serviceArn": self.service_arn,
            "clusterArn": self.cluster_arn,
            "createdAt": self.created_at,
            "targetServiceRevisionArn": self.target.revision.arn,
            "status": self.status,
        }
        for key, value in (
            ("startedAt", self.started_at),
            ("finishedAt", self.finished_at),
            ("statusReason", self.status_reason),
        ):
            if value is not None:
                body[key] = value
        return body


@dataclass
class ServiceState:
    """What the engine keeps of one ECS-native service between ticks."""

    region: str
    account: str
    cluster: str
    service: str
    runs: list[RevisionRun] = field(default_factory=list)  # revisions with tasks, newest first
    deployments: list[ServiceDeployment] = field(default_factory=list)  # oldest first
    tasks: Any = None  # rolling.ServiceTasks

    @property
    def current(self) -> ServiceDeployment | None:
        for d in reversed(self.deployments):
            if d.active:
                return d
        return None
