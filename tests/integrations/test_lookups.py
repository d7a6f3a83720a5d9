"""Template lookups (ssm, cfn_output, tfstate, env_var) against the sandbox over HTTP: the values
land in the rendered task definition, a SecureString is never printed, each value is read once a
run, and every failure is exit 2 naming the template line with nothing written."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bluegreen.render.lookups import parse_address
from tests.conftest import sandbox_call
from tests.fixtures.codedeploy import Stack
from tests.helpers import Ran

SECRET = "Zq8-lookup-secret-4711"
TEMPLATE = "taskdef.json.j2"


def state(resources: list[dict[str, Any]]) -> str:
    return json.dumps({"version": 4, "terraform_version": "1.9.0", "resources": resources})


STATE = state(
    [
        {
            "mode": "managed",
            "type": "aws_lb_target_group",
            "name": "web",
            "instances": [{"attributes": {"arn": "arn:aws:tg/web", "port": 8080}}],
        },
        {
            "module": "module.net",
            "mode": "managed",
            "type": "aws_subnet",
            "name": "a",
            "instances": [
                {"index_key": 0, "attributes": {"id": "subnet-0"}},
                {"index_key": 1, "attributes": {"id": "subnet-1"}},
            ],
        },
        {
            "mode": "managed",
            "type": "aws_s3_bucket",
            "name": "b",
            "instances": [{"index_key": "logs", "attributes": {"bucket": "my-logs"}}],
        },
    ]
)


@pytest.fixture
def put(stack: Stack) -> Stack:
    """Parameters, a stack with outputs and a state file in S3, put there with boto3."""
    ssm = stack.client("ssm")
    ssm.put_parameter(Name="/app/queue", Value="orders-queue", Type="String", Overwrite=True)
    ssm.put_parameter(Name="/app/db", Value=SECRET, Type="SecureString", Overwrite=True)
    cfn = stack.client("cloudformation")
    if not any(s["StackName"] == "network" for s in cfn.list_stacks()["StackSummaries"]):
        body = {
            "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
            "Outputs": {"VpcId": {"Value": "vpc-0abc"}},
        }
        cfn.create_stack(StackName="network", TemplateBody=json.dumps(body))
    s3 = stack.client("s3")
    if "tf-states" not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
        s3.create_bucket(Bucket="tf-states")
    s3.put_object(Bucket="tf-states", Key="prod/app.tfstate", Body=STATE.encode())
    return stack


def use(stack: Stack, labels: dict[str, str], *, environment: str = "") -> dict[str, int]:
    """Put `labels` (dockerLabels: name -> jinja2 expression) into the stack's task definition
    template, each on its own line; return each label's template line."""
    path = stack.dir / TEMPLATE
    text = path.read_text()
    lines = "".join(f'\n        "{k}": "{{{{ {v} }}}}",' for k, v in labels.items())
    text = text.replace(
        '"essential": true,',
        '"essential": true,\n        "dockerLabels": {' + lines.rstrip(",") + "\n        },",
        1,
    )
    if environment:
        text = text.replace('"environment": [', '"environment": [' + environment + ",", 1)
    path.write_text(text)
    found = {}
    for number, line in enumerate(text.splitlines(), 1):
        for k in labels:
            if line.strip().startswith(f'"{k}":'):
                found[k] = number
    return found


@pytest.fixture
def template(stack: Stack) -> Iterator[None]:
    path = stack.dir / TEMPLATE
    saved = path.read_text()
    yield
    path.write_text(saved)


def labels_of(ran: Ran) -> dict[str, str]:
    assert ran.code == 0, ran.stderr
    doc = ran.lines[0]["taskDefinition"]
    return dict(doc["containerDefinitions"][0]["dockerLabels"])


def test_each_lookup_lands_in_the_rendered_task_definition(
    put: Stack, template: None, cli: Callable[..., Ran], monkeypatch: pytest.MonkeyPatch
) -> None:
    (put.dir / "infra").mkdir(exist_ok=True)
    (put.dir / "infra" / "app.tfstate").write_text(STATE)
    monkeypatch.setenv("LOOKUP_REGION_NAME", "eu-west-1")
    monkeypatch.delenv("LOOKUP_UNSET", raising=False)
    use(
        put,
        {
            "queue": "ssm('/app/queue')",
            "vpc": "cfn_output('network', 'VpcId')",
            "tg": "tfstate('infra/app.tfstate', 'aws_lb_target_group.web.arn')",
            "port": "tfstate('infra/app.tfstate', 'aws_lb_target_group.web.port')",
            "subnet": "tfstate('s3://tf-states/prod/app.tfstate', 'module.net.aws_subnet.a[1].id')",
            "logs": "tfstate('s3://tf-states/prod/app.tfstate', "
            "'aws_s3_bucket.b[\\\"logs\\\"].bucket')",
            "where": "env_var('LOOKUP_REGION_NAME')",
            "fallback": "env_var('LOOKUP_UNSET', 'none-given')",
        },
    )
    labels = labels_of(cli("-o", "json", "render"))
    assert labels == {
        "queue": "orders-queue",
        "vpc": "vpc-0abc",
        "tg": "arn:aws:tg/web",
        "port": "8080",
        "subnet": "subnet-1",
        "logs": "my-logs",
        "where": "eu-west-1",
        "fallback": "none-given",
    }


def test_a_securestring_is_never_printed(
    put: Stack, template: None, cli: Callable[..., Ran]
) -> None:
    lines = use(
        put,
        {"check": "ssm('/app/db')"},
        environment='{"name": "DB_PASS", "value": "{{ ssm(\'/app/db\') }}"}',
    )
    env_line = next(
        n
        for n, line in enumerate((put.dir / TEMPLATE).read_text().splitlines(), 1)
        if "DB_PASS" in line
    )
    runs = [
        cli("render"),
        cli("-o", "json", "render"),
        cli("-v", "render"),
        cli("deploy", "--dry-run"),
        cli("-o", "json", "-v", "deploy", "--dry-run"),
        cli("diff"),
    ]
    for ran in runs:
        assert ran.code in (0, 1), ran.stderr  # diff: 1 when it differs
        assert SECRET not in ran.stdout + ran.stderr
    # the label holds it outside `environment`: masked there too, not merely dropped
    assert labels_of(runs[1]) == {"check": "***"}
    # rendered into `environment`: a warning naming the template line, pointing at `secrets`
    warning = [w for w in runs[0].stderr.splitlines() if "SecureString" in w]
    assert warning, runs[0].stderr
    assert f"{TEMPLATE}:{env_line}" in warning[0]
    assert "secrets" in warning[0]
    assert lines["check"] != env_line


def test_a_secret_in_an_error_message_is_masked(
    put: Stack, template: None, cli: Callable[..., Ran]
) -> None:
    """jinja2 quotes the missing key: here that key is the secret."""
    line = use(put, {"oops": "vars[ssm('/app/db')]"})["oops"]
    for args in (("render",), ("-v", "render"), ("-o", "json", "deploy", "--dry-run")):
        ran = cli(*args)
        assert ran.code == 2
        assert SECRET not in ran.stdout + ran.stderr
        assert f"{TEMPLATE}:{line}" in ran.stdout + ran.stderr


def test_the_same_lookup_twice_is_one_aws_call(
    put: Stack, template: None, cli: Callable[..., Ran]
) -> None:
    from botocore.handlers import BUILTIN_HANDLERS

    calls: list[str] = []

    def count(model: Any, **_: Any) -> None:
        calls.append(f"{model.service_model.service_name}.{model.name}")

    use(
        put,
        {
            "a": "ssm('/app/queue')",
            "b": "ssm('/app/queue')",
            "c": "cfn_output('network', 'VpcId')",
            "d": "cfn_output('network', 'VpcId')",
            "e": "tfstate('s3://tf-states/prod/app.tfstate', 'aws_lb_target_group.web.arn')",
            "f": "tfstate('s3://tf-states/prod/app.tfstate', 'module.net.aws_subnet.a[0].id')",
        },
    )
    entry = ("before-call", count)
    BUILTIN_HANDLERS.append(entry)
    try:
        labels = labels_of(cli("-o", "json", "render"))
    finally:
        BUILTIN_HANDLERS.remove(entry)
    assert labels["b"] == "orders-queue"
    assert labels["f"] == "subnet-0"
    assert calls.count("ssm.GetParameter") == 1
    assert calls.count("cloudformation.DescribeStacks") == 1
    assert calls.count("s3.GetObject") == 1


FAILURES = [
    ("ssm('/app/missing')", "no such SSM parameter"),
    ("cfn_output('no-such-stack', 'VpcId')", "no such CloudFormation stack"),
    ("cfn_output('network', 'VpcID')", "did you mean 'VpcId'"),
    ("tfstate('infra/missing.tfstate', 'aws_lb_target_group.web.arn')", "not found"),
    (
        "tfstate('s3://tf-states/prod/none.tfstate', 'aws_lb_target_group.web.arn')",
        "no such object",
    ),
    ("tfstate('s3://tf-states/prod/app.tfstate', 'aws_lb_target_group.api.arn')", "no resource"),
    ("tfstate('s3://tf-states/prod/app.tfstate', 'aws_lb_target_group.web.nope')", "no attribute"),
    ("tfstate('s3://tf-states/prod/app.tfstate', 'module.net.aws_subnet.a.id')", "say which"),
    ("env_var('LOOKUP_SURELY_UNSET')", "LOOKUP_SURELY_UNSET is not set"),
]


@pytest.mark.parametrize(("expression", "message"), FAILURES)
def test_a_lookup_that_fails_is_exit_2_naming_the_template_line_and_writes_nothing(
    put: Stack,
    template: None,
    cli: Callable[..., Ran],
    monkeypatch: pytest.MonkeyPatch,
    expression: str,
    message: str,
) -> None:
    monkeypatch.delenv("LOOKUP_SURELY_UNSET", raising=False)
    line = use(put, {"x": expression})["x"]
    ecs = put.client("ecs")
    before = ecs.list_task_definitions()["taskDefinitionArns"]
    ran = cli("-o", "json", "deploy", "--no-wait")
    assert ran.code == 2, ran.stdout + ran.stderr
    result = ran.result
    assert result["kind"] == "template"
    assert result["reason"].startswith(f"{TEMPLATE}:{line}: "), result
    assert message in result["reason"] + result.get("hint", ""), result
    assert ecs.list_task_definitions()["taskDefinitionArns"] == before


def test_access_denied_is_exit_2_naming_the_template_line(
    put: Stack, template: None, cli: Callable[..., Ran]
) -> None:
    line = use(put, {"x": "ssm('/app/queue')"})["x"]
    sandbox_call(put.sandbox, "faults", {"kind": "access-denied", "operation": "GetParameter"})
    ran = cli("render")
    assert ran.code == 2, ran.stderr
    assert f"error: {TEMPLATE}:{line}: " in ran.stderr
    assert "ssm:GetParameter" in ran.stderr


def test_offline_render_works_without_aws_lookups_and_refuses_aws_ones(
    put: Stack, template: None, cli: Callable[..., Ran], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOOKUP_REGION_NAME", "eu-west-1")
    (put.dir / "infra").mkdir(exist_ok=True)
    (put.dir / "infra" / "app.tfstate").write_text(STATE)
    use(
        put,
        {
            "where": "env_var('LOOKUP_REGION_NAME')",
            "tg": "tfstate('infra/app.tfstate', 'aws_lb_target_group.web.arn')",
        },
    )
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # any AWS call would fail
    assert labels_of(cli("-o", "json", "render", "--offline")) == {
        "where": "eu-west-1",
        "tg": "arn:aws:tg/web",
    }
    line = use(put, {"q": "ssm('/app/queue')"})["q"]
    ran = cli("render", "--offline")
    assert ran.code == 2
    assert f"{TEMPLATE}:{line}: ssm('/app/queue') reads AWS, and --offline reads no AWS" in (
        ran.stderr
    )


def test_a_symlinked_state_file_is_not_followed(
    put: Stack, template: None, cli: Callable[..., Ran], tmp_path: Path
) -> None:
    real = tmp_path / "real.tfstate"
    real.write_text(STATE)
    link = put.dir / "linked.tfstate"
    if link.is_symlink() or link.exists():
        link.unlink()
    os.symlink(real, link)
    try:
        line = use(put, {"x": "tfstate('linked.tfstate', 'aws_lb_target_group.web.arn')"})["x"]
        ran = cli("render", "--offline")
    finally:
        link.unlink()
    assert ran.code == 2
    assert f"{TEMPLATE}:{line}: state file linked.tfstate is a symlink" in ran.stderr


def test_iam_policy_grants_the_lookups_reads(
    put: Stack, template: None, cli: Callable[..., Ran]
) -> None:
    use(
        put,
        {
            "a": "ssm('/app/queue')",
            "b": "cfn_output('network', 'VpcId')",
            "c": "tfstate('s3://tf-states/prod/app.tfstate', 'aws_lb_target_group.web.arn')",
        },
    )
    ran = cli("-o", "json", "iam-policy")
    assert ran.code == 0, ran.stderr
    policy = ran.lines[0]
    by_action = {a: s["Resource"] for s in policy["Statement"] for a in s["Action"]}
    assert by_action["ssm:GetParameter"] == "arn:aws:ssm:us-east-1:123456789012:parameter/app/queue"
    assert by_action["cloudformation:DescribeStacks"] == (
        "arn:aws:cloudformation:us-east-1:123456789012:stack/network/*"
    )
    assert by_action["s3:GetObject"] == "arn:aws:s3:::tf-states/prod/app.tfstate"
    assert "kms:Decrypt" in ran.stderr


# --- the address parser -----------------------------------------------------------------------
def test_addresses_parse() -> None:
    a = parse_address('module.net["eu"].module.sub.data.aws_subnet.a[2].tags["Name"]')
    assert a.module == (("net", "eu"), ("sub", None))
    assert (a.mode, a.type, a.name, a.index) == ("data", "aws_subnet", "a", 2)
    assert a.attribute == ("tags", "Name")
    b = parse_address("aws_lb.web.access_logs[0].bucket")
    assert (b.module, b.mode, b.index, b.attribute) == (
        (),
        "managed",
        None,
        ("access_logs", 0, "bucket"),
    )
    assert b.resource == "aws_lb.web"


@pytest.mark.parametrize(
    "text",
    ["", "aws_lb.web", "aws_lb.web.", ".aws_lb.web.arn", "aws_lb[0].web.arn", "aws_lb.web.arn[x]"],
)
def test_bad_addresses_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_address(text)
