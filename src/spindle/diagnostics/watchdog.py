"""The blocking watchdog: who held the event loop too long, and at which line.

An event loop only works if every callback and task step returns quickly; one ``time.sleep(10)``
in a coroutine stops every other task for ten seconds, silently.  The watchdog makes that loud:

    spindle: main() blocked the event loop for 10.0 s at test.py:25: time.sleep(10)

It costs the loop nothing beyond the counter the loop already keeps (``loop._pass_count``, +1
per scheduling pass): a separate thread does all the work.  It wakes every ``threshold / 2``,
reads the counter, and reads the loop thread's stack (``sys._current_frames()``, microseconds):

* no user code on the stack (``frames.read_activity`` is None): the loop is idle in its poll,
  waiting for a timer or I/O, or busy with itself.  A stuck counter alone cannot tell idling
  from blocking, which is why the stack is read at every wake-up and not only once the counter
  has been stuck for ``threshold``;
* user code: a step is running.  The thread notes when it first saw that step (by its entry
  frame: the task's coroutine or the callback) and the lines it was seen at.

A step has ended when a later wake-up finds the counter moved (a new pass: even the same task
is then taking a new step), the loop idle, or another step running.  If it ran at least
``threshold``, it is reported through the ``logging`` logger ``"spindle"``.

Times are known to half a wake-up interval: a step's start and end are each taken as the middle
of the two wake-ups around them.  Reports are therefore printed to a tenth of a second.

What the watchdog cannot see: a callback that is a C function with no Python frame of its own
(``loop.call_soon(time.sleep, 10)``) leaves only the loop's frames on the stack, which look
like the loop busy with itself.  Blocking code written in Python (a coroutine, a function) is
always seen, down to the line.

A step that blocks until the loop stops (``main()`` itself sleeping, then returning) ends with
no later wake-up to see it end; the runner calls ``flush()`` when the loop returns, and that
reports it.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import sys
import threading
import time
import types
import weakref
from collections.abc import Callable
from typing import Protocol

from spindle.diagnostics.frames import Location, LoopActivity, call_name, read_activity

__all__ = ["Blocked", "ObservableLoop", "Watchdog", "format_blocked"]

logger = logging.getLogger("spindle")


class ObservableLoop(Protocol):
    """What the watchdog reads from a loop (spindle's loop provides it; asyncio's does not)."""

    _pass_count: int
    _thread_id: int | None
    _track_task_origins: bool


@dataclasses.dataclass(frozen=True)
class Blocked:
    """One step that held the loop too long."""

    what: str  # "main()" or "callback on_timer()"
    seconds: float
    location: Location


def format_blocked(blocked: Blocked) -> str:
    return (
        f"spindle: {blocked.what} blocked the event loop for {blocked.seconds:.1f} s "
        f"at {blocked.location.describe()}"
    )


class _Step:
    """A step seen running user code, from its first sighting to its end."""

    def __init__(self, activity: LoopActivity, started: float) -> None:
        # Kept only to recognise the step at the next wake-up; dropped when the step ends.
        self.entry: types.FrameType | None = activity.entry
        name = call_name(activity.entry.f_code.co_qualname)
        self.what = name if activity.is_task_step else f"callback {name}"
        self.started = started
        self.locations: collections.Counter[Location] = collections.Counter()

    def is_running(self, activity: LoopActivity | None) -> bool:
        return activity is not None and activity.entry is self.entry

    def end(self, ended: float) -> Blocked:
        self.entry = None
        # The line seen most often; on a tie, the latest (a Counter keeps insertion order).
        location = max(reversed(self.locations), key=self.locations.__getitem__)
        return Blocked(self.what, ended - self.started, location)


class Watchdog:
    """A thread that reports loop steps running longer than ``threshold`` seconds."""

    def __init__(
        self,
        loop: ObservableLoop,
        threshold: float,
        report: Callable[[Blocked], None] | None = None,
    ) -> None:
        # Weak, so that a runner dropped without close() does not keep its loop (and this
        # thread) alive for ever: the thread ends when the loop is gone.
        self._loop = weakref.ref(loop)
        self._threshold = threshold
        self._report = report or _log_blocked
        self._lock = threading.Lock()  # the thread and flush() both end steps
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="spindle-watchdog", daemon=True)
        self._count = loop._pass_count
        self._last_wake = time.monotonic()
        self._step: _Step | None = None

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop and join the thread (idempotent).

        A step still open is dropped: the runner flushed main's when the loop stopped, and one
        seen since (the runner's shutdown) has no known end.
        """
        self._stopping.set()
        # Not from the thread itself: a loop that closes itself when collected (a loop that
        # calls the hooks, see spindle.patch) can be collected on this thread, which holds it
        # while it looks.  The thread is on its way out then anyway.
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join()
        with self._lock:
            self._step = None

    def flush(self) -> None:
        """The loop has stopped: a step still open ended just now."""
        with self._lock:
            blocked = self._end_step(time.monotonic())
        self._emit(blocked)

    def _watch(self) -> None:
        while not self._stopping.wait(self._threshold / 2):
            loop = self._loop()
            if loop is None:
                return
            self._wake(loop)
            del loop

    def _wake(self, loop: ObservableLoop) -> None:
        """One look at the loop: end the step that is over, follow the one that runs."""
        now = time.monotonic()
        count, thread_id = loop._pass_count, loop._thread_id
        innermost = None if thread_id is None else sys._current_frames().get(thread_id)
        activity = read_activity(innermost)
        del innermost
        with self._lock:
            if loop._pass_count != count or loop._thread_id is None:
                # The loop moved on while the stack was read (and flush() may already have
                # ended that step): what was read is stale.
                activity = None
            # Whatever changed since the last wake-up happened between the two: say midway.
            between = (self._last_wake + now) / 2
            self._last_wake = now
            blocked = None
            step = self._step
            if step is not None and (count != self._count or not step.is_running(activity)):
                blocked = self._end_step(between)
            self._count = count
            if activity is not None:
                if self._step is None:
                    self._step = _Step(activity, started=between)
                self._step.locations[activity.location] += 1
        self._emit(blocked)

    def _end_step(self, ended: float) -> Blocked | None:
        step, self._step = self._step, None
        if step is None:
            return None
        blocked = step.end(ended)
        return blocked if blocked.seconds >= self._threshold else None

    def _emit(self, blocked: Blocked | None) -> None:
        if blocked is not None:
            self._report(blocked)


def _log_blocked(blocked: Blocked) -> None:
    logger.warning("%s", format_blocked(blocked))
