"""The blocking watchdog: who holds the event loop, told while they hold it.

An event loop only works if every callback and task step returns quickly; one ``time.sleep(10)``
in a coroutine stops every other task for ten seconds, silently.  The watchdog makes that loud,
while it happens: past the threshold it names the step, its task and the tasks waiting for it,
and the stack of the loop's thread; it says so again with backoff (1 s, 2 s, 4 s ... at most
once a minute) for as long as the step lasts, and once more, with the total, when it ends.
The texts are in ``blocking``.

**How it sees.**  The loop records the handle it runs (``loop._running``, one attribute store
per callback, see ``spindle._core.instruments``) next to its pass counter.  A thread of the
watchdog's wakes ``WAKES_PER_THRESHOLD`` times a threshold and reads the two: a step is one
handle run in one pass, so the pair (handle, pass) names it.  Seen at wake-ups a threshold
apart, it has run at least that long; a step's start and end are each taken as the middle of
the two wake-ups around them, so a step is reported at most a threshold and a wake-up interval
after it began, and its start is known to half an interval.  Once it has been reported the
thread wakes every ``REPORTED_WAKE`` seconds, so that its end, and the total of the last line,
are known closely: a ``time.sleep(10)`` is told as 10.0 s, not 9.9.  That last line is held
back ``LAST_LINE_DELAY`` seconds after the end is seen: what the program prints as it carries
on, a moment after the step, comes first, and not in the middle of one of its lines (a
``print`` with unbuffered output is two writes).  (Each wake-up takes the
GIL from the loop for a moment: four a threshold cost nothing measurable, see
``python -m bench --only create_task --impl spindle --impl spindle-diag`` with
``SPINDLE_BLOCK_THRESHOLD`` at 0.1 and 0.025; the fast wake-ups only come while the loop is
blocked anyway.)  Only once a step has run past the threshold does the watchdog read the loop
thread's stack (``stacks``): the rest of the time it reads two attributes and goes back to
sleep.  Nothing here reads the loop's own frames, so it works the same when the loop is
compiled and has none.

**Blocking in C.**  A step stuck in a C function that releases the GIL (``time.sleep``, a
blocking ``recv``, ``zlib`` or ``hashlib`` on a large buffer) is seen as any other, at the line
that called it.  One that holds the GIL (a regular expression that backtracks, arithmetic on a
huge int, many C extensions) stops every Python thread, the watchdog's too.  For that case the
watchdog keeps ``faulthandler.dump_traceback_later`` armed, re-arming it as long as it runs
(``SPINDLE_FAULTHANDLER``): if the watchdog cannot run for ``faulthandler_after`` seconds,
faulthandler's own thread, which needs no GIL, prints every thread's stack to stderr.  When the
watchdog runs again it explains what happened (``blocking.format_starved``), telling a C call
that held the GIL (the process used a CPU all along) from a process that was stopped or waited
for a CPU on a loaded machine (it used little), by the process's CPU time between wake-ups.

**Ctrl-C.**  Under spindle's runner (and asyncio's, in ``python -m spindle``) the first Ctrl-C
cancels the main task, which a step that never awaits does not notice.  The runner tells the
watchdog (``interrupted()``), which, on the loop's thread, prints the full report of a step that
has run past the threshold.

A step still running when the loop stops (``main()`` sleeping, then returning) has no later
wake-up to see it end; the runner calls ``flush()`` when the loop returns.

**Forks.**  The thread stops just before the process forks and starts again just after, in
the parent (``helper_threads`` says why); the time in between is not taken for starvation.
"""

from __future__ import annotations

import contextlib
import dataclasses
import faulthandler
import os
import sys
import threading
import time
import weakref
from collections.abc import Callable

from spindle._core.scheduler import Scheduler
from spindle._core.tasks import callback_of
from spindle.diagnostics.awaits import format_awaited_by
from spindle.diagnostics.blocking import (
    Blocked,
    LiveReport,
    format_blocked,
    format_live,
    format_starved,
    next_report_at,
)
from spindle.diagnostics.frames import Location
from spindle.diagnostics.helper_threads import (
    HelperThread,
    system_threads,
    until_one_ends,
    while_stopped_at_fork,
)
from spindle.diagnostics.log import logger
from spindle.diagnostics.stacks import describe_step, format_frames, read_step, task_label

__all__ = [
    "LAST_LINE_DELAY",
    "REPORTED_WAKE",
    "WAKES_PER_THRESHOLD",
    "Watchdog",
    "faulthandler_delay",
]

WAKES_PER_THRESHOLD = 4  # the thread's wake-ups in one threshold, while nothing is reported
REPORTED_WAKE = 0.005  # seconds between wake-ups while a reported step runs: its end, to 2.5 ms
LAST_LINE_DELAY = 0.05  # seconds between seeing a reported step's end and telling its last line


@dataclasses.dataclass
class _Step:
    """A step seen running, from its first sighting to its end."""

    # The ready-queue entry that runs it (a Handle, or a task queued as itself), kept to
    # recognise the step at the next wake-up; dropped when it ends.
    handle: object
    count: int  # the pass it runs in
    what: str
    started: float  # time.monotonic(), estimated
    first_seen: float  # time.monotonic() at the first wake-up that found it running
    next_report: float  # seconds into the step
    reported: bool = False
    location: Location | None = None  # where it was at the last report


class _FaultHandlerArm:
    """Keeps ``faulthandler.dump_traceback_later`` armed while some watchdog runs.

    faulthandler has one timer per process: the watchdogs of all loops share it, and the last
    one to stop cancels it.

    The timer is a thread, and ``os.fork()`` copies only the thread that forks: a child that
    inherits an armed timer hangs in its first ``dump_traceback_later`` (faulthandler waits for
    the old timer thread to acknowledge, and it is not there).  So the timer is disarmed just
    before a fork, once the watchdogs have stopped (one in its last round may arm it), and
    armed again afterwards in the parent; the child starts with none.
    """

    _users = 0
    _lock = threading.Lock()
    _last_after = 0.0  # the delay last armed, to arm the timer again after a fork
    # When the armed timer fires (time.monotonic()); 0.0: not armed (its thread is not there).
    _fires_at = 0.0
    # The system thread(s) that appeared when the timer was last armed: faulthandler starts a
    # new thread at every arm, and a fork waits for that one to end.  (Usually one id; two if
    # another thread started at the same instant.  Empty where the system does not say.)
    _timer_threads: frozenset[int] = frozenset()

    def __init__(self, after: float) -> None:
        self.after = after
        self._armed_at = -float("inf")

    def start(self) -> None:
        with _FaultHandlerArm._lock:
            _FaultHandlerArm._users += 1
        self.keep_alive(time.monotonic())

    def keep_alive(self, now: float) -> None:
        """Push the deadline back (cheaply: every quarter of it, not at every wake-up)."""
        if now - self._armed_at < self.after / 4:
            return
        self._armed_at = now
        _FaultHandlerArm._arm(self.after)

    @staticmethod
    def _arm(after: float) -> None:
        """(Re)start the process's timer: a dump to stderr in ``after`` seconds."""
        stream = sys.__stderr__
        if stream is None:
            return
        # Under the lock: two loops' watchdogs re-arming at once would each note the threads
        # that appeared while either armed, and the noted one could be the timer the other
        # arm cancelled.
        with _FaultHandlerArm._lock:
            _FaultHandlerArm._last_after = after
            # No usable stderr: nothing to print to.
            with contextlib.suppress(ValueError, OSError, RuntimeError):
                before = system_threads()
                faulthandler.dump_traceback_later(after, repeat=False, file=stream)
                _FaultHandlerArm._timer_threads = frozenset(system_threads() - before)
                _FaultHandlerArm._fires_at = time.monotonic() + after

    @staticmethod
    def _before_fork() -> None:
        if _FaultHandlerArm._users > 0:
            # The timer's thread acknowledges the cancel a moment before it ends: 3.12's
            # fork() warning, which counts system threads, would still count it.  (Not armed,
            # or fired already: there is no thread to wait for.)  The thread waited for is the
            # one this arm started, not any of the process's: the timer an arm replaced may
            # still be ending too, and its end says nothing of the new one's.
            with _FaultHandlerArm._lock:
                running = _FaultHandlerArm._fires_at > time.monotonic()
                threads = set(_FaultHandlerArm._timer_threads) if running else set()
                _FaultHandlerArm._cancel()
            if threads:
                until_one_ends(threads)

    @staticmethod
    def _after_fork_in_parent() -> None:
        if _FaultHandlerArm._users > 0:
            _FaultHandlerArm._arm(_FaultHandlerArm._last_after)

    @staticmethod
    def _after_fork_in_child() -> None:
        # The parent's watchdog threads did not come along: nobody uses the timer here yet.
        _FaultHandlerArm._users = 0
        _FaultHandlerArm._fires_at = 0.0
        _FaultHandlerArm._timer_threads = frozenset()
        _FaultHandlerArm._lock = threading.Lock()

    def stop(self) -> None:
        with _FaultHandlerArm._lock:
            if _FaultHandlerArm._users == 0:
                return  # armed in the parent of this forked process: not this process's timer
            _FaultHandlerArm._users -= 1
            if _FaultHandlerArm._users == 0:
                _FaultHandlerArm._cancel()

    @staticmethod
    def _cancel() -> None:
        faulthandler.cancel_dump_traceback_later()
        _FaultHandlerArm._fires_at = 0.0
        _FaultHandlerArm._timer_threads = frozenset()


# After the watchdogs have stopped for the fork: one in its last round may arm the timer.
while_stopped_at_fork(_FaultHandlerArm._before_fork, _FaultHandlerArm._after_fork_in_parent)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_FaultHandlerArm._after_fork_in_child)


class Watchdog:
    """A thread that reports loop steps running longer than ``threshold`` seconds."""

    def __init__(
        self,
        loop: Scheduler,
        threshold: float,
        report: Callable[[str], None] | None = None,
        *,
        faulthandler_after: float | None = None,
    ) -> None:
        # Weak, so that a runner dropped without close() does not keep its loop (and this
        # thread) alive for ever: the thread ends when the loop is gone.
        self._loop = weakref.ref(loop)
        self._threshold = threshold
        self._interval = threshold / WAKES_PER_THRESHOLD
        self._report = report or _log
        # The thread, flush() and interrupted() (a signal handler on the loop's thread, which
        # may interrupt flush) all touch the step, and tell their reports holding it, so that
        # they come out in order: re-entrant.
        self._lock = threading.RLock()
        self._stopped = False
        # Set to end the thread's wait at once: to stop, or to step aside for a fork
        # (``helper_threads``), after which the thread starts again and it is cleared.
        self._interrupt = threading.Event()
        self._thread = HelperThread(
            "spindle-watchdog", self._watch, self._interrupt.set, self._after_fork
        )
        self._last_wake = time.monotonic()
        self._last_cpu = time.process_time()  # the process's CPU time at that wake-up
        self._step: _Step | None = None
        # A step's last line, held back until the time beside it (see _wake, LAST_LINE_DELAY).
        self._last_line: tuple[str, float] | None = None
        self._fault = None if faulthandler_after is None else _FaultHandlerArm(faulthandler_after)

    def start(self) -> None:
        self._restart_clock()
        if self._fault is not None:
            self._fault.start()
        self._thread.start()

    def stop(self) -> None:
        """Stop and join the thread (idempotent).

        A step still open is dropped: the runner flushed main's when the loop stopped, and one
        seen since (the runner's shutdown) has no known end.
        """
        if self._stopped:
            return
        self._stopped = True
        # Joined, except from the thread itself: a loop that closes itself when collected (a
        # loop that calls the hooks, see spindle.patch) can be collected on this thread, which
        # holds it while it looks.  The thread is on its way out then anyway.
        self._thread.stop()
        self._release_faulthandler()
        with self._lock:
            self._emit(self._take_last_line())
            self._step = None

    def _release_faulthandler(self) -> None:
        """Give back this watchdog's share of faulthandler's timer (once)."""
        with self._lock:
            fault, self._fault = self._fault, None
        if fault is not None:
            fault.stop()

    def flush(self) -> None:
        """The loop has stopped: a step still open ended just now.

        A step that held the GIL the whole time was never seen by the thread, which may not
        get to run before the runner stops it: one last look here says so.
        """
        loop = self._loop()
        if loop is not None:
            self._wake(loop, time.monotonic(), final=True)
        with self._lock:
            self._emit(self._take_last_line())
            self._emit(self._end_step(time.monotonic()))

    def interrupted(self) -> None:
        """Ctrl-C arrived (we are in the signal handler, on the loop's thread)."""
        loop = self._loop()
        if loop is None:
            return
        handle, count = loop._running, loop._pass_count
        with self._lock:
            step = self._step
            if handle is None or step is None or step.handle is not handle or step.count != count:
                return  # idle, or a step too young to have been seen: nothing blocks
            seconds = time.monotonic() - step.started
            if seconds < self._threshold:
                return
            self._emit(self._take_last_line())
            self._emit(self._live(loop, step, seconds, interrupted=True))

    # -- the thread ------------------------------------------------------------------------

    def _watch(self) -> None:
        while not self._interrupt.wait(self._next_wait()):
            loop = self._loop()
            if loop is None:
                # The loop was dropped without closing: nothing left to watch, and
                # faulthandler's timer must not stay armed for it.
                self._release_faulthandler()
                return
            self._wake(loop, time.monotonic())
            del loop

    def _after_fork(self) -> None:
        """(In the parent, before the thread starts again.)  The fork's pause is no starvation."""
        self._interrupt.clear()
        self._restart_clock()

    def _restart_clock(self) -> None:
        """Count the time to the next wake-up (and the CPU used meanwhile) from now."""
        with self._lock:
            self._last_wake = time.monotonic()
            self._last_cpu = time.process_time()

    def _next_wait(self) -> float:
        """Seconds to the next wake-up: sooner while a reported step runs, to see it end."""
        step = self._step
        if self._last_line is not None or (step is not None and step.reported):
            return min(self._interval, REPORTED_WAKE)
        return self._interval

    def _wake(self, loop: Scheduler, now: float, *, final: bool = False) -> None:
        """One look at the loop: end the step that is over, follow (and report) the running one.

        ``final``: the loop has stopped (``flush``), the step that ran is still recorded.
        """
        fault = self._fault
        if fault is not None and not final:
            fault.keep_alive(now)
        handle, count = loop._running, loop._pass_count
        if loop._running is not handle:
            return  # it moved on while we read: look again at the next wake-up
        messages: list[str | None] = []
        with self._lock:
            gap = now - self._last_wake
            between = (self._last_wake + now) / 2
            self._last_wake = now
            cpu = time.process_time()
            cpu_used, self._last_cpu = cpu - self._last_cpu, cpu
            step = self._step
            starved = self._starved(gap)
            if starved:
                messages.append(self._starved_report(step, handle, gap, cpu_used, now))
            if step is not None and (step.handle is not handle or step.count != count):
                last_line = self._end_step(now if starved or final else between)
                if starved or final:
                    messages.append(last_line)
                elif last_line is not None:
                    self._last_line = (last_line, now + LAST_LINE_DELAY)
            if handle is not None and self._step is None:
                what, _ = describe_step(callback_of(handle))
                self._step = _Step(handle, count, what, between, now, next_report=self._threshold)
            step = self._step
            # Due, or seen at wake-ups a threshold apart: then it has run at least that long.
            if step is not None and (
                now - step.started >= step.next_report
                or (now - step.first_seen >= self._threshold and not step.reported)
            ):
                messages.append(self._live(loop, step, max(now - step.started, self._threshold)))
            # A held last line goes first: before anything said after it, and once it is due.
            held = self._last_line
            if held is not None and (now >= held[1] or any(messages)):
                messages.insert(0, self._take_last_line())
            # Told under the lock: a step's last line, from flush() on the loop's thread, must
            # not overtake the thread's report of it, made here a moment before.
            for message in messages:
                self._emit(message)

    def _starved(self, gap: float) -> bool:
        """The watchdog could not run for a long time: the GIL was held, or the process not run."""
        return self._fault is not None and gap >= self._fault.after

    def _starved_report(
        self, step: _Step | None, running: object, gap: float, cpu_used: float, now: float
    ) -> str:
        last_seen = None
        if step is not None:
            last_seen = Blocked(step.what, now - step.started, step.location)
        elif running is not None:  # it started between two wake-ups; faulthandler said where
            last_seen = Blocked(describe_step(callback_of(running))[0], gap, None)
        after = None if self._fault is None else self._fault.after
        return format_starved(gap, cpu_used, last_seen, after)

    def _live(
        self, loop: Scheduler, step: _Step, seconds: float, *, interrupted: bool = False
    ) -> str:
        """Read the step's stack and make its report (the caller holds the lock)."""
        innermost = sys._current_frames().get(loop._thread_id) if loop._thread_id else None
        running = read_step(callback_of(step.handle), innermost)
        del innermost
        first = not step.reported
        moved = running.location != step.location
        report = LiveReport(
            what=step.what,
            seconds=seconds,
            location=running.location,
            task=None if running.task is None else task_label(running.task),
            awaited_by=() if running.task is None else tuple(format_awaited_by(running.task, "")),
            stack=tuple(format_frames(running.frames)),
            first=first,
            moved=moved,
            interrupted=interrupted,
        )
        step.location = running.location
        if not interrupted:
            step.reported = True
            step.next_report = next_report_at(seconds)
        return format_live(report)

    def _take_last_line(self) -> str | None:
        """The held last line, if any, no longer held (the caller holds the lock)."""
        last_line, self._last_line = self._last_line, None
        return None if last_line is None else last_line[0]

    def _end_step(self, ended: float) -> str | None:
        """Forget the step; its final line if it was reported while it ran."""
        step, self._step = self._step, None
        if step is None or not step.reported:
            return None
        return format_blocked(Blocked(step.what, ended - step.started, step.location))

    def _emit(self, message: str | None) -> None:
        if message is not None:
            self._report(message)


def _log(message: str) -> None:
    logger.warning("%s", message)


def faulthandler_delay(threshold: float) -> float:
    """How long the GIL must be held before faulthandler prints the stacks."""
    return max(2.0, 10 * threshold)
