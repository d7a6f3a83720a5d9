"""Showing a release as it happens: plain lines, JSON lines, or a rich live view on a TTY;
signal handling for cancel; the result line, the CI summary, and the exit."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from types import FrameType

    from bluegreen.aws.session import Aws
    from bluegreen.cli.context import Options, Out
    from bluegreen.engines.codedeploy.apply import FollowSettings
    from bluegreen.engines.codedeploy.follow import CancelFlag
    from bluegreen.engines.codedeploy.machine import State
    from bluegreen.engines.model import Event, Outcome, Output
    from bluegreen.journal import Journal


class Reporter:
    """Receives monitor events and renders them for the chosen output."""

    def __init__(self, opts: Options, *, verb: str) -> None:
        self.out: Out = opts.out()
        self.verb = verb
        self.started = time.monotonic()
        from bluegreen.cli.view import Panel

        # NO_COLOR drops the colours only; --no-color (opts.live False) the live view too
        self.live_view = (
            not opts.json and opts.live and sys.stdout.isatty() and "CI" not in os.environ
        )
        self.color = opts.color
        self.console: Any = None  # the rich Console of the live view (default: stdout's)
        self.panel = Panel(verb, self.started)
        self._live: Any = None
        # told of every event (its JSON object and line), e.g. release notifications
        self.observers: list[Callable[[dict[str, Any], str | None], None]] = []

    # --- events ---------------------------------------------------------------------------
    def notify(self, event: Event) -> None:
        self.sink([event], None)

    def sink(self, events: Sequence[Event], state: State | None) -> None:
        self.panel.feed(events, state, time.monotonic())
        for e in events:
            for observe in self.observers:
                observe(e.json(), e.text)
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

    def verify_line(self, line: str) -> None:
        """One line of the verify command's output as it comes: in the live view's panel, or
        a plain line (text mode; JSON mode carries the verdict only)."""
        from bluegreen.render.known_secrets import redact_known

        line = redact_known(line)
        self.panel.verify_line(line)
        if self._live is not None:
            self._live.refresh()
        elif not self.out.json_mode:
            self.out.text(self._stamp(f"  verify │ {line}"))

    def output(self, out: Output) -> Output:
        """`out` for an engine that prints to the output port (ECS-native, rolling): what it
        emits also feeds the live view, and its lines print above the view while it shows."""
        return PanelOutput(self, out)

    def _stamp(self, text: str) -> str:
        return f"[{time.monotonic() - self.started:6.1f}s] {text}"

    # --- the live view --------------------------------------------------------------------
    def start_live(self) -> None:
        if not self.live_view or self._live is not None:
            return
        from rich.console import Console
        from rich.live import Live

        console = self.console or Console(no_color=not self.color)
        # get_renderable: every refresh redraws from the latest state (elapsed time ticks)
        self._live = Live(
            get_renderable=self._render, console=console, refresh_per_second=4, transient=False
        )
        self._live.start()

    def stop_live(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None

    def follow(self, aws: Aws, settings: FollowSettings, journal: Journal | None) -> Outcome:
        """Follow the deployment to its end, with the live view shown while it runs."""
        from bluegreen.engines.codedeploy.apply import follow

        self.panel.checks.update({check.name: "ok" for check in settings.checks})
        if settings.verify:
            self.panel.verify_command = " ".join(settings.verify)
            settings.on_verify_output = self.verify_line
        self.start_live()
        try:
            outcome = follow(aws, settings, self.sink, journal)
            self.panel.outcome = outcome  # the last frame shows the release's outcome
            return outcome
        finally:
            self.stop_live()

    def _render(self) -> Any:
        from bluegreen.cli.view import Now, render

        height = self._live.console.height if self._live is not None else None
        # one line less than the terminal: the cursor's line after the frame
        return render(self.panel, Now(time.monotonic(), time.time()), (height or 25) - 1)

    # --- the end --------------------------------------------------------------------------
    def finish(self, outcome: Outcome) -> None:
        """Print the result (the pinned last JSON line), write the CI summary, and raise the
        error that gives the exit code when it is not 0."""
        self.panel.outcome = outcome  # the live view's last frame: the release's outcome
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


class PanelOutput:
    """The output port of an engine, feeding the reporter's live view on the way."""

    def __init__(self, reporter: Reporter, out: Output) -> None:
        self.reporter = reporter
        self.out = out
        self.json_mode = bool(getattr(out, "json_mode", False))

    def _line(self, line: str) -> bool:
        live = self.reporter._live
        if live is None:
            return False
        from bluegreen.render.known_secrets import redact_known

        live.console.print(redact_known(line), highlight=False, markup=False)
        return True

    def text(self, line: str = "") -> None:
        if self.json_mode or not self._line(line):
            self.out.text(line)

    def json(self, obj: dict[str, Any]) -> None:
        self.out.json(obj)

    def emit(self, obj: dict[str, Any], text: str | None) -> None:
        from bluegreen.engines.model import Event

        kind = str(obj.get("event", ""))
        self.reporter.panel.feed([Event(kind, obj, text or "")], None, time.monotonic())
        if self.json_mode or text is None or not self._line(text):
            self.out.emit(obj, text)
        if self.reporter._live is not None:
            self.reporter._live.refresh()


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
