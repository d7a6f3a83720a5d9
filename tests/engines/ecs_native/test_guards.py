"""Guards and verbs of ECS-native releases, judged from AWS's side: a failing verify behind the
POST_TEST_TRAFFIC_SHIFT pause hook, a failing lifecycle hook and a cancel each end ROLLBACK_*
with production on the previous target group; `--wait-until paused` returns with production
untouched; `approve` continues the pause and `watch` follows it to the end; `stop` rolls back.

Doc keys as in ../shared/reference/ecs-native-bluegreen.md (PAUSE, CONT, STOP, HOOKS, LAM)."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
from pathlib import Path

from bluegreen.errors import ExitCode
from tests.fixtures.native import Native, wait_for

PAUSE_AT_TEST = {"targetType": "PAUSE", "lifecycleStages": ["POST_TEST_TRAFFIC_SHIFT"]}

RECORDER = """
import json, sys, boto3
rule, path, code = sys.argv[1], sys.argv[2], int(sys.argv[3])
found = boto3.client("elbv2").describe_rules(RuleArns=[rule])["Rules"][0]
groups = found["Actions"][0]["ForwardConfig"]["TargetGroups"]
json.dump({g["TargetGroupArn"]: g["Weight"] for g in groups}, open(path, "w"))
print(f"checked {len(groups)} target groups", flush=True)
sys.exit(code)
"""


def verify_command(native: Native, record: Path, code: int) -> str:
    assert native.result.rules is not None
    argv = [sys.executable, "-c", RECORDER, native.result.rules[0], str(record), str(code)]
    return shlex.join(argv)


def test_verify_without_a_pause_hook_is_refused_before_any_write(native: Native) -> None:
    """I1: no PAUSE hook at POST_TEST_TRAFFIC_SHIFT, so production would shift before verify
    could act: exit 2, the exact hook entry in the hint, nothing registered or started."""
    before = native.deployments()
    revisions = native.client("ecs").list_task_definitions()["taskDefinitionArns"]
    ran = native.deploy("--verify", "true")
    assert ran.code == ExitCode.USAGE, ran.stdout + ran.stderr
    assert '"targetType":"PAUSE"' in ran.stderr
    assert "POST_TEST_TRAFFIC_SHIFT" in ran.stderr
    assert native.deployments() == before
    assert native.client("ecs").list_task_definitions()["taskDefinitionArns"] == revisions


def test_passing_verify_continues_the_pause_hook(native: Native, tmp_path: Path) -> None:
    native.configure(bakeTimeInMinutes=0, lifecycleHooks=[PAUSE_AT_TEST])
    before = native.serving()
    record = tmp_path / "saw.json"
    ran = native.deploy("--verify", verify_command(native, record, 0))
    assert ran.code == 0, ran.stdout + ran.stderr
    # verify ran while production was still wholly on blue
    saw = json.loads(record.read_text())
    assert saw[before] == 1
    assert sum(saw.values()) == 1
    assert native.serving() != before
    assert [e["action"] for e in ran.events("hookAnswered")] == ["CONTINUE"]
    assert native.deployment(ran.result["deploymentId"])["status"] == "SUCCESSFUL"
    # the command's output streamed as it came (the live panel shows these events)
    assert [e["line"] for e in ran.events("verifyOutput")] == ["checked 2 target groups"]


def test_failing_verify_rolls_back_through_the_pause_hook(native: Native, tmp_path: Path) -> None:
    native.configure(bakeTimeInMinutes=0, lifecycleHooks=[PAUSE_AT_TEST])
    before, old = native.serving(), native.service()["taskDefinition"]
    record = tmp_path / "saw.json"
    ran = native.deploy("--verify", verify_command(native, record, 3))
    assert ran.code == ExitCode.FAILED, ran.stdout + ran.stderr
    assert "verify failed: exit 3" in ran.result["reason"]
    assert ran.result["rolledBack"] is True
    assert json.loads(record.read_text())[before] == 1
    assert [e["action"] for e in ran.events("hookAnswered")] == ["ROLLBACK"]
    assert native.deployment(ran.result["deploymentId"])["status"] == "ROLLBACK_SUCCESSFUL"
    assert native.serving() == before
    assert native.service()["taskDefinition"] == old


def test_a_failing_lifecycle_hook_rolls_back(native: Native) -> None:
    """[HOOKS; LAM]: a Lambda hook that fails (sandbox fault hook-fail) → ROLLBACK_SUCCESSFUL,
    exit 1, the reason names the hook's stage."""
    role = native.client("iam").create_role(
        RoleName="nat-hooks",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "ecs.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )["Role"]["Arn"]
    hook = {
        "targetType": "AWS_LAMBDA",
        "hookTargetArn": "arn:aws:lambda:us-east-1:123456789012:function:smoke",
        "roleArn": role,
        "lifecycleStages": ["POST_SCALE_UP"],
    }
    native.configure(bakeTimeInMinutes=0, lifecycleHooks=[hook])
    native.fault(kind="hook-fail")
    before, old = native.serving(), native.service()["taskDefinition"]
    ran = native.deploy()
    assert ran.code == ExitCode.FAILED, ran.stdout + ran.stderr
    assert "POST_SCALE_UP" in ran.result["reason"]
    assert ran.result["rolledBack"] is True
    assert native.deployment(ran.result["deploymentId"])["status"] == "ROLLBACK_SUCCESSFUL"
    assert native.serving() == before
    assert native.service()["taskDefinition"] == old


def test_cancel_stops_with_rollback(native: Native) -> None:
    """SIGINT with --on-cancel rollback: StopServiceDeployment ROLLBACK, followed to its end;
    exit 130 with production on the previous target group."""
    native.settings(timeScale=20)
    before, old = native.serving(), native.service()["taskDefinition"]
    known = set(native.deployments())
    image = native.new_image()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bluegreen",
            "--output",
            "json",
            "--config",
            str(native.spec),
            "deploy",
            "--image",
            f"web={image}",
            "--on-cancel",
            "rollback",
        ],
        env=dict(os.environ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    try:
        wait_for(lambda: set(native.deployments()) - known, what="a deployment in flight")
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    result = json.loads(out.strip().splitlines()[-1])
    assert proc.returncode == ExitCode.CANCELLED, out + err
    assert result["rolledBack"] is True
    assert native.deployment(result["deploymentId"])["status"] == "ROLLBACK_SUCCESSFUL"
    assert native.serving() == before
    assert native.service()["taskDefinition"] == old


def test_wait_until_paused_then_approve_and_watch(native: Native) -> None:
    """`--wait-until paused` returns exit 0 while the pause hook waits and production has not
    moved; `approve` continues it (ContinueServiceDeployment) and `watch` follows it to the
    end."""
    native.configure(bakeTimeInMinutes=0, lifecycleHooks=[PAUSE_AT_TEST])
    before = native.serving()
    ran = native.deploy("--wait-until", "paused")
    assert ran.code == 0, ran.stdout + ran.stderr
    arn = ran.result["deploymentId"]
    dep = native.deployment(arn)
    assert dep["status"] == "IN_PROGRESS"
    assert [h["status"] for h in dep["lifecycleHookDetails"]] == ["AWAITING_ACTION"]
    assert native.weights()[before] == 1
    assert native.serving() == before
    approved = native.cli("approve")
    assert approved.code == 0, approved.stdout + approved.stderr
    assert approved.events("approved")[0]["hookIds"] == [dep["lifecycleHookDetails"][0]["hookId"]]
    watched = native.cli("watch")
    assert watched.code == 0, watched.stdout + watched.stderr
    assert watched.result["deploymentId"] == arn
    assert native.deployment(arn)["status"] == "SUCCESSFUL"
    assert native.serving() != before
    # nothing is in flight any more: approve, stop and watch say so (I5)
    for verb in ("approve", "stop", "watch"):
        assert native.cli(verb).code == ExitCode.USAGE, verb


def test_stop_in_flight_rolls_back_and_rollback_returns_to_the_previous_revision(
    native: Native,
) -> None:
    native.configure(bakeTimeInMinutes=0, lifecycleHooks=[PAUSE_AT_TEST])
    before, old = native.serving(), native.service()["taskDefinition"]
    ran = native.deploy("--wait-until", "paused")
    assert ran.code == 0, ran.stdout + ran.stderr
    stopped = native.cli("stop")
    assert stopped.code == 0, stopped.stdout + stopped.stderr
    assert stopped.result["rolledBack"] is True
    assert native.deployment(ran.result["deploymentId"])["status"] == "ROLLBACK_SUCCESSFUL"
    assert native.serving() == before
    assert native.service()["taskDefinition"] == old
    # a finished release, then `rollback`: the previous revision through the same engine
    native.configure(lifecycleHooks=[])
    done = native.deploy()
    assert done.code == 0, done.stdout + done.stderr
    assert native.service()["taskDefinition"] == done.result["taskDefinitionArn"] != old
    back = native.cli("rollback")
    assert back.code == 0, back.stdout + back.stderr
    assert native.service()["taskDefinition"] == old
    assert native.serving() == before
    history = native.cli("history")
    assert history.code == 0
    assert history.lines[0]["taskDefinitionArn"] == old
