"""`status` flags a half-shifted production and leftovers; `history` shows local times, the
duration and the deployment config (JSON keeps UTC). Against the sandbox, through the CLI."""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Callable

import pytest

from bluegreen.cli.status import flags
from tests.fixtures.codedeploy import Stack, wait_idle
from tests.helpers import Ran, wait_for

BAKING_CANARY = "canary:10%/600m"  # 60 s of wall time at 600x: status is read mid-bake


def test_status_flags_a_canary_in_its_bake(stack: Stack, cli: Callable[..., Ran]) -> None:
    stack.push("v1")
    started = cli(
        "-o",
        "json",
        "deploy",
        "--image",
        f"web={stack.image('v1')}",
        "--deployment-config",
        BAKING_CANARY,
        "--no-wait",
    )
    assert started.code == 0, started.stderr
    dep = started.result["deploymentId"]
    # AWS-side truth: the production listener forwards to both target groups
    wait_for(lambda: sorted(stack.prod_weights().values()) == [10, 90])

    ran = cli("-o", "json", "status")
    assert ran.code == 0, ran.stderr
    (status,) = ran.events("status")
    (flag,) = status["flags"]
    assert flag["kind"] == "split"
    assert "production traffic is split" in flag["message"]
    assert re.search(r"\b90 % / \S+ 10 %", flag["message"]), flag["message"]
    assert "`bluegreen rollback`" in flag["fix"]
    assert "`bluegreen watch`" in flag["fix"]
    assert status["deployment"]["deploymentId"] == dep

    text = cli("status")
    assert text.code == 0, text.stderr
    first = text.stdout.splitlines()[:2]
    assert first[0].startswith("!! production traffic is split: ")
    assert first[1].startswith("   what to do: deployment ")
    assert "`bluegreen stop`" in first[1]

    assert cli("stop", dep).code == 0  # stopped as asked, with rollback: back on blue
    wait_idle(stack)
    calm = cli("-o", "json", "status")
    assert calm.events("status")[0]["flags"] == []
    assert sorted(stack.prod_weights().values()) in ([0, 100], [100])


def test_status_of_a_steady_service_has_no_flags(stack: Stack, cli: Callable[..., Ran]) -> None:
    ran = cli("-o", "json", "status")
    assert ran.code == 0, ran.stderr
    assert ran.events("status")[0]["flags"] == []
    assert not cli("status").stdout.startswith("!!")


LOCAL = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d\d:\d\d")


@pytest.mark.parametrize(("zone", "offset"), [("Europe/Berlin", "+01:00"), ("UTC", "+00:00")])
def test_history_shows_local_times_duration_and_config(
    stack: Stack,
    cli: Callable[..., Ran],
    monkeypatch: pytest.MonkeyPatch,
    zone: str,
    offset: str,
) -> None:
    stack.push("v2")
    done = cli("deploy", "--image", f"web={stack.image('v2')}", "--force")
    assert done.code == 0, done.stderr
    monkeypatch.setenv("TZ", zone)
    time.tzset()
    try:
        text = cli("history", "-n", "1")
        data = cli("-o", "json", "history", "-n", "1")
    finally:
        monkeypatch.undo()
        time.tzset()
    assert text.code == 0, text.stderr
    head = text.stdout.splitlines()[0]
    stamp = LOCAL.search(head)
    assert stamp is not None, head
    assert stamp.group(0).endswith(offset)  # December: CET is UTC+1
    assert f"config {data.events('deployment')[0]['deploymentConfig']}" in text.stdout
    assert re.search(r"took \d+(m\d\ds|s)", head), head
    (row,) = data.events("deployment")
    # JSON: machine-readable UTC, the same moment as the text
    created = dt.datetime.fromisoformat(row["created"])
    assert created.utcoffset() == dt.timedelta(0)
    assert row["created"].endswith("+00:00")
    local = dt.datetime.strptime(stamp.group(0), "%Y-%m-%d %H:%M:%S %z")
    assert abs((local - created).total_seconds()) < 1
    assert isinstance(row["durationSeconds"], int | float)
    assert row["durationSeconds"] >= 0
    assert row["deploymentConfig"]


# --- the flags of the other engines' status shapes (pure) ---------------------------------------
TG = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/{}/0123456789abcdef"
RULE = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/lb/1/2/3"


def test_ecs_native_rule_weights_split_is_flagged() -> None:
    data = {
        "productionRuleWeights": {RULE: {TG.format("blue"): 75, TG.format("green"): 25}},
        "deployment": {"deploymentId": "arn:x/dep1", "status": "IN_PROGRESS", "active": True},
    }
    (flag,) = flags(data)
    assert flag["kind"] == "split"
    assert "blue 75 % / green 25 % (rule 3)" in flag["message"]
    assert "deployment dep1 is IN_PROGRESS" in flag["fix"]
    whole = {"productionRuleWeights": {RULE: {TG.format("blue"): 0, TG.format("green"): 100}}}
    assert flags(whole) == []


def test_codedeploy_leftover_task_sets_are_flagged_outside_a_deployment() -> None:
    sets = [{"id": "ecs-svc/1", "status": "PRIMARY"}, {"id": "ecs-svc/2", "status": "ACTIVE"}]
    data = {"cluster": "c", "service": "s", "taskSets": sets, "deployment": {"active": False}}
    (flag,) = flags(data)
    assert flag["kind"] == "leftover"
    assert "ecs-svc/2" in flag["message"]
    assert "delete-task-set --cluster c --service s" in flag["fix"]
    assert flags({**data, "deployment": {"active": True}}) == []  # a deployment has two


def test_rolling_several_deployments_are_flagged() -> None:
    deps = [
        {"taskDefinitionArn": "arn:aws:ecs:r:1:task-definition/web:12", "running": 1},
        {"taskDefinitionArn": "arn:aws:ecs:r:1:task-definition/web:11", "running": 3},
    ]
    base = {"circuitBreaker": {"enable": True, "rollback": True}, "deployments": deps}
    (rollout,) = flags({**base, "inFlight": True})
    assert rollout["kind"] == "split"
    assert "web:12 1 running, web:11 3 running" in rollout["message"]
    (left,) = flags({**base, "inFlight": False})
    assert left["kind"] == "leftover"
    assert "`bluegreen rollback`" in left["fix"]
    assert flags({**base, "deployments": deps[:1], "inFlight": False}) == []
