"""When to read next while following a deployment: a schedule-aware cadence (pure).

AWS throttles the control plane per account and Region, shared by every pipeline, so a
follower reads only as often as what it watches can change:

- nothing scheduled (a bake, a wait): one read every `STEADY` seconds of the endpoint's clock,
  which bounds how late an unscheduled change (an alarm's stop, a failed hook, a stop asked
  elsewhere) is noticed;
- a scheduled *step* (a traffic shift of a canary or linear config): one read just after its
  expected moment, so it is reported at once without reading more;
- a scheduled *edge* whose moment ends the follow (the end of a termination wait, of a ready
  wait): reads every `BURST` wall seconds from just before its earliest expected moment until
  after its latest one, so the exit follows the end closely.

Times are epoch seconds (the deployment's own timestamps are); `scale` is how many endpoint
seconds pass per wall second (1 on AWS; a sandbox with a fast clock tells its own). Every
engine's follow loop can use this: give it the schedule it knows and the current time.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

STEADY = 6.0  # endpoint seconds between reads when nothing is scheduled (the notice bound)
BURST = 0.25  # wall seconds between reads around an edge
# wall seconds: a fast endpoint clock (a sandbox at 60x) never makes the steady cadence faster
# than this, so it never reads more often in wall time than a real follow of a fast release
MIN_WAIT = 1.0
LEAD = 0.5  # wall seconds before an edge's earliest moment that its burst begins
AFTER = 3.0  # wall seconds after an edge's latest moment that its burst lasts
STEP_MARGIN = 0.3  # wall seconds after a step's expected moment that it is read
TINY = 0.01  # never sleep less (no busy loop on a moment that is due now)


@dataclass(frozen=True)
class Edge:
    """A scheduled moment that ends (or may end) the follow, expected between `earliest` and
    `latest` (epoch seconds)."""

    earliest: float
    latest: float

    def window(self) -> tuple[float, float]:
        return self.earliest - LEAD, self.latest + AFTER


@dataclass(frozen=True)
class Schedule:
    """What is expected, and how fast the endpoint's clock runs."""

    edges: tuple[Edge, ...] = ()
    steps: tuple[float, ...] = ()  # epoch seconds of expected steps (one read after each)
    scale: float = 1.0


def scaled(seconds: float, scale: float) -> float:
    """`seconds` of the endpoint's clock in wall seconds."""
    return seconds / scale if scale > 0 else seconds


def steady_wait(scale: float = 1.0) -> float:
    """Wall seconds between reads when nothing is scheduled."""
    return max(MIN_WAIT, scaled(STEADY, scale))


def bursting(schedule: Schedule, now: float) -> bool:
    """Whether `now` is inside an edge's burst window."""
    return any(lo <= now <= hi for lo, hi in (e.window() for e in schedule.edges))


def next_wait(schedule: Schedule, now: float) -> float:
    """Wall seconds from `now` to the next read."""
    if bursting(schedule, now):
        return BURST
    wait = steady_wait(schedule.scale)
    ahead: Iterable[float] = (
        *(e.window()[0] for e in schedule.edges),
        *(t + STEP_MARGIN for t in schedule.steps),
    )
    for moment in ahead:
        if moment > now:
            wait = min(wait, moment - now)
    return max(TINY, wait)


def due(last: float | None, every: float, now: float, scale: float = 1.0) -> bool:
    """Whether a read repeated every `every` endpoint seconds, last made at `last` (wall
    seconds on any clock `now` is on; None: never), is due at `now`."""
    return last is None or now - last >= max(MIN_WAIT, scaled(every, scale))


def steps_after(start: float, step: float, total: float, scale: float = 1.0) -> tuple[float, ...]:
    """The expected moments of a shift's steps: every `step` endpoint seconds from `start`
    (epoch) until `total` seconds have passed (a canary: one step; linear: several)."""
    if step <= 0 or total <= 0:
        return ()
    count = max(1, round(total / step))
    return tuple(start + scaled(step * k, scale) for k in range(1, count + 1))
