"""What CodeDeploy does to the rest of AWS, done as ordinary API calls against moto: check a
group's references, create and swap task sets, route listener traffic, read alarms."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bluegreen.sandbox.codedeploy.models import ApiError, AppSpec, DeploymentGroup, JsonDict

ClientFactory = Callable[[str, str], Any]


def _code(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    code: str = response.get("Error", {}).get("Code", type(exc).__name__)
    return code


class AwsActions:
    """moto's ECS, ELBv2, CloudWatch and IAM, as CodeDeploy sees them in one region."""

    def __init__(self, client_factory: ClientFactory, region: str) -> None:
        self._factory = client_factory
        self.region = region

    def _client(self, service: str) -> Any:
        return self._factory(service, self.region)

    # --- checks when a group is created or updated ------------------------------------------
    def check_group(self, group: DeploymentGroup) -> None:
        self._check_role(group.service_role_arn)
        for svc in group.ecs_services:
            self._check_service(svc.get("clusterName", ""), svc.get("serviceName", ""))
        self._check_load_balancer_info(group)

    def _check_role(self, arn: str) -> None:
        name = arn.rsplit("/", 1)[-1]
        if not arn.startswith("arn:") or ":role/" not in arn:
            raise ApiError("InvalidRoleException", f"The service role ARN {arn} is not valid.")
        try:
            self._client("iam").get_role(RoleName=name)
        except Exception as exc:
            if _code(exc) in ("NoSuchEntity", "NoSuchEntityException"):
                raise ApiError(
                    "InvalidRoleException", f"The service role {arn} does not exist."
                ) from exc
            raise

    def describe_service(self, cluster: str, service: str) -> JsonDict | None:
        ecs = self._client("ecs")
        try:
            found = ecs.describe_services(cluster=cluster, services=[service])
        except Exception as exc:
            if _code(exc) == "ClusterNotFoundException":
                return None
            raise
        for svc in found.get("services", []):
            if svc.get("status") == "ACTIVE":
                return dict(svc)
        return None

    def _check_service(self, cluster: str, service: str) -> None:
        svc = self.describe_service(cluster, service)
        if svc is None:
            raise ApiError(
                "InvalidECSServiceException",
                f"The ECS service {service} in cluster {cluster} does not exist.",
            )
        controller = svc.get("deploymentController", {}).get("type", "ECS")
        if controller != "CODE_DEPLOY":
            raise ApiError(
                "InvalidECSServiceException",
                f"The ECS service {service} in cluster {cluster} uses the {controller} "
                "deployment controller; CodeDeploy needs CODE_DEPLOY.",
            )

    def _check_load_balancer_info(self, group: DeploymentGroup) -> None:
        names = group.target_group_names
        if len(names) != 2:
            raise ApiError(
                "InvalidTargetGroupPairException",
                "The target group pair must list exactly two target groups.",
            )
        self.target_group_arns(names)
        if not group.prod_listeners:
            raise ApiError(
                "InvalidLoadBalancerInfoException",
                "The target group pair needs a production traffic route listener.",
            )
        elbv2 = self._client("elbv2")
        for arn in group.prod_listeners + group.test_listeners:
            try:
                elbv2.describe_listeners(ListenerArns=[arn])
            except Exception as exc:
                raise ApiError(
                    "InvalidLoadBalancerInfoException", f"The listener {arn} does not exist."
                ) from exc

    def target_group_arns(self, names: list[str]) -> dict[str, str]:
        elbv2 = self._client("elbv2")
        arns: dict[str, str] = {}
        for name in names:
            try:
                found = elbv2.describe_target_groups(Names=[name])["TargetGroups"]
            except Exception as exc:
                raise ApiError(
                    "InvalidTargetGroupPairException", f"The target group {name} does not exist."
                ) from exc
            arns[name] = found[0]["TargetGroupArn"]
        return arns

    # --- listeners ----------------------------------------------------------------------------
    def listener_weights(self, listener_arn: str) -> dict[str, float]:
        """Target group ARN → weight of the listener's default forward action."""
        elbv2 = self._client("elbv2")
        listener = elbv2.describe_listeners(ListenerArns=[listener_arn])["Listeners"][0]
        return _forward_weights(listener.get("DefaultActions", []))

    def route(self, listener_arns: list[str], weights: dict[str, int]) -> None:
        """Point each listener's default forward action, and every rule on it that forwards
        to one of these target groups, at `weights` (target group ARN → weight)."""
        elbv2 = self._client("elbv2")
        action = _forward_action(weights)
        for arn in listener_arns:
            elbv2.modify_listener(ListenerArn=arn, DefaultActions=[action])
            for rule in elbv2.describe_rules(ListenerArn=arn).get("Rules", []):
                if rule.get("IsDefault"):
                    continue
                current = _forward_weights(rule.get("Actions", []))
                if current and set(current) <= set(weights):
                    elbv2.modify_rule(RuleArn=rule["RuleArn"], Actions=[action])

    # --- task sets ----------------------------------------------------------------------------
    def task_sets(self, cluster: str, service: str) -> list[JsonDict]:
        ecs = self._client("ecs")
        found: list[JsonDict] = ecs.describe_task_sets(cluster=cluster, service=service)["taskSets"]
        return found

    def create_task_set(
        self,
        cluster: str,
        service: str,
        task_definition: str,
        target_group_arn: str,
        container_name: str,
        container_port: int,
        appspec: AppSpec | None = None,
        svc: JsonDict | None = None,
    ) -> JsonDict:
        ecs = self._client("ecs")
        params: JsonDict = {
            "cluster": cluster,
            "service": service,
            "taskDefinition": task_definition,
            "loadBalancers": [
                {
                    "targetGroupArn": target_group_arn,
                    "containerName": container_name,
                    "containerPort": container_port,
                }
            ],
            "scale": {"value": 100.0, "unit": "PERCENT"},
        }
        network = appspec.network_configuration if appspec else None
        if network is None and svc is not None:
            network = svc.get("networkConfiguration")
        if network:
            params["networkConfiguration"] = network
        if appspec and appspec.platform_version:
            params["platformVersion"] = appspec.platform_version
        if appspec and appspec.capacity_provider_strategy:
            params["capacityProviderStrategy"] = appspec.capacity_provider_strategy
        elif svc is not None and svc.get("launchType"):
            params["launchType"] = svc["launchType"]
        task_set: JsonDict = ecs.create_task_set(**params)["taskSet"]
        return task_set

    def make_primary(self, cluster: str, service: str, task_set_arn: str) -> None:
        self._client("ecs").update_service_primary_task_set(
            cluster=cluster, service=service, primaryTaskSet=task_set_arn
        )

    def delete_task_set(self, cluster: str, service: str, task_set_arn: str) -> None:
        ecs = self._client("ecs")
        try:
            ecs.delete_task_set(cluster=cluster, service=service, taskSet=task_set_arn, force=True)
        except Exception as exc:
            if _code(exc) not in ("TaskSetNotFoundException", "ServiceNotFoundException"):
                raise

    # --- alarms -------------------------------------------------------------------------------
    def alarms_in_alarm(self, names: list[str]) -> list[str]:
        if not names:
            return []
        cloudwatch = self._client("cloudwatch")
        found = cloudwatch.describe_alarms(AlarmNames=names).get("MetricAlarms", [])
        return [a["AlarmName"] for a in found if a.get("StateValue") == "ALARM"]


def _forward_weights(actions: list[JsonDict]) -> dict[str, float]:
    for action in actions:
        if action.get("Type") != "forward":
            continue
        groups = action.get("ForwardConfig", {}).get("TargetGroups")
        if groups:
            return {g["TargetGroupArn"]: float(g.get("Weight", 1)) for g in groups}
        if action.get("TargetGroupArn"):
            return {action["TargetGroupArn"]: 1.0}
    return {}


def _forward_action(weights: dict[str, int]) -> JsonDict:
    return {
        "Type": "forward",
        "ForwardConfig": {
            "TargetGroups": [{"TargetGroupArn": arn, "Weight": w} for arn, w in weights.items()]
        },
    }
