"""`status`, `history` and `rollback` on ECS-controller (rolling update) services, through the
CLI against the sandbox."""

from __future__ import annotations

from pathlib import Path

from tests.fixtures.rolling import REGISTRY, Stack
from tests.fixtures.verbs import Cli
from tests.helpers import records, wait_for


def stuck_rollout(stack: Stack, cli: Cli) -> tuple[str, str]:
    """A rollout of v2 that never completes (new tasks keep failing, breaker off); returns the
    old task definition and the in-flight deployment id."""
    old = stack.service("apps", "api", breaker=None)
    stack.push("v2")
    stack.spec("apps", "api")
    stack.fault({"kind": "unhealthy-green"})
    started = cli("-o", "json", "deploy", "--no-wait")
    assert started.code == 0, started.stderr

    def failing() -> bool:
        deps = stack.describe("apps", "api")["deployments"]
        return len(deps) == 2 and deps[0]["status"] == "PRIMARY" and deps[0]["failedTasks"] > 0

    wait_for(failing)
    primary = stack.describe("apps", "api")["deployments"][0]
    assert primary["rolloutState"] == "IN_PROGRESS"
    return old, str(primary["id"])


# --- status --------------------------------------------------------------------------------------
def test_status_of_a_steady_rolling_service(rolling: Stack, cli: Cli, journal: Path) -> None:
    td = rolling.service("apps", "api", desired=3, breaker="rollback")
    rolling.spec("apps", "api")
    ran = cli("-o", "json", "status")
    assert ran.code == 0, ran.stderr
    [data] = ran.events("status")
    assert data["event"] == "status"
    assert data["deploymentController"] == "ECS"
    assert data["taskDefinitionArn"] == td
    assert (data["desiredCount"], data["runningCount"], data["pendingCount"]) == (3, 3, 0)
    assert data["circuitBreaker"] == {"enable": True, "rollback": True}
    assert data["inFlight"] is False
    [dep] = data["deployments"]
    assert (dep["status"], dep["rolloutState"], dep["running"], dep["desired"]) == (
        "PRIMARY",
        "COMPLETED",
        3,
        3,
    )
    assert any("steady state" in e["message"] for e in data["events"])
    text = cli("status")
    assert text.code == 0, text.stderr
    assert "service apps/api (ECS rolling update)" in text.stdout
    assert "circuit breaker on, with rollback" in text.stdout
    assert "no rollout in flight" in text.stdout
    assert records(journal) == []  # status writes nothing


def test_status_during_a_rollout(rolling: Stack, cli: Cli, journal: Path) -> None:
    old, in_flight = stuck_rollout(rolling, cli)
    ran = cli("-o", "json", "status")
    assert ran.code == 0, ran.stderr
    [data] = ran.events("status")
    assert data["inFlight"] is True
    assert data["circuitBreaker"] == {"enable": False, "rollback": False}
    primary, active = data["deployments"]
    assert (primary["id"], primary["status"], primary["rolloutState"]) == (
        in_flight,
        "PRIMARY",
        "IN_PROGRESS",
    )
    assert primary["failed"] > 0
    assert (active["status"], active["taskDefinitionArn"]) == ("ACTIVE", old)
    text = cli("status")
    assert "rollout in flight" in text.stdout
    assert f"{in_flight} PRIMARY  IN_PROGRESS" in text.stdout


# --- rollback ------------------------------------------------------------------------------------
def test_rollback_in_flight_returns_to_the_replaced_revision(
    rolling: Stack, cli: Cli, journal: Path
) -> None:
    old, in_flight = stuck_rollout(rolling, cli)
    ran = cli("-o", "json", "rollback", "--timeout", "20s")
    assert ran.code == 0, ran.stderr
    result = dict(ran.result)
    assert "rolled back" in result.pop("reason")
    assert result == {
        "event": "result",
        "deploymentId": in_flight,
        "status": "Stopped",
        "taskDefinitionArn": old,
        "rolledBack": True,
        "exitCode": 0,
    }
    assert ran.events("rollback")[0]["inFlight"] == in_flight
    svc = rolling.describe("apps", "api")
    assert svc["taskDefinition"] == old
    assert [d["rolloutState"] for d in svc["deployments"]] == ["COMPLETED"]
    hist = cli("-o", "json", "history")
    assert hist.code == 0, hist.stderr
    newest, release = hist.lines[:2]
    assert newest["taskDefinitionArn"] == old
    assert newest["rollbackOf"] == in_flight
    assert newest["status"] == "Succeeded"
    assert (release["deploymentId"], release["status"], release["rolledBack"]) == (
        in_flight,
        "Stopped",
        True,
    )


def test_rollback_after_a_finished_release_uses_the_journal(
    rolling: Stack, cli: Cli, journal: Path
) -> None:
    old = rolling.service("apps", "api")
    digest = rolling.push("v2")
    rolling.spec("apps", "api")
    done = cli("-o", "json", "deploy")
    assert done.code == 0, done.stderr
    new = done.result["taskDefinitionArn"]
    assert new != old
    ran = cli("-o", "json", "rollback", "--timeout", "20s")
    assert ran.code == 0, ran.stderr
    assert ran.result["status"] == "Succeeded"
    assert ran.result["taskDefinitionArn"] == old
    assert ran.result["rolledBack"] is False
    assert ran.result["deploymentId"] not in ("", done.result["deploymentId"])
    assert "the journal" in ran.events("rollback")[0]["source"]
    assert rolling.describe("apps", "api")["taskDefinition"] == old
    hist = cli("-o", "json", "history", "-n", "2")
    assert hist.code == 0, hist.stderr
    newest, release, _result = hist.lines
    assert (newest["taskDefinitionArn"], newest["previousTaskDefinitionArn"]) == (old, new)
    assert newest["rollbackOf"] == done.result["deploymentId"]
    assert release["deploymentId"] == done.result["deploymentId"]
    assert (release["status"], release["taskDefinitionArn"]) == ("Succeeded", new)
    assert release["images"]["web"].endswith(digest)
    assert release["who"]
    assert release["created"]
    text = cli("history")
    assert f"image web: {REGISTRY}/web" in text.stdout
    assert digest in text.stdout
    assert f"rollback of {done.result['deploymentId']}" in text.stdout


def test_rollback_without_a_journal_takes_the_older_family_revision(
    rolling: Stack, cli: Cli, journal: Path
) -> None:
    old = rolling.service("apps", "api")
    ecs = rolling.aws.ecs()
    described = ecs.describe_task_definition(taskDefinition=old)["taskDefinition"]
    keys = ("family", "networkMode", "requiresCompatibilities", "cpu", "memory")
    newer = ecs.register_task_definition(
        **{k: described[k] for k in keys},
        containerDefinitions=[
            {**described["containerDefinitions"][0], "environment": [{"name": "X", "value": "1"}]}
        ],
    )["taskDefinition"]["taskDefinitionArn"]
    ecs.update_service(cluster="apps", service="api", taskDefinition=newer)
    rolling.steady("apps", "api")
    rolling.spec("apps", "api")
    ran = cli("-o", "json", "rollback", "--timeout", "20s")
    assert ran.code == 0, ran.stderr
    assert ran.result["taskDefinitionArn"] == old
    assert "the family api" in ran.events("rollback")[0]["source"]
    assert rolling.describe("apps", "api")["taskDefinition"] == old


def test_rollback_with_no_previous_revision_is_exit_2(
    rolling: Stack, cli: Cli, journal: Path
) -> None:
    td = rolling.service("apps", "api")
    rolling.spec("apps", "api")
    ran = cli("rollback")
    assert ran.code == 2, ran.stderr
    assert "no previous revision is known" in ran.stderr
    assert "apps/api" in ran.stderr
    svc = rolling.describe("apps", "api")
    assert svc["taskDefinition"] == td
    assert len(svc["deployments"]) == 1
    assert records(journal) == []


def test_what_counts_as_in_flight() -> None:
    """The rollback's reading of DescribeServices (the sandbox's breaker rollback completes
    within one tick, so this branch is pinned on the record ECS returns)."""
    from bluegreen.engines.rolling.ops import _breaker_rolling_back, in_flight

    new = {"id": "n", "status": "PRIMARY", "taskDefinition": "td:2", "rolloutState": "IN_PROGRESS"}
    old = {"id": "o", "status": "ACTIVE", "taskDefinition": "td:1", "rolloutState": "COMPLETED"}
    assert in_flight({"deployments": [new, old]}) == (new, old)
    assert in_flight({"deployments": [{**new, "rolloutState": "COMPLETED"}]}) is None
    assert in_flight({"deployments": [new]}) == (new, None)
    back = {
        **new,
        "taskDefinition": "td:1",
        "rolloutStateReason": "ECS deployment circuit breaker: rolling back to deploymentId o.",
    }
    assert _breaker_rolling_back(back)
    assert not _breaker_rolling_back(new)


# --- history -------------------------------------------------------------------------------------
def test_history_shows_deployments_the_journal_does_not_know(
    rolling: Stack, cli: Cli, journal: Path
) -> None:
    td = rolling.service("apps", "api")
    rolling.spec("apps", "api")
    ran = cli("-o", "json", "history")
    assert ran.code == 0, ran.stderr
    row, _result = ran.lines
    assert row["ecsOnly"] is True
    assert (row["status"], row["taskDefinitionArn"]) == ("COMPLETED", td)
