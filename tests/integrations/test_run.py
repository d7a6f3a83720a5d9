"""`bluegreen run`: one-off tasks of the spec's task definition, against the sandbox's demo
CodeDeploy stack over HTTP, through the CLI. What AWS holds afterwards (the task, its network
interface, its overrides, its exit codes) is read back with boto3."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Callable
from typing import Any

from tests.conftest import sandbox_call
from tests.fixtures.codedeploy import Stack, result_of, spawn
from tests.helpers import Ran, wait_for

STARTED_BY = "bluegreen-run"


def service(s: Stack) -> dict[str, Any]:
    found: dict[str, Any] = s.client("ecs").describe_services(
        cluster=s.result.cluster, services=[s.result.service]
    )["services"][0]
    return found


def task(s: Stack, arn: str) -> dict[str, Any]:
    found: dict[str, Any] = s.client("ecs").describe_tasks(cluster=s.result.cluster, tasks=[arn])[
        "tasks"
    ][0]
    return found


def run_tasks(s: Stack) -> set[str]:
    """Every task `bluegreen run` started in the stack's cluster, running or stopped."""
    ecs = s.client("ecs")
    arns: set[str] = set()
    for status in ("RUNNING", "STOPPED"):
        arns |= set(
            ecs.list_tasks(cluster=s.result.cluster, startedBy=STARTED_BY, desiredStatus=status)[
                "taskArns"
            ]
        )
    return arns


def slow_clock(s: Stack) -> None:
    """One simulated second a wall second: a one-off task runs for 40 s (the `stack` fixture
    puts the test scale back for the next test)."""
    sandbox_call(s.sandbox, "settings", {"timeScale": 1.0})


# --- the sandbox: one-off tasks on its clock --------------------------------------------------
def test_sandbox_runs_a_one_off_task_to_its_end_and_leaves_service_tasks_running(
    stack: Stack,
) -> None:
    ecs = stack.client("ecs")
    svc = service(stack)
    # the tasks of the service's task sets (all the cluster runs before RunTask)
    service_tasks = ecs.list_tasks(cluster=stack.result.cluster)["taskArns"]
    assert service_tasks
    started = ecs.run_task(
        cluster=stack.result.cluster,
        taskDefinition=svc["taskDefinition"],
        launchType="FARGATE",
        networkConfiguration=svc["networkConfiguration"],
    )["tasks"][0]
    assert (started["lastStatus"], started["desiredStatus"]) == ("PENDING", "RUNNING")
    assert all("exitCode" not in c for c in started["containers"])
    assert {c["taskArn"] for c in started["containers"]} == {started["taskArn"]}
    wait_for(lambda: task(stack, started["taskArn"])["lastStatus"] == "STOPPED")
    done = task(stack, started["taskArn"])
    assert done["desiredStatus"] == "STOPPED"
    assert done["stopCode"] == "EssentialContainerExited"
    assert done["stoppedReason"] == "Essential container in task exited"
    assert [(c["name"], c["exitCode"]) for c in done["containers"]] == [("web", 0)]
    assert "stoppedAt" in done
    # the tasks of the service are not one-off tasks: nothing stopped them
    described = ecs.describe_tasks(cluster=stack.result.cluster, tasks=service_tasks)["tasks"]
    assert {t["desiredStatus"] for t in described} == {"RUNNING"}
    assert not [t for t in described if t.get("stopCode")]


# --- bluegreen run ------------------------------------------------------------------------------
def test_migration_task_succeeds_placed_like_the_service(
    stack: Stack, cli: Callable[..., Ran]
) -> None:
    svc = service(stack)
    ran = cli("-o", "json", "run", "--command", "./manage.py migrate --noinput")
    assert ran.code == 0, ran.stderr
    result = ran.result
    assert (result["exitCode"], result["status"]) == (0, "STOPPED")
    assert result["containers"] == [{"name": "web", "essential": True, "exitCode": 0}]
    assert result["stopCode"] == "EssentialContainerExited"
    assert result["stoppedReason"] == "Essential container in task exited"
    # AWS's side: the task ran the rendered revision (identical to the live one: reused), with
    # the command override, the service's launch type, subnets and security groups
    found = task(stack, result["taskArn"])
    assert found["taskDefinitionArn"] == result["taskDefinitionArn"] == svc["taskDefinition"]
    assert found["startedBy"] == STARTED_BY
    assert found["lastStatus"] == "STOPPED"
    assert [(c["name"], c["exitCode"]) for c in found["containers"]] == [("web", 0)]
    assert found["overrides"]["containerOverrides"] == [
        {"name": "web", "command": ["./manage.py", "migrate", "--noinput"]}
    ]
    assert found["launchType"] == svc["launchType"]
    network = svc["networkConfiguration"]["awsvpcConfiguration"]
    details = {
        d["name"]: d["value"]
        for a in found["attachments"]
        if a["type"] == "ElasticNetworkInterface"
        for d in a["details"]
    }
    assert details["subnetId"] in network["subnets"]
    eni = stack.client("ec2").describe_network_interfaces(
        NetworkInterfaceIds=[details["networkInterfaceId"]]
    )["NetworkInterfaces"][0]
    assert sorted(g["GroupId"] for g in eni["Groups"]) == sorted(network["securityGroups"])
    # and RunTask was asked for exactly the service's network configuration
    plan = ran.events("plan")[0]
    assert plan["placement"]["networkConfiguration"] == svc["networkConfiguration"]
    assert plan["placement"]["launchType"] == svc["launchType"]


def test_failing_task_exits_1_naming_the_container_and_its_code(
    stack: Stack, cli: Callable[..., Ran]
) -> None:
    added = cli("sandbox", "fault", "task-exit", "--code", "3")
    assert added.code == 0, added.stderr
    ran = cli("-o", "json", "run", "--command", "./manage.py migrate")
    assert ran.code == 1, ran.stderr
    result = ran.result
    assert result["exitCode"] == 1
    assert "'web'" in result["reason"]
    assert "code 3" in result["reason"]
    assert result["containers"] == [{"name": "web", "essential": True, "exitCode": 3}]
    found = task(stack, result["taskArn"])
    assert [(c["name"], c["exitCode"]) for c in found["containers"]] == [("web", 3)]
    assert found["stopCode"] == "EssentialContainerExited"


def test_no_wait_returns_once_started_and_the_task_runs_on(
    stack: Stack, cli: Callable[..., Ran]
) -> None:
    slow_clock(stack)
    ran = cli("-o", "json", "run", "--no-wait")
    assert ran.code == 0, ran.stderr
    assert not ran.events("task")  # nothing watched
    arn = ran.result["taskArn"]
    assert ran.result["status"] in ("PROVISIONING", "PENDING")
    found = task(stack, arn)
    assert found["desiredStatus"] == "RUNNING"
    assert found["lastStatus"] in ("PENDING", "RUNNING")
    assert arn in run_tasks(stack)
    stack.client("ecs").stop_task(cluster=stack.result.cluster, task=arn, reason="test over")


def test_overrides_reach_the_task_and_env_values_are_never_shown(
    stack: Stack, cli: Callable[..., Ran]
) -> None:
    ran = cli(
        "-o",
        "json",
        "run",
        "--container",
        "web",
        "--command",
        "./migrate.sh --password hunter2-secret",
        "--env-override",
        "DB_TOKEN=tok-very-secret-value",
        "--cpu",
        "512",
        "--memory",
        "1024",
    )
    assert ran.code == 0, ran.stderr
    for secret in ("hunter2-secret", "tok-very-secret-value"):
        assert secret not in ran.stdout + ran.stderr
    plan = ran.events("plan")[0]
    assert plan["environmentOverrides"] == ["DB_TOKEN"]
    assert plan["command"] == ["./migrate.sh", "--password", "***"]
    overrides = task(stack, ran.result["taskArn"])["overrides"]
    assert overrides["containerOverrides"] == [
        {
            "name": "web",
            "command": ["./migrate.sh", "--password", "hunter2-secret"],
            "environment": [{"name": "DB_TOKEN", "value": "tok-very-secret-value"}],
        }
    ]
    assert (overrides.get("cpu"), overrides.get("memory")) == ("512", "1024")


def test_bad_spec_exits_2_and_starts_nothing(stack: Stack, cli: Callable[..., Ran]) -> None:
    before = run_tasks(stack)
    revisions = stack.client("ecs").list_task_definitions(familyPrefix="web")["taskDefinitionArns"]
    template = stack.dir / "taskdef.json.j2"
    original = template.read_text()
    try:
        template.write_text(original.replace("{{ vars.log_level }}", "{{ vars.log_levle }}"))
        ran = cli("-o", "json", "run", "--command", "./manage.py migrate")
    finally:
        template.write_text(original)
    assert ran.code == 2, ran.stderr
    assert ran.result["exitCode"] == 2
    assert "taskdef.json.j2" in ran.result["reason"]
    assert "log_levle" in ran.result["reason"]
    assert run_tasks(stack) == before
    after = stack.client("ecs").list_task_definitions(familyPrefix="web")["taskDefinitionArns"]
    assert after == revisions


def test_unknown_container_exits_2_and_starts_nothing(
    stack: Stack, cli: Callable[..., Ran]
) -> None:
    before = run_tasks(stack)
    ran = cli("-o", "json", "run", "--container", "wbe", "--command", "true")
    assert ran.code == 2, ran.stderr
    assert ran.result["reason"].startswith("--container:")
    assert "'wbe'" in ran.result["reason"]
    assert "its containers: web" in ran.result["reason"]
    assert run_tasks(stack) == before


def test_timeout_exits_3_and_stops_the_task(stack: Stack, cli: Callable[..., Ran]) -> None:
    slow_clock(stack)
    started = time.monotonic()
    ran = cli("-o", "json", "run", "--timeout", "2s")
    assert ran.code == 3, ran.stderr
    assert time.monotonic() - started < 20
    assert ran.result["exitCode"] == 3
    assert "timed out" in ran.result["reason"]
    found = task(stack, ran.result["taskArn"])
    assert (found["lastStatus"], found["desiredStatus"]) == ("STOPPED", "STOPPED")
    assert found["stopCode"] == "UserInitiated"
    assert "timed out" in found["stoppedReason"]


def test_sigterm_while_waiting_stops_the_task_and_exits_130(stack: Stack) -> None:
    slow_clock(stack)
    proc = spawn(stack, "-o", "json", "run", "--command", "./manage.py migrate")
    try:
        assert proc.stdout is not None
        arn = None
        for line in proc.stdout:
            event = json.loads(line)
            if event.get("event") == "started":
                arn = event["taskArn"]
                break
        assert arn is not None
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert result_of(out)["exitCode"] == 130
    assert result_of(out)["taskArn"] == arn
    found = task(stack, arn)
    assert (found["lastStatus"], found["stopCode"]) == ("STOPPED", "UserInitiated")


def test_iam_policy_run_adds_the_task_actions_scoped_to_the_cluster(
    stack: Stack, cli: Callable[..., Ran]
) -> None:
    account = "123456789012"
    plain = cli("-o", "json", "iam-policy", "--account", account)
    assert plain.code == 0, plain.stderr
    with_run = cli("-o", "json", "iam-policy", "--account", account, "--run")
    assert with_run.code == 0, with_run.stderr

    def statements(ran: Ran) -> dict[str, dict[str, Any]]:
        policy = ran.lines[0]
        return {a: s for s in policy["Statement"] for a in _actions(s)}

    assert not {"ecs:RunTask", "ecs:StopTask"} & set(statements(plain))
    found = statements(with_run)
    cluster = f"arn:aws:ecs:us-east-1:{account}:cluster/{stack.result.cluster}"
    run_task = found["ecs:RunTask"]
    assert run_task["Resource"] == f"arn:aws:ecs:us-east-1:{account}:task-definition/web:*"
    assert run_task["Condition"] == {"ArnEquals": {"ecs:cluster": cluster}}
    assert found["ecs:StopTask"]["Condition"] == {"ArnEquals": {"ecs:cluster": cluster}}
    assert "ecs:DescribeTasks" in found
    # the task's execution role is passed to ECS tasks
    assert found["iam:PassRole"]["Resource"] == f"arn:aws:iam::{account}:role/web-task-execution"


def _actions(statement: dict[str, Any]) -> list[str]:
    actions = statement["Action"]
    return [actions] if isinstance(actions, str) else list(actions)
