"""Where the loop gets its time from.

The loop never calls ``time.monotonic()`` itself; it asks a clock.  Two questions are asked:
``time()`` (what time is it now) and ``timeout_until(deadline)`` (how long may the loop block in
its poll waiting for that deadline).  The real clock answers the second with the plain
difference.  A virtual clock (``spindle.testing.VirtualClock``) instead *jumps* to the deadline
and answers zero, so a program that sleeps for an hour runs in microseconds, and a test can
assert that "world" was printed at exactly 2.0 seconds.
"""

from __future__ import annotations

import time
from typing import Protocol

__all__ = ["MAX_WAIT", "Clock", "MonotonicClock"]

# The longest the loop blocks in one poll (a day, as asyncio): the poller cannot take any
# number of seconds, and a loop that wakes once a day for nothing costs nothing.
MAX_WAIT = 24 * 3600.0


class Clock(Protocol):
    """What the loop needs from a clock."""

    def time(self) -> float:
        """The current time in seconds, on a clock that never goes backwards."""
        ...

    def timeout_until(self, deadline: float) -> float:
        """How many seconds the loop may block waiting for ``deadline`` (never negative)."""
        ...


class MonotonicClock:
    """The real clock: ``time.monotonic``."""

    # The builtin itself, not a wrapper: loop.time() is on the hot path.
    time = staticmethod(time.monotonic)

    def timeout_until(self, deadline: float) -> float:
        remaining = deadline - time.monotonic()
        if remaining > MAX_WAIT:
            return MAX_WAIT  # a far deadline: wake up and ask again (the poll has a range)
        return remaining if remaining > 0.0 else 0.0

    def __repr__(self) -> str:
        return "<MonotonicClock>"
