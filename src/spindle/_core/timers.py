"""The timer queue: handles ordered by deadline.

A binary heap of timer handles, ordered by ``(deadline, sequence)``.  The sequence number is
unique and increasing, which makes the order total and *defines* what asyncio leaves open:
timers with equal deadlines fire in the order they were scheduled.

The heap is written two ways, one per build (see ``build``).  Compiled, ``TimerQueue`` sifts
the handles itself: comparing two native floats is a machine instruction.  Interpreted, that
sifting would be Python code on every step, so the pure build uses ``TupleTimerQueue``: a heap
of ``(deadline, sequence, handle)`` tuples kept by the C ``heapq`` module, which compares them
without calling back into Python (asyncio's heap compares ``TimerHandle`` objects through a
Python ``__lt__``).  ``tests/core/test_timers.py`` runs every test on both.

Cancelled timers are not searched for and removed (that would be O(n)); they stay in the
heap, marked, and are dropped when they reach the top.  Programs that set many timeouts
which never fire (the common case: most timeouts are cancelled) would grow the heap without
bound, so when cancelled entries make up most of it, the heap is rebuilt without them.
The queue knows nothing of the loop: the loop hands it the current time and the function that
puts a due timer in its ready queue.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from typing import Any, Final

from spindle._core.build import COMPILED
from spindle._core.handles import Handle, TimerHandle
from spindle._core.native import mypyc_attr

__all__ = [
    "TimerQueue",
    "TupleTimerQueue",
    "new_timer_queue",
    "refuse_nan",
    "should_purge",
]

# Rebuild the heap only when it holds at least this many cancelled timers ...
PURGE_MIN_CANCELLED: Final = 100
# ... and they are more than this fraction of all its entries.
PURGE_MIN_FRACTION: Final = 0.5


def refuse_nan(value: object, what: str) -> None:
    """ValueError naming ``what`` when ``value`` is NaN.

    No deadline can be NaN: it compares false with every time, so such a timer would never
    come due yet always be the next one, and the loop would spin on it.  (Infinity is fine:
    a timer that never fires.)  ``value != value`` is the cheap test: only NaN fails it.
    ``value`` is any object, not only a float: callers check the value before its type, and
    a value of the wrong type is left to fail where asyncio's would (``Queue("1")`` only at
    its first put).
    """
    if value != value:
        raise ValueError(f"{what} is NaN (not a number)")


def should_purge(cancelled: int, total: int) -> bool:
    """Whether rebuilding a heap of ``total`` entries, ``cancelled`` of them dead, pays off."""
    return cancelled >= PURGE_MIN_CANCELLED and cancelled > total * PURGE_MIN_FRACTION


def _before(a: TimerHandle, b: TimerHandle) -> bool:
    """Whether ``a`` is due before ``b``: earlier deadline, or the same one scheduled first."""
    return a._deadline < b._deadline or (a._deadline == b._deadline and a._seq < b._seq)


@mypyc_attr(allow_interpreted_subclasses=True)
class TimerQueue:
    """Timer handles by deadline; equal deadlines in scheduling order."""

    __slots__ = ("_cancelled", "_heap", "_sequence")

    def __init__(self) -> None:
        # Never replaced, only changed in place: the loop keeps a reference to test it for
        # emptiness without a method call on every pass.
        self._heap: list[Any] = []
        self._sequence = 0
        self._cancelled = 0

    def __len__(self) -> int:
        """Entries in the heap, cancelled ones included."""
        return len(self._heap)

    @property
    def entries(self) -> list[Any]:
        """The heap itself (the same list for the queue's whole life); read-only for callers."""
        return self._heap

    @property
    def cancelled_count(self) -> int:
        return self._cancelled

    def note_cancelled(self) -> None:
        """A timer that is still in the heap was cancelled."""
        self._cancelled += 1

    def handles(self) -> list[TimerHandle]:
        """The live timers, in no particular order (for diagnostics)."""
        return [timer for timer in self._heap if not timer._cancelled]

    def push(self, timer: TimerHandle) -> None:
        self._sequence += 1
        timer._seq = self._sequence
        timer._scheduled = True
        heap = self._heap
        heap.append(timer)
        self._sift_up(len(heap) - 1)

    def purge_if_worthwhile(self) -> None:
        heap = self._heap
        if should_purge(self._cancelled, len(heap)):
            live = []
            for timer in heap:
                if timer._cancelled:
                    timer._scheduled = False
                else:
                    live.append(timer)
            heap[:] = live
            for position in range(len(heap) // 2 - 1, -1, -1):
                self._sift_down(position)
            self._cancelled = 0

    def next_deadline(self) -> float | None:
        """The earliest live deadline, or None; drops cancelled timers from the top."""
        heap = self._heap
        while heap:
            timer: TimerHandle = heap[0]
            if not timer._cancelled:
                return timer._deadline
            self._pop()
            timer._scheduled = False
            self._cancelled -= 1
        return None

    def pop_due(self, end: float, put: Callable[[Handle], None]) -> None:
        """Hand every live timer due at or before ``end`` to ``put``, in order.

        ``put`` is the ready queue's ``append``, bound once by the loop: compiled, a call of
        ``ready.append`` would look the method up by name for every timer.
        """
        heap = self._heap
        while heap:
            timer: TimerHandle = heap[0]
            if timer._deadline > end:
                break
            self._pop()
            timer._scheduled = False
            if timer._cancelled:
                self._cancelled -= 1
            else:
                put(timer)

    def clear(self) -> None:
        for timer in self._heap:
            timer._scheduled = False
        self._heap.clear()
        self._cancelled = 0

    # -- the heap: the textbook sift-up and sift-down, on (deadline, sequence) ----------------

    def _pop(self) -> None:
        """Remove the top of the heap."""
        heap = self._heap
        last: TimerHandle = heap.pop()
        if heap:
            heap[0] = last
            self._sift_down(0)

    def _sift_up(self, position: int) -> None:
        heap = self._heap
        timer: TimerHandle = heap[position]
        while position > 0:
            parent_position = (position - 1) >> 1
            parent: TimerHandle = heap[parent_position]
            if not _before(timer, parent):
                break
            heap[position] = parent
            position = parent_position
        heap[position] = timer

    def _sift_down(self, position: int) -> None:
        heap = self._heap
        size = len(heap)
        timer: TimerHandle = heap[position]
        while True:
            child_position = 2 * position + 1
            if child_position >= size:
                break
            child: TimerHandle = heap[child_position]
            right_position = child_position + 1
            if right_position < size:
                right: TimerHandle = heap[right_position]
                if _before(right, child):
                    child, child_position = right, right_position
            if not _before(child, timer):
                break
            heap[position] = child
            position = child_position
        heap[position] = timer


class TupleTimerQueue(TimerQueue):
    """``TimerQueue`` for the pure build: ``(deadline, sequence, handle)`` tuples kept by
    ``heapq``, which compares them in C (see the module docstring)."""

    __slots__ = ()

    def handles(self) -> list[TimerHandle]:
        return [entry[2] for entry in self._heap if not entry[2]._cancelled]

    def push(self, timer: TimerHandle) -> None:
        self._sequence += 1
        timer._seq = self._sequence
        heapq.heappush(self._heap, (timer._deadline, self._sequence, timer))
        timer._scheduled = True

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
        heap = self._heap
        while heap:
            when, _, timer = heap[0]
            if not timer._cancelled:
                return float(when)
            heapq.heappop(heap)
            timer._scheduled = False
            self._cancelled -= 1
        return None

    def pop_due(self, end: float, put: Callable[[Handle], None]) -> None:
        heap = self._heap
        heappop = heapq.heappop
        while heap and heap[0][0] <= end:
            timer = heappop(heap)[2]
            timer._scheduled = False
            if timer._cancelled:
                self._cancelled -= 1
            else:
                put(timer)

    def clear(self) -> None:
        for entry in self._heap:
            entry[2]._scheduled = False
        self._heap.clear()
        self._cancelled = 0


def new_timer_queue() -> TimerQueue:
    """The timer queue for this build (see the module docstring)."""
    return TimerQueue() if COMPILED else TupleTimerQueue()
