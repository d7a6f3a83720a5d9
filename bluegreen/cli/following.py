"""What every verb that follows a deployment sets up, whatever the engine: the reporter, a
cancel flag that SIGINT and SIGTERM set (the follow then stops or detaches instead of dying),
the output port (time-stamped; the live panel too when asked) and the follow loop's pace."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from bluegreen.cli.context import Options
    from bluegreen.cli.live import Reporter
    from bluegreen.engines.codedeploy.follow import CancelFlag
    from bluegreen.engines.model import Outcome, Output

L = TypeVar("L")


@dataclass
class Following:
    reporter: Reporter
    cancel: CancelFlag
    out: Output

    def loop(self, make: Callable[..., L]) -> L:
        """The engine's loop pacing (rolling or ECS-native `Loop`): sleeps that a cancel
        ends at once, and the cancel itself."""
        cancel = self.cancel
        return make(sleep=cancel.sleep, cancelled=lambda: cancel.is_set)

    def finish(self, outcome: Outcome) -> None:
        """The outcome's last line, result line and exit code."""
        self.reporter.finish(outcome)


@contextlib.contextmanager
def following(opts: Options, verb: str, *, live: bool = False) -> Iterator[Following]:
    """Set up a verb's follow; call `finish` with the outcome after the block (the live
    panel, when `live`, is closed by then)."""
    from bluegreen.cli.live import Reporter, cancel_on_signals
    from bluegreen.cli.multi import Stamped
    from bluegreen.engines.codedeploy.follow import CancelFlag

    cancel = CancelFlag()
    reporter = Reporter(opts, verb=verb)
    out: Output = Stamped(opts.out())
    if live:
        reporter.start_live()
        out = reporter.output(out)
    try:
        with cancel_on_signals(cancel):
            yield Following(reporter, cancel, out)
    finally:
        if live:
            reporter.stop_live()
