"""doctor: a preflight of the AWS setup, against the sandbox."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from bluegreen.cli.app import run
from bluegreen.release.doctor import ERROR, OK, WARN, fargate_size, rolling_percent

HEALTHY_STACK = """\
ok    controller: web-cluster/web uses CodeDeploy blue/green
ok    codedeploy-application: application AppECS-web-cluster-web (ECS)
ok    deployment-group: group DgpECS-web-cluster-web deploys web-cluster/web
ok    target-groups: target groups web-blue and web-green exist
ok    listeners: production listener routes to the pair
ok    listeners: test listener routes to the pair
ok    auto-rollback: group DgpECS-web-cluster-web rolls back on DEPLOYMENT_FAILURE, \
DEPLOYMENT_STOP_ON_ALARM
ok    group-alarms: group DgpECS-web-cluster-web stops deployments on alarms web-5xx, web-latency
ok    service-role: service role web-codedeploy exists
ok    alarms: alarms web-5xx, web-latency exist
ok    image: web: tag v1 is resolved to its digest at deploy (pin_digests)
ok    fargate-size: the rendered task definition: cpu 256 / memory 512 is a valid Fargate size
no errors, 0 warning(s)
"""


def test_healthy_stack(stack: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["-c", stack["spec"], "doctor"]) == 0
    assert capsys.readouterr().out == HEALTHY_STACK


def test_broken_stack_is_exit_2_with_fixes(
    stack: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    boto3.client("cloudwatch").delete_alarms(AlarmNames=["web-5xx"])
    iam = boto3.client("iam")
    for name in iam.list_role_policies(RoleName="web-codedeploy")["PolicyNames"]:
        iam.delete_role_policy(RoleName="web-codedeploy", PolicyName=name)
    for policy in iam.list_attached_role_policies(RoleName="web-codedeploy")["AttachedPolicies"]:
        iam.detach_role_policy(RoleName="web-codedeploy", PolicyArn=policy["PolicyArn"])
    iam.delete_role(RoleName="web-codedeploy")
    code = run(["-c", stack["spec"], "-o", "json", "doctor"])
    captured = capsys.readouterr()
    assert code == 2
    lines = [json.loads(x) for x in captured.out.strip().splitlines()]
    assert lines[-1] == {
        "event": "result",
        "ok": False,
        "errors": 2,
        "warnings": 0,
        "exitCode": 2,
        "reason": "web-cluster/web: 2 error(s), 0 warning(s) in the AWS setup",
        "kind": "preflight",
        "hint": "apply the fixes above, then run `bluegreen doctor` again",
    }
    errors = [x for x in lines if x.get("level") == ERROR]
    assert [(e["check"], e["message"]) for e in errors] == [
        (
            "service-role",
            "the group's service role arn:aws:iam::123456789012:role/web-codedeploy does not exist",
        ),
        ("alarms", "alarm web-5xx does not exist"),
    ]
    assert all(e["fix"] for e in errors)
    assert captured.err == (
        "error: web-cluster/web: 2 error(s), 0 warning(s) in the AWS setup\n"
        "  hint: apply the fixes above, then run `bluegreen doctor` again\n"
    )


def test_rolling_service_that_cannot_progress(
    service: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    boto3.client("ecs").update_service(
        cluster="web-cluster",
        service="web",
        deploymentConfiguration={
            "minimumHealthyPercent": 100,
            "maximumPercent": 100,
            "deploymentCircuitBreaker": {"enable": True, "rollback": True},
        },
    )
    assert run(["-c", service["spec"], "doctor"]) == 2
    out = capsys.readouterr().out
    assert out.splitlines()[:4] == [
        "ok    controller: web-cluster/web uses rolling updates (ECS)",
        "error rolling-update: minimumHealthyPercent 100 / maximumPercent 100 with desiredCount "
        "1: ECS can neither start a new task first nor stop an old one, so the rolling update "
        "never makes progress",
        "      fix: set maximumPercent 200 (start new tasks first: 100/200), or "
        "minimumHealthyPercent 50 (replace half at a time: 50/200); for a single task that "
        "cannot run twice (e.g. a fixed host port on EC2) use 0/200",
        "warn  alarms: no rollback alarms: a broken build is only caught by failing health checks",
    ]


def test_mutable_tags_without_pinning_warn(
    service: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    spec = Path(service["spec"])
    spec.write_text(
        spec.read_text().replace("load_balancer:", "pin_digests: false\nload_balancer:")
    )
    assert run(["-c", str(spec), "doctor"]) == 0
    out = capsys.readouterr().out
    assert (
        "warn  image: web: mutable tag v1 and pin_digests is off; with ECS_IMAGE_PULL_BEHAVIOR"
        in out
    )
    assert "      fix: set `pin_digests: true` (the default), or use immutable tags" in out


def test_spec_codedeploy_on_a_rolling_service_warns(
    service: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    spec = Path(service["spec"])
    spec.write_text(spec.read_text() + "codedeploy: {deployment_config: all-at-once}\n")
    assert run(["-c", str(spec), "doctor"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(
        "warn  controller: the spec configures `codedeploy` but web-cluster/web uses the ECS "
        "controller: deploy will do a rolling update, not blue/green\n"
    )


def test_missing_service_is_exit_2(
    service: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    spec = Path(service["spec"])
    spec.write_text(spec.read_text().replace("service: web", "service: nope"))
    assert run(["-c", str(spec), "doctor"]) == 2
    out = capsys.readouterr().out
    assert out == (
        "error service: ECS service 'nope' is not found in cluster 'web-cluster' (region "
        "us-east-1)\n"
        "      fix: services in cluster 'web-cluster': web; create the service, or fix "
        "`cluster`/`service` in the spec\n"
    )


def test_bad_spec_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "bluegreen.yaml"
    spec.write_text("version: 2\ncluster: c\nservice: s\ntask_definition: t.json\n")
    assert run(["-c", str(spec), "doctor"]) == 2
    assert "bluegreen.yaml:1" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("desired", "minimum", "maximum", "level"),
    [
        (1, 100, 200, OK),
        (1, 0, 100, WARN),
        (1, 100, 100, ERROR),
        (4, 50, 100, OK),
        (4, 100, 110, ERROR),  # floor(4.4) = 4: no room
        (4, 80, 100, ERROR),  # ceil(3.2) = 4: no room
        (0, 100, 100, OK),
    ],
)
def test_rolling_percent(desired: int, minimum: int, maximum: int, level: str) -> None:
    assert rolling_percent(desired, minimum, maximum).level == level


@pytest.mark.parametrize(
    ("cpu", "memory", "level"),
    [("256", "512", OK), ("256", "1536", ERROR), ("512", "4096", OK), ("300", "512", ERROR)],
)
def test_fargate_sizes(cpu: str, memory: str, level: str) -> None:
    td = {"requiresCompatibilities": ["FARGATE"], "cpu": cpu, "memory": memory}
    finding = fargate_size(td, "td")
    assert finding is not None
    assert finding.level == level
