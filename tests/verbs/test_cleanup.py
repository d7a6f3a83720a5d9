"""cleanup: old revisions go, live ones and rollback targets stay — in the sandbox."""

from __future__ import annotations

import json
import time
from typing import Any

import boto3
import pytest

from bluegreen.cli.app import run
from bluegreen.release.cleanup import plan_cleanup
from bluegreen.sandbox.server import SandboxServer
from tests.conftest import sandbox_call
from tests.verbs.conftest import register_web

ARN = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:{}"


def statuses() -> dict[int, str]:
    ecs = boto3.client("ecs")
    out: dict[int, str] = {}
    for status in ("ACTIVE", "INACTIVE"):
        for arn in ecs.list_task_definitions(familyPrefix="web", status=status)[
            "taskDefinitionArns"
        ]:
            out[int(arn.rsplit(":", 1)[1])] = status
    return out


@pytest.fixture
def revisions(service: dict[str, Any]) -> dict[str, Any]:
    """web:1..6; the service runs web:5 (so web:4 is its rollback target); a second service
    `other` runs web:2."""
    for _ in range(5):
        register_web(service["digest"])
    ecs = boto3.client("ecs")
    ecs.update_service(cluster="web-cluster", service="web", taskDefinition=ARN.format(5))
    ecs.create_service(
        cluster="web-cluster", serviceName="other", taskDefinition=ARN.format(2), desiredCount=1
    )
    # until the rollout to web:5 has ended, web:1 is still in use by the draining deployment
    # (and cleanup rightly keeps it): wait for the steady state a live service would be in
    deadline = time.monotonic() + 10
    while (
        len(
            ecs.describe_services(cluster="web-cluster", services=["web"])["services"][0][
                "deployments"
            ]
        )
        > 1
    ):
        assert time.monotonic() < deadline, "web did not finish its rollout to web:5"
        time.sleep(0.02)
    return service


def test_dry_run_lists_and_writes_nothing(
    revisions: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    before = statuses()
    assert run(["-c", revisions["spec"], "cleanup", "--keep", "1", "--dry-run"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0] == "web: keeping the newest 1: web:6"
    assert "keep web:5: service web-cluster/web" in out
    assert "keep web:4: rollback target (before web:5)" in out
    assert "keep web:2: service web-cluster/other" in out
    assert "would deregister web:3" in lines
    assert "would deregister web:6" not in out
    assert statuses() == before


def test_deregister_then_delete(
    revisions: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["-c", revisions["spec"], "-o", "json", "cleanup", "--keep", "2"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["kept"] == [ARN.format(6), ARN.format(5)]
    assert result["deregistered"] == [ARN.format(3), ARN.format(1)]
    assert result["deregistered"] == result["deregister"]
    assert result["deleted"] == []
    after = statuses()
    for n in (6, 5, 4, 2):
        assert after[n] == "ACTIVE", n
    assert after[3] == "INACTIVE"
    # --delete removes the INACTIVE ones nothing uses
    assert run(["-c", revisions["spec"], "-o", "json", "cleanup", "--keep", "2", "--delete"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    # web:1 ran before the service moved to web:5; nothing uses it now
    assert result["deleted"] == [ARN.format(3), ARN.format(1)]
    assert result["deleteFailures"] == {}
    assert 3 not in statuses()  # neither ACTIVE nor INACTIVE any more
    assert 1 not in statuses()
    assert [statuses()[n] for n in (6, 5, 4, 2)] == ["ACTIVE"] * 4


def test_keep_zero_is_exit_2_before_any_call(
    revisions: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    before = statuses()
    assert run(["-c", revisions["spec"], "cleanup", "--keep", "0"]) == 2
    assert capsys.readouterr().err == (
        "error: --keep: --keep must be at least 1, got 0\n"
        "  hint: the newest revision is always kept\n"
    )
    assert statuses() == before


def test_missing_keep_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["cleanup"]) == 2
    assert "--keep" in capsys.readouterr().err


def test_in_flight_deployment_protects_its_revision(
    aws_env: SandboxServer, stack: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    # the deployment stays in flight: its lifecycle hooks wait
    sandbox_call(aws_env, "settings", {"hooks": "wait"})
    ecs = boto3.client("ecs")
    live = ecs.describe_task_definition(taskDefinition="web:1")["taskDefinition"]
    keep = ("family", "networkMode", "requiresCompatibilities", "cpu", "memory")
    params = {k: live[k] for k in keep if k in live}
    params["executionRoleArn"] = live["executionRoleArn"]
    for _ in range(3):
        ecs.register_task_definition(**params, containerDefinitions=live["containerDefinitions"])
    target = ARN.format(2)
    appspec = {
        "version": 0.0,
        "Resources": [
            {
                "TargetService": {
                    "Type": "AWS::ECS::Service",
                    "Properties": {
                        "TaskDefinition": target,
                        "LoadBalancerInfo": {"ContainerName": "web", "ContainerPort": 8080},
                    },
                }
            }
        ],
        "Hooks": [{"BeforeInstall": "hold-the-deployment"}],
    }
    deployment = boto3.client("codedeploy").create_deployment(
        applicationName=stack["application"],
        deploymentGroupName=stack["deploymentGroup"],
        revision={
            "revisionType": "AppSpecContent",
            "appSpecContent": {"content": json.dumps(appspec)},
        },
    )["deploymentId"]
    assert run(["-c", stack["spec"], "cleanup", "--keep", "1", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert f"in-flight deployment {deployment}" in out
    assert "would deregister web:2" not in out
    assert "would deregister web:3" in out
    info = boto3.client("codedeploy").get_deployment(deploymentId=deployment)["deploymentInfo"]
    assert info["status"] in ("Created", "Queued", "InProgress")  # still in flight


def test_plan_is_pure_and_never_deregisters_what_is_used() -> None:
    active = [ARN.format(n) for n in range(1, 8)]
    plan = plan_cleanup(
        "web",
        active=active,
        inactive=[ARN.format(0)],
        keep=2,
        in_use={ARN.format(1): ["service c/x"], ARN.format(0): ["task set of c/y"]},
        current=ARN.format(6),
        delete=True,
    )
    assert plan.keep == [ARN.format(7), ARN.format(6)]
    assert plan.protected == {
        ARN.format(5): ["rollback target (before web:6)"],
        ARN.format(1): ["service c/x"],
        ARN.format(0): ["task set of c/y"],
    }
    assert plan.deregister == [ARN.format(n) for n in (4, 3, 2)]
    assert plan.delete == [ARN.format(n) for n in (4, 3, 2)]  # web:0 is in use
