"""`bluegreen sandbox fault …` against the running sandbox's control API."""

from __future__ import annotations

import json

import boto3
import botocore.exceptions
import pytest

from bluegreen.cli.app import run
from bluegreen.sandbox.server import SandboxServer
from tests.conftest import sandbox_call


def faults(server: SandboxServer) -> list[dict[str, object]]:
    answer = sandbox_call(server, "faults", method="GET")["faults"]
    assert isinstance(answer, list)
    return answer


def add_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, object]:
    assert run(["-o", "json", "sandbox", "fault", *args]) == 0
    out = capsys.readouterr().out
    answer: dict[str, object] = json.loads(out.splitlines()[0])  # then the result line
    return answer


def test_each_kind_is_added_and_listed(
    aws_env: SandboxServer, capsys: pytest.CaptureFixture[str]
) -> None:
    throttle = add_json(capsys, "throttle", "--service", "ecs", "--rate", "0.25")
    latency = add_json(capsys, "latency", "--ms", "40")
    green = add_json(capsys, "unhealthy-green", "--after", "1m30s")
    hook = add_json(capsys, "hook-fail", "--event", "AfterAllowTestTraffic")
    never = add_json(capsys, "unhealthy-green")
    assert (throttle["kind"], throttle["service"], throttle["rate"]) == ("throttle", "ecs", 0.25)
    assert (latency["kind"], latency["ms"]) == ("latency", 40)
    assert (green["kind"], green["after_seconds"]) == ("unhealthy-green", 90.0)
    assert (hook["kind"], hook["event"]) == ("hook-fail", "AfterAllowTestTraffic")
    assert "after_seconds" not in never
    assert [f["id"] for f in faults(aws_env)] == [
        throttle["id"], latency["id"], green["id"], hook["id"], never["id"]
    ]  # fmt: skip

    assert run(["sandbox", "fault", "list"]) == 0
    assert capsys.readouterr().out == (
        f"{throttle['id']}  throttle ecs at rate 0.25\n"
        f"{latency['id']}  latency 40 ms on all services\n"
        f"{green['id']}  green tasks turn unhealthy after 90 simulated seconds\n"
        f"{hook['id']}  lifecycle hook AfterAllowTestTraffic fails\n"
        f"{never['id']}  green tasks never become healthy\n"
    )


def test_text_output_of_add_and_clear(
    aws_env: SandboxServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["sandbox", "fault", "hook-fail"]) == 0
    (only,) = faults(aws_env)
    assert (
        capsys.readouterr().out == f"added fault {only['id']}: lifecycle hook every event fails\n"
    )
    assert run(["sandbox", "fault", "clear"]) == 0
    assert capsys.readouterr().out == "cleared all faults\n"
    assert faults(aws_env) == []
    assert run(["sandbox", "fault", "list"]) == 0
    assert capsys.readouterr().out == "no faults\n"
    assert run(["-o", "json", "sandbox", "fault", "list"]) == 0
    assert capsys.readouterr().out == (
        '{"faults": []}\n{"event": "result", "exitCode": 0, "reason": "ok"}\n'
    )


def test_throttle_is_felt_by_aws_clients(
    aws_env: SandboxServer, capsys: pytest.CaptureFixture[str]
) -> None:
    import boto3
    from botocore.config import Config

    args = ["sandbox", "fault", "throttle", "--service", "cloudwatch", "--rate", "1"]
    assert run([*args, "--count", "2"]) == 0
    assert capsys.readouterr().out.endswith(": throttle monitoring at rate 1.0, 2 requests\n")
    once = Config(retries={"total_max_attempts": 1, "mode": "standard"})
    cloudwatch = boto3.client("cloudwatch", config=once)
    for _ in range(2):
        with pytest.raises(cloudwatch.exceptions.ClientError, match="Throttling"):
            cloudwatch.describe_alarms()
    boto3.client("ecs", config=once).list_clusters()  # other services are untouched
    cloudwatch.describe_alarms()  # and the fault is spent after two requests


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["throttle", "--rate", "0"],
            "error: --rate: the throttling rate must be in (0, 1], got 0",
        ),
        (["throttle", "--rate", "1.5"], "error: --rate: the throttling rate must be in (0, 1]"),
        (["throttle", "--rate", "1", "--service", "ECS!"], "error: --service: 'ECS!' is not"),
        (["latency", "--ms", "-5"], "error: --ms: the latency must be between 0 and 600000 ms"),
        (["unhealthy-green", "--after", "soon"], "error: --after: invalid duration 'soon'"),
        (["unhealthy-green", "--after", "5x"], "error: --after: invalid duration '5x'"),
        (["hook-fail", "--event", "Install"], "Invalid value for '--event': 'Install' is not"),
        (["latency", "--ms", "many"], "Invalid value for '--ms': 'many' is not a valid integer"),
        (["throttle"], "Missing option '--rate'"),
        (["throttle", "--rate", "1", "--count", "0"], "error: --count: the count must be at least"),
        (["throttle", "--realistic", "--rate", "1"], "error: --realistic: --realistic throttles"),
        (["access-denied"], "Missing option '--operation'"),
        (["access-denied", "--operation", "update service"], "error: --operation: 'update se"),
        (["access-denied", "--operation", "UpdateService", "--count", "0"], "error: --count:"),
    ],
)
def test_bad_values_exit_2_and_add_nothing(
    aws_env: SandboxServer, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert run(["sandbox", "fault", *args]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert message in captured.err
    assert faults(aws_env) == []


def test_no_endpoint_is_refused(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    assert run(["sandbox", "fault", "clear"]) == 2
    assert capsys.readouterr().err.startswith(
        "error: AWS_ENDPOINT_URL is not set, so there is no sandbox to talk to"
    )


def test_an_endpoint_that_is_not_a_sandbox_is_refused(
    plain_moto: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", plain_moto)
    assert run(["sandbox", "fault", "latency", "--ms", "5"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(
        f"error: {plain_moto}/_sandbox/info: {plain_moto} is not a bluegreen sandbox, so nothing "
        "was changed: GET /_sandbox/info was refused: HTTP 404\n"
    )


def test_access_denied_and_realistic_throttling_from_the_cli(
    aws_env: SandboxServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """`sandbox fault access-denied --operation X [--service S] [--expired]` refuses that
    operation as AWS would; `sandbox fault throttle --realistic` adds the token-bucket mode."""
    denied = add_json(capsys, "access-denied", "--operation", "ListClusters", "--service", "ecs")
    assert (denied["kind"], denied["operation"], denied["mode"]) == (
        "access-denied",
        "ListClusters",
        "denied",
    )
    expired = add_json(capsys, "access-denied", "--operation", "ListApplications", "--expired")
    assert expired["mode"] == "expired"
    realistic = add_json(capsys, "throttle", "--realistic", "--service", "elbv2")
    assert (realistic["kind"], realistic["realistic"]) == ("throttle", True)
    with pytest.raises(botocore.exceptions.ClientError) as refused:
        boto3.client("ecs").list_clusters()
    assert refused.value.response["Error"]["Code"] == "AccessDeniedException"
    with pytest.raises(botocore.exceptions.ClientError) as stale:
        boto3.client("codedeploy").list_applications()
    assert stale.value.response["Error"]["Code"] == "ExpiredTokenException"
    boto3.client("ecs").list_task_definitions()  # other operations go through
    assert run(["sandbox", "fault", "list"]) == 0
    listed = capsys.readouterr().out
    assert f"{denied['id']}  ListClusters on ecs: access denied\n" in listed
    assert f"{expired['id']}  ListApplications on all services: expired credentials\n" in listed
    assert f"{realistic['id']}  throttle elasticloadbalancing as AWS's token buckets would" in (
        listed
    )
