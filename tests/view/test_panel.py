"""The live view as a pure function: a sequence of engine events (the CodeDeploy monitor's own
`step` produces them here, with its state), drawn at a fixed moment. What the next step is and
when, the whole release's remaining time on the sandbox's clock, the waits named with the
command that ends them, task sets with their revisions, guards and verify output, the
24-line fit, and the release's outcome in the last frame."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Sequence

import pytest
from rich.console import Console

from bluegreen.cli.view import Now, Panel, frame_lines, render
from bluegreen.engines.codedeploy import machine as cd
from bluegreen.engines.model import Event, Outcome

DEP, RB = "d-AAAAAAAAA", "d-BBBBBBBBB"
TD = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:12"
WALL = dt.datetime(2026, 12, 1, 14, 0, 0, tzinfo=dt.UTC).timestamp()
ORDER = cd.LIFECYCLE


def lifecycle(done: int, current: str = "InProgress") -> tuple[cd.LifecycleEvent, ...]:
    return tuple(
        cd.LifecycleEvent(name, "Succeeded" if i < done else current if i == done else "Pending")
        for i, name in enumerate(ORDER)
    )


def sets(green: float) -> tuple[cd.TaskSet, ...]:
    return (
        cd.TaskSet("Blue", "PRIMARY", 2, 0, 2, 100.0 - green),
        cd.TaskSet("Green", "ACTIVE", 2, 0, 2, green),
    )


def canary(scale: float = 1.0, **extra: object) -> cd.MonitorConfig:
    """canary:10%/5m with a 5 minute termination wait."""
    return cd.MonitorConfig(
        deployment_id=DEP,
        started_at=0.0,
        task_definition_arn=TD,
        step_interval=300.0,
        shift_seconds=300.0,
        termination_wait=300.0,
        time_scale=scale,
        **extra,  # type: ignore[arg-type]
    )


def feed(
    config: cd.MonitorConfig, observations: Sequence[cd.Observation], panel: Panel | None = None
) -> Panel:
    """Run the monitor's step over `observations`, feeding the panel what the reporter gets."""
    panel = panel or Panel("deploy", started=0.0)
    state = cd.initial_state(config)
    for obs in observations:
        state, events, _ = cd.step(state, obs)
        panel.feed(events, state, obs.now)
    return panel


def text(panel: Panel, now: Now, height: int | None = None) -> list[str]:
    return [line.plain for line in frame_lines(panel, now, height)]


def at(mono: float) -> Now:
    """The moment `mono` (monotonic seconds), the wall clock at 14:00:00 UTC + mono."""
    return Now(mono, WALL + mono, dt.UTC)


def test_canary_bake_shows_the_next_step_when_and_the_release_remaining() -> None:
    panel = feed(
        canary(),
        [
            cd.Observation(10.0, DEP, "InProgress", lifecycle=lifecycle(3)),
            cd.Observation(100.0, DEP, "InProgress", lifecycle=lifecycle(6), task_sets=sets(10)),
        ],
    )
    lines = text(panel, at(150.0))
    # the step is due 300 s after the weight changed (at 100): 14:06:40, 250 s from now
    assert "→ green 100 % at 14:06:40, in 4m10s" in lines
    # then the 5 minute termination wait: 550 s in all, ending 14:11:40
    assert "  release done in ≈9m10s (about 14:11:40)" in lines
    assert any("green  90% / 10%" in line for line in lines)


def test_linear_steps_count_in_the_remaining_time() -> None:
    config = cd.MonitorConfig(
        deployment_id=DEP, started_at=0.0, step_interval=60.0, shift_seconds=540.0
    )  # linear:10%/1m, no termination wait
    panel = feed(
        config,
        [
            cd.Observation(10.0, DEP, "InProgress", lifecycle=lifecycle(6), task_sets=sets(10)),
            cd.Observation(70.0, DEP, "InProgress", lifecycle=lifecycle(6), task_sets=sets(20)),
        ],
    )
    lines = text(panel, at(100.0))
    assert "→ green 30 % at 14:02:10, in 30s" in lines
    # 30 s to the next step, then 7 more steps of 60 s
    assert "  release done in ≈7m30s (about 14:09:10)" in lines


def test_times_follow_the_sandbox_clock() -> None:
    """At 60x (the sandbox tells its scale), the 5 minute bake lasts 5 wall seconds."""
    panel = feed(
        canary(scale=60.0),
        [cd.Observation(100.0, DEP, "InProgress", lifecycle=lifecycle(6), task_sets=sets(10))],
    )
    lines = text(panel, at(102.0))
    assert "→ green 100 % at 14:01:45, in 3s" in lines
    assert "  release done in ≈8s (about 14:01:50)" in lines


def test_ready_wait_names_the_approve_command_and_its_deadline() -> None:
    panel = feed(
        canary(ready_wait=3600.0),
        [cd.Observation(100.0, DEP, "Ready", lifecycle=lifecycle(5, "Pending"))],
    )
    lines = text(panel, at(160.0))
    assert (
        f"⏸ ready wait: production has not moved; approve with `bluegreen approve {DEP}`" in lines
    )
    assert "  not approved by 15:01:40 (in 59m00s), the deployment stops" in lines


def test_termination_wait_names_terminate_now() -> None:
    panel = feed(
        canary(),
        [
            cd.Observation(100.0, DEP, "InProgress", lifecycle=lifecycle(6), task_sets=sets(10)),
            cd.Observation(400.0, DEP, "InProgress", lifecycle=lifecycle(8), task_sets=sets(100)),
        ],
    )
    lines = text(panel, at(460.0))
    assert "→ blue terminated at 14:11:40, in 4m00s (termination wait)" in lines
    assert f"  end it now: `bluegreen approve --terminate-now {DEP}`" in lines
    assert "  release done in ≈4m00s (about 14:11:40)" in lines


def test_ecs_native_pause_hook_waits_for_approve_and_bake_time_is_timed() -> None:
    arn = "arn:aws:ecs:us-east-1:123456789012:service-deployment/web-cluster/web/abc"
    panel = Panel("deploy", started=0.0)
    created = {"event": "created", "deploymentId": arn, "taskDefinitionArn": TD}
    hook = {
        "deploymentId": arn,
        "hookId": "h-1",
        "targetType": "PAUSE",
        "status": "AWAITING_ACTION",
        "stage": "POST_TEST_TRAFFIC_SHIFT",
    }
    panel.feed(
        [
            Event("created", created, "created"),
            Event("status", {"deploymentId": arn, "status": "IN_PROGRESS"}, ""),
            Event("hook", hook, "hook"),
        ],
        None,
        5.0,
    )
    lines = text(panel, at(10.0))
    assert (
        "⏸ paused at POST_TEST_TRAFFIC_SHIFT (hook h-1): continue with `bluegreen approve`" in lines
    )
    ends = dt.datetime.fromtimestamp(WALL + 250.0, dt.UTC).isoformat()
    panel.feed(
        [
            Event("hook", {**hook, "status": "SUCCEEDED"}, ""),
            Event("stage", {"deploymentId": arn, "stage": "BAKE_TIME", "next": "CLEAN_UP"}, ""),
            Event("bake", {"deploymentId": arn, "minutes": 5, "endsAt": ends}, ""),
        ],
        None,
        20.0,
    )
    lines = text(panel, at(40.0))
    assert not any("paused" in line for line in lines)
    assert "→ bake ends at 14:04:10, in 3m30s; then blue goes" in lines


def test_task_sets_carry_their_revisions_and_guards_show() -> None:
    panel = Panel("deploy", started=0.0)
    panel.revisions["Blue"] = "web:11"
    panel.checks["green-5xx"] = "ok"
    panel.verify_command = "./smoke.sh"
    feed(
        canary(verify=True),
        [
            cd.Observation(
                100.0,
                DEP,
                "InProgress",
                lifecycle=lifecycle(4),
                task_sets=sets(0),
                alarms={"web-5xx": "OK"},
            )
        ],
        panel,
    )
    panel.verify_line("GET /health 200")
    panel.verify_line("GET /api 200")
    lines = text(panel, at(110.0))
    assert "  Blue  web:11  PRIMARY   running 2/2 pending 0" in lines
    assert "  Green web:12  ACTIVE    running 2/2 pending 0" in lines
    assert "  alarm web-5xx: OK" in lines
    assert "  metric green-5xx: ok" in lines
    assert "  verify (./smoke.sh): running" in lines
    assert lines[-len(ORDER) - 2 : -len(ORDER)] == ["    │ GET /health 200", "    │ GET /api 200"]
    breach = {
        "name": "green-5xx",
        "value": 12.0,
        "threshold": 5.0,
        "comparison": "GreaterThanThreshold",
    }
    panel.feed([Event("metric", breach, "")], None, 120.0)
    assert "  metric green-5xx: breached: 12 GreaterThanThreshold 5.0" in text(panel, at(121.0))


def crowded() -> Panel:
    """A panel with more to show than 24 lines hold: every lifecycle event, alarms, checks,
    verify output."""
    panel = Panel("deploy", started=0.0)
    panel.checks.update({f"check-{i}": "ok" for i in range(3)})
    alarms = {f"alarm-{i}": "OK" for i in range(4)}
    feed(
        canary(verify=True),
        [
            cd.Observation(
                100.0, DEP, "InProgress", lifecycle=lifecycle(6), task_sets=sets(10), alarms=alarms
            )
        ],
        panel,
    )
    for i in range(5):
        panel.verify_line(f"line {i}")
    return panel


def drawn(panel: Panel, height: int) -> list[str]:
    """The frame as a terminal of `height` lines, 100 columns, prints it."""
    console = Console(file=io.StringIO(), width=100, height=height, color_system=None)
    console.print(render(panel, at(150.0), height - 1))
    out = console.file.getvalue()  # type: ignore[attr-defined]
    return str(out).splitlines()


def test_the_panel_fits_24_lines_by_dropping_the_lifecycle_list_first() -> None:
    panel = crowded()
    unbounded = text(panel, at(150.0))
    assert len(unbounded) > 24  # (so the fit below is a real one)
    lines = drawn(panel, 24)
    assert len(lines) <= 23
    assert not any(name in line for line in lines for name in ORDER)  # the lifecycle went
    # what matters stayed: the next step, the traffic, the task sets, the guards, verify output
    assert "→ green 100 % at 14:06:40, in 4m10s" in lines
    assert any("green  90% / 10%" in line for line in lines)
    assert any(line.startswith("  Green web:12") for line in lines)
    assert "  alarm alarm-3: OK" in lines
    assert "    │ line 4" in lines


def test_a_tall_terminal_keeps_the_lifecycle_list() -> None:
    lines = drawn(crowded(), 60)
    assert f"  {'AllowTraffic':<24}InProgress" in lines


def test_lines_never_wrap_on_a_narrow_terminal() -> None:
    console = Console(file=io.StringIO(), width=40, height=24, color_system=None)
    console.print(render(crowded(), at(150.0), 23))
    assert len(console.file.getvalue().splitlines()) <= 23  # type: ignore[attr-defined]


def rolled_back() -> Panel:
    """An alarm stops the canary; the rollback deployment succeeds."""
    return feed(
        canary(),
        [
            cd.Observation(100.0, DEP, "InProgress", lifecycle=lifecycle(6), task_sets=sets(10)),
            cd.Observation(
                110.0,
                DEP,
                "InProgress",
                lifecycle=lifecycle(6),
                task_sets=sets(10),
                alarms={"web-5xx": "ALARM"},
            ),
            cd.Observation(115.0, DEP, "Stopped", rollback_deployment_id=RB),
            cd.Observation(120.0, RB, "InProgress"),
            cd.Observation(130.0, RB, "Succeeded"),
        ],
    )


@pytest.mark.parametrize("height", [None, 24])
def test_the_last_frame_shows_the_release_outcome_not_the_rollbacks_success(
    height: int | None,
) -> None:
    panel = rolled_back()
    assert panel.deployment_id == RB
    assert panel.status == "Succeeded"
    panel.outcome = Outcome(DEP, "Stopped", True, 1, "alarm web-5xx in ALARM; rolled back", RB)
    lines = text(panel, at(131.0), height)
    assert lines[0] == f"✘ deploy: {DEP} Stopped (rolled back)  after 2m11s"
    assert "alarm web-5xx in ALARM; rolled back" in lines[1]
    assert not any("Succeeded" in line for line in lines[:2])


def test_ecs_native_linear_shows_the_next_step_when_and_the_release_remaining() -> None:
    arn = "arn:aws:ecs:us-east-1:123456789012:service-deployment/web-cluster/web/lin"
    panel = Panel("deploy", started=0.0)

    def iso(offset: float) -> str:
        return dt.datetime.fromtimestamp(WALL + offset, dt.UTC).isoformat()

    ahead = {"deploymentId": arn, "nextWeight": 20.0, "nextAt": iso(60.0), "endsAt": iso(660.0)}
    panel.feed(
        [
            Event("status", {"deploymentId": arn, "status": "IN_PROGRESS"}, ""),
            Event("weights", {"deploymentId": arn, "production": 10.0, "test": 100.0}, ""),
            Event("ahead", ahead, ""),
        ],
        None,
        0.0,
    )
    lines = text(panel, at(10.0))
    moment = dt.datetime.fromtimestamp(WALL + 60.0, dt.UTC).astimezone(at(10.0).tz)
    assert f"→ green 20 % at {moment:%H:%M:%S}, in 50s" in lines
    assert any("10m50s" in line for line in lines)  # the whole release's remaining time
