"""The sandbox endpoint itself: routing, the control API, loopback-only binding."""

from __future__ import annotations

import boto3
import pytest

from bluegreen.errors import UsageError
from bluegreen.sandbox.server import SandboxServer
from tests.conftest import sandbox_call


def test_info_identifies_the_sandbox(aws_env: SandboxServer) -> None:
    info = sandbox_call(aws_env, "info", method="GET")
    assert info["sandbox"] == "bluegreen"
    assert info["timeScale"] == 600.0


def test_moto_services_are_served(aws_env: SandboxServer) -> None:
    ecs = boto3.client("ecs")
    ecs.create_cluster(clusterName="c1")
    assert [c["clusterName"] for c in ecs.describe_clusters(clusters=["c1"])["clusters"]] == ["c1"]


def test_reset_clears_moto_state(aws_env: SandboxServer) -> None:
    ecs = boto3.client("ecs")
    ecs.create_cluster(clusterName="gone")
    sandbox_call(aws_env, "reset")
    assert ecs.list_clusters()["clusterArns"] == []


def test_non_loopback_bind_is_refused() -> None:
    with pytest.raises(UsageError, match="loopback"):
        SandboxServer(host="0.0.0.0")
    with pytest.raises(UsageError, match="loopback"):
        SandboxServer(host="10.1.2.3")


def test_non_loopback_bind_allowed_when_asked() -> None:
    server = SandboxServer(host="0.0.0.0", allow_non_loopback=True)
    assert server.host == "0.0.0.0"


def test_settings_reject_bad_values(aws_env: SandboxServer) -> None:
    import urllib.error

    with pytest.raises(urllib.error.HTTPError) as info:
        sandbox_call(aws_env, "settings", {"hooks": "sometimes"})
    assert info.value.code == 400
