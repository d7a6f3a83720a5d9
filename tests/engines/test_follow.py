"""The one follow loop (engines/follow.py), driven by a scripted engine on a fake clock: the
guards are the loop's policies, the same for every engine."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from bluegreen.engines import follow
from bluegreen.engines.follow import Follow, Pace, Signals
from bluegreen.engines.model import Event, Outcome
from bluegreen.errors import AwsError, ExitCode, Throttled


@dataclass(frozen=True)
class Decision:
    actions: tuple[Any, ...] = ()
    wait: float = 1.0
    outcome: Outcome | None = None


DONE = Outcome("d-1", "Succeeded", False, ExitCode.OK, "succeeded", None, None)


@dataclass
class Clock:
    now: float = 0.0
    slept: list[float] = field(default_factory=list)

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@dataclass
class Script:
    """An engine whose step ends after `steps` observations; it records what it saw."""

    steps: int = 5
    alarms: tuple[str, ...] = ("high-5xx",)
    every: float = 10.0
    reads: list[Any] = field(default_factory=list)  # what read() raises or returns, in turn
    seen: list[Signals] = field(default_factory=list)
    alarm_reads: list[tuple[str, ...]] = field(default_factory=list)
    acted: list[Any] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    chosen: list[str] = field(default_factory=list)
    actions_at: dict[int, tuple[Any, ...]] = field(default_factory=dict)

    def begin(self) -> int:
        return 0

    def read(self, state: int, now: float, alarms: Sequence[str]) -> str:
        if self.reads:
            nxt = self.reads.pop(0)
            if isinstance(nxt, BaseException):
                raise nxt
        return "running"

    def alarm_plan(self, state: int) -> tuple[Sequence[str], float]:
        return self.alarms, self.every

    def alarm_states(self, names: Sequence[str]) -> Mapping[str, str]:
        self.alarm_reads.append(tuple(names))
        return dict.fromkeys(names, "OK")

    def metrics_due(self, state: int, raw: str) -> bool:
        return False

    def read_metrics(self, raw: str) -> tuple[Any, ...] | None:
        return None

    def askable(self, state: int) -> bool:
        return True

    def choose(self, state: int, choice: str) -> int:
        self.chosen.append(choice)
        return state

    def step(
        self, state: int, raw: str, now: float, signals: Signals
    ) -> tuple[int, list[Event], Decision]:
        self.seen.append(signals)
        state += 1
        if state >= self.steps:
            return state, [], Decision(outcome=DONE)
        return state, [], Decision(actions=self.actions_at.get(state, ()))

    def report(self, state: int, events: Sequence[Event]) -> None:
        pass

    def verify_for(self, action: Any) -> Any:
        return action if isinstance(action, FakeVerify) else None

    def act(self, state: int, action: Any) -> None:
        self.acted.append(action)

    def after(self, state: int, raw: str, decision: Any) -> bool:
        return False

    def finish(self, state: int, raw: str, decision: Any) -> None:
        pass

    def warn(self, state: int, message: str) -> None:
        self.warnings.append(message)


@dataclass
class FakeVerify:
    """A verify command that ends after `polls` looks."""

    polls: int
    looked: int = 0

    def start(self) -> None:
        pass

    def poll(self) -> tuple[bool, str] | None:
        self.looked += 1
        return (False, "exit 1: smoke failed") if self.looked >= self.polls else None

    def kill(self) -> None:
        pass


def run(script: Script, **pace: Any) -> tuple[Outcome, Clock]:
    clock = Clock()
    outcome = Follow(script, Pace(clock=lambda: clock.now, sleep=clock.sleep, **pace)).run()  # type: ignore[arg-type]
    return outcome, clock


def test_alarms_are_read_at_their_period_and_stand_between_reads() -> None:
    script = Script(steps=25, every=10.0)  # a read a second, the alarms every 10
    outcome, _ = run(script)
    assert outcome is DONE
    assert len(script.alarm_reads) == 3  # at 0, 10 and 20 s
    assert [s.alarms_fresh for s in script.seen].count(True) == 3
    assert all(s.alarms == {"high-5xx": "OK"} for s in script.seen)


def test_a_throttled_read_backs_off_doubling_and_failed_reads_are_warnings() -> None:
    script = Script(reads=[Throttled("slow down"), Throttled("slow down"), AwsError("reset")])
    outcome, clock = run(script)
    assert outcome is DONE
    first = follow.THROTTLE_BACKOFF
    assert clock.slept[:3] == [first, 2 * first, first]
    assert script.warnings == ["reset"]


def test_too_many_failed_reads_in_a_row_end_the_follow() -> None:
    script = Script(reads=[AwsError("reset")] * (follow.MAX_READ_FAILURES + 1))
    with pytest.raises(AwsError):
        run(script)
    assert len(script.warnings) == follow.MAX_READ_FAILURES


def test_verify_starts_on_the_steps_action_and_its_end_cuts_the_sleep_short() -> None:
    verify = FakeVerify(polls=3)
    script = Script(steps=4, actions_at={1: (verify, "stop-d-1")})
    clock = Clock()
    pace = Pace(clock=lambda: clock.now, sleep=clock.sleep)
    loop: Follow[int, str] = Follow(script, pace)  # type: ignore[arg-type]
    # the step asks for a 10 s wait; the verify ends at its third look, 0.75 s in
    script_step = script.step

    def step(
        state: int, raw: str, now: float, signals: Signals
    ) -> tuple[int, list[Event], Decision]:
        state, events, decision = script_step(state, raw, now, signals)
        return state, events, Decision(decision.actions, 10.0, decision.outcome)

    script.step = step  # type: ignore[method-assign]
    loop.run()
    assert script.acted == ["stop-d-1"]  # the other action is the engine's
    results = [s.verify for s in script.seen if s.verify is not None]
    assert results == [(False, "exit 1: smoke failed")]  # handed to the step once
    assert clock.slept[:3] == [follow.VERIFY_POLL] * 3  # looked at while sleeping, then read


def test_a_cancel_asks_and_continue_forgets_it_while_rollback_is_the_engines_choice() -> None:
    flags = iter([True, False, True, False, False, False, False])
    answers = iter(["continue", "rollback"])
    script = Script(steps=6)
    run(script, cancelled=lambda: next(flags), ask=lambda: next(answers))
    cancels = [s.cancel for s in script.seen]
    assert cancels[:2] == [False, False]  # the user chose to go on
    assert script.chosen == ["rollback"]
    assert cancels[2:] == [True] * (len(cancels) - 2)  # once chosen, the cancel stays


def test_ctrl_c_during_a_sleep_is_a_cancel() -> None:
    script = Script(steps=4)
    clock = Clock()
    interrupted = [False]

    def sleep(seconds: float) -> None:
        if not interrupted[0]:
            interrupted[0] = True
            raise KeyboardInterrupt
        clock.sleep(seconds)

    Follow(script, Pace(clock=lambda: clock.now, sleep=sleep)).run()  # type: ignore[arg-type]
    assert [s.cancel for s in script.seen] == [False, True, True, True]


def test_native_follow_reads_only_the_alarms_ecs_does_not_roll_back_on() -> None:
    """ECS stops and rolls back on the alarms of the deployment's `alarms` block itself (the
    release merges the spec's there); from the second read on the follow reads the others only."""
    from bluegreen.engines.ecs_native.apply import ALARM_POLL, NativeTracker
    from bluegreen.engines.ecs_native.machine import NativeConfig, initial_state

    config = NativeConfig("arn:dep", None, None, 0.0, alarm_names=("high-5xx", "own-check"))
    tracker = NativeTracker(aws=None, out=None, config=config)  # type: ignore[arg-type]
    state = initial_state(config)
    assert tracker.alarm_plan(state) == (("high-5xx", "own-check"), ALARM_POLL)
    tracker._last = {"alarms": {"alarmNames": ["high-5xx"], "status": "MONITORING"}}
    assert tracker.alarm_plan(state) == (("own-check",), ALARM_POLL)
    tracker._last = {"alarms": {"alarmNames": ["high-5xx", "own-check"], "status": "MONITORING"}}
    assert tracker.alarm_plan(state)[0] == ()
    tracker._last = {"alarms": {"alarmNames": ["high-5xx", "own-check"], "status": "DISABLED"}}
    assert tracker.alarm_plan(state)[0] == ("high-5xx", "own-check")
