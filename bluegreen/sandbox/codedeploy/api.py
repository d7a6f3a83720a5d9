"""CodeDeploy operations: request JSON in, response JSON out, in the shapes and with the error
names of botocore's service model (codedeploy 2014-10-06)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any, TypeVar

from bluegreen.sandbox.codedeploy import validate
from bluegreen.sandbox.codedeploy.actions import AwsActions
from bluegreen.sandbox.codedeploy.appspec import parse_revision
from bluegreen.sandbox.codedeploy.engine import Engine
from bluegreen.sandbox.codedeploy.models import (
    ACCOUNT_ID,
    DEFAULT_ECS_CONFIG,
    ApiError,
    Application,
    Deployment,
    DeploymentConfig,
    DeploymentGroup,
    JsonDict,
    LastDeployment,
    Phase,
    RegionState,
    Revision,
    new_deployment_id,
    predefined_configs,
    revision_key,
)

PAGE = 100
STATUSES = ("Created", "Queued", "InProgress", "Baking", "Succeeded", "Failed", "Stopped", "Ready")
Handler = Callable[[RegionState, str, JsonDict], JsonDict]
T = TypeVar("T")
REVISION_TYPES = ("S3", "GitHub", "String", "AppSpecContent")
REVISION_SORT_KEYS = {
    "registerTime": "register_time",
    "firstUsedTime": "first_used",
    "lastUsedTime": "last_used",
}


def _required(body: JsonDict, key: str, error: str, what: str) -> Any:
    value = body.get(key)
    if value in (None, "", []):
        raise ApiError(error, f"The {what} must be specified.")
    return value


def _page(items: list[T], token: Any) -> tuple[list[T], str | None]:
    try:
        start = int(token) if token else 0
    except ValueError as exc:
        raise ApiError("InvalidNextTokenException", "The next token is not valid.") from exc
    end = start + PAGE
    return items[start:end], (str(end) if end < len(items) else None)


class CodeDeployApi:
    def __init__(
        self,
        *,
        engine: Engine,
        actions: Callable[[str], AwsActions],
        wall: Callable[[], float],
    ) -> None:
        self.engine = engine
        self.actions = actions
        self.wall = wall
        self.states: dict[str, RegionState] = {}
        self.handlers: dict[str, Handler] = {
            name[3:]: getattr(self, name) for name in dir(self) if name.startswith("op_")
        }

    def state(self, region: str) -> RegionState:
        state = self.states.get(region)
        if state is None:
            state = RegionState(configs=predefined_configs(self.wall()))
            self.states[region] = state
        return state

    def config(self, state: RegionState, name: str) -> DeploymentConfig | None:
        return state.configs.get(name)

    def call(self, operation: str, body: JsonDict, region: str) -> JsonDict:
        handler = self.handlers.get(operation)
        if handler is None:
            raise ApiError(
                "UnknownOperationException",
                f"The sandbox's CodeDeploy does not implement {operation}.",
            )
        return handler(self.state(region), region, body)

    # --- lookups ----------------------------------------------------------------------------
    def _app(self, state: RegionState, body: JsonDict, key: str = "applicationName") -> Application:
        name = _required(body, key, "ApplicationNameRequiredException", "application name")
        app = state.applications.get(name)
        if app is None:
            raise ApiError(
                "ApplicationDoesNotExistException", f"No application found for name: {name}"
            )
        return app

    def _group(self, state: RegionState, app: str, name: Any) -> DeploymentGroup:
        if not name:
            raise ApiError(
                "DeploymentGroupNameRequiredException",
                "The deployment group name must be specified.",
            )
        group = state.groups.get((app, name))
        if group is None:
            raise ApiError(
                "DeploymentGroupDoesNotExistException",
                f"No Deployment Group found for name: {name}",
            )
        return group

    def _ecs_config(self, state: RegionState, config_name: Any) -> DeploymentConfig:
        """The named deployment config, which must exist and be for the ECS platform."""
        config = state.configs.get(config_name)
        if config is None:
            raise ApiError(
                "DeploymentConfigDoesNotExistException",
                f"Deployment config {config_name} does not exist.",
            )
        if config.compute_platform != "ECS":
            raise ApiError(
                "InvalidDeploymentConfigNameException",
                f"The deployment config {config_name} is not for the ECS compute platform.",
            )
        return config

    def _deployment(self, state: RegionState, body: JsonDict) -> Deployment:
        deployment_id = _required(
            body, "deploymentId", "DeploymentIdRequiredException", "deployment ID"
        )
        d = state.deployments.get(deployment_id)
        if d is None:
            raise ApiError(
                "DeploymentDoesNotExistException",
                f"The deployment {deployment_id} could not be found.",
            )
        return d

    # --- applications -----------------------------------------------------------------------
    def op_CreateApplication(self, state: RegionState, region: str, body: JsonDict) -> JsonDict:
        name = _required(
            body, "applicationName", "ApplicationNameRequiredException", "application name"
        )
        if len(name) > 100:
            raise ApiError("InvalidApplicationNameException", "The application name is too long.")
        if name in state.applications:
            raise ApiError(
                "ApplicationAlreadyExistsException",
                f"The application {name} already exists with the IAM user or AWS account.",
            )
        platform = body.get("computePlatform", "Server")
        if platform not in ("Server", "Lambda", "ECS"):
            raise ApiError(
                "InvalidComputePlatformException", f"Unknown compute platform {platform}."
            )
        app = Application(name=name, compute_platform=platform, create_time=self.wall())
        state.applications[name] = app
        self._store_tags(state, _arn(region, f"application:{name}"), body.get("tags", []))
        return {"applicationId": app.id}

    def op_GetApplication(self, state: RegionState, region: str, body: JsonDict) -> JsonDict:
        return {"application": self._app(state, body).to_json()}

    def op_BatchGetApplications(self, state: RegionState, region: str, body: JsonDict) -> JsonDict:
        names = _required(
            body, "applicationNames", "ApplicationNameRequiredException", "application names"
        )
        if len(names) > 100:
            raise ApiError("BatchLimitExceededException", "The maximum number of names is 100.")
        return {
            "applicationsInfo": [self._app(state, {"applicationName": n}).to_json() for n in names]
        }

    def op_ListApplications(self, state: RegionState, region: str, body: JsonDict) -> JsonDict:
        names, token = _page(sorted(state.applications), body.get("nextToken"))
        return {"applications": names} | ({"nextToken": token} if token else {})

    def op_UpdateApplication(self, state: RegionState, region: str, body: JsonDict) -> JsonDict:
        app = self._app(state, body)
        new = body.get("newApplicationName")
        if new and new != app.name:
            if new in state.applications:
                raise ApiError(
                    "ApplicationAlreadyExistsException", f"The application {new} exists."
                )
            for held in [k for k in state.revisions if k[0] == app.name]:
                state.revisions[(new, held[1])] = state.revisions.pop(held)
            del state.applications[app.name]
            for key in [k for k in state.groups if k[0] == app.name]:
                group = state.groups.pop(key)
                group.application = new
                state.groups[(new, key[1])] = group
            app.name = new
            state.applications[new] = app
        return {}

    def op_DeleteApplication(self, state: RegionState, region: str, body: JsonDict) -> JsonDict:
        name = _required(
            body, "applicationName", "ApplicationNameRequiredException", "application name"
        )
        state.applications.pop(name, None)
        for revision in [k for k in state.revisions if k[0] == name]:
            del state.revisions[revision]
        for key in [k for k in state.groups if k[0] == name]:
            del state.groups[key]
            state.tags.pop(_arn(region, f"deploymentgroup:{key[0]}/{key[1]}"), None)
        state.tags.pop(_arn(region, f"application:{name}"), None)
        return {}

    # --- deployment configs -----------------------------------------------------------------
    def op_CreateDeploymentConfig(
        self, state: RegionState, region: str, body: JsonDict
    ) -> JsonDict:
        name = _config_name(body)
        if name in state.configs:
            raise ApiError(
                "DeploymentConfigAlreadyExistsException",
                f"A deployment configuration already exists with name: {name}",
            )
        if name.startswith("CodeDeployDefault."):
            raise ApiError(
                "InvalidDeploymentConfigNameException", "The CodeDeployDefault. prefix is reserved."
            )
        platform = body.get("computePlatform", "Server")
        routing = body.get("trafficRoutingConfig")
        if platform == "ECS":
            routing = validate.traffic_routing(routing)
            if body.get("minimumHealthyHosts") is not None:
                raise ApiError(
                    "InvalidMinimumHealthyHostValueException",
                    "minimumHealthyHosts is not supported for the ECS compute platform.",
                )
        config = DeploymentConfig(
            name=name,
            compute_platform=platform,
            create_time=self.wall(),
            traffic_routing=routing,
            minimum_healthy_hosts=body.get("minimumHealthyHosts"),
        )
        state.configs[name] = config
        return {"deploymentConfigId": config.id}

    def op_GetDeploymentConfig(self, state: RegionState, region: str, body: JsonDict) -> JsonDict:
        name = _config_name(body)
        config = state.configs.get(name)
        if config is None:
            raise ApiError(
                "DeploymentConfigDoesNotExistException", f"Deployment config {name} does not exist."
            )
        return {"deploymentConfigInfo": config.to_json()}

    def op_ListDeploymentConfigs(self, state: RegionState, region: str, body: JsonDict) -> JsonDict:
        names, token = _page(sorted(state.configs), body.get("nextToken"))
        return {"deploymentConfigsList": names} | ({"nextToken": token} if token else {})

    def op_DeleteDeploymentConfig(
        self, state: RegionState, region: str, body: JsonDict
    ) -> JsonDict:
        name = _config_name(body)
        config = state.configs.get(name)
        if config is None:
            return {}
        if config.predefined:
            raise ApiError(
                "InvalidOperationException", f"The predefined config {name} cannot be deleted."
            )
        users = [g.name for g in state.groups.values() if g.deployment_config_name == name]
        if users:
            raise ApiError(
                "DeploymentConfigInUseException",
                f"The deployment config {name} is used by deployment group {users[0]}.",
            )
        del state.configs[name]
        return {}

    # --- deployment groups -------------------------------------------------------------------
    def op_CreateDeploymentGroup(self, state: RegionState, region: str, body: JsonDict) -> JsonDict:
        app = self._app(state, body)
        name = _required(
            body,
            "deploymentGroupName",
            "DeploymentGroupNameRequiredException",
            "deployment group name",
        )
        if (app.name, name) in state.groups:
            raise ApiError(
                "DeploymentGroupAlreadyExistsException",
                f"The deployment group {name} already exists for application {app.name}.",
            )
        role = _required(body, "serviceRoleArn", "RoleRequiredException", "service role ARN")
        group = self._build_group(state, app, name, role, body, None)
        self.actions(region).check_group(group)
        state.groups[(app.name, name)] = group
        self._store_tags(
            state, _arn(region, f"deploymentgroup:{app.name}/{name}"), body.get("tags", [])
        )
        return {"deploymentGroupId": group.id}

    def _build_group(
        self,
        state: RegionState,
        app: Application,
        name: str,
        role: str,
        body: JsonDict,
        current: DeploymentGroup | None,
    ) -> DeploymentGroup:
        if app.compute_platform != "ECS":
            raise ApiError(
                "InvalidComputePlatformException",
                f"The sandbox supports the ECS compute platform only; {app.name} is "
                f"{app.compute_platform}.",
            )

        def pick(key: str, default: Any) -> Any:
            if body.get(key) is not None:
                return copy.deepcopy(body[key])
            return default

        config_name = pick(
            "deploymentConfigName",
            current.deployment_config_name if current else DEFAULT_ECS_CONFIG,
        )
        self._ecs_config(state, config_name)
        style = pick("deploymentStyle", current.deployment_style if current else None)
        if style != {"deploymentType": "BLUE_GREEN", "deploymentOption": "WITH_TRAFFIC_CONTROL"}:
            raise ApiError(
                "InvalidDeploymentStyleException",
                "An ECS deployment group needs deploymentStyle BLUE_GREEN, WITH_TRAFFIC_CONTROL.",
            )
        services = pick("ecsServices", current.ecs_services if current else None)
        if not isinstance(services, list) or len(services) != 1:
            raise ApiError("InvalidECSServiceException", "Specify exactly one ECS service.")
        svc = services[0]
        for (app_name, group_name), other in state.groups.items():
            if other is current:
                continue
            if other.ecs_services == services:
                raise ApiError(
                    "ECSServiceMappingLimitExceededException",
                    f"The ECS service {svc.get('serviceName')} in cluster {svc.get('clusterName')} "
                    f"is already in deployment group {group_name} of application {app_name}.",
                )
        lb = pick("loadBalancerInfo", current.load_balancer_info if current else None)
        if not isinstance(lb, dict) or len(lb.get("targetGroupPairInfoList") or []) != 1:
            raise ApiError(
                "InvalidLoadBalancerInfoException",
                "An ECS deployment group needs exactly one targetGroupPairInfoList entry.",
            )
        group = DeploymentGroup(
            application=app.name,
            name=name,
            compute_platform="ECS",
            service_role_arn=role,
            deployment_config_name=config_name,
            deployment_style=style,
            blue_green=validate.blue_green(
                pick("blueGreenDeploymentConfiguration", current.blue_green if current else {})
            ),
            load_balancer_info=lb,
            ecs_services=services,
            alarm_configuration=validate.alarms(
                pick("alarmConfiguration", current.alarm_configuration if current else None)
            ),
            auto_rollback=validate.auto_rollback(
                pick("autoRollbackConfiguration", current.auto_rollback if current else None)
            ),
            trigger_configurations=pick(
                "triggerConfigurations", current.trigger_configurations if current else []
            ),
            target_revision=current.target_revision if current else None,
            last_successful=current.last_successful if current else None,
            last_attempted=current.last_attempted if current else None,
        )
        if current is not None:
            group.id = current.id
        return group

    def op_GetDeploymentGroup(self, state: RegionState, region: str, body: JsonDict) -> JsonDict:
        app = self._app(state, body)
        group = self._group(state, app.name, body.get("deploymentGroupName"))
        return {"deploymentGroupInfo": group.to_json()}

    def op_BatchGetDeploymentGroups(
        self, state: RegionState, region: str, body: JsonDict
    ) -> JsonDict:
        app = self._app(state, body)
        names = _required(
            body,
            "deploymentGroupNames",
            "DeploymentGroupNameRequiredException",
            "deployment group names",
        )
        if len(names) > 100:
            raise ApiError("BatchLimitExceededException", "The maximum number of names is 100.")
        found = [
            state.groups[(app.name, n)].to_json() for n in names if (app.name, n) in state.groups
        ]
        missing = [n for n in names if (app.name, n) not in state.groups]
        out: JsonDict = {"deploymentGroupsInfo": found}
        if missing:
            out["errorMessage"] = f"Deployment groups not found: {', '.join(missing)}"
        return out

    def op_ListDeploymentGroups(self, state: RegionState, region: str, body: JsonDict) -> JsonDict:
        app = self._app(state, body)
        names = sorted(g for a, g in state.groups if a == app.name)
        page, token = _page(names, body.get("nextToken"))
        return {"applicationName": app.name, "deploymentGroups": page} | (
            {"nextToken": token} if token else {}
        )

    def op_UpdateDeploymentGroup(self, state: RegionState, region: str, body: JsonDict) -> JsonDict:
        app = self._app(state, body)
        current = self._group(state, app.name, body.get("currentDeploymentGroupName"))
        new_name = body.get("newDeploymentGroupName") or current.name
        if new_name != current.name and (app.name, new_name) in state.groups:
            raise ApiError(
                "DeploymentGroupAlreadyExistsException",
                f"The deployment group {new_name} already exists.",
            )
        role = body.get("serviceRoleArn") or current.service_role_arn
        group = self._build_group(state, app, new_name, role, body, current)
        self.actions(region).check_group(group)
        del state.groups[(app.name, current.name)]
        state.groups[(app.name, new_name)] = group
        return {"hooksNotCleanedUp": []}

    def op_DeleteDeploymentGroup(self, state: RegionState, region: str, body: JsonDict) -> JsonDict:
        app_name = _required(
            body, "applicationName", "ApplicationNameRequiredException", "application name"
        )
        name = _required(
            body,
            "deploymentGroupName",
            "DeploymentGroupNameRequiredException",
            "deployment group name",
        )
        state.groups.pop((app_name, name), None)
        state.tags.pop(_arn(region, f"deploymentgroup:{app_name}/{name}"), None)
        return {"hooksNotCleanedUp": []}

    # --- deployments ------------------------------------------------------------------------
    def op_CreateDeployment(self, state: RegionState, region: str, body: JsonDict) -> JsonDict:
        app = self._app(state, body)
        group = self._group(state, app.name, body.get("deploymentGroupName"))
        revision, appspec = parse_revision(body.get("revision"))
        config_name = body.get("deploymentConfigName") or group.deployment_config_name
        self._ecs_config(state, config_name)
        description = body.get("description")
        if description is not None and len(description) > 512:
            raise ApiError("DescriptionTooLongException", "The description is too long.")
        auto_rollback = validate.auto_rollback(
            body.get("autoRollbackConfiguration") or group.auto_rollback
        )
        override = body.get("overrideAlarmConfiguration")
        if override is not None:
            override = validate.alarms(override)
        active = next(
            (
                d
                for d in state.deployments.values()
                if d.application == app.name and d.group == group.name and d.active
            ),
            None,
        )
        if active is not None:
            raise ApiError(
                "DeploymentLimitExceededException",
                f"The Deployment Group '{group.name}' already has an active Deployment "
                f"'{active.id}'",
            )
        svc = group.ecs_services[0]
        described = self.actions(region).describe_service(svc["clusterName"], svc["serviceName"])
        service_arn = (described or {}).get("serviceArn") or (
            f"arn:aws:ecs:{region}:{ACCOUNT_ID}:service/{svc['clusterName']}/{svc['serviceName']}"
        )
        previous = None
        if group.last_successful is not None:
            last = state.deployments.get(group.last_successful.deployment_id)
            previous = last.revision if last else None
        d = Deployment(
            id=new_deployment_id(),
            application=app.name,
            group=group.name,
            region=region,
            config_name=config_name,
            revision=revision,
            appspec=appspec,
            create_time=self.wall(),
            cluster=svc["clusterName"],
            service=svc["serviceName"],
            auto_rollback=auto_rollback,
            alarm_configuration=copy.deepcopy(group.alarm_configuration),
            override_alarms=override,
            deployment_style=copy.deepcopy(group.deployment_style),
            blue_green=copy.deepcopy(group.blue_green),
            load_balancer_info=copy.deepcopy(group.load_balancer_info),
            description=description,
            previous_revision=previous,
            service_arn=service_arn,
        )
        state.deployments[d.id] = d
        self._use_revision(state, app.name, revision)
        group.target_revision = revision
        group.last_attempted = LastDeployment(d.id, d.status, d.create_time)
        return {"deploymentId": d.id}

    def op_GetDeployment(self, state: RegionState, region: str, body: JsonDict) -> JsonDict:
        return {"deploymentInfo": self._deployment(state, body).to_json()}

    def op_BatchGetDeployments(self, state: RegionState, region: str, body: JsonDict) -> JsonDict:
        ids = _required(body, "deploymentIds", "DeploymentIdRequiredException", "deployment IDs")
        if len(ids) > 25:
            raise ApiError(
                "BatchLimitExceededException", "The maximum number of deployment IDs is 25."
            )
        return {
            "deploymentsInfo": [
                state.deployments[i].to_json() for i in ids if i in state.deployments
            ]
        }

    def op_ListDeployments(self, state: RegionState, region: str, body: JsonDict) -> JsonDict:
        deployments = list(state.deployments.values())
        app_name, group_name = body.get("applicationName"), body.get("deploymentGroupName")
        if group_name and not app_name:
            raise ApiError(
                "ApplicationNameRequiredException",
                "The application name must be specified with a deployment group name.",
            )
        if app_name:
            app = self._app(state, body)
            if not group_name:
                raise ApiError(
                    "DeploymentGroupNameRequiredException",
                    "The deployment group name must be specified with an application name.",
                )
            self._group(state, app.name, group_name)
            deployments = [
                d for d in deployments if d.application == app_name and d.group == group_name
            ]
        statuses = body.get("includeOnlyStatuses") or []
        for status in statuses:
            if status not in STATUSES:
                raise ApiError("InvalidDeploymentStatusException", f"Unknown status {status}.")
        if statuses:
            deployments = [d for d in deployments if d.status in statuses]
        window = body.get("createTimeRange") or {}
        start, end = window.get("start"), window.get("end")
        if start is not None and end is not None and start > end:
            raise ApiError("InvalidTimeRangeException", "The time range start is after its end.")
        if start is not None:
            deployments = [d for d in deployments if d.create_time >= start]
        if end is not None:
            deployments = [d for d in deployments if d.create_time <= end]
        deployments.sort(key=lambda d: d.create_time, reverse=True)
        page, token = _page([d.id for d in deployments], body.get("nextToken"))
        return {"deployments": page} | ({"nextToken": token} if token else {})

    def op_StopDeployment(self, state: RegionState, region: str, body: JsonDict) -> JsonDict:
        d = self._deployment(state, body)
        if not d.active:
            raise ApiError(
                "DeploymentAlreadyCompletedException",
                f"The deployment {d.id} has already completed.",
            )
        rollback = body.get("autoRollbackEnabled")
        d.status_messages.append("Deployment stopped by user request.")
        self.engine.end(
            state,
            d,
            "Stopped",
            None,
            None,
            "DEPLOYMENT_STOP_ON_REQUEST",
            rollback=None if rollback is None else bool(rollback),
        )
        return {"status": "Succeeded", "statusMessage": "Deployment stopped."}

    def op_ContinueDeployment(self, state: RegionState, region: str, body: JsonDict) -> JsonDict:
        d = self._deployment(state, body)
        wait_type = body.get("deploymentWaitType") or "READY_WAIT"
        if wait_type not in ("READY_WAIT", "TERMINATION_WAIT"):
            raise ApiError("InvalidDeploymentWaitTypeException", f"Unknown wait type {wait_type}.")
        if not d.active:
            raise ApiError(
                "DeploymentAlreadyCompletedException",
                f"The deployment {d.id} has already completed.",
            )
        if wait_type == "READY_WAIT" and d.phase is not Phase.READY_WAIT:
            raise ApiError(
                "DeploymentIsNotInReadyStateException",
                f"The deployment {d.id} is not waiting in the Ready state.",
            )
        late_phases = (Phase.AFTER_ALLOW_TRAFFIC, Phase.TERMINATION_WAIT)
        if wait_type == "TERMINATION_WAIT" and d.phase not in late_phases:
            raise ApiError(
                "DeploymentIsNotInReadyStateException",
                f"The deployment {d.id} is not waiting to terminate the original task set.",
            )
        d.continue_requested = wait_type
        return {}

    # --- targets and hooks ------------------------------------------------------------------
    def _started(self, state: RegionState, body: JsonDict) -> Deployment:
        d = self._deployment(state, body)
        if d.status == "Created" or not d.events:
            raise ApiError(
                "DeploymentNotStartedException", f"The deployment {d.id} has not started."
            )
        return d

    def op_GetDeploymentTarget(self, state: RegionState, region: str, body: JsonDict) -> JsonDict:
        d = self._started(state, body)
        target = _required(body, "targetId", "DeploymentTargetIdRequiredException", "target ID")
        if target != d.target_id:
            raise ApiError(
                "DeploymentTargetDoesNotExistException", f"The target {target} is not in {d.id}."
            )
        return {"deploymentTarget": d.target_json()}

    def op_BatchGetDeploymentTargets(
        self, state: RegionState, region: str, body: JsonDict
    ) -> JsonDict:
        d = self._started(state, body)
        targets = _required(body, "targetIds", "DeploymentTargetIdRequiredException", "target IDs")
        if len(targets) > 25:
            raise ApiError("DeploymentTargetListSizeExceededException", "At most 25 target IDs.")
        for target in targets:
            if target != d.target_id:
                raise ApiError(
                    "DeploymentTargetDoesNotExistException",
                    f"The target {target} is not in {d.id}.",
                )
        return {"deploymentTargets": [d.target_json() for _ in targets]}

    def op_ListDeploymentTargets(self, state: RegionState, region: str, body: JsonDict) -> JsonDict:
        d = self._started(state, body)
        wanted = (body.get("targetFilters") or {}).get("TargetStatus")
        ids = [d.target_id] if not wanted or d.target_status in wanted else []
        return {"targetIds": ids}

    def op_PutLifecycleEventHookExecutionStatus(
        self, state: RegionState, region: str, body: JsonDict
    ) -> JsonDict:
        d = self._deployment(state, body)
        hook_id = body.get("lifecycleEventHookExecutionId")
        hook = self.engine.hook_executions.get(hook_id or "")
        if hook is None or hook.deployment_id != d.id:
            raise ApiError(
                "InvalidLifecycleEventHookExecutionIdException",
                f"The lifecycle event hook execution {hook_id} is not part of {d.id}.",
            )
        status = body.get("status")
        if status not in ("Succeeded", "Failed"):
            raise ApiError(
                "InvalidLifecycleEventHookExecutionStatusException",
                f"The status {status} is not valid; report Succeeded or Failed.",
            )
        if hook.status in ("Succeeded", "Failed"):
            raise ApiError(
                "LifecycleEventAlreadyCompletedException",
                f"The lifecycle event {hook.event} of {d.id} has already completed.",
            )
        hook.status = status
        return {"lifecycleEventHookExecutionId": hook.id}

    # --- instances (EC2/On-premises and Lambda only) ------------------------------------------
    def _not_for_ecs(self, state: RegionState, body: JsonDict, operation: str) -> JsonDict:
        """ListDeploymentInstances, GetDeploymentInstance and BatchGetDeploymentInstances
        work with the EC2/On-premises and Lambda compute platforms only: "throws an exception
        if it is used with a compute platform other than EC2/On-premises or AWS Lambda"
        (https://docs.aws.amazon.com/codedeploy/latest/APIReference/API_ListDeploymentInstances.html);
        every sandbox deployment is an ECS one, so the answer is the listed
        InvalidComputePlatformException."""
        d = self._deployment(state, body)
        raise ApiError(
            "InvalidComputePlatformException",
            f"{operation} does not support the ECS compute platform of deployment {d.id}; "
            "use ListDeploymentTargets or BatchGetDeploymentTargets.",
        )

    def op_ListDeploymentInstances(
        self, state: RegionState, region: str, body: JsonDict
    ) -> JsonDict:
        return self._not_for_ecs(state, body, "ListDeploymentInstances")

    def op_GetDeploymentInstance(self, state: RegionState, region: str, body: JsonDict) -> JsonDict:
        return self._not_for_ecs(state, body, "GetDeploymentInstance")

    def op_BatchGetDeploymentInstances(
        self, state: RegionState, region: str, body: JsonDict
    ) -> JsonDict:
        return self._not_for_ecs(state, body, "BatchGetDeploymentInstances")

    # --- application revisions ----------------------------------------------------------------
    # https://docs.aws.amazon.com/codedeploy/latest/APIReference/API_RegisterApplicationRevision.html,
    # API_ListApplicationRevisions.html, API_GetApplicationRevision.html: an application's
    # revisions are those registered with it and those its deployments used.
    @staticmethod
    def _location(revision: Any) -> JsonDict:
        """A revision location as CodeDeploy keeps it (inline content with its sha256)."""
        if not isinstance(revision, dict) or not revision:
            raise ApiError("RevisionRequiredException", "The revision must be specified.")
        kind = revision.get("revisionType")
        if kind not in REVISION_TYPES:
            raise ApiError("InvalidRevisionException", f"Unknown revisionType {kind!r}.")
        member = {
            "S3": "s3Location",
            "GitHub": "gitHubLocation",
            "String": "string",
            "AppSpecContent": "appSpecContent",
        }[kind]
        value = revision.get(member)
        if not isinstance(value, dict) or not value:
            raise ApiError("InvalidRevisionException", f"The revision's {member} is missing.")
        if kind in ("String", "AppSpecContent"):
            content = value.get("content")
            if not isinstance(content, str):
                raise ApiError("InvalidRevisionException", "The revision's content is missing.")
            digest = revision_key(revision)[1]
            return {"revisionType": kind, member: {"content": content, "sha256": digest}}
        needed = ("bucket", "key") if kind == "S3" else ("repository", "commitId")
        if any(not value.get(k) for k in needed):
            raise ApiError(
                "InvalidRevisionException", f"The revision's {member} needs {' and '.join(needed)}."
            )
        return {"revisionType": kind, member: copy.deepcopy(value)}

    def _use_revision(self, state: RegionState, app: str, revision: JsonDict) -> None:
        now = self.wall()
        key = (app, revision_key(revision))
        found = state.revisions.get(key)
        if found is None:
            found = state.revisions[key] = Revision(self._location(revision), register_time=now)
        found.first_used = found.first_used or now
        found.last_used = now

    def _target_of(self, state: RegionState, app: str, revision: Revision) -> list[str]:
        """The deployment groups whose target revision this is."""
        key = revision_key(revision.location)
        return sorted(
            g.name
            for (a, _), g in state.groups.items()
            if a == app and g.target_revision and revision_key(g.target_revision) == key
        )

    def op_RegisterApplicationRevision(
        self, state: RegionState, region: str, body: JsonDict
    ) -> JsonDict:
        app = self._app(state, body)
        location = self._location(body.get("revision"))
        description = body.get("description")
        if description is not None and len(description) > 512:
            raise ApiError("DescriptionTooLongException", "The description is too long.")
        key = (app.name, revision_key(location))
        found = state.revisions.get(key)
        if found is None:
            state.revisions[key] = Revision(location, self.wall(), description)
        elif description is not None:
            found.description = description
        return {}

    def _revision(self, state: RegionState, app: str, revision: Any) -> Revision:
        location = self._location(revision)
        found = state.revisions.get((app, revision_key(location)))
        if found is None:
            raise ApiError(
                "RevisionDoesNotExistException",
                f"The revision {location} is not registered with application {app}.",
            )
        return found

    def op_GetApplicationRevision(
        self, state: RegionState, region: str, body: JsonDict
    ) -> JsonDict:
        app = self._app(state, body)
        found = self._revision(state, app.name, body.get("revision"))
        return {
            "applicationName": app.name,
            "revision": found.location,
            "revisionInfo": found.info(self._target_of(state, app.name, found)),
        }

    def op_BatchGetApplicationRevisions(
        self, state: RegionState, region: str, body: JsonDict
    ) -> JsonDict:
        app = self._app(state, body)
        wanted = _required(body, "revisions", "RevisionRequiredException", "revisions")
        if len(wanted) > 25:
            raise ApiError("BatchLimitExceededException", "The maximum number of revisions is 25.")
        found, missing = [], 0
        for revision in wanted:
            try:
                record = self._revision(state, app.name, revision)
            except ApiError as exc:
                if exc.code != "RevisionDoesNotExistException":
                    raise
                missing += 1
                continue
            info = record.info(self._target_of(state, app.name, record))
            found.append({"revisionLocation": record.location, "genericRevisionInfo": info})
        out: JsonDict = {"applicationName": app.name, "revisions": found}
        if missing:
            out["errorMessage"] = f"{missing} of the revisions are not registered."
        return out

    def op_ListApplicationRevisions(
        self, state: RegionState, region: str, body: JsonDict
    ) -> JsonDict:
        app = self._app(state, body)
        sort_by, order = body.get("sortBy"), body.get("sortOrder") or "ascending"
        if sort_by is not None and sort_by not in REVISION_SORT_KEYS:
            raise ApiError("InvalidSortByException", f"Unknown sortBy {sort_by!r}.")
        if order not in ("ascending", "descending"):
            raise ApiError("InvalidSortOrderException", f"Unknown sortOrder {order!r}.")
        deployed = body.get("deployed") or "ignore"
        if deployed not in ("include", "exclude", "ignore"):
            raise ApiError("InvalidDeployedStateFilterException", f"Unknown deployed {deployed!r}.")
        bucket, prefix = body.get("s3Bucket"), body.get("s3KeyPrefix")
        if prefix and not bucket:
            raise ApiError("BucketNameFilterRequiredException", "An s3KeyPrefix needs an s3Bucket.")
        revisions = [r for (a, _), r in state.revisions.items() if a == app.name]
        if bucket:
            revisions = [
                r
                for r in revisions
                if (r.location.get("s3Location") or {}).get("bucket") == bucket
                and str((r.location.get("s3Location") or {}).get("key", "")).startswith(
                    prefix or ""
                )
            ]
        if deployed != "ignore":
            wanted = deployed == "include"
            revisions = [
                r for r in revisions if bool(self._target_of(state, app.name, r)) == wanted
            ]
        if sort_by is not None:
            attribute = REVISION_SORT_KEYS[sort_by]
            revisions.sort(
                key=lambda r: getattr(r, attribute) or 0.0, reverse=order == "descending"
            )
        page, token = _page([r.location for r in revisions], body.get("nextToken"))
        return {"revisions": page} | ({"nextToken": token} if token else {})

    # --- tags -------------------------------------------------------------------------------
    def _store_tags(self, state: RegionState, arn: str, tags: list[JsonDict]) -> None:
        if tags:
            state.tags.setdefault(arn, {}).update({t["Key"]: t.get("Value", "") for t in tags})

    def _tagged(self, state: RegionState, arn: Any) -> str:
        if not arn:
            raise ApiError("ResourceArnRequiredException", "The ARN must be specified.")
        parts = str(arn).split(":", 6)
        if len(parts) != 7 or parts[2] != "codedeploy":
            raise ApiError("InvalidArnException", f"The ARN {arn} is not valid.")
        kind, name = parts[5], parts[6]
        if kind == "application" and name not in state.applications:
            raise ApiError(
                "ApplicationDoesNotExistException", f"No application found for name: {name}"
            )
        if kind == "deploymentgroup":
            app, _, group = name.partition("/")
            if (app, group) not in state.groups:
                raise ApiError(
                    "DeploymentGroupDoesNotExistException", f"No Deployment Group {name}"
                )
        elif kind == "deploymentconfig" and name not in state.configs:
            raise ApiError("DeploymentConfigDoesNotExistException", f"No Deployment config {name}")
        elif kind not in ("application", "deploymentgroup", "deploymentconfig"):
            raise ApiError("ArnNotSupportedException", f"Tags are not supported for {arn}.")
        return str(arn)

    def op_TagResource(self, state: RegionState, region: str, body: JsonDict) -> JsonDict:
        arn = self._tagged(state, body.get("ResourceArn"))
        tags = _required(body, "Tags", "TagRequiredException", "tags")
        self._store_tags(state, arn, tags)
        return {}

    def op_UntagResource(self, state: RegionState, region: str, body: JsonDict) -> JsonDict:
        arn = self._tagged(state, body.get("ResourceArn"))
        keys = _required(body, "TagKeys", "TagRequiredException", "tag keys")
        for key in keys:
            state.tags.get(arn, {}).pop(key, None)
        return {}

    def op_ListTagsForResource(self, state: RegionState, region: str, body: JsonDict) -> JsonDict:
        arn = self._tagged(state, body.get("ResourceArn"))
        return {"Tags": [{"Key": k, "Value": v} for k, v in state.tags.get(arn, {}).items()]}


def _arn(region: str, resource: str) -> str:
    return f"arn:aws:codedeploy:{region}:{ACCOUNT_ID}:{resource}"


def _config_name(body: JsonDict) -> str:
    """The deploymentConfigName of a config operation (required by all of them)."""
    name: str = _required(
        body,
        "deploymentConfigName",
        "DeploymentConfigNameRequiredException",
        "deployment config name",
    )
    return name
