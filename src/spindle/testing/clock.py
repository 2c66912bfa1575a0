"""A virtual clock: time that passes only when the loop has nothing else to do.

Give it to a loop (``EventLoop(clock=VirtualClock())``) and ``loop.time()`` starts at 0.0.
Whenever the loop would block waiting for its next timer, the clock *jumps* to that timer's
deadline instead, and the loop carries on at once.  A program that sleeps for an hour runs in
microseconds, and the times it observes are exact: "hello" at 1.0, "world" at 2.0.

Only timers move it.  A loop waiting for a thread or a socket with a timer pending would jump
past the timer without waiting for the thread, so use the real clock for those tests.
"""

from __future__ import annotations

import math

__all__ = ["VirtualClock"]


class VirtualClock:
    """Loop time that jumps to the next deadline whenever the loop would wait."""

    def __init__(self, start: float = 0.0) -> None:
        if not math.isfinite(start):
            raise ValueError(f"a clock must start at a finite time, not {start!r}")
        self._now = float(start)

    def time(self) -> float:
        return self._now

    def timeout_until(self, deadline: float) -> float:
        if deadline > self._now:
            self._now = deadline
        return 0.0

    def advance(self, seconds: float) -> None:
        """Move time forward by hand (timers now due run on the loop's next pass)."""
        if seconds < 0:
            raise ValueError(f"a clock cannot go backwards: advance({seconds!r})")
        if not math.isfinite(seconds):
            raise ValueError(f"a clock can only advance by a finite time: advance({seconds!r})")
        self._now += seconds

    def __repr__(self) -> str:
        return f"<VirtualClock at {self._now:.6f}>"
