"""Client-side pacing of the AWS action families whose published rate is low enough that a
fan-out of releases meets it at once.

AWS throttles each account and Region per action family with a token bucket: a burst
capacity, refilled at a sustained rate. ECS publishes its buckets ("Request throttling for the
Amazon ECS API", https://docs.aws.amazon.com/AmazonECS/latest/APIReference/request-throttling.html);
the task definition modification family (RegisterTaskDefinition, DeregisterTaskDefinition,
DeleteTaskDefinitions) holds 20 and refills 1 a second. A fan-out of 100 releases registers 100
revisions within a second: 80 of them would be throttled, and botocore's adaptive retry then
learns the rate by being throttled again and slows every call of the shared ECS client, reads
included, while it does.

A `Pacer` keeps the same bucket on this side, per session (one account and Region): each request
of the family takes its turn, and the caller sleeps until then with its own sleep (a cancel
wakes it). Nothing else is paced; botocore's adaptive retry still handles the throttling other
callers of the account cause.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Rate:
    family: str
    capacity: float  # burst: requests the bucket allows at once
    refill: float  # sustained: requests a second


TASK_DEFINITION_WRITES = Rate("ECS task definition modification", 20, 1.0)

# AWS's bucket counts from when a request arrives, a moment after this side's clock read it:
# a turn that has to wait is kept this much later, so the token is there when it arrives.
LATE = 0.2


class Pacer:
    """One action family's token bucket, kept on the client side; thread-safe."""

    def __init__(self, rate: Rate, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self._clock = clock
        self._lock = threading.Lock()
        self._tokens = rate.capacity
        self._since = clock()

    def turn(self) -> float:
        """Take the next request's turn: the seconds to wait before sending it (0 while the
        burst lasts). Turns are handed out in the order they are asked for."""
        with self._lock:
            now = self._clock()
            self._tokens = min(
                self.rate.capacity, self._tokens + (now - self._since) * self.rate.refill
            )
            self._since = now
            self._tokens -= 1.0
            if self._tokens >= 0.0:
                return 0.0
            return -self._tokens / self.rate.refill + LATE
