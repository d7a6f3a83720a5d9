"""Showing a release as it happens: plain lines, JSON lines, or a rich live view on a TTY;
signal handling for cancel; the result line, the CI summary, and the exit."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from types import FrameType

    from bluegreen.aws.session import Aws
    from bluegreen.cli.context import Options, Out
    from bluegreen.engines.codedeploy.apply import FollowSettings
    from bluegreen.engines.codedeploy.follow import CancelFlag
    from bluegreen.engines.codedeploy.machine import State
    from bluegreen.engines.model import Event, Outcome
    from bluegreen.journal import Journal

BAR = 30


class Reporter:
    """Receives monitor events and renders them for the chosen output."""

    def __init__(self, opts: Options, *, verb: str) -> None:
        self.out: Out = opts.out()
        self.verb = verb
        self.started = time.monotonic()
        self.live_view = (
            not opts.json and opts.color and sys.stdout.isatty() and "CI" not in os.environ
        )
        self._live: Any = None
        self._state: State | None = None
        self._log: list[str] = []

    # --- events ---------------------------------------------------------------------------
    def notify(self, event: Event) -> None:
        self.sink([event], None)

    def sink(self, events: Sequence[Event], state: State | None) -> None:
        if state is not None:
            self._state = state
        for e in events:
            if self.out.json_mode:
                self.out.json(e.json())
            elif self._live is not None:
                from bluegreen.render.known_secrets import redact_known

                text = redact_known(self._stamp(e.text))
                self._live.console.print(text, highlight=False, markup=False)
            else:
                self.out.text(self._stamp(e.text))
        if self._live is not None:
            self._live.refresh()

    def _stamp(self, text: str) -> str:
        return f"[{time.monotonic() - self.started:6.1f}s] {text}"

    # --- the live view --------------------------------------------------------------------
    def start_live(self) -> None:
        if not self.live_view or self._live is not None:
            return
        from rich.live import Live

        # get_renderable: every refresh redraws from the latest state (elapsed time ticks)
        self._live = Live(get_renderable=self._render, refresh_per_second=4, transient=False)
        self._live.start()

    def stop_live(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None

    def follow(self, aws: Aws, settings: FollowSettings, journal: Journal | None) -> Outcome:
        """Follow the deployment to its end, with the live view shown while it runs."""
        from bluegreen.engines.codedeploy.apply import follow

        self.start_live()
        try:
            return follow(aws, settings, self.sink, journal)
        finally:
            self.stop_live()

    def _render(self) -> Any:
        from rich.table import Table
        from rich.text import Text

        from bluegreen.engines.codedeploy.machine import expected_remaining

        table = Table.grid(padding=(0, 2))
        state = self._state
        elapsed = time.monotonic() - self.started
        if state is None:
            table.add_row(Text(f"preparing… {elapsed:.0f}s"))
            return table
        head = f"{state.observing}  {state.status or '…'}  elapsed {elapsed:.0f}s"
        remaining = expected_remaining(state, time.monotonic())
        if remaining and state.status not in ("Succeeded", "Failed", "Stopped"):
            head += f"  next step in ≈{remaining:.0f}s"
        table.add_row(Text(head, style="bold"))
        colors = {"Succeeded": "green", "InProgress": "yellow", "Failed": "red", "Skipped": "dim"}
        for name, status in state.lifecycle.items():
            table.add_row(Text(f"  {name:<24}{status}", style=colors.get(status, "")))
        weights = dict(state.weights or ())
        if weights:
            green = weights.get("Green", 0.0)
            filled = round(BAR * green / 100)
            bar = Text("  blue ")
            bar.append("█" * (BAR - filled), style="blue")
            bar.append("█" * filled, style="green")
            bar.append(f" green  {100 - green:g}% / {green:g}%")
            table.add_row(bar)
        for label, status, desired, running, pending in state.counts or ():
            table.add_row(
                Text(f"  {label:<6}{status:<9} running {running}/{desired} pending {pending}")
            )
        for name, alarm in sorted(state.alarms.items()):
            style = "red" if alarm == "ALARM" else "green" if alarm == "OK" else "dim"
            table.add_row(Text(f"  alarm {name}: {alarm}", style=style))
        return table

    # --- the end --------------------------------------------------------------------------
    def finish(self, outcome: Outcome) -> None:
        """Print the result (the pinned last JSON line), write the CI summary, and raise the
        error that gives the exit code when it is not 0."""
        self.stop_live()
        result = outcome.result()
        text = f"{self.verb}: {outcome.deployment_id} {outcome.status}" + (
            " (rolled back)" if outcome.rolled_back else ""
        )
        if outcome.exit_code == 0 and outcome.reason != "succeeded":
            text += f" — {outcome.reason}"
        elif outcome.exit_code == 0 and outcome.task_definition_arn:
            text += f" — production runs {outcome.task_definition_arn}"
        self.out.emit(result, text)
        write_step_summary(self.verb, outcome, time.monotonic() - self.started)
        # The work is done: spare the interpreter's final collection of every boto3 model
        # object at exit (about 0.25-0.6 s measured), so the exit follows the deployment's end.
        import gc

        gc.freeze()
        raise_for(outcome)


def raise_for(outcome: Outcome) -> None:
    from bluegreen.errors import Cancelled, DeploymentFailed, DeploymentTimeout, ExitCode

    where = f"deployment {outcome.deployment_id}"
    if outcome.exit_code == ExitCode.OK:
        return
    if outcome.exit_code == ExitCode.TIMEOUT:
        raise DeploymentTimeout(outcome.reason, where=where)
    if outcome.exit_code == ExitCode.CANCELLED:
        raise Cancelled(outcome.reason, where=where)
    hint = None
    if not outcome.rolled_back and outcome.status != "Succeeded":
        hint = "inspect it with `bluegreen status`; `bluegreen rollback` returns to the previous "
        hint += "revision"
    raise DeploymentFailed(outcome.reason, where=where, hint=hint)


def write_step_summary(verb: str, outcome: Outcome, seconds: float) -> None:
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if not path:
        return
    icon = "✅" if outcome.exit_code == 0 else "❌"
    lines = [
        f"### {icon} bluegreen {verb}: `{cell(outcome.deployment_id)}` {cell(outcome.status)}",
        "",
        "| | |",
        "|---|---|",
        f"| status | {cell(outcome.status)} |",
        f"| rolled back | {'yes' if outcome.rolled_back else 'no'} |",
        f"| task definition | `{cell(outcome.task_definition_arn or '-')}` |",
        f"| rollback deployment | `{cell(outcome.rollback_deployment_id or '-')}` |",
        f"| exit code | {outcome.exit_code} |",
        f"| duration | {seconds:.0f}s |",
        f"| detail | {cell(outcome.reason)} |",
        "",
    ]
    from bluegreen.render.known_secrets import redact_known

    with contextlib.suppress(OSError), open(path, "a", encoding="utf-8") as fh:
        fh.write(redact_known("\n".join(lines)) + "\n")


def cell(text: str) -> str:
    """`text` inside one cell of a Markdown table: a `|` does not end the cell and a line break
    does not end the table (`<br>`); `<` and `&` are escaped so the text stays text."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = text.replace("\\", "\\\\").replace("|", "\\|")
    return "<br>".join(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"))


@contextlib.contextmanager
def cancel_on_signals(flag: CancelFlag) -> Iterator[None]:
    """SIGINT and SIGTERM set `flag` (the monitor then stops or detaches) instead of killing."""

    def handler(signum: int, frame: FrameType | None) -> None:
        del signum, frame
        flag.set()

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def resolve_on_cancel(given: str | None) -> str:
    """`--on-cancel`, else rollback when stdin is not a TTY, else ask."""
    if given is not None:
        if given not in ("rollback", "detach"):
            from bluegreen.errors import UsageError

            raise UsageError(
                f"--on-cancel must be rollback or detach, not {given!r}", where="--on-cancel"
            )
        return given
    return "ask" if sys.stdin.isatty() else "rollback"


def asker(reporter: Reporter) -> Any:
    """The interactive Ctrl-C question: rollback | detach | continue."""

    def ask() -> str:
        reporter.stop_live()
        answers = {"r": "rollback", "d": "detach", "c": "continue"}
        while True:
            try:
                reply = input("\nstop and roll back [r], detach [d], or continue watching [c]? ")
            except (EOFError, KeyboardInterrupt):
                return "rollback"
            choice = answers.get(reply.strip().lower()[:1])
            if choice:
                if choice == "continue":
                    reporter.start_live()
                return choice

    return ask
