"""Rolling updates of ECS-controller services in the sandbox, driven with plain boto3."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from bluegreen.sandbox.server import SandboxServer
from tests.conftest import sandbox_call
from tests.helpers import wait_for


@pytest.fixture
def ecs(aws_env: SandboxServer) -> Any:
    client = boto3.client("ecs")
    client.create_cluster(clusterName="c")
    for tag in ("v1", "v2"):
        client.register_task_definition(
            family="api",
            containerDefinitions=[{"name": "api", "image": f"api:{tag}", "memory": 128}],
        )
    return client


def create(ecs: Any, **config: Any) -> None:
    params: dict[str, Any] = {
        "cluster": "c",
        "serviceName": "api",
        "taskDefinition": "api:1",
        "desiredCount": 4,
    }
    if config:
        params["deploymentConfiguration"] = config
    ecs.create_service(**params)


def service(ecs: Any) -> dict[str, Any]:
    found: dict[str, Any] = ecs.describe_services(cluster="c", services=["api"])["services"][0]
    return found


def primary(ecs: Any) -> dict[str, Any]:
    found: dict[str, Any] = service(ecs)["deployments"][0]
    return found


def test_new_service_reaches_steady_state(ecs: Any) -> None:
    """https://docs.aws.amazon.com/AmazonECS/latest/developerguide/deployment-type-ecs.html —
    the scheduler starts tasks until runningCount reaches desiredCount; the rollout
    completes."""
    create(ecs)
    done = wait_for(lambda: primary(ecs)["rolloutState"] == "COMPLETED" and service(ecs))
    assert done["runningCount"] == 4
    assert done["pendingCount"] == 0
    assert "steady state" in done["events"][0]["message"]


def test_rolling_update_replaces_tasks_over_time(ecs: Any, aws_env: SandboxServer) -> None:
    """https://docs.aws.amazon.com/AmazonECS/latest/developerguide/deployment-type-ecs.html —
    a new task definition starts a PRIMARY deployment beside the ACTIVE one; tasks move over
    until the new deployment holds them all."""
    create(ecs)
    wait_for(lambda: primary(ecs)["rolloutState"] == "COMPLETED")
    sandbox_call(aws_env, "settings", {"timeScale": 60})  # a one-minute rollout, seen in 1 s
    ecs.update_service(cluster="c", service="api", taskDefinition="api:2")
    seen: set[tuple[int, int]] = set()

    def finished() -> bool:
        deployments = service(ecs)["deployments"]
        if len(deployments) == 2:
            new, old = deployments
            assert (new["status"], old["status"]) == ("PRIMARY", "ACTIVE")
            assert new["taskDefinition"].endswith(":2")
            seen.add((new["runningCount"], old["runningCount"]))
        return bool(deployments[0]["rolloutState"] == "COMPLETED" and len(deployments) == 1)

    wait_for(finished)
    assert any(0 < new < 4 for new, _ in seen), seen
    assert all(new + old <= 4 for new, old in seen)
    final = service(ecs)
    assert final["taskDefinition"].endswith(":2")
    assert final["runningCount"] == 4


def test_force_new_deployment_starts_a_rollout(ecs: Any, aws_env: SandboxServer) -> None:
    """https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_UpdateService.html —
    forceNewDeployment starts a new deployment with the same task definition."""
    create(ecs)
    wait_for(lambda: primary(ecs)["rolloutState"] == "COMPLETED")
    first = primary(ecs)["id"]
    sandbox_call(aws_env, "settings", {"timeScale": 60})  # both deployments seen for ~1 s
    ecs.update_service(cluster="c", service="api", forceNewDeployment=True)
    rolling = wait_for(lambda: len(service(ecs)["deployments"]) == 2 and service(ecs))
    assert rolling["deployments"][0]["rolloutState"] == "IN_PROGRESS"
    assert rolling["deployments"][1]["id"] == first
    wait_for(lambda: primary(ecs)["rolloutState"] == "COMPLETED")
    assert primary(ecs)["id"] != first


def test_circuit_breaker_fails_and_rolls_back(ecs: Any, aws_env: SandboxServer) -> None:
    """https://docs.aws.amazon.com/AmazonECS/latest/developerguide/deployment-circuit-breaker.html
    — when tasks keep failing the breaker marks the deployment FAILED and, with rollback,
    returns to the last completed deployment's task definition."""
    create(ecs, deploymentCircuitBreaker={"enable": True, "rollback": True})
    assert service(ecs)["deploymentConfiguration"]["deploymentCircuitBreaker"]["rollback"]
    wait_for(lambda: primary(ecs)["rolloutState"] == "COMPLETED")
    sandbox_call(aws_env, "faults", {"kind": "unhealthy-green"})
    # the FAILED deployment stays listed while the rollback settles (0.5 s at this scale)
    sandbox_call(aws_env, "settings", {"timeScale": 60})
    ecs.update_service(cluster="c", service="api", taskDefinition="api:2")
    failed = wait_for(
        lambda: [d for d in service(ecs)["deployments"] if d["rolloutState"] == "FAILED"]
    )
    assert failed[0]["taskDefinition"].endswith(":2")
    assert failed[0]["failedTasks"] >= 3
    wait_for(lambda: primary(ecs)["rolloutState"] == "COMPLETED")
    final = service(ecs)
    assert final["taskDefinition"].endswith(":1")
    assert final["runningCount"] == 4
    assert any("tasks failed to start" in e["message"] for e in final["events"])


def test_circuit_breaker_without_rollback_stays_failed(ecs: Any, aws_env: SandboxServer) -> None:
    """https://docs.aws.amazon.com/AmazonECS/latest/developerguide/deployment-circuit-breaker.html
    — without rollback the failed deployment stays, marked FAILED."""
    create(ecs, deploymentCircuitBreaker={"enable": True, "rollback": False})
    wait_for(lambda: primary(ecs)["rolloutState"] == "COMPLETED")
    sandbox_call(aws_env, "faults", {"kind": "unhealthy-green"})
    ecs.update_service(cluster="c", service="api", taskDefinition="api:2")
    wait_for(lambda: primary(ecs)["rolloutState"] == "FAILED")
    assert service(ecs)["taskDefinition"].endswith(":2")


def test_going_back_to_a_completed_revision_is_healthy(ecs: Any, aws_env: SandboxServer) -> None:
    """https://docs.aws.amazon.com/AmazonECS/latest/developerguide/deployment-circuit-breaker.html
    — the unhealthy-green fault hits new tasks; an UpdateService back to the revision that last
    completed (a manual rollback) starts healthy tasks and completes."""
    create(ecs)
    wait_for(lambda: primary(ecs)["rolloutState"] == "COMPLETED")
    sandbox_call(aws_env, "faults", {"kind": "unhealthy-green"})
    ecs.update_service(cluster="c", service="api", taskDefinition="api:2")
    wait_for(lambda: primary(ecs)["failedTasks"] >= 1)
    assert primary(ecs)["rolloutState"] == "IN_PROGRESS"
    ecs.update_service(cluster="c", service="api", taskDefinition="api:1")
    wait_for(lambda: primary(ecs)["rolloutState"] == "COMPLETED")
    assert service(ecs)["taskDefinition"].endswith(":1")
