"""The one follow loop of every engine.

An engine follows its deployment through a `Tracker`: one read of the deployment, the pure
`step` of its state machine, and its own actions (stop, approve, answer a hook, roll back).
The rest is this loop's, the same for CodeDeploy, rolling and ECS-native releases:

- **The guards, as policies read at their own cadence.** The release's alarms (at the period
  the engine names, on the endpoint's clock; only the alarms the engine does not leave to
  AWS), the metric checks (once per metric period), the verify command (started when the step
  asks, looked at while the loop sleeps so that its end is noticed at once) and the cancel (a
  signal, Ctrl-C during a sleep, an interactive choice). Each engine's step turns them into
  its own response; the deadline is part of each step's state (what a timeout does is the
  engine's: a stop with rollback, a hook answered, the previous revision).
- **Reading through trouble.** A read throttled beyond botocore's own retries backs off,
  doubling while the throttling lasts (never a retry storm); a few transient failures in a
  row are warnings, more end the follow (the user can re-attach with `bluegreen watch`).
- **The sleep**: the step's `wait` (the engine's schedule), ended early by a cancel or by the
  verify command's end; after a cancel, the `rest` sleep while the step winds down.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from bluegreen.engines import cadence
from bluegreen.engines.model import Event, Outcome, Output
from bluegreen.engines.verify import VerifyRun
from bluegreen.errors import AwsError, Throttled

THROTTLE_BACKOFF = 2.0  # wall seconds after a read throttled beyond botocore's own retries
MAX_BACKOFF = 30.0  # the backoff doubles on each throttled read in a row, up to this
MAX_READ_FAILURES = 5  # consecutive failed reads (not throttling) before giving up
ALARM_EVERY = 60.0  # endpoint seconds between reads of alarms AWS acts on itself (their period)
VERIFY_POLL = 0.25  # wall seconds between looks at a running verify command during a sleep

S = TypeVar("S")  # the engine's state
R = TypeVar("R")  # one read of the deployment


class Decision(Protocol):
    """What every engine's step decides: its actions, the wait before the next read, and the
    outcome once there is one."""

    @property
    def actions(self) -> Sequence[Any]: ...

    @property
    def wait(self) -> float: ...

    @property
    def outcome(self) -> Outcome | None: ...


@dataclass(frozen=True)
class Signals:
    """What the guards saw for one observation."""

    alarms: Mapping[str, str] = field(default_factory=dict)  # name -> state, last read
    alarms_fresh: bool = False  # the alarms were read for this observation
    metrics: tuple[Any, ...] = ()  # the engine's metric values, last read
    verify: tuple[bool, str] | None = None  # (passed, detail): the verify command just ended
    cancel: bool = False

    def in_alarm(self, names: Sequence[str]) -> tuple[str, ...]:
        """Those of `names` whose last read state is ALARM, in their order."""
        return tuple(n for n in names if self.alarms.get(n) == "ALARM")


class Tracker(Protocol[S, R]):
    """An engine's side of the follow."""

    def begin(self) -> S:
        """The state the follow starts from."""
        ...

    def read(self, state: S, now: float, alarms: Sequence[str]) -> R:
        """One read of the deployment (`alarms`: the alarm names about to be read, for an
        engine that batches them with the deployment)."""
        ...

    def alarm_plan(self, state: S) -> tuple[Sequence[str], float]:
        """The alarms the client reads now (none outside the guarded phases) and their period
        in endpoint seconds."""
        ...

    def alarm_states(self, names: Sequence[str]) -> Mapping[str, str]: ...

    def metrics_due(self, state: S, raw: R) -> bool:
        """Whether the metric checks gate the deployment as read."""
        ...

    def read_metrics(self, raw: R) -> tuple[Any, ...] | None:
        """The metric checks' values; None when they cannot be read yet."""
        ...

    def askable(self, state: S) -> bool:
        """Whether a cancel may be answered interactively now."""
        ...

    def choose(self, state: S, choice: str) -> S:
        """The state after an interactive cancel chose `rollback` or `detach`."""
        ...

    def step(
        self, state: S, raw: R, now: float, signals: Signals
    ) -> tuple[S, Sequence[Event], Any]:
        """The engine's pure step over one observation."""
        ...

    def report(self, state: S, events: Sequence[Event]) -> None: ...

    def verify_for(self, action: Any) -> VerifyRun | None:
        """The verify command an action starts; None for any other action."""
        ...

    def act(self, state: S, action: Any) -> None:
        """Perform an engine action (AWS refusing is reported, not raised: the next read tells
        what happened)."""
        ...

    def after(self, state: S, raw: R, decision: Any) -> bool:
        """Bookkeeping once a decision's actions are done (what to read next); True: read the
        alarms afresh for the next observation."""
        ...

    def finish(self, state: S, raw: R, decision: Any) -> None:
        """The step decided the outcome (record it)."""
        ...

    def warn(self, state: S, message: str) -> None: ...


class PortReporting:
    """What the trackers of the engines that print through the output port share (ECS-native,
    rolling): their events and warnings go to `out`; a cancel is theirs to act on as the
    release's `on_cancel` says (no interactive choice); nothing to record at the end."""

    out: Output

    def report(self, state: Any, events: Sequence[Event]) -> None:
        for event in events:
            self.out.emit(event.json(), event.text)

    def warn(self, state: Any, message: str) -> None:
        self.out.emit({"event": "warning", "message": message}, f"warning: {message}")

    def askable(self, state: Any) -> bool:
        return False

    def choose(self, state: S, choice: str) -> S:
        return state

    def finish(self, state: Any, raw: Any, decision: Any) -> None:
        return None


@dataclass
class Pace:
    """The loop's clock and sleeps, injected so tests drive the loop fast."""

    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    rest: Callable[[float], None] | None = None  # the sleep once a cancel was seen (default: sleep)
    cancelled: Callable[[], bool] = lambda: False  # a signal asked to stop
    clear: Callable[[], None] = lambda: None  # forget a cancel (the user chose to continue)
    ask: Callable[[], str] | None = None  # interactive cancel: rollback | detach | continue
    poll: float | None = None  # upper bound of one sleep (tests)
    scale: float = 1.0  # endpoint seconds per wall second (a sandbox's fast clock)


@dataclass
class AlarmGuard:
    """The release's alarms, read at their period; the last states stand between reads."""

    read: Callable[[Sequence[str]], Mapping[str, str]]
    scale: float = 1.0
    at: float | None = None
    states: Mapping[str, str] = field(default_factory=dict)

    def due(self, every: float, now: float) -> bool:
        return cadence.due(self.at, every, now, self.scale)

    def take(self, names: Sequence[str], now: float) -> None:
        self.states = dict(self.read(names)) if names else {}
        self.at = now

    def force(self) -> None:
        self.at = None


@dataclass
class MetricGuard:
    """The metric checks, read once per `every` endpoint seconds (a metric gets one datapoint
    a period); the last values stand between reads."""

    every: float
    scale: float = 1.0
    at: float | None = None
    values: tuple[Any, ...] = ()


@dataclass
class VerifyGuard:
    """The verify command: started when the step asks, its result handed to the step once."""

    run: VerifyRun | None = None
    result: tuple[bool, str] | None = None
    ended: bool = False

    def start(self, run: VerifyRun) -> None:
        self.kill()
        self.run, self.result, self.ended = run, None, False
        run.start()

    def running(self) -> bool:
        return self.run is not None and not self.ended

    def look(self) -> None:
        if self.running():
            assert self.run is not None
            self.result = self.run.poll()
            self.ended = self.result is not None

    def take(self) -> tuple[bool, str] | None:
        if self.result is None:
            self.look()
        result, self.result = self.result, None
        return result

    def kill(self) -> None:
        if self.run is not None:
            self.run.kill()


@dataclass
class Follow(Generic[S, R]):
    """The loop: read, let the guards look, step, report, act, sleep; until an outcome."""

    tracker: Tracker[S, R]
    pace: Pace = field(default_factory=Pace)
    metrics_every: float | None = None  # None: the release has no metric checks
    state: S | None = field(default=None, init=False)
    verify: VerifyGuard = field(default_factory=VerifyGuard, init=False)
    _cancel: bool = field(default=False, init=False)
    _interrupted: bool = field(default=False, init=False)

    def run(self) -> Outcome:
        tracker, pace = self.tracker, self.pace
        alarms = AlarmGuard(tracker.alarm_states, pace.scale)
        metrics = (
            MetricGuard(self.metrics_every, pace.scale) if self.metrics_every is not None else None
        )
        state = self.state = tracker.begin()
        failures = throttled = 0
        try:
            while True:
                now = pace.clock()
                names, every = tracker.alarm_plan(state)
                alarm_due = bool(names) and alarms.due(every, now)
                try:
                    raw = tracker.read(state, now, names if alarm_due else ())
                    if alarm_due:
                        alarms.take(names, now)
                except Throttled:
                    # botocore's adaptive mode already retried and slowed down: back off
                    # further, doubling while the throttling lasts, rather than add a storm
                    self._sleep(min(MAX_BACKOFF, THROTTLE_BACKOFF * 2**throttled))
                    throttled += 1
                    continue
                except AwsError as exc:
                    # A dropped connection or a 5xx must not end the follow of a release that
                    # is still running; a few in a row do (the user can `bluegreen watch`).
                    if type(exc) is not AwsError or failures >= MAX_READ_FAILURES:
                        raise
                    failures += 1
                    tracker.warn(state, exc.message)
                    self._sleep(THROTTLE_BACKOFF)
                    continue
                failures = throttled = 0
                if (
                    metrics is not None
                    and tracker.metrics_due(state, raw)
                    and cadence.due(metrics.at, metrics.every, now, metrics.scale)
                ):
                    values = tracker.read_metrics(raw)
                    if values is not None:
                        metrics.values, metrics.at = values, now
                state = self._cancelled(state)
                signals = Signals(
                    alarms=alarms.states,
                    alarms_fresh=alarm_due,
                    metrics=metrics.values if metrics is not None else (),
                    verify=self.verify.take(),
                    cancel=self._cancel,
                )
                state, events, decision = tracker.step(state, raw, now, signals)
                self.state = state
                if events:
                    tracker.report(state, events)
                if decision.outcome is not None:
                    tracker.finish(state, raw, decision)
                    return decision.outcome  # type: ignore[no-any-return]
                for action in decision.actions:
                    run = tracker.verify_for(action)
                    if run is not None:
                        self.verify.start(run)
                    else:
                        tracker.act(state, action)
                if tracker.after(state, raw, decision):
                    alarms.force()
                self._wait(float(decision.wait))
        finally:
            self.verify.kill()

    def _cancelled(self, state: S) -> S:
        """The cancel as the step sees it: once asked for, it stays, unless the user chose to
        go on."""
        fresh = not self._cancel and (self._interrupted or self.pace.cancelled())
        if not fresh:
            return state
        self._cancel = True
        if self.pace.ask is not None and self.tracker.askable(state):
            choice = self.pace.ask()
            self.pace.clear()
            if choice == "continue":
                self._cancel = self._interrupted = False
                return state
            return self.tracker.choose(state, choice)
        return state

    def _sleep(self, seconds: float) -> None:
        seconds = max(0.0, seconds)
        if self.pace.poll is not None:
            seconds = min(seconds, self.pace.poll)
        sleep = (self.pace.rest or self.pace.sleep) if self._cancel else self.pace.sleep
        try:
            sleep(seconds)
        except KeyboardInterrupt:
            self._interrupted = True

    def _wait(self, seconds: float) -> None:
        """Sleep `seconds` before the next read; while a verify command runs, look at it (no
        AWS call) every VERIFY_POLL and end the wait as soon as it has finished, or as soon as
        a cancel arrives."""
        if self.pace.poll is not None:
            seconds = min(seconds, self.pace.poll)
        if not self.verify.running():
            self._sleep(seconds)
            return
        end = self.pace.clock() + seconds
        while True:
            left = end - self.pace.clock()
            if left <= VERIFY_POLL:
                self._sleep(left)
                return
            self._sleep(VERIFY_POLL)
            if self._interrupted or (not self._cancel and self.pace.cancelled()):
                return
            self.verify.look()
            if self.verify.result is not None:
                return
