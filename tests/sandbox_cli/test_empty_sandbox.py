"""A sandbox holds its state in memory: after a restart (or a reset) it is empty, and every
"not found" it answers says so, through boto3 and through the verbs."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

from bluegreen.cli.app import run
from bluegreen.sandbox.server import SandboxServer
from tests.conftest import sandbox_call

EMPTY = "the sandbox holds nothing"


def test_a_verb_against_an_emptied_sandbox_says_it_is_empty(
    aws_env: SandboxServer,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert sandbox_call(aws_env, "info", method="GET")["empty"] is True
    assert run(["sandbox", "stack", "--dir", str(tmp_path / "demo")]) == 0
    assert sandbox_call(aws_env, "info", method="GET")["empty"] is False
    monkeypatch.chdir(tmp_path / "demo")
    assert run(["status"]) == 0
    capsys.readouterr()

    sandbox_call(aws_env, "reset")  # what a restart leaves: nothing
    info = sandbox_call(aws_env, "info", method="GET")
    assert info["empty"] is True
    assert run(["status"]) == 4
    err = capsys.readouterr().err
    assert EMPTY in err
    assert info["emptiedAt"] in err
    assert "bluegreen sandbox stack" in err


@pytest.mark.parametrize(
    ("service", "call", "params"),
    [
        ("ecs", "describe_services", {"cluster": "web-cluster", "services": ["web"]}),
        ("codedeploy", "get_application", {"applicationName": "AppECS-web-cluster-web"}),
        ("elbv2", "describe_target_groups", {"Names": ["web-blue"]}),
        ("ecr", "describe_images", {"repositoryName": "web"}),
    ],
)
def test_not_found_from_an_empty_sandbox_names_the_cause(
    aws_env: SandboxServer, service: str, call: str, params: dict[str, object]
) -> None:
    client = boto3.client(service)  # type: ignore[call-overload]
    with pytest.raises(ClientError) as missing:
        getattr(client, call)(**params)
    assert EMPTY in missing.value.response["Error"]["Message"]
    boto3.client("ecs").create_cluster(clusterName="other")
    with pytest.raises(ClientError) as still_missing:
        getattr(client, call)(**params)
    assert EMPTY not in still_missing.value.response["Error"]["Message"]
