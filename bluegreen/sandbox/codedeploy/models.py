"""CodeDeploy's records as dataclasses, each rendering itself in the service model's shape.

Nested settings that CodeDeploy only stores and echoes (alarm, rollback, blue/green and load
balancer configuration) are kept as the JSON the API received, after defaults are filled in.
"""

from __future__ import annotations

import hashlib
import secrets
import string
import uuid
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

JsonDict = dict[str, Any]

ACCOUNT_ID = "123456789012"
ECS_LIFECYCLE_EVENTS = (
    "BeforeInstall",
    "Install",
    "AfterInstall",
    "AllowTestTraffic",
    "AfterAllowTestTraffic",
    "BeforeAllowTraffic",
    "AllowTraffic",
    "AfterAllowTraffic",
)
HOOK_EVENTS = (
    "BeforeInstall",
    "AfterInstall",
    "AfterAllowTestTraffic",
    "BeforeAllowTraffic",
    "AfterAllowTraffic",
)
ACTIVE_STATUSES = ("Created", "Queued", "InProgress", "Baking", "Ready")
DONE_STATUSES = ("Succeeded", "Failed", "Stopped")


class ApiError(Exception):
    """An error answered as HTTP 400 `{"__type": code, "message": ...}`."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def new_deployment_id() -> str:
    alphabet = string.ascii_uppercase + string.digits
    return "d-" + "".join(secrets.choice(alphabet) for _ in range(9))


def new_uuid() -> str:
    return str(uuid.uuid4())


def drop_none(d: JsonDict) -> JsonDict:
    return {k: v for k, v in d.items() if v is not None}


@dataclass
class Application:
    name: str
    compute_platform: str
    create_time: float
    id: str = field(default_factory=new_uuid)

    def to_json(self) -> JsonDict:
        return {
            "applicationId": self.id,
            "applicationName": self.name,
            "createTime": self.create_time,
            "linkedToGitHub": False,
            "computePlatform": self.compute_platform,
        }


@dataclass
class DeploymentConfig:
    name: str
    compute_platform: str
    create_time: float
    traffic_routing: JsonDict | None = None
    minimum_healthy_hosts: JsonDict | None = None
    predefined: bool = False
    id: str = field(default_factory=new_uuid)

    def to_json(self) -> JsonDict:
        return drop_none(
            {
                "deploymentConfigId": self.id,
                "deploymentConfigName": self.name,
                "minimumHealthyHosts": self.minimum_healthy_hosts,
                "createTime": self.create_time,
                "computePlatform": self.compute_platform,
                "trafficRoutingConfig": self.traffic_routing,
            }
        )

    def shift_plan(self) -> list[tuple[float, int]]:
        """Steps of the production shift: (simulated seconds after the previous step, percent
        of production traffic on green after it)."""
        routing = self.traffic_routing or {"type": "AllAtOnce"}
        kind = routing.get("type", "AllAtOnce")
        if kind == "TimeBasedCanary":
            canary = routing.get("timeBasedCanary", {})
            return [(0.0, int(canary["canaryPercentage"])), (canary["canaryInterval"] * 60.0, 100)]
        if kind == "TimeBasedLinear":
            linear = routing.get("timeBasedLinear", {})
            step, interval = int(linear["linearPercentage"]), linear["linearInterval"] * 60.0
            plan: list[tuple[float, int]] = [(0.0, min(step, 100))]
            while plan[-1][1] < 100:
                plan.append((interval, min(plan[-1][1] + step, 100)))
            return plan
        return [(0.0, 100)]


def _canary(percent: int, minutes: int) -> JsonDict:
    return {
        "type": "TimeBasedCanary",
        "timeBasedCanary": {"canaryPercentage": percent, "canaryInterval": minutes},
    }


def _linear(percent: int, minutes: int) -> JsonDict:
    return {
        "type": "TimeBasedLinear",
        "timeBasedLinear": {"linearPercentage": percent, "linearInterval": minutes},
    }


PREDEFINED_ECS_CONFIGS: dict[str, JsonDict] = {
    "CodeDeployDefault.ECSAllAtOnce": {"type": "AllAtOnce"},
    "CodeDeployDefault.ECSLinear10PercentEvery1Minutes": _linear(10, 1),
    "CodeDeployDefault.ECSLinear10PercentEvery3Minutes": _linear(10, 3),
    "CodeDeployDefault.ECSCanary10Percent5Minutes": _canary(10, 5),
    "CodeDeployDefault.ECSCanary10Percent15Minutes": _canary(10, 15),
}
DEFAULT_ECS_CONFIG = "CodeDeployDefault.ECSAllAtOnce"

# The other compute platforms' predefined configs, which every account lists too
# (https://docs.aws.amazon.com/codedeploy/latest/userguide/deployment-configurations.html).
# CodeDeployDefault.OneAtATime: AWS answers minimumHealthyHosts {type: MOST_CONCURRENCY,
# value: 1} (https://docs.aws.amazon.com/codedeploy/latest/APIReference/API_MinimumHealthyHosts.html),
# a type botocore's MinimumHealthyHostsType enum lacks (HOST_COUNT | FLEET_PERCENT) and no
# value of those types states; the sandbox follows botocore's model and leaves the optional
# member out for that config.
PREDEFINED_SERVER_CONFIGS: dict[str, JsonDict | None] = {
    "CodeDeployDefault.AllAtOnce": {"type": "HOST_COUNT", "value": 0},
    "CodeDeployDefault.HalfAtATime": {"type": "FLEET_PERCENT", "value": 50},
    "CodeDeployDefault.OneAtATime": None,
}
PREDEFINED_LAMBDA_CONFIGS: dict[str, JsonDict] = {
    "CodeDeployDefault.LambdaAllAtOnce": {"type": "AllAtOnce"},
    "CodeDeployDefault.LambdaCanary10Percent5Minutes": _canary(10, 5),
    "CodeDeployDefault.LambdaCanary10Percent10Minutes": _canary(10, 10),
    "CodeDeployDefault.LambdaCanary10Percent15Minutes": _canary(10, 15),
    "CodeDeployDefault.LambdaCanary10Percent30Minutes": _canary(10, 30),
    "CodeDeployDefault.LambdaLinear10PercentEvery1Minute": _linear(10, 1),
    "CodeDeployDefault.LambdaLinear10PercentEvery2Minutes": _linear(10, 2),
    "CodeDeployDefault.LambdaLinear10PercentEvery3Minutes": _linear(10, 3),
    "CodeDeployDefault.LambdaLinear10PercentEvery10Minutes": _linear(10, 10),
}


def predefined_configs(now: float) -> dict[str, DeploymentConfig]:
    def config(
        name: str, platform: str, routing: JsonDict | None, hosts: JsonDict | None = None
    ) -> DeploymentConfig:
        return DeploymentConfig(
            name=name,
            compute_platform=platform,
            create_time=now,
            traffic_routing=routing,
            minimum_healthy_hosts=hosts,
            predefined=True,
            id=str(uuid.uuid5(uuid.NAMESPACE_URL, name)),
        )

    configs = {name: config(name, "ECS", r) for name, r in PREDEFINED_ECS_CONFIGS.items()}
    configs |= {name: config(name, "Lambda", r) for name, r in PREDEFINED_LAMBDA_CONFIGS.items()}
    configs |= {
        name: config(name, "Server", None, hosts)
        for name, hosts in PREDEFINED_SERVER_CONFIGS.items()
    }
    return configs


@dataclass
class LastDeployment:
    deployment_id: str
    status: str
    create_time: float
    end_time: float | None = None

    def to_json(self) -> JsonDict:
        return drop_none(
            {
                "deploymentId": self.deployment_id,
                "status": self.status,
                "endTime": self.end_time,
                "createTime": self.create_time,
            }
        )


@dataclass
class DeploymentGroup:
    application: str
    name: str
    compute_platform: str
    service_role_arn: str
    deployment_config_name: str
    deployment_style: JsonDict
    blue_green: JsonDict
    load_balancer_info: JsonDict
    ecs_services: list[JsonDict]
    alarm_configuration: JsonDict
    auto_rollback: JsonDict
    trigger_configurations: list[JsonDict] = field(default_factory=list)
    target_revision: JsonDict | None = None
    last_successful: LastDeployment | None = None
    last_attempted: LastDeployment | None = None
    id: str = field(default_factory=new_uuid)

    def to_json(self) -> JsonDict:
        return drop_none(
            {
                "applicationName": self.application,
                "deploymentGroupId": self.id,
                "deploymentGroupName": self.name,
                "deploymentConfigName": self.deployment_config_name,
                "ec2TagFilters": [],
                "onPremisesInstanceTagFilters": [],
                "autoScalingGroups": [],
                "serviceRoleArn": self.service_role_arn,
                "targetRevision": self.target_revision,
                "triggerConfigurations": self.trigger_configurations,
                "alarmConfiguration": self.alarm_configuration,
                "autoRollbackConfiguration": self.auto_rollback,
                "deploymentStyle": self.deployment_style,
                "outdatedInstancesStrategy": "UPDATE",
                "blueGreenDeploymentConfiguration": self.blue_green,
                "loadBalancerInfo": self.load_balancer_info,
                "lastSuccessfulDeployment": self.last_successful and self.last_successful.to_json(),
                "lastAttemptedDeployment": self.last_attempted and self.last_attempted.to_json(),
                "ec2TagSet": {"ec2TagSetList": []},
                "onPremisesTagSet": {"onPremisesTagSetList": []},
                "computePlatform": self.compute_platform,
                "ecsServices": self.ecs_services,
                "terminationHookEnabled": False,
            }
        )

    @property
    def pair(self) -> JsonDict:
        pairs: list[JsonDict] = self.load_balancer_info.get("targetGroupPairInfoList", [])
        return pairs[0]

    @property
    def target_group_names(self) -> list[str]:
        return [tg["name"] for tg in self.pair.get("targetGroups", [])]

    @property
    def prod_listeners(self) -> list[str]:
        listeners: list[str] = self.pair.get("prodTrafficRoute", {}).get("listenerArns", [])
        return listeners

    @property
    def test_listeners(self) -> list[str]:
        listeners: list[str] = self.pair.get("testTrafficRoute", {}).get("listenerArns", [])
        return listeners


class Phase(Enum):
    """The explicit state progression of an ECS blue/green deployment."""

    CREATED = "Created"
    BEFORE_INSTALL = "BeforeInstall"
    INSTALL = "Install"
    AFTER_INSTALL = "AfterInstall"
    ALLOW_TEST_TRAFFIC = "AllowTestTraffic"
    AFTER_ALLOW_TEST_TRAFFIC = "AfterAllowTestTraffic"
    READY_WAIT = "ReadyWait"
    BEFORE_ALLOW_TRAFFIC = "BeforeAllowTraffic"
    ALLOW_TRAFFIC = "AllowTraffic"
    AFTER_ALLOW_TRAFFIC = "AfterAllowTraffic"
    TERMINATION_WAIT = "TerminationWait"
    TERMINATE = "Terminate"
    ROLLBACK = "Rollback"  # a rollback deployment's single step: blue back, green removed
    DONE = "Done"


@dataclass
class LifecycleEvent:
    name: str
    status: str = "Pending"
    start_time: float | None = None
    end_time: float | None = None
    message: str | None = None
    error_code: str | None = None

    def to_json(self) -> JsonDict:
        out = drop_none(
            {
                "lifecycleEventName": self.name,
                "startTime": self.start_time,
                "endTime": self.end_time,
                "status": self.status,
            }
        )
        if self.message is not None:
            out["diagnostics"] = {
                "errorCode": self.error_code or "UnknownError",
                "scriptName": "",
                "message": self.message,
                "logTail": "",
            }
        return out


@dataclass
class TaskSet:
    """One side of the blue/green pair as the engine tracks it."""

    arn: str
    identifier: str
    label: str  # Blue | Green
    target_group_name: str
    target_group_arn: str
    desired: int
    pending: int = 0
    running: int = 0
    status: str = "ACTIVE"  # PRIMARY | ACTIVE | DRAINING
    weight: float = 0.0
    started_at: float = 0.0  # simulated time the tasks were asked for
    healthy_since: float | None = None  # simulated time all tasks were running and healthy

    def to_json(self) -> JsonDict:
        return {
            "identifer": self.identifier,
            "desiredCount": self.desired,
            "pendingCount": self.pending,
            "runningCount": self.running,
            "status": self.status,
            "trafficWeight": self.weight,
            "targetGroup": {"name": self.target_group_name},
            "taskSetLabel": self.label,
        }


@dataclass
class HookExecution:
    id: str
    deployment_id: str
    event: str
    function: str
    started_at: float  # simulated
    status: str = "Pending"

    def to_json(self) -> JsonDict:
        return {
            "lifecycleEventHookExecutionId": self.id,
            "deploymentId": self.deployment_id,
            "lifecycleEventName": self.event,
            "functionName": self.function,
            "status": self.status,
        }


@dataclass
class AppSpec:
    task_definition: str
    container_name: str
    container_port: int
    platform_version: str | None = None
    network_configuration: JsonDict | None = None
    capacity_provider_strategy: list[JsonDict] | None = None
    hooks: dict[str, str] = field(default_factory=dict)


@dataclass
class Deployment:
    id: str
    application: str
    group: str
    region: str
    config_name: str
    revision: JsonDict | None
    appspec: AppSpec | None
    create_time: float
    cluster: str
    service: str
    auto_rollback: JsonDict
    alarm_configuration: JsonDict
    override_alarms: JsonDict | None
    deployment_style: JsonDict
    blue_green: JsonDict
    load_balancer_info: JsonDict
    description: str | None = None
    creator: str = "user"
    status: str = "Created"
    phase: Phase = Phase.CREATED
    phase_started: float = 0.0  # simulated time the current phase began
    start_time: float | None = None
    complete_time: float | None = None
    error_code: str | None = None
    error_message: str | None = None
    rollback_info: JsonDict | None = None
    previous_revision: JsonDict | None = None
    termination_wait_started: bool = False
    status_messages: list[str] = field(default_factory=list)
    events: list[LifecycleEvent] = field(default_factory=list)
    task_sets: list[TaskSet] = field(default_factory=list)
    target_status: str = "Pending"
    target_updated: float = 0.0
    service_arn: str = ""
    shift_step: int = 0  # index into the config's shift plan
    shift_due: float = 0.0  # simulated time of the next shift step
    hook: HookExecution | None = None
    continue_requested: str | None = None  # READY_WAIT | TERMINATION_WAIT
    rollback_of: Deployment | None = None  # for a rollback deployment: the one it undoes
    last_alarm_poll: float = -1.0e9

    @property
    def active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def target_id(self) -> str:
        return f"{self.cluster}:{self.service}"

    def event(self, name: str) -> LifecycleEvent:
        for ev in self.events:
            if ev.name == name:
                return ev
        raise KeyError(name)

    def task_set(self, label: str) -> TaskSet | None:
        for ts in self.task_sets:
            if ts.label == label:
                return ts
        return None

    def overview(self) -> JsonDict:
        counts = {"Pending": 0, "InProgress": 0, "Succeeded": 0, "Failed": 0, "Skipped": 0}
        counts["Ready"] = 0
        if self.target_status in counts:
            counts[self.target_status] += 1
        return counts

    def to_json(self) -> JsonDict:
        error = None
        if self.error_code:
            error = {"code": self.error_code, "message": self.error_message or ""}
        return drop_none(
            {
                "applicationName": self.application,
                "deploymentGroupName": self.group,
                "deploymentConfigName": self.config_name,
                "deploymentId": self.id,
                "previousRevision": self.previous_revision,
                "revision": self.revision,
                "status": self.status,
                "errorInformation": error,
                "createTime": self.create_time,
                "startTime": self.start_time,
                "completeTime": self.complete_time,
                "deploymentOverview": self.overview(),
                "description": self.description,
                "creator": self.creator,
                "ignoreApplicationStopFailures": False,
                "autoRollbackConfiguration": self.auto_rollback,
                "updateOutdatedInstancesOnly": False,
                "rollbackInfo": self.rollback_info,
                "deploymentStyle": self.deployment_style,
                "instanceTerminationWaitTimeStarted": self.termination_wait_started,
                "blueGreenDeploymentConfiguration": self.blue_green,
                "loadBalancerInfo": self.load_balancer_info,
                "fileExistsBehavior": "DISALLOW",
                "deploymentStatusMessages": self.status_messages,
                "computePlatform": "ECS",
                "overrideAlarmConfiguration": self.override_alarms,
            }
        )

    def target_json(self) -> JsonDict:
        return {
            "deploymentTargetType": "ECSTarget",
            "ecsTarget": {
                "deploymentId": self.id,
                "targetId": self.target_id,
                "targetArn": self.service_arn,
                "lastUpdatedAt": self.target_updated,
                "lifecycleEvents": [ev.to_json() for ev in self.events],
                "status": self.target_status,
                "taskSetsInfo": [ts.to_json() for ts in self.task_sets],
            },
        }


def revision_key(revision: JsonDict) -> tuple[str, ...]:
    """What identifies a revision location: the content's sha256 for inline AppSpecs, the
    object for S3, the commit for GitHub."""
    kind = str(revision.get("revisionType", ""))
    if kind in ("AppSpecContent", "String"):
        inline = revision.get("appSpecContent" if kind == "AppSpecContent" else "string") or {}
        content = str(inline.get("content", ""))
        return (kind, hashlib.sha256(content.encode()).hexdigest())
    if kind == "S3":
        s3 = revision.get("s3Location") or {}
        return (kind, *(str(s3.get(k) or "") for k in ("bucket", "key", "bundleType", "version")))
    github = revision.get("gitHubLocation") or {}
    return (kind, str(github.get("repository") or ""), str(github.get("commitId") or ""))


@dataclass
class Revision:
    """An application revision: registered with RegisterApplicationRevision, or first used by
    a deployment (which registers it)."""

    location: JsonDict
    register_time: float
    description: str | None = None
    first_used: float | None = None
    last_used: float | None = None

    def info(self, groups: list[str]) -> JsonDict:
        return drop_none(
            {
                "description": self.description,
                "deploymentGroups": groups,
                "firstUsedTime": self.first_used,
                "lastUsedTime": self.last_used,
                "registerTime": self.register_time,
            }
        )


@dataclass
class RegionState:
    """Everything CodeDeploy holds in one region."""

    applications: dict[str, Application] = field(default_factory=dict)
    groups: dict[tuple[str, str], DeploymentGroup] = field(default_factory=dict)
    configs: dict[str, DeploymentConfig] = field(default_factory=dict)
    deployments: dict[str, Deployment] = field(default_factory=dict)
    tags: dict[str, dict[str, str]] = field(default_factory=dict)
    revisions: dict[tuple[str, tuple[str, ...]], Revision] = field(default_factory=dict)
