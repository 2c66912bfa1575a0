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

__all__ = ["Clock", "MonotonicClock"]


class Clock(Protocol):
    """What the loop needs from a clock."""

    def time(self) -> float:
        """The current time in seconds, on a clock that never goes backwards."""
        ...

    def timeout_until(self, deadline: float) -> float:
        """How many seconds the loop may block waiting for ``deadline`` (never negative)."""
        ...


class MonotonicClock:
    """The real clock: ``time.monotonic``.

    The loop reads ``time.monotonic`` itself when its clock is this one (``loop.time()`` is on
    the hot path), so this method is for other readers of the clock.
    """

    def time(self) -> float:
        return time.monotonic()

    def timeout_until(self, deadline: float) -> float:
        remaining = deadline - time.monotonic()
        return remaining if remaining > 0.0 else 0.0

    def __repr__(self) -> str:
        return "<MonotonicClock>"
