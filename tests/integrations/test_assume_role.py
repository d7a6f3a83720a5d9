"""Assume a role per environment: the spec's `role_arn` (top level or per environment) and
`--assume-role ARN`, against the sandbox's STS over HTTP, through the CLI. What AWS holds
afterwards (the roles STS handed out, the identity the release's clients called as, written
into the CodeDeploy deployment's description) is read back."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

from bluegreen.aws.session import ROLE_ARN_PATTERN, Aws, role_session_name
from tests.conftest import sandbox_call
from tests.fixtures.codedeploy import Stack
from tests.helpers import Ran

if TYPE_CHECKING:
    from bluegreen.cli.multi import Sessions

ACCOUNT = "123456789012"  # the sandbox's account
DEPLOY_ROLE = f"arn:aws:iam::{ACCOUNT}:role/deploy-prod"
OTHER_ROLE = f"arn:aws:iam::{ACCOUNT}:role/deploy-staging"


def assumed() -> list[Any]:
    """The sessions the sandbox's STS handed out (moto's record), oldest first."""
    from moto.backends import get_backend

    return list(get_backend("sts")[ACCOUNT]["aws"].assumed_roles)


def add_to_spec(stack: Stack, block: str) -> None:
    stack.spec.write_text(stack.spec.read_text().rstrip("\n") + "\n" + block.lstrip("\n"))


def test_a_release_with_assume_role_runs_as_the_role(
    stack: Stack, cli: Callable[..., Ran], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_RUN_ID", "4242")
    stack.push("role-v1")
    before = len(assumed())
    ran = cli(
        "deploy",
        "--image",
        f"web={stack.image('role-v1')}",
        "--assume-role",  # a global option, given after the verb
        DEPLOY_ROLE,
        "-o",
        "json",
    )
    assert ran.code == 0, ran.stderr
    new = assumed()[before:]
    assert len(new) == 1, "one AssumeRole for the whole release (one session)"
    assert new[0].role_arn == DEPLOY_ROLE
    assert new[0].session_name == "bluegreen-4242"
    assert new[0].external_id is None
    # the release's clients called as the role: GetCallerIdentity through the CLI's session
    # named it in the deployment's description, read back from CodeDeploy
    deployment = stack.client("codedeploy").get_deployment(deploymentId=ran.result["deploymentId"])[
        "deploymentInfo"
    ]
    assert deployment["description"].startswith(
        f"bluegreen release by arn:aws:sts::{ACCOUNT}:assumed-role/deploy-prod/bluegreen-4242;"
    )
    assert stack.live_task_definition() == ran.result["taskDefinitionArn"]


def test_the_environment_role_and_external_id_apply_and_the_flag_overrides_them(
    stack: Stack, cli: Callable[..., Ran]
) -> None:
    add_to_spec(
        stack,
        f"""
role_arn: {OTHER_ROLE}
environments:
  prod:
    role_arn: {DEPLOY_ROLE}
    external_id: release-2026
""",
    )
    before = len(assumed())
    ran = cli("--env", "prod", "-o", "json", "iam-policy")
    assert ran.code == 0, ran.stderr
    new = assumed()[before:]
    assert [(r.role_arn, r.external_id) for r in new] == [(DEPLOY_ROLE, "release-2026")]
    # the policy is the role's; the identity that assumes it needs sts:AssumeRole on it
    assert "sts:AssumeRole" in ran.stderr
    assert DEPLOY_ROLE in ran.stderr
    assert "trust policy" in ran.stderr

    before = len(assumed())
    ran = cli("-o", "json", "iam-policy")  # no --env: the top-level role
    assert ran.code == 0, ran.stderr
    assert [r.role_arn for r in assumed()[before:]] == [OTHER_ROLE]

    before = len(assumed())
    flag_role = f"arn:aws:iam::{ACCOUNT}:role/from-the-flag"
    ran = cli("--assume-role", flag_role, "--env", "prod", "-o", "json", "iam-policy")
    assert ran.code == 0, ran.stderr
    assert [r.role_arn for r in assumed()[before:]] == [flag_role]


def test_a_malformed_role_arn_is_refused_naming_its_path(
    stack: Stack, cli: Callable[..., Ran]
) -> None:
    add_to_spec(
        stack,
        f"""
environments:
  prod:
    role_arn: arn:aws:iam::{ACCOUNT}:user/deployer
""",
    )
    revisions = stack.client("ecs").list_task_definitions()["taskDefinitionArns"]
    before = len(assumed())
    ran = cli("--env", "prod", "-o", "json", "deploy", "--image", f"web={stack.image('v1')}")
    assert ran.code == 2, ran.stderr
    assert "environments.prod.role_arn" in ran.result["reason"]
    assert "arn:aws:iam::ACCOUNT:role/NAME" in ran.result["reason"]
    assert len(assumed()) == before
    assert stack.client("ecs").list_task_definitions()["taskDefinitionArns"] == revisions

    ran = cli("-o", "json", "deploy", "--assume-role", "deploy-prod")
    assert ran.code == 2, ran.stderr
    assert ran.result["reason"].startswith("--assume-role: 'deploy-prod' is not an IAM role ARN")
    assert len(assumed()) == before


def test_access_denied_on_assume_role_is_exit_4_naming_the_role_and_the_trust_policy(
    stack: Stack, cli: Callable[..., Ran]
) -> None:
    sandbox_call(
        stack.sandbox,
        "faults",
        {"kind": "access-denied", "service": "sts", "operation": "AssumeRole"},
    )
    revisions = stack.client("ecs").list_task_definitions()["taskDefinitionArns"]
    ran = cli(
        "-o", "json", "deploy", "--image", f"web={stack.image('v1')}", "--assume-role", DEPLOY_ROLE
    )
    assert ran.code == 4, ran.stderr
    assert ran.result["reason"].startswith(f"sts:AssumeRole: cannot assume role {DEPLOY_ROLE}:")
    assert "trust policy" in ran.result["hint"]
    assert stack.client("ecs").list_task_definitions()["taskDefinitionArns"] == revisions


def test_credentials_are_renewed_by_another_assume_role(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A session shorter than botocore's refresh window (15 minutes) is renewed at once: each
    use of the credentials assumes the role again, and the clients keep working as it."""
    from bluegreen.aws import session

    monkeypatch.setattr(session, "ROLE_SESSION_SECONDS", 900)
    aws = Aws(region="us-east-1", role_arn=DEPLOY_ROLE, external_id="ext-1")
    before = len(assumed())
    first = aws.sts().get_caller_identity()["Arn"]
    second = aws.sts().get_caller_identity()["Arn"]
    new = assumed()[before:]
    assert len(new) >= 2, "the expiring credentials were not renewed"
    assert {(r.role_arn, r.external_id) for r in new} == {(DEPLOY_ROLE, "ext-1")}
    assert len({r.access_key_id for r in new}) == len(new)  # fresh credentials each time
    assert (
        first
        == second
        == (f"arn:aws:sts::{ACCOUNT}:assumed-role/deploy-prod/{role_session_name()}")
    )


def test_a_fan_out_has_one_session_per_region_and_role() -> None:
    import dataclasses
    from pathlib import Path

    from bluegreen.cli.context import Options
    from bluegreen.cli.multi import aws_for
    from bluegreen.spec.load import load_spec

    root = Path(__file__).resolve().parents[2] / "examples" / "web" / "bluegreen.yaml"
    base = load_spec(root)
    specs = {}

    for name, region, role in (
        ("a", "us-east-1", DEPLOY_ROLE),
        ("b", "us-east-1", DEPLOY_ROLE),
        ("c", "us-east-1", OTHER_ROLE),
        ("d", "eu-west-1", DEPLOY_ROLE),
        ("e", "us-east-1", None),
    ):
        specs[name] = dataclasses.replace(base, region=region, role_arn=role)
    cache: Sessions = {}
    opts = Options()
    got = {name: aws_for(opts, spec, cache) for name, spec in specs.items()}
    assert got["a"] is got["b"]
    assert len({id(a) for a in got.values()}) == 4
    assert (got["c"].role_arn, got["d"].region, got["e"].role_arn) == (
        OTHER_ROLE,
        "eu-west-1",
        None,
    )
    opts.assume_role = OTHER_ROLE  # the flag names one role for every spec
    flagged: Sessions = {}
    assert {aws_for(opts, spec, flagged).role_arn for spec in specs.values()} == {OTHER_ROLE}


def test_session_names_follow_the_sts_rules() -> None:
    import re

    assert role_session_name({"GITHUB_RUN_ID": "123"}) == "bluegreen-123"
    assert role_session_name({"USER": "jane doe/ops"}) == "bluegreen-jane-doe-ops"
    long = role_session_name({"CI_PIPELINE_ID": "9" * 100})
    assert len(long) == 64
    assert re.fullmatch(r"[\w+=,.@-]{2,64}", long)
    assert re.match(ROLE_ARN_PATTERN, "arn:aws-us-gov:iam::123456789012:role/path/deploy")
    assert not re.match(ROLE_ARN_PATTERN, "arn:aws:iam::123456789012:user/deploy")
