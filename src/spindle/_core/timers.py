"""The timer queue: handles ordered by deadline.

A binary heap of ``(when, sequence, handle)`` tuples.  Tuples compare in C, so a heap step
never calls back into Python (asyncio's heap compares ``TimerHandle`` objects through a
Python ``__lt__``).  The sequence number is unique and increasing, which makes the order
total and *defines* what asyncio leaves open: timers with equal deadlines fire in the order
they were scheduled.

Cancelled timers are not searched for and removed (that would be O(n)); they stay in the
heap, marked, and are dropped when they reach the top.  Programs that set many timeouts
which never fire (the common case: most timeouts are cancelled) would grow the heap without
bound, so when cancelled entries make up most of it, the heap is rebuilt without them.
The queue knows nothing of the loop: the loop hands it the current time and the place to
put timers that are due.
"""

from __future__ import annotations

import heapq
from collections import deque
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from spindle._core.handles import Handle, TimerHandle

__all__ = ["TimerQueue", "refuse_nan", "should_purge"]

# Rebuild the heap only when it holds at least this many cancelled timers ...
PURGE_MIN_CANCELLED = 100
# ... and they are more than this fraction of all its entries.
PURGE_MIN_FRACTION = 0.5


def refuse_nan(value: float, what: str) -> None:
    """ValueError naming ``what`` when ``value`` is NaN.

    No deadline can be NaN: it compares false with every time, so such a timer would never
    come due yet always be the next one, and the loop would spin on it.  (Infinity is fine:
    a timer that never fires.)  ``value != value`` is the cheap test: only NaN fails it.
    """
    if value != value:
        raise ValueError(f"{what} is NaN (not a number)")


def should_purge(cancelled: int, total: int) -> bool:
    """Whether rebuilding a heap of ``total`` entries, ``cancelled`` of them dead, pays off."""
    return cancelled >= PURGE_MIN_CANCELLED and cancelled > total * PURGE_MIN_FRACTION


class TimerQueue:
    """Timer handles by deadline; equal deadlines in scheduling order."""

    __slots__ = ("_cancelled", "_heap", "_sequence")

    def __init__(self) -> None:
        # Never replaced, only changed in place: the loop keeps a reference to test it for
        # emptiness without a method call on every pass.
        self._heap: list[tuple[float, int, TimerHandle]] = []
        self._sequence = 0
        self._cancelled = 0

    def __len__(self) -> int:
        """Entries in the heap, cancelled ones included."""
        return len(self._heap)

    @property
    def entries(self) -> list[tuple[float, int, TimerHandle]]:
        """The heap itself (the same list for the queue's whole life); read-only for callers."""
        return self._heap

    @property
    def cancelled_count(self) -> int:
        return self._cancelled

    def push(self, timer: TimerHandle) -> None:
        self._sequence += 1
        heapq.heappush(self._heap, (timer._when, self._sequence, timer))
        timer._scheduled = True

    def note_cancelled(self) -> None:
        """A timer that is still in the heap was cancelled."""
        self._cancelled += 1

    def purge_if_worthwhile(self) -> None:
        if should_purge(self._cancelled, len(self._heap)):
            live = [entry for entry in self._heap if not entry[2]._cancelled]
            for entry in self._heap:
                if entry[2]._cancelled:
                    entry[2]._scheduled = False
            heapq.heapify(live)
            self._heap[:] = live
            self._cancelled = 0

    def next_deadline(self) -> float | None:
        """The earliest live deadline, or None; drops cancelled timers from the top."""
        heap = self._heap
        while heap:
            when, _, timer = heap[0]
            if not timer._cancelled:
                return when
            heapq.heappop(heap)
            timer._scheduled = False
            self._cancelled -= 1
        return None

    def pop_due(self, end: float, ready: deque[Handle]) -> None:
        """Move every live timer due at or before ``end`` to ``ready``, in order."""
        heap = self._heap
        heappop = heapq.heappop
        while heap and heap[0][0] <= end:
            timer = heappop(heap)[2]
            timer._scheduled = False
            if timer._cancelled:
                self._cancelled -= 1
            else:
                ready.append(timer)

    def clear(self) -> None:
        for entry in self._heap:
            entry[2]._scheduled = False
        self._heap.clear()
        self._cancelled = 0
