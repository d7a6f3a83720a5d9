"""The ECS front of native deployments: the checks CreateService/UpdateService get before moto
stores them, the start of a ServiceDeployment once moto has, and the operations moto lacks
(DescribeServiceDeployments, ListServiceDeployments, DescribeServiceRevisions,
StopServiceDeployment, ContinueServiceDeployment) in the shapes of botocore's ECS model.

API reference pages: https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_<Op>.html.
"""

from __future__ import annotations

import copy
import json
import re
import threading
from collections.abc import Callable
from typing import Any

from bluegreen.sandbox.clock import SandboxClock
from bluegreen.sandbox.ecs_native import validate
from bluegreen.sandbox.ecs_native.engine import ClientFactory, NativeEngine, native_strategy
from bluegreen.sandbox.ecs_native.models import (
    NATIVE_STRATEGIES,
    STAGES,
    ApiError,
    JsonDict,
    ServiceDeployment,
)
from bluegreen.sandbox.faults import FaultRegistry

OPERATIONS = (
    "DescribeServiceDeployments",
    "ListServiceDeployments",
    "DescribeServiceRevisions",
    "StopServiceDeployment",
    "ContinueServiceDeployment",
)
# UpdateService members that start a deployment; the others alone start none [M:UpdateService]
STARTS_DEPLOYMENT = (
    "taskDefinition",
    "forceNewDeployment",
    "loadBalancers",
    "serviceConnectConfiguration",
    "vpcLatticeConfigurations",
)
HOOK_ID_RE = re.compile(r"^ecs-[a-z]+-[A-Za-z0-9_-]+$")
INVALID = "InvalidParameterException"
BATCH_MAX = 20  # ARNs per DescribeServiceDeployments / DescribeServiceRevisions
LIST_DEFAULT, LIST_MAX = 20, 100


def _json(raw: bytes) -> JsonDict:
    try:
        decoded = json.loads(raw or b"{}")
    except ValueError as exc:
        raise ApiError("SerializationException", "The request body is not JSON.") from exc
    if not isinstance(decoded, dict):
        raise ApiError("SerializationException", "The request body is not a JSON object.")
    return decoded


def _name(value: Any) -> str:
    return str(value).rsplit("/", 1)[-1]


class EcsNative:
    """Locking front of the engine; one per sandbox server."""

    def __init__(
        self,
        *,
        clock: SandboxClock,
        faults: FaultRegistry,
        hooks_mode: Callable[[], str],
        client_factory: ClientFactory,
    ) -> None:
        self.clock = clock
        self.faults = faults
        self.hooks_mode = hooks_mode
        self.client_factory = client_factory
        self.lock = threading.RLock()
        self._noted = threading.local()
        self.engine = self._new_engine()

    def _new_engine(self) -> NativeEngine:
        return NativeEngine(
            clock=self.clock,
            faults=self.faults,
            hooks_mode=self.hooks_mode,
            client_factory=self.client_factory,
        )

    def reset(self) -> None:
        with self.lock:
            self.engine = self._new_engine()

    def tick(self) -> None:
        with self.lock:
            self.engine.tick()

    # --- CreateService / UpdateService ---------------------------------------------------------
    def check_create(self, raw: bytes) -> ApiError | None:
        """The checks ECS makes at CreateService for a native strategy; None when it may go on."""
        try:
            request = _json(raw)
            controller = (request.get("deploymentController") or {}).get("type", "ECS")
            if controller == "ECS":
                validate.check_service_request(request, None, None)
        except ApiError as exc:
            return exc
        return None

    def after_create(self, region: str, raw: bytes) -> None:
        """Take over a native service moto has just created (its first deployment)."""
        try:
            request = _json(raw)
        except ApiError:
            return
        with self.lock:
            found = self.engine.moto_service(
                region, str(request.get("cluster") or "default"), str(request.get("serviceName"))
            )
            if found is None or native_strategy(found[1]) is None:
                return
            key = (region, found[1].cluster_name, found[1].name)
            if key in self.engine.services:
                return
            self.engine.create(region, found[0], found[1])

    def check_update(self, raw: bytes, region: str) -> ApiError | None:
        """Validate an UpdateService for a native strategy and note, for this request's thread,
        what `after_update` needs once moto has stored it."""
        self._noted.value = None
        try:
            request = _json(raw)
        except ApiError as exc:
            return exc
        with self.lock:
            found = self.engine.moto_service(
                region, str(request.get("cluster") or "default"), str(request.get("service", ""))
            )
            if found is None:
                return None  # moto answers ServiceNotFoundException / ClusterNotFoundException
            account, svc = found
            existing = copy.deepcopy(getattr(svc, "deployment_configuration", None) or {})
            controller = request.get("deploymentController") or svc.deployment_controller or {}
            switch = _controller_switch(svc, request)
            if switch is not None and switch.get("refused"):
                return ApiError(INVALID, str(switch["refused"]))
            if controller.get("type", "ECS") == "ECS":
                try:
                    validate.check_service_request(request, existing, list(svc.load_balancers))
                except ApiError as exc:
                    return exc
            self._noted.value = {
                "region": region,
                "account": account,
                "request": request,
                "config": validate.effective_configuration(request, existing),
                "task_definition": str(svc.task_definition),
                "desired": int(svc.desired_count),
                "running": int(svc.running_count),
                "deployment_id": svc.deployments[0]["id"] if svc.deployments else None,
                "native_before": native_strategy(svc) is not None,
                "switch": switch,
            }
            if switch is not None:
                self._noted.value["task_definition"] = switch["task_definition"]
                self._noted.value["running"] = switch["running"]
        return None

    def after_update(self) -> None:
        """Runs in the UpdateService request's thread once moto stored the update: keep the
        merged deploymentConfiguration and, on a native service, start a deployment when the
        request asks for one."""
        noted = getattr(self._noted, "value", None)
        self._noted.value = None
        if not noted:
            return
        request = noted["request"]
        region = noted["region"]
        with self.lock:
            found = self.engine.moto_service(
                region, str(request.get("cluster") or "default"), str(request.get("service", ""))
            )
            if found is None:
                return
            account, svc = found
            svc.deployment_configuration = noted["config"]
            if native_strategy(svc) is None:
                return
            switch = noted.get("switch")
            if switch is not None:
                _carry_over(svc, switch)
            if svc.task_definition and not str(svc.task_definition).startswith("arn:"):
                svc.task_definition = self.engine.task_definition_arn(
                    region, account, str(svc.task_definition)
                )
            self.engine.adopt(
                region,
                account,
                svc,
                noted["task_definition"],
                noted["desired"],
                noted["desired"] if noted["native_before"] else noted["running"],
                noted["deployment_id"],
            )
            if switch is None and any(request.get(key) for key in STARTS_DEPLOYMENT):
                self.engine.start(region, account, svc)
            else:
                state = self.engine.state_for(region, account, svc)
                self.engine._publish(state, svc)

    def discard_note(self) -> None:
        self._noted.value = None

    # --- the operations moto lacks --------------------------------------------------------------
    def handle(self, operation: str, raw: bytes, region: str) -> tuple[int, JsonDict]:
        try:
            body = _json(raw)
            with self.lock:
                result = getattr(self, f"op_{operation}")(body, region)
        except ApiError as exc:
            return 400, {"__type": exc.code, "message": exc.message}
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            return 400, {"__type": INVALID, "message": f"Invalid request: {exc}"}
        return 200, result

    def _lookup(self, arn: Any) -> ServiceDeployment:
        d = self.engine.deployments.get(str(arn)) if arn else None
        if d is None:
            raise ApiError(
                "ServiceDeploymentNotFoundException", "The service deployment does not exist."
            )
        return d

    @staticmethod
    def _arns(body: JsonDict, key: str) -> list[str]:
        arns = body.get(key)
        if not isinstance(arns, list) or not arns:
            raise ApiError(INVALID, f"{key} must list at least one ARN.")
        if len(arns) > BATCH_MAX:
            raise ApiError(INVALID, f"{key} can list at most {BATCH_MAX} ARNs.")
        return [str(a) for a in arns]

    def op_DescribeServiceDeployments(self, body: JsonDict, region: str) -> JsonDict:
        found, failures = [], []
        for arn in self._arns(body, "serviceDeploymentArns"):
            d = self.engine.deployments.get(arn)
            if d is None:
                failures.append({"arn": arn, "reason": "MISSING"})
            else:
                found.append(d.to_json())
        return {"serviceDeployments": found, "failures": failures}

    def op_DescribeServiceRevisions(self, body: JsonDict, region: str) -> JsonDict:
        found, failures = [], []
        for arn in self._arns(body, "serviceRevisionArns"):
            revision = self.engine.revisions.get(arn)
            if revision is None:
                failures.append({"arn": arn, "reason": "MISSING"})
            else:
                found.append(revision.to_json())
        return {"serviceRevisions": found, "failures": failures}

    def op_ListServiceDeployments(self, body: JsonDict, region: str) -> JsonDict:
        service = body.get("service")
        if not service:
            raise ApiError(INVALID, "service must be specified.")
        cluster = _name(body.get("cluster") or "default")
        found = self.engine.moto_service(region, cluster, _name(service))
        if found is None:
            raise ApiError("ServiceNotFoundException", "Service not found.")
        state = self.engine.services.get((region, cluster, _name(service)))
        deployments = list(state.deployments) if state else []
        statuses = body.get("status")
        if statuses:
            deployments = [d for d in deployments if d.status in statuses]
        created = body.get("createdAt") or {}
        if created.get("after") is not None:
            deployments = [d for d in deployments if d.created_at >= float(created["after"])]
        if created.get("before") is not None:
            deployments = [d for d in deployments if d.created_at <= float(created["before"])]
        # §6 question 5: AWS states no order; newest first (clients sort by createdAt anyway).
        deployments.sort(key=lambda d: d.created_at, reverse=True)
        limit = body.get("maxResults", LIST_DEFAULT)
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= LIST_MAX:
            raise ApiError(INVALID, f"maxResults must be between 1 and {LIST_MAX}.")
        token = body.get("nextToken")
        try:
            start = int(token) if token else 0
        except ValueError as exc:
            raise ApiError(INVALID, "The nextToken is not valid.") from exc
        page = deployments[start : start + limit]
        answer: JsonDict = {"serviceDeployments": [d.brief() for d in page]}
        if start + limit < len(deployments):
            answer["nextToken"] = str(start + limit)
        return answer

    def op_StopServiceDeployment(self, body: JsonDict, region: str) -> JsonDict:
        """[STOP]: ROLLBACK moves a PENDING or IN_PROGRESS deployment to ROLLBACK_REQUESTED.
        §6 question 4 readings: stopType ABORT is refused (the docs allow ROLLBACK only), and
        ConflictException answers a deployment that is no longer PENDING or IN_PROGRESS, or
        whose CLEAN_UP has begun (blue is being removed: there is nothing to flip back to)."""
        d = self._lookup(body.get("serviceDeploymentArn"))
        stop_type = body.get("stopType", "ROLLBACK")
        if stop_type != "ROLLBACK":
            raise ApiError(INVALID, f"stopType {stop_type} is not supported. Use ROLLBACK.")
        if d.status not in ("PENDING", "IN_PROGRESS") or d.stage == "CLEAN_UP":
            raise ApiError(
                "ConflictException",
                f"The service deployment is {d.status}"
                + (" in CLEAN_UP" if d.stage == "CLEAN_UP" else "")
                + " and can't be stopped.",
            )
        self.engine.request_rollback(d)
        return {"serviceDeploymentArn": d.arn}

    def op_ContinueServiceDeployment(self, body: JsonDict, region: str) -> JsonDict:
        """[CONT; TS]: answer a PAUSE hook AWAITING_ACTION with CONTINUE (default) or ROLLBACK."""
        d = self._lookup(body.get("serviceDeploymentArn"))
        hook_id = str(body.get("hookId") or "")
        action = body.get("action", "CONTINUE")
        if action not in ("CONTINUE", "ROLLBACK"):
            raise ApiError(
                INVALID, f"Invalid action {action}. Valid values are: CONTINUE, ROLLBACK"
            )
        if not HOOK_ID_RE.match(hook_id):
            raise ApiError(
                INVALID, "Invalid hookId: hookId must follow the format: ecs-{hookType}-{id}"
            )
        if not d.active:
            raise ApiError(
                "ClientException",
                "Continuing a service deployment is not allowed for service deployment in "
                "terminal states.",
            )
        hook = next(
            (h for h in d.hooks if h.hook_id == hook_id and h.status == "AWAITING_ACTION"), None
        )
        if hook is None or d.status != "IN_PROGRESS":
            raise ApiError(
                "ClientException",
                "Provided hookId is either completed, unavailable, or not associated with the "
                "given Resource ARN",
            )
        hook.action = action
        hook.status = "SUCCEEDED" if action == "CONTINUE" else "FAILED"
        d.updated_at = self.clock.wall()
        return {"serviceDeploymentArn": d.arn}


# --- CODE_DEPLOY → ECS in place (reference §5) ------------------------------------------------
# [UPD] https://docs.aws.amazon.com/AmazonECS/latest/developerguide/update-service-parameters.html:
# the controller changes in place from CODE_DEPLOY to ECS, never during a deployment; [TSM]
# https://docs.aws.amazon.com/AmazonECS/latest/developerguide/troubleshooting-deployment-controller-migration.html:
# it needs exactly one task set, PRIMARY. The reference quotes only fragments of the two errors
# ("…multiple tasksets in the service…", "…requires a primary taskset…"); the sentences around
# them, and InvalidParameterException as their code, are this sandbox's reading.
MULTIPLE_TASK_SETS = (
    "Unable to update the deployment controller: there are multiple tasksets in the service."
)
NO_PRIMARY_TASK_SET = (
    "Unable to update the deployment controller: updating from CODE_DEPLOY requires a primary "
    "taskset in the service."
)


def _controller_switch(svc: Any, request: JsonDict) -> JsonDict | None:
    """For an UpdateService that moves a CODE_DEPLOY service to the ECS controller: what the
    service carries over (the PRIMARY task set's task definition, running count and target
    group), or `refused` with the error ECS answers. None for any other request."""
    wanted = (request.get("deploymentController") or {}).get("type")
    current = (getattr(svc, "deployment_controller", None) or {}).get("type", "ECS")
    if wanted != "ECS" or current != "CODE_DEPLOY":
        return None
    task_sets = list(getattr(svc, "task_sets", None) or [])
    if len(task_sets) > 1:
        return {"refused": MULTIPLE_TASK_SETS}
    primary = [t for t in task_sets if getattr(t, "status", None) == "PRIMARY"]
    if not primary:
        return {"refused": NO_PRIMARY_TASK_SET}
    task_set = primary[0]
    balancers = list(getattr(task_set, "load_balancers", None) or [])
    return {
        "task_definition": str(task_set.task_definition),
        # the PRIMARY task set's tasks carry over (its computed desired count is what runs
        # once it is stable, and the switch is refused while a deployment could change it)
        "running": max(
            int(getattr(task_set, "running_count", 0) or 0),
            int(getattr(task_set, "computed_desired_count", 0) or 0),
        ),
        "serving": balancers[0].get("targetGroupArn") if balancers else None,
    }


def _carry_over(svc: Any, switch: JsonDict) -> None:
    """After the switch the service is what its PRIMARY task set was: the task definition it
    ran, no task sets (an ECS-controller service has none [M:Service]), and the target group
    that task set served as the service's `targetGroupArn` (the sandbox's native engine takes
    a revision's production group from there). §5 reading, flagged: the switch itself starts
    no ServiceDeployment (the `loadBalancers` it carries only add advancedConfiguration); the
    service's next deployment is the first native one."""
    svc.task_definition = switch["task_definition"]
    svc.task_sets = []
    serving = switch.get("serving")
    for lb in svc.load_balancers or []:
        advanced = lb.get("advancedConfiguration") if isinstance(lb, dict) else None
        if isinstance(advanced, dict) and advanced.get("alternateTargetGroupArn") == serving:
            lb["targetGroupArn"], advanced["alternateTargetGroupArn"] = (
                serving,
                lb["targetGroupArn"],
            )


__all__ = ["NATIVE_STRATEGIES", "OPERATIONS", "STAGES", "EcsNative"]
