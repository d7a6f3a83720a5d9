"""promote, fan-out, release windows and the CLI verbs, end to end against the sandbox."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from bluegreen.cli.app import run
from bluegreen.engines.rolling import rollout as rolling
from bluegreen.engines.rolling.rollout import RollingRequest
from bluegreen.errors import DeploymentActive, ExitCode, ImageError, OutsideWindowError
from bluegreen.release import promote
from bluegreen.release.fanout import ReleaseRequest, WallClock, gate_window
from bluegreen.spec.load import load_spec
from tests.fixtures.rolling import FAST, REGISTRY, Recorder, Stack

ENVIRONMENTS = "environments:\n  staging: {cluster: stg}\n  prod: {cluster: prd}\n"


def json_lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def image_of(stack: Stack, cluster: str, service: str) -> str:
    arn = stack.describe(cluster, service)["taskDefinition"]
    td = stack.aws.ecs().describe_task_definition(taskDefinition=arn)["taskDefinition"]
    return str(td["containerDefinitions"][0]["image"])


# --- promote ------------------------------------------------------------------------------------
def test_promote_deploys_the_source_digests(stack: Stack) -> None:
    stack.service("stg", "api")
    stack.service("prd", "api")
    digest = stack.push("v2")
    path = stack.spec("api", "api", tag="v2", extra=ENVIRONMENTS)
    staged = rolling.deploy(
        load_spec(path, "staging"), stack.aws, Recorder(), RollingRequest(timeout=20), loop=FAST
    )
    assert staged.exit_code == ExitCode.OK, staged.reason
    stack.push("v3")  # the spec's tag moves on; promote must not care
    path = stack.spec("api", "api", tag="v3", extra=ENVIRONMENTS)
    out = Recorder()
    outcome = promote.promote(
        load_spec(path, "staging"),
        load_spec(path, "prod"),
        stack.aws,
        stack.aws,
        out,
        ReleaseRequest(timeout_seconds=20),
        loop=FAST,
    )
    assert outcome.exit_code == ExitCode.OK, outcome.reason
    assert image_of(stack, "prd", "api") == f"{REGISTRY}/web@{digest}"
    assert out.objects[0]["event"] == "promote"
    assert out.objects[0]["images"] == {"web": f"{REGISTRY}/web@{digest}"}


def test_promote_refused_while_the_source_rolls_out(stack: Stack) -> None:
    stack.service("stg", "api", breaker=None)
    stack.service("prd", "api")
    stack.push("v2")
    path = stack.spec("api", "api", extra=ENVIRONMENTS)
    stack.fault({"kind": "unhealthy-green"})  # the staging rollout never completes
    started = rolling.deploy(
        load_spec(path, "staging"), stack.aws, Recorder(), RollingRequest(wait=False), loop=FAST
    )
    assert started.status == "InProgress"
    prd_before = stack.describe("prd", "api")["taskDefinition"]
    with pytest.raises(DeploymentActive) as info:
        promote.promote(
            load_spec(path, "staging"),
            load_spec(path, "prod"),
            stack.aws,
            stack.aws,
            Recorder(),
            ReleaseRequest(),
            loop=FAST,
        )
    assert info.value.exit_code == ExitCode.FAILED
    assert "middle of a deployment" in info.value.message or "IN_PROGRESS" in info.value.message
    assert stack.describe("prd", "api")["taskDefinition"] == prd_before


def test_promote_refuses_a_source_image_without_digest(stack: Stack) -> None:
    stack.service("prd", "api")
    ecs = stack.aws.ecs()
    ecs.create_cluster(clusterName="stg")
    td = ecs.register_task_definition(
        family="api-stg",
        containerDefinitions=[
            {"name": "web", "image": "docker.io/library/nginx:1.27", "memory": 128}
        ],
    )["taskDefinition"]["taskDefinitionArn"]
    ecs.create_service(cluster="stg", serviceName="api", taskDefinition=td, desiredCount=1)
    stack.steady("stg", "api")
    path = stack.spec("api", "api", extra=ENVIRONMENTS)
    with pytest.raises(ImageError) as info:
        promote.promote(
            load_spec(path, "staging"),
            load_spec(path, "prod"),
            stack.aws,
            stack.aws,
            Recorder(),
            ReleaseRequest(),
            loop=FAST,
        )
    assert info.value.exit_code == ExitCode.USAGE
    assert "nginx:1.27" in info.value.message
    assert "containerDefinitions[0].image" in str(info.value.where)


def test_promote_cli_refuses_mid_deployment(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    stack.service("stg", "api", breaker=None)
    stack.service("prd", "api")
    stack.push("v2")
    path = stack.spec("api", "api", extra=ENVIRONMENTS)
    stack.fault({"kind": "unhealthy-green"})
    rolling.deploy(
        load_spec(path, "staging"), stack.aws, Recorder(), RollingRequest(wait=False), loop=FAST
    )
    code = run(["-c", str(path), "promote", "--from", "staging", "--to", "prod"])
    assert code == ExitCode.FAILED
    assert "source service" in capsys.readouterr().err


# --- the deploy verb: rolling, fan-out, windows ------------------------------------------------
def test_deploy_cli_rolling_json_result(stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    stack.service("apps", "api")
    stack.push("v2")
    path = stack.spec("apps", "api")
    code = run(["-c", str(path), "-o", "json", "deploy", "--timeout", "30s"])
    lines = json_lines(capsys.readouterr().out)
    assert code == ExitCode.OK
    result = lines[-1]
    assert set(result) == {
        "event",
        "deploymentId",
        "status",
        "taskDefinitionArn",
        "rolledBack",
        "exitCode",
        "reason",
    }
    assert result["event"] == "result"
    assert result["status"] == "Succeeded"
    assert result["exitCode"] == 0
    assert result["rolledBack"] is False
    assert result["deploymentId"] == stack.describe("apps", "api")["deployments"][0]["id"]
    assert result["taskDefinitionArn"] == stack.describe("apps", "api")["taskDefinition"]


def test_deploy_cli_rollback_flag(stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    old = stack.service("apps", "api", breaker=None)
    stack.push("v2")
    stack.fault({"kind": "unhealthy-green"})
    path = stack.spec("apps", "api")
    code = run(["-c", str(path), "-o", "json", "deploy", "--rollback", "--timeout", "30s"])
    result = json_lines(capsys.readouterr().out)[-1]
    assert code == ExitCode.FAILED
    assert (result["rolledBack"], result["exitCode"], result["status"]) == (True, 1, "Failed")
    assert stack.describe("apps", "api")["taskDefinition"] == old


def test_fan_out_worst_exit_code(stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    # a and b go back to a revision that already ran well there, so their tasks start even
    # under the fault; c's new revision never becomes healthy and its circuit breaker rolls
    # it back.
    stack.push("v2")
    for name in ("a", "b", "c"):
        stack.service("apps", name)
        stack.spec("apps", name, name=f"{name}.yaml")
    for name in ("a", "b"):
        first = stack.describe("apps", name)["taskDefinition"]
        spec = load_spec(stack.folder / f"{name}.yaml")
        done = rolling.deploy(spec, stack.aws, Recorder(), RollingRequest(timeout=20), loop=FAST)
        assert done.exit_code == ExitCode.OK, done.reason
        stack.aws.ecs().update_service(cluster="apps", service=name, taskDefinition=first)
        stack.steady("apps", name)
    stack.fault({"kind": "unhealthy-green"})
    code = run(
        [
            "-o",
            "json",
            "deploy",
            "--config",
            str(stack.folder),
            "--max-parallel",
            "2",
            "--timeout",
            "30s",
        ]
    )
    lines = json_lines(capsys.readouterr().out)
    assert code == ExitCode.FAILED
    result = lines[-1]
    assert result["event"] == "result"
    assert result["exitCode"] == 1
    assert result["rolledBack"] is True
    per = {d["service"]: d for d in result["deployments"]}  # type: ignore[attr-defined]
    assert {k: v["exitCode"] for k, v in per.items()} == {"apps/a": 0, "apps/b": 0, "apps/c": 1}
    assert per["apps/c"]["rolledBack"] is True
    services = {o.get("service") for o in lines[:-1]}
    assert services == {"apps/a", "apps/b", "apps/c"}  # every event says whose it is


def test_fan_out_bad_spec_changes_nothing(stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    stack.service("apps", "a")
    stack.service("apps", "b")
    stack.push("v2")
    good = stack.spec("apps", "a", name="a.yaml")
    bad = stack.spec("apps", "b", name="b.yaml", tag="missing-tag")
    code = run(["deploy", "--config", str(good), "--config", str(bad)])
    err = capsys.readouterr().err
    assert code == ExitCode.USAGE
    assert "missing-tag" in err
    assert len(stack.revisions("a")) == 1
    assert len(stack.revisions("b")) == 1


def closed_windows(today: dt.date) -> str:
    start, end = today - dt.timedelta(days=1), today + dt.timedelta(days=1)
    return (
        "windows:\n  timezone: UTC\n"
        f"  freeze: [{{from: {start.isoformat()}, to: {end.isoformat()}, reason: test freeze}}]\n"
    )


def test_window_closed_exit_2_and_no_write(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    stack.service("apps", "api")
    stack.push("v2")
    path = stack.spec("apps", "api", extra=closed_windows(dt.datetime.now(dt.UTC).date()))
    before = stack.describe("apps", "api")["deployments"][0]["id"]
    code = run(["-c", str(path), "deploy"])
    err = capsys.readouterr().err
    assert code == ExitCode.USAGE
    assert "test freeze" in err
    assert "next window opens" in err
    assert len(stack.revisions("api")) == 1
    assert stack.describe("apps", "api")["deployments"][0]["id"] == before


def test_wait_for_window_sleeps_until_it_opens(tmp_path: Path) -> None:
    (tmp_path / "taskdef.json.j2").write_text("{}", encoding="utf-8")
    spec_path = tmp_path / "bluegreen.yaml"
    spec_path.write_text(
        "version: 1\ncluster: c\nservice: s\ntask_definition: taskdef.json.j2\n"
        "windows:\n  timezone: UTC\n"
        "  allow: [{days: [mon, tue, wed, thu, fri], hours: '09:00-17:00'}]\n",
        encoding="utf-8",
    )
    spec = load_spec(spec_path)
    now = [dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.UTC)]  # a Saturday
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += dt.timedelta(seconds=seconds)

    clock = WallClock(now=lambda: now[0], sleep=sleep, max_sleep=3600 * 24)
    with pytest.raises(OutsideWindowError) as info:
        gate_window(spec, Recorder(), wait=False, clock=clock)
    assert "Mon 2026-11-30 09:00" in info.value.message
    out = Recorder()
    gate_window(spec, out, wait=True, clock=clock)
    assert now[0] == dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.UTC)
    assert sum(slept) == pytest.approx(
        (now[0] - dt.datetime(2026, 11, 28, 12, tzinfo=dt.UTC)).total_seconds()
    )
    assert [o["open"] for o in out.objects] == [False, True]


def test_redeploy_cli(stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    old = stack.service("apps", "api")
    path = stack.spec("apps", "api")
    code = run(["-c", str(path), "-o", "json", "redeploy", "--timeout", "30s"])
    result = json_lines(capsys.readouterr().out)[-1]
    assert code == ExitCode.OK
    assert result["taskDefinitionArn"] == old
    assert result["status"] == "Succeeded"


def test_promote_dry_run_writes_nothing(stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    stack.service("stg", "api")
    prd = stack.service("prd", "api")
    path = stack.spec("api", "api", extra=ENVIRONMENTS)
    code = run(
        ["-c", str(path), "-o", "json", "promote", "--from", "staging", "--to", "prod", "--dry-run"]
    )
    lines = json_lines(capsys.readouterr().out)
    assert code == ExitCode.OK
    assert [o["event"] for o in lines] == ["promote", "plan", "result"]
    assert lines[0]["images"] == {"web": f"{REGISTRY}/web@{stack.images['v1']}"}
    assert lines[-1]["status"] == "DryRun"
    assert stack.describe("prd", "api")["taskDefinition"] == prd
    assert len(stack.revisions("api")) == 2  # the two services' own, nothing registered


def test_max_parallel_must_be_positive(stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    stack.service("apps", "a")
    stack.service("apps", "b")
    a = stack.spec("apps", "a", name="a.yaml")
    b = stack.spec("apps", "b", name="b.yaml")
    code = run(["deploy", "--config", str(a), "--config", str(b), "--max-parallel", "0"])
    assert code == ExitCode.USAGE
    assert "--max-parallel" in capsys.readouterr().err
    assert len(stack.revisions("a")) == 1
