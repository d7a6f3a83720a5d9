"""The live view of a release as a pure function of what the engines report.

`Panel` gathers the events of a release (any engine's: the CodeDeploy monitor's, with its
state; the ECS-native and rolling engines' output objects) together with the moment each one
arrived; `render(panel, now, height)` draws one frame for the moment `now`. Nothing here reads
a clock or AWS: the live reporter (`cli/live.py`) feeds it and hands it the time, so a test
feeds a sequence of events and draws the frame at a fixed moment.

What a frame shows, most important first: the deployment and its status (at the end, the
release's outcome), what the next step is and when ("→ green 100 % at 14:05:10, in 4m10s") and
the whole release's expected remaining time, both on the endpoint's clock scaled to the wall
(a sandbox may run faster than real time); what the deployment waits for, with the command
that ends the wait; the traffic split; the task sets with their revisions; alarms, metric
checks and the verify command with its latest output lines; the lifecycle list, which is the
first thing dropped when the terminal is short.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bluegreen.engines import cadence
from bluegreen.engines.model import Event, Outcome, revision

if TYPE_CHECKING:
    from rich.console import RenderableType
    from rich.text import Text

    from bluegreen.engines.codedeploy.machine import State

BAR = 30
VERIFY_LINES = 5  # the verify command's latest output lines kept for the panel
TERMINAL = frozenset({"Succeeded", "Failed", "Stopped"})
NATIVE_TERMINAL = frozenset(
    {"SUCCESSFUL", "STOPPED", "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED", "ROLLBACK_REQUESTED"}
)


@dataclass(frozen=True)
class Now:
    """The moment a frame is drawn: the follow loop's monotonic clock and the wall clock."""

    mono: float
    wall: float
    tz: dt.tzinfo | None = None  # None: the local zone

    def wall_of(self, mono: float) -> float:
        """Epoch seconds of a moment `mono` on the monotonic clock."""
        return self.wall + (mono - self.mono)

    def clock_text(self, mono: float) -> str:
        """The wall-clock time of `mono`, e.g. 14:05:10, in the user's zone."""
        moment = dt.datetime.fromtimestamp(self.wall_of(mono), dt.UTC).astimezone(self.tz)
        return moment.strftime("%H:%M:%S")


def span(seconds: float) -> str:
    """A duration for people: 45s, 4m10s, 1h05m."""
    s = max(0, math.ceil(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


@dataclass
class Panel:
    """What the live view knows of one release (fed by `feed`, drawn by `render`)."""

    verb: str
    started: float  # monotonic moment the command started
    deployment_id: str | None = None
    status: str | None = None
    stage: str | None = None  # ECS-native lifecycle stage
    next_stage: str | None = None
    lifecycle: dict[str, str] = field(default_factory=dict)
    green: float | None = None  # production weight of green
    test_green: float | None = None  # ECS-native test traffic weight of green
    task_sets: tuple[Mapping[str, Any], ...] = ()
    revisions: dict[str, str] = field(default_factory=dict)  # Blue/Green -> "web:12"
    alarms: dict[str, str] = field(default_factory=dict)
    checks: dict[str, str] = field(default_factory=dict)  # metric check -> "ok" | what breached
    verify: str | None = None  # pending | running | passed | failed
    verify_command: str | None = None
    verify_output: deque[str] = field(default_factory=lambda: deque(maxlen=VERIFY_LINES))
    paused_hooks: dict[str, str] = field(default_factory=dict)  # PAUSE hook id -> stage
    bake_ends: float | None = None  # ECS-native: epoch seconds the bake time ends
    next_at: float | None = None  # ECS-native: epoch seconds of the next production step
    next_weight: float | None = None  # ECS-native: green's production share after it
    ends_at: float | None = None  # ECS-native: epoch seconds the release should end
    rolling_back: str | None = None  # the rollback deployment being followed
    outcome: Outcome | None = None
    # the CodeDeploy monitor's state and the moments (monotonic) the view saw things happen
    state: State | None = None
    ready_at: float | None = None
    shift_started: float | None = None
    shift_ended: float | None = None
    weight_changed: float | None = None
    first_green: float | None = None  # the first step of the shift (a canary's or linear's %)

    # --- feeding ------------------------------------------------------------------------------
    def feed(self, events: Sequence[Event], state: State | None, at: float) -> None:
        """Take `events` (and the CodeDeploy monitor's `state`, when there is one) seen at
        `at` (monotonic seconds)."""
        if state is not None:
            self._take_state(state, at)
        for event in events:
            self._take(event, at)

    def _take_state(self, state: State, at: float) -> None:
        previous = self.state
        self.state = state
        self.deployment_id = state.observing
        self.status = state.status
        if state.config.task_definition_arn and not state.rollback_id:
            self.revisions.setdefault("Green", revision(state.config.task_definition_arn))
        self.rolling_back = state.rollback_id
        if state.status == "Ready" and (previous is None or previous.status != "Ready"):
            self.ready_at = at
        if state.status != "Ready":
            self.ready_at = None
        self.lifecycle = dict(state.lifecycle)
        allow = state.lifecycle.get("AllowTraffic")
        if allow == "InProgress" and self.shift_started is None:
            self.shift_started = at
        if allow in ("Succeeded", "Skipped") and self.shift_ended is None:
            self.shift_ended = at
        weights = dict(state.weights or ())
        green = weights.get("Green") if weights else None
        if green is not None and green != self.green:
            self.weight_changed = at
            if green > 0 and self.first_green is None and allow == "InProgress":
                self.first_green = green
        self.green = green
        if state.counts is not None:
            self.task_sets = tuple(
                {"label": c[0], "status": c[1], "desired": c[2], "running": c[3], "pending": c[4]}
                for c in state.counts
            )
        self.alarms = dict(state.alarms)
        self.verify = None if state.verify.value == "none" else state.verify.value

    def _take(self, event: Event, at: float) -> None:
        del at
        data = event.data
        kind = event.kind
        dep = data.get("deploymentId")
        if kind in ("created", "watching") and dep:
            self.deployment_id = str(dep)
            arn = data.get("taskDefinitionArn")
            if arn:
                self.revisions["Green"] = revision(str(arn))
        elif kind == "status" and self.state is None:
            self.status = str(data.get("status"))
        elif kind == "stage":
            self.stage = str(data.get("stage"))
            following = data.get("next")
            self.next_stage = str(following) if following else None
            if self.stage != "BAKE_TIME":
                self.bake_ends = None
        elif kind == "bake":
            ends = data.get("endsAt")
            self.bake_ends = dt.datetime.fromisoformat(str(ends)).timestamp() if ends else None
        elif kind == "ahead":

            def epoch(value: object) -> float | None:
                return dt.datetime.fromisoformat(str(value)).timestamp() if value else None

            self.next_at, self.ends_at = epoch(data.get("nextAt")), epoch(data.get("endsAt"))
            weight = data.get("nextWeight")
            self.next_weight = float(weight) if weight is not None else None
        elif kind == "weights":
            self.green = float(data.get("production") or 0.0)
            self.test_green = float(data.get("test") or 0.0)
        elif kind == "hook" and data.get("targetType") == "PAUSE":
            hook = str(data.get("hookId"))
            if data.get("status") == "AWAITING_ACTION":
                self.paused_hooks[hook] = str(data.get("stage") or "")
            else:
                self.paused_hooks.pop(hook, None)
        elif kind == "metric":
            value = data.get("value")
            shown = "no data" if value is None else f"{value:g}"
            self.checks[str(data.get("name"))] = (
                f"breached: {shown} {data.get('comparison')} {data.get('threshold')}"
            )
        elif kind == "verify":
            status = data.get("status") or data.get("phase")
            if status == "ended":
                status = "passed" if data.get("ok") else "failed"
            elif status == "started":
                status = "running"
            self.verify = str(status)
        elif kind == "verifyOutput":
            self.verify_output.append(str(data.get("line", "")))
        elif kind == "alarm" and self.state is None:
            self.alarms[str(data.get("name"))] = str(data.get("state"))

    def verify_line(self, line: str) -> None:
        """One line of the verify command's output, as it comes."""
        self.verify_output.append(line)

    # --- what comes next ----------------------------------------------------------------------
    def ahead(self, now: Now) -> tuple[list[tuple[str, str]], float | None]:
        """The lines that say what happens next (text, style), and the seconds the whole
        release is expected to take still (None when unknown)."""
        if self.outcome is not None:
            return [], None
        if self.state is not None:
            return self._codedeploy_ahead(now)
        return self._native_ahead(now)

    def _codedeploy_ahead(self, now: Now) -> tuple[list[tuple[str, str]], float | None]:
        state = self.state
        assert state is not None
        cfg = state.config
        dep = cfg.deployment_id
        scale = cfg.time_scale if cfg.time_scale > 0 else 1.0
        lines: list[tuple[str, str]] = []
        if self.rolling_back:
            return [(f"→ rolling back: following {self.rolling_back}", "yellow")], None
        if state.status in TERMINAL:
            return [], None
        term = cadence.scaled(cfg.termination_wait, scale) if cfg.termination_wait else 0.0
        shift = cadence.scaled(cfg.shift_seconds or 0.0, scale)
        allow = state.lifecycle.get("AllowTraffic")
        if state.status == "Ready" or state.waiting_approval:
            text = f"⏸ ready wait: production has not moved; approve with `bluegreen approve {dep}`"
            if state.verify.value == "running":
                text = "⏸ ready wait: the verify command decides (it approves when it passes)"
            lines.append((text, "bold yellow"))
            if cfg.ready_wait and self.ready_at is not None:
                ends = self.ready_at + cadence.scaled(cfg.ready_wait, scale)
                lines.append(
                    (
                        f"  not approved by {now.clock_text(ends)} (in "
                        f"{span(ends - now.mono)}), the deployment stops",
                        "",
                    )
                )
            return lines, None
        if allow in ("Succeeded", "Skipped"):
            if not cfg.termination_wait or self.shift_ended is None:
                return [("→ original (blue) task set removed next", "")], None
            ends = self.shift_ended + term
            left = max(0.0, ends - now.mono)
            lines.append(
                (
                    f"→ blue terminated at {now.clock_text(ends)}, in {span(left)} "
                    "(termination wait)",
                    "bold",
                )
            )
            lines.append((f"  end it now: `bluegreen approve --terminate-now {dep}`", "yellow"))
            return lines, left
        if allow == "InProgress" and cfg.step_interval and self.weight_changed is not None:
            green = self.green or 0.0
            step = cadence.scaled(cfg.step_interval, scale)
            count = max(1, round((cfg.shift_seconds or step) / cfg.step_interval))
            if count == 1 or not self.first_green:
                target, left_steps = 100.0, 1
            else:
                target = min(100.0, green + self.first_green)
                left_steps = max(1, math.ceil((100.0 - green) / self.first_green))
            at = self.weight_changed + step
            lines.append(
                (
                    f"→ green {target:g} % at {now.clock_text(at)}, in {span(at - now.mono)}",
                    "bold",
                )
            )
            remaining = max(0.0, at - now.mono) + (left_steps - 1) * step + term
            return lines, remaining
        if allow == "InProgress":
            lines.append(("→ shifting production traffic to green", "bold"))
            return lines, None
        lines.append(("→ green task set, then test traffic, then the shift", "bold"))
        return lines, shift + term if (shift or term) else None

    def _native_ahead(self, now: Now) -> tuple[list[tuple[str, str]], float | None]:
        lines: list[tuple[str, str]] = []
        if self.status in NATIVE_TERMINAL or self.status in TERMINAL:
            return [], None
        for hook, stage in sorted(self.paused_hooks.items()):
            lines.append(
                (
                    f"⏸ paused at {stage or 'a lifecycle hook'} (hook {hook}): continue with "
                    "`bluegreen approve`",
                    "bold yellow",
                )
            )
        if lines:
            return lines, None
        remaining = max(0.0, self.ends_at - now.wall) if self.ends_at is not None else None
        if (
            self.next_at is not None
            and self.next_weight is not None
            and self.next_at > now.wall
            and (self.green or 0.0) < self.next_weight
        ):
            left = self.next_at - now.wall
            moment = dt.datetime.fromtimestamp(self.next_at, dt.UTC).astimezone(now.tz)
            lines.append(
                (f"→ green {self.next_weight:g} % at {moment:%H:%M:%S}, in {span(left)}", "bold")
            )
            return lines, remaining
        if self.bake_ends is not None:
            left = max(0.0, self.bake_ends - now.wall)
            moment = dt.datetime.fromtimestamp(self.bake_ends, dt.UTC).astimezone(now.tz)
            lines.append(
                (f"→ bake ends at {moment:%H:%M:%S}, in {span(left)}; then blue goes", "bold")
            )
            return lines, left
        if self.next_stage:
            lines.append((f"→ next stage {self.next_stage}", "bold"))
        return lines, remaining


# --- drawing ------------------------------------------------------------------------------------
def _line(text: str, style: str = "") -> Text:
    from rich.text import Text

    return Text(text, style=style, no_wrap=True, overflow="ellipsis")


def frame_lines(panel: Panel, now: Now, height: int | None = None) -> list[Text]:
    """The lines of one frame, at most `height` of them (None: no limit). Sections are dropped
    to fit, least needed first: the lifecycle list, then the verify output, then alarms and
    checks, then the task sets."""
    sections = _sections(panel, now)
    order = ["lifecycle", "verifyOutput", "guards", "taskSets"]
    if height is not None:
        for name in order:
            if sum(len(lines) for lines in sections.values()) <= height:
                break
            sections[name] = []
    lines = [line for lines in sections.values() for line in lines]
    return lines if height is None else lines[:height]


def render(panel: Panel, now: Now, height: int | None = None) -> RenderableType:
    """One frame of the live view (rich renderable), at most `height` lines high."""
    from rich.console import Group

    return Group(*frame_lines(panel, now, height))


def _sections(panel: Panel, now: Now) -> dict[str, list[Text]]:
    elapsed = span(now.mono - panel.started)
    head: list[Text] = []
    if panel.outcome is not None:
        o = panel.outcome
        ok = o.exit_code == 0
        what = f"{panel.verb}: {o.deployment_id or '-'} {o.status}" + (
            " (rolled back)" if o.rolled_back else ""
        )
        head.append(
            _line(
                f"{'✔' if ok else '✘'} {what}  after {elapsed}", "bold green" if ok else "bold red"
            )
        )
        head.append(_line(f"  {o.reason}", ""))
    elif panel.deployment_id is None:
        head.append(_line(f"{panel.verb}: preparing… {elapsed}", "bold"))
    else:
        status = panel.status or "…"
        where = f"  stage {panel.stage}" if panel.stage else ""
        head.append(_line(f"{panel.deployment_id}  {status}{where}  elapsed {elapsed}", "bold"))
    ahead, remaining = panel.ahead(now)
    head += [_line(text, style) for text, style in ahead]
    if remaining is not None:
        ends = now.mono + remaining
        head.append(
            _line(f"  release done in ≈{span(remaining)} (about {now.clock_text(ends)})", "")
        )
    traffic: list[Text] = []
    if panel.green is not None and panel.outcome is None:
        green = panel.green
        filled = round(BAR * green / 100)
        bar = _line("  blue ")
        bar.append("█" * (BAR - filled), style="blue")
        bar.append("█" * filled, style="green")
        bar.append(f" green  {100 - green:g}% / {green:g}%")
        if panel.test_green is not None:
            bar.append(f"  test {panel.test_green:g}%")
        traffic.append(bar)
    task_sets = [
        _line(
            f"  {_label(panel, t['label'])}{t['status']:<9} running {t['running']}/"
            f"{t['desired']} pending {t['pending']}"
        )
        for t in panel.task_sets
    ]
    guards: list[Text] = []
    for name, alarm in sorted(panel.alarms.items()):
        style = "red" if alarm == "ALARM" else "green" if alarm == "OK" else "dim"
        guards.append(_line(f"  alarm {name}: {alarm}", style))
    for name, check in sorted(panel.checks.items()):
        guards.append(_line(f"  metric {name}: {check}", "red" if check != "ok" else "green"))
    if panel.verify:
        style = {"passed": "green", "failed": "red", "running": "yellow"}.get(panel.verify, "dim")
        command = f" ({panel.verify_command})" if panel.verify_command else ""
        guards.append(_line(f"  verify{command}: {panel.verify}", style))
    verify_output = [_line(f"    │ {line}", "dim") for line in panel.verify_output]
    colors = {"Succeeded": "green", "InProgress": "yellow", "Failed": "red", "Skipped": "dim"}
    lifecycle = [
        _line(f"  {name:<24}{status}", colors.get(status, ""))
        for name, status in panel.lifecycle.items()
    ]
    return {
        "head": head,
        "traffic": traffic,
        "taskSets": task_sets,
        "guards": guards,
        "verifyOutput": verify_output,
        "lifecycle": lifecycle,
    }


def _label(panel: Panel, label: str) -> str:
    """`Blue  ` or, with its revision known, `Green web:12  `."""
    rev = panel.revisions.get(label)
    return f"{label:<6}" + (f"{rev}  " if rev else "")
