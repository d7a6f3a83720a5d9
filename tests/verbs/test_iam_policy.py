"""iam-policy: the least-privilege policy for what a spec uses."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from bluegreen.cli.app import run
from bluegreen.release import iam
from bluegreen.render.release import render_release
from bluegreen.spec.load import load_spec

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "web" / "bluegreen.yaml"
ACCOUNT = "210987654321"

_SERVICES = "ecs|ecr|codedeploy|elbv2|cloudwatch|iam|sts|ssm|cloudformation|s3"
_DIRECT = re.compile(rf"\.({_SERVICES})\(\)\.([a-z_]+)\(")
_ASSIGN = re.compile(rf"^\s*(\w+)\s*(?::[^=]+)?=\s*[\w.()\[\], ]*\.({_SERVICES})\(\)\s*$", re.M)
_PAGINATOR = re.compile(rf"\.({_SERVICES})\(\)\.get_paginator\(\s*[\"'](\w+)[\"']")
_NOT_CALLS = {"exceptions", "get_paginator", "can_paginate", "meta", "close", "get_waiter"}


def aws_calls() -> set[str]:
    """Every IAM action behind a boto3 call in bluegreen/aws/ (the gateways)."""
    found: set[str] = set()
    for path in sorted((ROOT / "bluegreen" / "aws").glob("*.py")):
        text = path.read_text(encoding="utf-8")
        for service, method in _DIRECT.findall(text):
            if method not in _NOT_CALLS:
                found.add(iam.action_for_call(service, method))
        for service, method in _PAGINATOR.findall(text):
            found.add(iam.action_for_call(service, method))
        for var, service in _ASSIGN.findall(text):
            for method in re.findall(rf"\b{var}\.([a-z_]+)\(", text):
                if method not in _NOT_CALLS:
                    found.add(iam.action_for_call(service, method))
            for method in re.findall(rf"\b{var}\.get_paginator\(\s*[\"'](\w+)[\"']", text):
                found.add(iam.action_for_call(service, method))
    return found


def test_every_aws_call_has_a_row_in_the_action_table() -> None:
    calls = aws_calls()
    assert "ecs:DescribeServices" in calls  # the scan sees the gateways
    missing = sorted(calls - set(iam.ACTIONS))
    assert missing == [], f"add these actions to bluegreen.release.iam.ACTIONS: {missing}"


def test_action_names_follow_the_api_operation_names() -> None:
    assert iam.action_for_call("elbv2", "describe_target_health") == (
        "elasticloadbalancing:DescribeTargetHealth"
    )
    assert iam.action_for_call("ecs", "delete_task_definitions") == "ecs:DeleteTaskDefinitions"
    for action, row in iam.ACTIONS.items():
        assert row.feature in iam.FEATURES, action


def example_policy(**kw: Any) -> iam.PolicyResult:
    spec = load_spec(EXAMPLE)
    rendered = render_release(spec)
    return iam.policy_for(
        spec, rendered.task_definition, rendered.images, account=ACCOUNT, region="us-east-1", **kw
    )


def statement(policy: dict[str, Any], action: str) -> dict[str, Any]:
    hits = [s for s in policy["Statement"] if action in s["Action"]]
    assert len(hits) == 1, action
    return hits[0]


def test_policy_actions_are_exactly_the_table_rows_of_the_used_features() -> None:
    result = example_policy()
    # examples/web: ECR image, task and execution roles, alarms, metric checks, canary shorthand
    assert result.features == {
        iam.CORE,
        iam.CODEDEPLOY_BG,
        iam.ROLLING,
        iam.CUSTOM_CONFIG,
        iam.ROLE_USE,
        iam.ECR,
        iam.TAG,
        iam.ALARMS,
        iam.METRICS,
        iam.CLEANUP,
        iam.DOCTOR,
    }
    assert iam.policy_actions(result.policy) == iam.actions_for(result.features)
    assert "sts:GetCallerIdentity" not in iam.policy_actions(result.policy)


def test_a_rolling_only_policy_has_no_codedeploy() -> None:
    result = example_policy(strategies=(iam.ROLLING,))
    actions = iam.policy_actions(result.policy)
    assert actions == iam.actions_for(result.features)
    assert not [a for a in actions if a.startswith("codedeploy:")]
    assert "ecs:UpdateService" in actions


def test_resources_are_scoped_to_the_spec() -> None:
    policy = example_policy().policy
    arn = f"arn:aws:ecs:us-east-1:{ACCOUNT}"
    assert statement(policy, "ecs:DescribeServices")["Resource"] == f"{arn}:service/web-cluster/web"
    assert statement(policy, "ecs:UpdateService")["Resource"] == f"{arn}:service/web-cluster/web"
    assert statement(policy, "ecs:DeleteTaskDefinitions")["Resource"] == (
        f"{arn}:task-definition/web:*"
    )
    assert statement(policy, "codedeploy:CreateDeployment")["Resource"] == (
        f"arn:aws:codedeploy:us-east-1:{ACCOUNT}:deploymentgroup:"
        "AppECS-web-cluster-web/DgpECS-web-cluster-web"
    )
    assert statement(policy, "codedeploy:CreateDeploymentConfig")["Resource"] == (
        f"arn:aws:codedeploy:us-east-1:{ACCOUNT}:deploymentconfig:bluegreen.*"
    )
    # the ECR repository lives in the image's own account
    assert statement(policy, "ecr:PutImage")["Resource"] == (
        "arn:aws:ecr:us-east-1:123456789012:repository/web"
    )
    assert statement(policy, "cloudwatch:DescribeAlarms")["Resource"] == [
        f"arn:aws:cloudwatch:us-east-1:{ACCOUNT}:alarm:web-5xx",
        f"arn:aws:cloudwatch:us-east-1:{ACCOUNT}:alarm:web-latency-p99",
    ]
    reads = statement(policy, "ecs:ListTasks")
    assert reads["Resource"] == "*"
    assert reads["Condition"] == {"ArnEquals": {"ecs:cluster": f"{arn}:cluster/web-cluster"}}


def test_pass_role_only_for_the_task_roles_and_only_to_ecs_tasks() -> None:
    stmt = statement(example_policy().policy, "iam:PassRole")
    assert stmt["Action"] == ["iam:PassRole"]
    assert stmt["Resource"] == [
        "arn:aws:iam::123456789012:role/web-execution",
        "arn:aws:iam::123456789012:role/web-task",
    ]
    assert stmt["Condition"] == {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}


def test_partition_follows_the_region() -> None:
    assert iam.partition_for("cn-north-1") == "aws-cn"
    assert iam.partition_for("us-gov-west-1") == "aws-us-gov"
    assert iam.partition_for("eu-central-1") == "aws"


# --- the CLI ----------------------------------------------------------------------------------
def test_cli_json_prints_the_policy_then_the_result_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    code = run(["-c", str(EXAMPLE), "-o", "json", "iam-policy", "--account", ACCOUNT])
    captured = capsys.readouterr()
    assert code == 0
    lines = captured.out.strip().splitlines()
    assert len(lines) == 2
    assert json.loads(lines[0]) == example_policy().policy
    assert json.loads(lines[1]) == {"event": "result", "exitCode": 0, "reason": "ok"}


def test_cli_text_prints_indented_json(capsys: pytest.CaptureFixture[str]) -> None:
    code = run(["-c", str(EXAMPLE), "iam-policy", "--account", ACCOUNT, "--strategy", "rolling"])
    out = capsys.readouterr().out
    assert code == 0
    policy = json.loads(out)
    assert out == json.dumps(policy, indent=2) + "\n"
    assert not [a for a in iam.policy_actions(policy) if a.startswith("codedeploy:")]


def test_cli_account_from_sts(aws_env: object, capsys: pytest.CaptureFixture[str]) -> None:
    code = run(["-c", str(EXAMPLE), "-o", "json", "iam-policy"])
    policy = json.loads(capsys.readouterr().out.strip().splitlines()[0])
    assert code == 0
    # moto's account; the lookup itself is then part of the policy
    assert statement(policy, "ecs:DescribeServices")["Resource"] == (
        "arn:aws:ecs:us-east-1:123456789012:service/web-cluster/web"
    )
    assert "sts:GetCallerIdentity" in iam.policy_actions(policy)


def test_cli_bad_account_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    code = run(["-c", str(EXAMPLE), "iam-policy", "--account", "12345"])
    err = capsys.readouterr().err
    assert code == 2
    assert err == "error: --account: --account '12345' is not a 12-digit AWS account id\n"


def test_cli_bad_spec_is_exit_2_naming_the_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "bluegreen.yaml"
    spec.write_text("version: 1\ncluster: c\nservice: s\ntask_definition: 5\n")
    code = run(["-c", str(spec), "iam-policy", "--account", ACCOUNT])
    err = capsys.readouterr().err
    assert code == 2
    assert "bluegreen.yaml:4" in err
    assert "task_definition" in err


def test_migrate_adds_what_migrate_needs_and_no_more() -> None:
    """`iam-policy --migrate`: the listener rules, the infrastructure role migrate creates (by
    name, not role/*), passing that role to ECS only, and the --delete-codedeploy deletions
    scoped to the spec's application and group."""
    plain = example_policy()
    policy = example_policy(migrate=True).policy
    role = f"arn:aws:iam::{ACCOUNT}:role/ecsInfrastructureRole-web-cluster-web"
    create = statement(policy, "iam:CreateRole")
    assert create["Resource"] in (role, [role])
    (to_ecs,) = [
        s
        for s in policy["Statement"]
        if "iam:PassRole" in s["Action"]
        and s["Condition"]["StringEquals"]["iam:PassedToService"] == "ecs.amazonaws.com"
    ]
    assert to_ecs["Resource"] in (role, [role])
    delete = statement(policy, "codedeploy:DeleteDeploymentGroup")
    assert "deploymentgroup:AppECS-web-cluster-web/DgpECS-web-cluster-web" in json.dumps(delete)
    assert "elasticloadbalancing:CreateRule" in iam.actions_for(
        example_policy(migrate=True).features
    )
    for action in ("iam:CreateRole", "elasticloadbalancing:CreateRule"):
        assert action not in json.dumps(plain.policy)
