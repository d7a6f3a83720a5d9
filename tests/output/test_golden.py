"""Golden tests of what a release engineer reads: the monitor's transcript of a canary that
succeeds and of one an alarm rolls back (the CodeDeploy engine's pure step), the rolling
engine's transcript of a rollout and of a failing verify, and `deploy --dry-run`'s plan on the
sandbox's CodeDeploy and rolling stacks.

The expected text lives in tests/output/golden/*.txt. A change to what people see is a change to
those files, reviewed like code: regenerate them with BLUEGREEN_UPDATE_GOLDEN=1 and read the
diff. Volatile parts (digests, ids, ARNs' random parts, time stamps) are normalised first.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

import pytest

from bluegreen.engines.codedeploy import machine as cd
from bluegreen.engines.model import Event, Outcome
from bluegreen.engines.rolling import rollout as rolling
from tests.helpers import run_cli

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("BLUEGREEN_UPDATE_GOLDEN") == "1"

_VOLATILE = [
    (re.compile(r"sha256:[0-9a-f]{64}"), "sha256:<digest>"),
    (re.compile(r"\bd-[A-Z0-9]{9}\b"), "d-<id>"),
    (re.compile(r"ecs-svc/[0-9]+"), "ecs-svc/<id>"),
    (re.compile(r"/[0-9a-f]{16,32}\b"), "/<id>"),
    (re.compile(r"\[\s*\d+\.\ds\]"), "[t]"),
    (re.compile(r"/tmp/\S+"), "<tmp>"),
]


def normalise(text: str) -> str:
    for pattern, replacement in _VOLATILE:
        text = pattern.sub(replacement, text)
    return text


def check(name: str, text: str) -> None:
    path = GOLDEN / name
    text = normalise(text)
    if UPDATE:
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"no golden file {path}: run with BLUEGREEN_UPDATE_GOLDEN=1"
    assert text == path.read_text(encoding="utf-8")


def transcript(events: Iterable[Event], outcome: Outcome | None) -> str:
    lines = [e.text for e in events if e.text is not None]
    if outcome is not None:
        lines.append(f"exit {outcome.exit_code}: {outcome.reason}")
    return "\n".join(lines) + "\n"


# --- the CodeDeploy monitor ---------------------------------------------------------------------
DEP, RB = "d-AAAAAAAAA", "d-BBBBBBBBB"
ORDER = (
    "BeforeInstall",
    "Install",
    "AfterInstall",
    "AllowTestTraffic",
    "AfterAllowTestTraffic",
    "BeforeAllowTraffic",
    "AllowTraffic",
    "AfterAllowTraffic",
)


def lifecycle(done: int) -> tuple[cd.LifecycleEvent, ...]:
    return tuple(
        cd.LifecycleEvent(
            name,
            "Succeeded" if i < done else "InProgress" if i == done else "Pending",
            10.0 * i,
            10.0 * i + 2 if i < done else None,
        )
        for i, name in enumerate(ORDER)
    )


def task_sets(green: float) -> tuple[cd.TaskSet, ...]:
    return (
        cd.TaskSet("Blue", "PRIMARY", 2, 0, 2, 100.0 - green, "web-tg-blue"),
        cd.TaskSet("Green", "ACTIVE", 2, 0, 2, green, "web-tg-green"),
    )


def follow(config: cd.MonitorConfig, observations: list[cd.Observation]) -> str:
    state = cd.initial_state(config)
    seen: list[Event] = []
    outcome = None
    for o in observations:
        state, events, decision = cd.step(state, o)
        seen += events
        outcome = decision.outcome
    return transcript(seen, outcome)


CONFIG = cd.MonitorConfig(
    deployment_id=DEP,
    started_at=0.0,
    deadline=3600.0,
    task_definition_arn="arn:aws:ecs:us-east-1:123456789012:task-definition/web:7",
    step_interval=300.0,
    shift_seconds=300.0,
)


def test_monitor_transcript_of_a_canary_that_succeeds() -> None:
    o = cd.Observation(now=1.0, deployment_id=DEP, status="InProgress")
    text = follow(
        CONFIG,
        [
            replace(o, lifecycle=lifecycle(2), task_sets=task_sets(0)),
            replace(o, now=20.0, lifecycle=lifecycle(5), task_sets=task_sets(0)),
            replace(o, now=30.0, lifecycle=lifecycle(6), task_sets=task_sets(10)),
            replace(o, now=330.0, lifecycle=lifecycle(7), task_sets=task_sets(100)),
            replace(o, now=331.0, status="Succeeded", lifecycle=lifecycle(8)),
        ],
    )
    check("monitor_canary_succeeds.txt", text)


def test_monitor_transcript_of_a_canary_an_alarm_rolls_back() -> None:
    o = cd.Observation(now=1.0, deployment_id=DEP, status="InProgress")
    alarm = {"web-5xx": "ALARM", "web-latency-p99": "OK"}
    text = follow(
        CONFIG,
        [
            replace(o, lifecycle=lifecycle(6), task_sets=task_sets(10)),
            replace(o, now=120.0, lifecycle=lifecycle(6), task_sets=task_sets(10), alarms=alarm),
            replace(o, now=121.0, status="Stopped", rollback_deployment_id=RB),
            cd.Observation(now=122.0, deployment_id=RB, status="InProgress"),
            cd.Observation(now=140.0, deployment_id=RB, status="Succeeded"),
        ],
    )
    check("monitor_canary_alarm_rolls_back.txt", text)


# --- the rolling engine -------------------------------------------------------------------------
OLD = "arn:aws:ecs:us-east-1:123456789012:task-definition/api:4"
NEW = "arn:aws:ecs:us-east-1:123456789012:task-definition/api:5"


def dep(
    id_: str, status: str, td: str, state: str = "IN_PROGRESS", running: int = 0
) -> rolling.EcsDeployment:
    return rolling.EcsDeployment(id_, status, td, 2, running, 2 - running, 0, state)


def roll(config: rolling.RollingConfig, observations: list[rolling.RollingObservation]) -> str:
    state = rolling.initial_state(config)
    seen: list[Event] = []
    outcome = None
    for o in observations:
        state, events, decision = rolling.step(state, o)
        seen += events
        outcome = decision.outcome
    return transcript(seen, outcome)


ROLLING = rolling.RollingConfig(
    deployment_id="ecs-svc/2",
    task_definition_arn=NEW,
    previous_task_definition_arn=OLD,
    started_at=0.0,
    deadline=600.0,
    breaker=True,
    breaker_rollback=True,
)


def test_rolling_transcript_of_a_rollout() -> None:
    text = roll(
        ROLLING,
        [
            rolling.RollingObservation(
                1.0,
                (dep("ecs-svc/2", "PRIMARY", NEW), dep("ecs-svc/1", "ACTIVE", OLD, "COMPLETED", 2)),
            ),
            rolling.RollingObservation(
                5.0,
                (
                    dep("ecs-svc/2", "PRIMARY", NEW, running=2),
                    dep("ecs-svc/1", "ACTIVE", OLD, "COMPLETED", 0),
                ),
            ),
            rolling.RollingObservation(9.0, (dep("ecs-svc/2", "PRIMARY", NEW, "COMPLETED", 2),)),
        ],
    )
    check("rolling_rollout.txt", text)


def test_rolling_transcript_of_a_failing_verify() -> None:
    config = replace(ROLLING, verify=True)
    done = (dep("ecs-svc/2", "PRIMARY", NEW, "COMPLETED", 2),)
    text = roll(
        config,
        [
            rolling.RollingObservation(1.0, done),
            rolling.RollingObservation(2.0, done),
            rolling.RollingObservation(3.0, done, verify=(False, "exit 1: GET /health 503")),
            rolling.RollingObservation(
                4.0,
                (dep("ecs-svc/3", "PRIMARY", OLD), dep("ecs-svc/2", "ACTIVE", NEW, "COMPLETED", 2)),
            ),
            rolling.RollingObservation(8.0, (dep("ecs-svc/3", "PRIMARY", OLD, "COMPLETED", 2),)),
        ],
    )
    check("rolling_verify_fails.txt", text)


# --- deploy --dry-run on the sandbox's stacks ---------------------------------------------------
@pytest.mark.parametrize("kind", ["codedeploy", "rolling"])
def test_deploy_dry_run_plan(
    kind: str, aws_env: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    del aws_env
    monkeypatch.setenv("BLUEGREEN_JOURNAL", str(tmp_path / "journal.jsonl"))
    made = run_cli("sandbox", "stack", "--dir", str(tmp_path / "app"), "--kind", kind)
    assert made.code == 0, made.stderr
    ran = run_cli("-c", str(tmp_path / "app" / "bluegreen.yaml"), "deploy", "--dry-run")
    assert ran.code == 0, ran.stderr
    check(f"deploy_dry_run_{kind}.txt", ran.stdout)
