"""The scheduler: the half of spindle's loop that runs callbacks.

Everything a loop does is a callback in one of two queues:

* the **ready queue**, a FIFO deque of handles to run as soon as possible (and of tasks: a
  task waiting for its next step on a plain pass is queued as itself, see ``ReadyEntry``), and
* the **timer queue** (``timers.TimerQueue``), handles to move to the ready queue at a deadline.

The loop repeats one *pass* (``_run_once``) until ``stop()`` is called.  A pass has five
phases, numbered the same way in the code:

1. **purge**: rebuild the timer heap if it is mostly dead timers (``purge_if_worthwhile``);
2. **poll timeout**: how long the I/O poll may block (``poll_timeout``, a pure function):
   zero when something is ready or the loop is stopping, the time to the earliest timer when
   there is one, forever otherwise;
3. **poll**: wait for I/O (and the cross-thread wake-up) for at most that long; the I/O layer
   appends the handles of ready file descriptors to the ready queue (``_poll``).  A pass with
   callbacks ready skips it while the I/O layer watches nothing but its wake-up
   (``_poll_when_busy``);
4. **timers**: move every timer whose deadline has come to the ready queue (``pop_due``);
5. **run**: run the callbacks that were ready *when the pass began* (counted before the first
   one runs; ``_run_ready``).  Callbacks they schedule wait for the next pass, which polls
   for I/O first, so a task that keeps rescheduling itself cannot starve I/O or timers.

The loop's life is a small state machine (``LoopState``), changed only by ``_move_to``:

    IDLE ──run_forever()──▶ RUNNING ──(the pass after stop())──▶ IDLE
      └──────────────────close()──────────────────▶ CLOSED

``stop()`` is a request, not a state: it ends the current run after its pass, or, asked while
the loop is idle, the next run after its first pass (asyncio's rule).

While it runs a callback the loop records which (``_running``: one attribute store per
callback), so that the blocking watchdog, in its own thread, knows what holds the loop without
reading the loop's frames (which the compiled build does not have).  In debug mode, or with an
instrument installed (``spindle._core.instruments``), the pass is the *observed* one,
``_run_once_observed``: the same phases, calling the instruments' hooks and timing each callback.

Errors that cannot propagate (a failing callback) go to the exception handler, and debug mode
names callbacks that hold the loop too long.  The I/O layer supplies ``_poll``, ``_wakeup`` and
``_close_io``; this module knows nothing about file descriptors.  ``loop.BaseLoop`` builds the
rest of the loop (tasks, running, async generators, threads) on top.
"""

from __future__ import annotations

import contextvars
import enum
import linecache
import logging
import math
import os
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final, Protocol, TypeVarTuple, Unpack, cast

if TYPE_CHECKING:
    import asyncio

from spindle._core.build import COMPILED
from spindle._core.clock import Clock, MonotonicClock
from spindle._core.coroutines import iscoroutine, iscoroutinefunction
from spindle._core.handles import Handle, TimerHandle, report_callback_error, report_step_error
from spindle._core.instruments import InstrumentSet
from spindle._core.native import from_none, mypyc_attr
from spindle._core.timers import PURGE_MIN_CANCELLED, TimerQueue, new_timer_queue, refuse_nan

__all__ = ["IOWaiter", "LoopState", "Scheduler", "as_scheduler", "logger", "poll_timeout"]

Ts = TypeVarTuple("Ts")

# Errors that cannot propagate are reported through the "asyncio" logger, the name code
# written for asyncio already configures; spindle's own explanations use "spindle".  Not Final:
# a module attribute read at each use, so a test that patches it is heard (rare paths only).
logger = logging.getLogger("asyncio")

# For building handles without calling their __init__ (call_soon, call_later).
_new_object: Final = object.__new__
_copy_context: Final = contextvars.copy_context
# Builtins the compiler has no shortcut for, bound once: compiled, ``callable(x)`` looks the
# name up in the builtins module at each call (a dictionary lookup), and
# ``context.run(f)`` looks ``run`` up on the context's type; these are read from a C
# variable and called.
_callable: Final = callable
_context_run: Final[Callable[..., object]] = contextvars.Context.run

# How many frames coroutines remember about where they were created, in debug mode.
DEBUG_STACK_DEPTH: Final = 10
# The longest single poll (asyncio's MAXIMUM_SELECT_TIMEOUT): a far-off timer is reached by
# polls of at most a day each, and no poller is handed a number it cannot represent.
MAX_POLL_TIMEOUT: Final = 24 * 3600.0


class ReadyEntry(Protocol):
    """What the ready queue holds: a ``Handle``, or a task waiting for its next step.

    On a plain pass a task queues itself, not a Handle of its bound ``_step``
    (``TaskCore._run``): two objects less for every task that has a step to take, which the
    garbage collector would otherwise count, and visit at every collection while the task
    waits in the queue.  Anything else that is queued is a Handle.  The observed pass speaks
    of handles to its hooks: a task a plain pass queued, and an observed pass takes (the loop
    got an instrument, or debug mode, meanwhile), runs through a Handle of its ``_run`` made
    then (``_run_ready_observed``).
    """

    def _run(self) -> None:
        """Run: the handle's callback, or the task's next step."""


class QueuedStepRunner:
    """How a pass runs the entries of the ready queue that are not handles.

    This one asks the entry to ``_run()``, which any ReadyEntry can.  The scheduler does not
    know tasks (they live a layer up), and that call goes through a method look-up at every
    step; ``taskcore`` installs a subclass that knows TaskCore's fields and calls its step
    directly (``use_queued_step_runner``).
    """

    def run(self, entry: ReadyEntry) -> None:
        entry._run()


class IOWaiter:
    """What phase 3 of a pass calls to wait for I/O, when the I/O layer hands one over.

    The scheduler knows one way to wait, ``_poll``, a method the I/O layer overrides and an
    interpreted subclass may override again (the test plugin's virtual-clock loop does).
    Compiled, calling it costs every poll a method look-up by name and a Python-level call.
    An I/O layer whose ``_poll`` nobody overrode hands the scheduler the object that method
    waits with (``_io_waiter``), and the pass calls it directly: a native call, compiled.
    """

    def wait(self, timeout: float | None) -> None:
        """Wait up to ``timeout`` seconds (None: forever) for I/O; queue the ready handlers."""
        raise NotImplementedError


class _QueuedSteps:
    """The runner in use (a module-level Final cannot be rebound; its attribute can)."""

    def __init__(self) -> None:
        self.runner = QueuedStepRunner()


_queued_steps: Final = _QueuedSteps()


def use_queued_step_runner(runner: QueuedStepRunner) -> None:
    """Run the ready queue's non-handle entries with ``runner`` (see QueuedStepRunner)."""
    _queued_steps.runner = runner


class LoopState(enum.Enum):
    """Where a loop is in its life (see the module docstring for the moves)."""

    IDLE = "idle"
    RUNNING = "running"
    CLOSED = "closed"


_IDLE: Final = LoopState.IDLE
_RUNNING: Final = LoopState.RUNNING
_CLOSED: Final = LoopState.CLOSED

# The moves ``_move_to`` allows: from each state, the states it may go to.
_MOVES: Final[dict[LoopState, frozenset[LoopState]]] = {
    _IDLE: frozenset({_RUNNING, _CLOSED}),
    _RUNNING: frozenset({_IDLE}),
    _CLOSED: frozenset(),
}


def poll_timeout(work_waiting: bool, next_deadline: float | None, clock: Clock) -> float | None:
    """How long the I/O poll of a pass may block, in seconds (None: until I/O arrives).

    ``work_waiting``: callbacks are ready or the loop is stopping, so the poll must not block.
    ``next_deadline``: the earliest live timer's deadline (loop time), or None without timers.
    The clock turns a deadline into a wait (a virtual clock jumps to it and answers zero); a wait
    is at most ``MAX_POLL_TIMEOUT``, and a deadline at infinity (``call_later(math.inf)``, which
    asyncio accepts) is no deadline.
    """
    if work_waiting:
        return 0.0
    if next_deadline is None or next_deadline == math.inf:
        return None  # a timer at infinity never fires: only I/O can end the wait
    return min(clock.timeout_until(next_deadline), MAX_POLL_TIMEOUT)


def _debug_from_environment() -> bool:
    """Debug mode as asyncio decides it: -X dev, or PYTHONASYNCIODEBUG set and not ignored."""
    return sys.flags.dev_mode or (
        not sys.flags.ignore_environment and bool(os.environ.get("PYTHONASYNCIODEBUG"))
    )


@mypyc_attr(allow_interpreted_subclasses=True)
class Scheduler:
    """The ready queue, the timer queue, the pass that runs them, and error reporting.

    Not an ``asyncio.AbstractEventLoop`` itself: the class people get (``spindle.EventLoop``)
    adds that base, while this one stays compilable into a native class (see ``handles``).
    """

    # FAST PATH: what every pass, callback or fast path reads or writes lives in slots.
    # CPython 3.11+ reads an instance's attributes fastest while its class's attribute names
    # fit the shared-keys table of the instance dict (under 30 names for all of a class's
    # instances); past that every ``self._x`` of the loop takes the slower hinted lookup
    # (measured: ~5% more instructions per callback in the pure build).  The loop has more than
    # 30 attributes once every facility is in, so the hot ones are slots, and the others (the
    # executor, signals, async generators, subclasses' own) stay in the dict, with room to
    # grow.  (In the compiled build these are the native class's fields either way.)
    # tests/core/test_fast_paths.py holds the loop to specialised attribute reads.
    __slots__ = (
        "_clock",
        "_clock_resolution",
        "_debug",
        "_exception_handler",
        "_held_tasks",
        "_instruments",
        "_io_waiter",
        "_pass_count",
        "_plain",
        "_poll_when_busy",
        "_put_ready",
        "_ready",
        "_running",
        "_saved_origin_depth",
        "_state",
        "_stopping",
        "_take_ready",
        "_thread_id",
        "_time",
        "_timer_entries",
        "_timers",
        "slow_callback_duration",
    )

    slow_callback_duration: float

    def __init__(self, *, clock: Clock | None = None) -> None:
        self._clock: Clock = MonotonicClock() if clock is None else clock
        # The real clock is read straight from time.monotonic: no method call per read.
        self._time: Callable[[], float] = (
            time.monotonic if isinstance(self._clock, MonotonicClock) else self._clock.time
        )
        self._clock_resolution = (
            time.get_clock_info("monotonic").resolution
            if isinstance(self._clock, MonotonicClock)
            else 0.0
        )
        self._ready: deque[ReadyEntry] = deque()
        # ``self._ready.popleft``, bound once: a pass takes its handles with it, and binding
        # it anew costs each pass a lookup and an allocation (most passes run one or two).
        self._take_ready: Callable[[], ReadyEntry] = self._ready.popleft
        # ``self._ready.append``, bound once as well: compiled, ``self._ready.append(h)`` looks
        # ``append`` up on the deque's type at every call (every call_soon and task step).
        self._put_ready: Callable[[ReadyEntry], None] = self._ready.append
        self._timers: TimerQueue = new_timer_queue()
        self._timer_entries = self._timers.entries
        self._state = _IDLE
        # stop() was asked for: the run ends after its current (or, idle, its first) pass.
        self._stopping = False
        # The thread running the loop (read by diagnostics from other threads), or None.
        self._thread_id: int | None = None
        self._pass_count = 0
        self._debug = _debug_from_environment()
        self._instruments: InstrumentSet | None = None
        # The handle whose callback runs now (or the task whose step runs, when it was queued
        # as itself); None between callbacks (see the module docstring).  Read by other
        # threads: one attribute, replaced whole.
        self._running: ReadyEntry | None = None
        self._plain = True
        # Whether a pass with callbacks ready polls at all (its timeout is zero).  The I/O
        # layer turns this off while it watches nothing but its wake-up descriptor: then
        # such a poll could report nothing that changes what runs next (see _io/readiness.py),
        # and the pass spares the call.
        self._poll_when_busy = True
        # What a plain pass waits with, when the I/O layer hands it over (see IOWaiter).
        self._io_waiter: IOWaiter | None = None
        self._update_mode()
        self.slow_callback_duration = 0.1
        self._exception_handler: Callable[[Any, dict[str, Any]], object] | None = None
        self._saved_origin_depth: int | None = None
        # The loop's tasks not yet done: the strong references that keep a task nobody else
        # refers to from being collected mid-flight.  Kept by taskcore.TaskCore (a task
        # knows its place in the list: see TaskCore._let_go).
        self._held_tasks: list[Any] = []

    def _update_mode(self) -> None:
        """Decide, in one place, which pass and which paths the loop takes.

        ``_plain``: open, not in debug mode, no instrument.  Futures and tasks of this loop may
        then append handles to the ready queue directly, skipping call_soon's checks (their hot
        path).  A loop that runs is open, so when it is not plain it is in debug mode or has an
        instrument: its passes are observed (``_run_once_observed``).
        """
        self._plain = not self._debug and self._state is not _CLOSED and self._instruments is None

    def __repr__(self) -> str:
        return (
            f"<{type(self).__module__}.{type(self).__qualname__} running={self.is_running()} "
            f"closed={self.is_closed()} debug={self._debug}>"
        )

    # -- hooks for the I/O layer ---------------------------------------------------------

    def _poll(self, timeout: float | None) -> None:
        """Wait up to ``timeout`` seconds (None: forever) for I/O; queue the ready handlers."""
        raise NotImplementedError

    def _wakeup(self) -> None:
        """Interrupt a ``_poll`` blocked in another thread."""
        raise NotImplementedError

    def _close_io(self) -> None:
        """Release the poller and wake-up channel."""

    # -- scheduling callbacks ------------------------------------------------------------

    def _move_to(self, state: LoopState) -> None:
        """The one place where the loop's state changes; refuses a move the machine lacks."""
        if state not in _MOVES[self._state]:
            raise RuntimeError(
                f"an event loop cannot go from {self._state.value} to {state.value}"
            )
        self._state = state
        self._update_mode()

    def _check_closed(self, operation: str) -> None:
        if self._state is _CLOSED:
            raise RuntimeError(f"cannot {operation}: the event loop is closed")

    def _check_callback(self, callback: object, method: str) -> None:
        if iscoroutine(callback) or iscoroutinefunction(callback):
            raise TypeError(f"coroutines cannot be used with {method}()")
        if not callable(callback):
            raise TypeError(f"a callable object was expected by {method}(), got {callback!r}")

    def _check_thread(self) -> None:
        """Debug mode: refuse non-thread-safe calls from a thread that is not the loop's."""
        if self._thread_id is not None and threading.get_ident() != self._thread_id:
            raise RuntimeError(
                "Non-thread-safe operation invoked on an event loop other than the current "
                "one: use call_soon_threadsafe() from other threads"
            )

    def call_soon(
        self,
        callback: Callable[[Unpack[Ts]], object],
        *args: *Ts,
        context: contextvars.Context | None = None,
    ) -> Handle:
        """Run ``callback(*args)`` on a coming pass, after what is already ready."""
        if not self._plain or not _callable(callback):
            self._check_schedule(callback, "call_soon")
            handle = Handle(callback, args, self, context)
            if self._instruments is not None:
                self._put_ready(handle)
                self._instruments.handle_scheduled(handle)
                return handle
        elif COMPILED:
            handle = Handle(callback, args, self, context, True)
        else:
            # FAST PATH: Handle(callback, args, self, context, True), written out: one Python
            # call less on the loop's most frequent operation.
            handle = _new_object(Handle)
            handle._callback = callback
            handle._args = args
            handle._cancelled = False
            handle._loop = self
            handle._context = _copy_context() if context is None else context
            handle._repr = None
            handle._source_traceback = None
        self._put_ready(handle)
        return handle

    def call_soon_threadsafe(
        self,
        callback: Callable[[Unpack[Ts]], object],
        *args: *Ts,
        context: contextvars.Context | None = None,
    ) -> Handle:
        """``call_soon`` from any thread: also wakes the loop if it is blocked in its poll."""
        self._check_closed("schedule a callback")
        self._check_callback(callback, "call_soon_threadsafe")
        handle = Handle(callback, args, self, context)
        self._ready.append(handle)  # deque.append is atomic
        self._wakeup()
        instruments = self._instruments
        if instruments is not None and threading.get_ident() == self._thread_id:
            instruments.handle_scheduled(handle)  # hooks run on the loop's thread only
        return handle

    def call_later(
        self,
        delay: float,
        callback: Callable[[Unpack[Ts]], object],
        *args: *Ts,
        context: contextvars.Context | None = None,
    ) -> TimerHandle:
        """Run ``callback(*args)`` after ``delay`` seconds."""
        try:
            when = self._time() + delay
        except TypeError:
            error = TypeError(
                f"call_later() delay must be a number of seconds, not {type(delay).__name__}"
            )
            raise from_none(error)  # noqa: B904 (mypyc drops "from": see _core/native.py)
        if when != when:
            refuse_nan(delay, "call_later() delay")
        if not self._plain or not _callable(callback):
            self._check_schedule(callback, "call_later")
            timer = TimerHandle(when, callback, args, self, context)
            if self._instruments is not None:
                self._timers.push(timer)
                self._instruments.handle_scheduled(timer)
                return timer
        elif COMPILED:
            timer = TimerHandle(when, callback, args, self, context, True)
        else:
            # FAST PATH: TimerHandle(when, callback, args, self, context, True), written out
            # as in call_soon.
            timer = _new_object(TimerHandle)
            timer._callback = callback
            timer._args = args
            timer._cancelled = False
            timer._loop = self
            timer._context = _copy_context() if context is None else context
            timer._repr = None
            timer._source_traceback = None
            timer._when = when
            timer._deadline = when
            timer._seq = 0
            timer._scheduled = False
        self._timers.push(timer)
        return timer

    def call_at(
        self,
        when: int | float,  # not float: compiled, that would turn an int into a float
        callback: Callable[[Unpack[Ts]], object],
        *args: *Ts,
        context: contextvars.Context | None = None,
    ) -> TimerHandle:
        """Run ``callback(*args)`` when ``loop.time()`` reaches ``when``."""
        if not isinstance(when, (int, float)):
            raise TypeError(f"call_at() when must be a loop time (a number), not {when!r}")
        refuse_nan(when, "call_at() when")
        if not self._plain or not _callable(callback):
            self._check_schedule(callback, "call_at")
        timer = TimerHandle(when, callback, args, self, context)
        self._timers.push(timer)
        if self._instruments is not None:
            self._instruments.handle_scheduled(timer)
        return timer

    def _check_schedule(self, callback: object, method: str) -> None:
        """The checks behind scheduling a callback (kept off the hot path by its callers)."""
        self._check_closed("schedule a callback")
        if self._debug:
            self._check_thread()
            self._check_callback(callback, method)
        elif not callable(callback):
            raise TypeError(f"a callable object was expected by {method}(), got {callback!r}")

    def _as_asyncio_loop(self) -> asyncio.AbstractEventLoop:
        """This loop, typed as what it is at run time: an ``asyncio.AbstractEventLoop``.

        ``spindle.EventLoop`` adds that base on top of this class (see the class docstring),
        so the type checker cannot see it from here.
        """
        return cast("asyncio.AbstractEventLoop", self)

    def _timer_cancelled(self) -> None:
        self._timers.note_cancelled()

    def time(self) -> float:
        """The loop's clock, in seconds."""
        return self._time()

    def is_running(self) -> bool:
        return self._state is _RUNNING

    def is_closed(self) -> bool:
        return self._state is _CLOSED

    @property
    def _closed(self) -> bool:
        """asyncio's private flag, read by code that peeks at it (uvloop's tests)."""
        return self._state is _CLOSED

    # -- one pass ------------------------------------------------------------------------

    def _run_once(self) -> None:
        """One pass: the five phases of the module docstring."""
        self._pass_count += 1
        timers = self._timers
        # 1. purge: drop dead timers when they are most of the heap.
        if timers.cancelled_count >= PURGE_MIN_CANCELLED:
            timers.purge_if_worthwhile()
        # 2. poll timeout, and whether to poll at all: a pass with nothing to wait for polls
        # only if the I/O layer asks it to (see _poll_when_busy).
        if self._ready or self._stopping:
            # FAST PATH: poll_timeout(True, ...) is 0.0; most passes of a busy loop end here,
            # without a call (tests/core/test_fast_paths.py holds the two together).
            timeout: float | None = 0.0
            polls = self._poll_when_busy
        else:
            next_deadline = timers.next_deadline() if self._timer_entries else None
            timeout = poll_timeout(False, next_deadline, self._clock)
            # ``timeout is None or`` first: compiled, it narrows the float to compare it
            # unboxed (a boxed ``!=`` is a generic rich comparison, 150 instructions a pass).
            polls = timeout is None or timeout != 0.0 or self._poll_when_busy
        if not self._plain:  # debug mode or instruments: phases 3-5, observed
            self._run_once_observed(timeout, polls)
            return
        # 3. poll: the I/O layer queues the handlers of ready file descriptors.
        if polls:
            waiter = self._io_waiter
            if waiter is not None:
                # FAST PATH: what self._poll(timeout) would call, called directly (IOWaiter
                # says why).  tests/io/test_poller.py holds the two to the same events.
                waiter.wait(timeout)
            else:
                self._poll(timeout)
        # 4. timers: those now due join the ready queue, in deadline order.  "Now" is asked of
        # time(), the method, as asyncio asks it: tests that patch loop.time to move the
        # loop's timers (aiohttp's keep-alive tests do) move spindle's too.
        if self._timer_entries:
            timers.pop_due(self.time() + self._clock_resolution, self._put_ready)
        # 5. run what was ready when the pass began (what it schedules waits a pass).
        Scheduler._run_ready(self, len(self._ready))  # a direct call (see run_forever)

    def _record_running(self, handle: ReadyEntry | None) -> ReadyEntry | None:
        """``self._running = handle``; returns the handle it held, for the caller to drop.

        Compiled, an attribute store drops the old value before it writes the new one.  The
        last reference to a handle that has run is often that slot, and its end can run Python
        code (a dying task's weak-set callback, a finalizer), where another thread may read the
        slot (the watchdog, ``running_handle()``): it would find the handle being freed.
        Returned, the old handle outlives the store, and goes where the caller lets go of the
        value, once the slot has its successor.  (A local held across the store would not do:
        compiled code drops a local at its last use, and ``del`` is not a use.)
        """
        previous = self._running
        self._running = handle
        return previous

    def _run_ready(self, count: int) -> None:
        """Run the first ``count`` ready handles (the hot loop: the Handle._run body, inlined)."""
        popleft = self._take_ready
        entry: ReadyEntry | None = None
        handle: Handle | None = None
        args: tuple[Any, ...] | None = None
        while count:
            count -= 1
            entry = popleft()
            if not isinstance(entry, Handle):
                # A task queued as itself: its step (the runner reports what it raises).
                if COMPILED:
                    Scheduler._record_running(self, entry)
                    _queued_steps.runner.run(entry)
                else:
                    # FAST PATH (pure build): TaskCore._run written out, where the runner
                    # would add two Python calls to every step.  tests/core/test_fast_paths.py
                    # holds both builds to the same step, context and error report.
                    self._running = entry
                    task: Any = entry
                    try:
                        _context_run(task._context, task._step)
                    except (SystemExit, KeyboardInterrupt):
                        raise
                    except BaseException as exc:
                        report_step_error(task, exc)
                    del task
                del entry  # (as the handle below)
                continue
            handle = entry
            del entry
            if handle._cancelled:
                continue
            # RECORD: what the loop runs now, for the watchdog's thread (see the docstring).
            if COMPILED:
                Scheduler._record_running(self, handle)
            else:  # an interpreted store lets the old value go last (see _record_running)
                self._running = handle
            try:
                if handle._args:
                    args = handle._args
                    if COMPILED and len(args) == 1:
                        # FAST PATH: the call below, for one argument (a future's done-callback,
                        # a wake-up): compiled, a call with ``*args`` builds a list and a tuple
                        # and looks the bound method up; this is one call.
                        _context_run(handle._context, handle._callback, args[0])
                    else:
                        _context_run(handle._context, handle._callback, *args)
                else:  # no arguments (a task's step, mostly): no argument tuple to build
                    _context_run(handle._context, handle._callback)
            except (SystemExit, KeyboardInterrupt):
                raise
            except BaseException as exc:
                report_callback_error(handle, exc)
            # Interpreted, this frame is the f_back of a callback's frame, which may end up in
            # the traceback of an exception the handle's arguments hold (a task's wakeup with
            # its future): keeping the handle (or its arguments) would make a cycle (asyncio
            # clears it as well).
            del handle
            args = None
        Scheduler._record_running(self, None)
        # Dropped, as asyncio drops it: in the pure build this frame outlives the pass when a
        # traceback holds a frame it called (through f_back), and the last handle run (a
        # task's wake-up, holding the task, holding that very exception) would close a cycle.
        handle = None
        entry = None

    # -- the observed pass (debug mode, instruments) -------------------------------------

    def _run_once_observed(self, timeout: float | None, polls: bool) -> None:
        """``_run_once``'s last phases, telling the instruments (if any) what happens.

        ``timeout`` and ``polls`` are phase 2's: how long to wait, and whether to poll at all.
        """
        hooks = self._instruments
        if hooks is not None and hooks.wants_io:
            hooks.before_io_wait(timeout)
            if polls:
                self._poll(timeout)
            hooks.after_io_wait(timeout)
        elif polls:
            self._poll(timeout)
        if self._timer_entries:
            self._timers.pop_due(self._time() + self._clock_resolution, self._put_ready)
        self._run_ready_observed(len(self._ready), hooks)

    def _run_ready_observed(self, count: int, hooks: InstrumentSet | None) -> None:
        """Like ``_run_ready``, timing each callback: the step hooks, slow callbacks."""
        popleft = self._take_ready
        steps = hooks is not None and hooks.wants_steps
        handle: Handle | None = None
        while count:
            count -= 1
            entry = popleft()
            # A task that queued itself on a plain pass runs through a handle of its _run, which
            # takes the step in the task's context (the handle's own, a copy of the current
            # one, is not the task's: no context is entered twice).
            handle = entry if isinstance(entry, Handle) else Handle(entry._run, (), self, None)
            del entry
            if handle._cancelled:
                continue
            task = self._task_of_step(handle) if steps else None
            started = self._time()
            if task is not None and hooks is not None:
                hooks.before_task_step(task, started)
            Scheduler._record_running(self, handle)
            handle._run()
            ended = self._time()
            if task is not None and hooks is not None:
                hooks.after_task_step(task, ended)
            if ended - started >= self.slow_callback_duration:
                self._callback_was_slow(handle, ended - started, hooks)
        Scheduler._record_running(self, None)
        handle = None  # (as in _run_ready)

    def _callback_was_slow(
        self, handle: Handle, seconds: float, hooks: InstrumentSet | None
    ) -> None:
        if self._debug:
            logger.warning("Executing %s took %.3f seconds", _describe_step(handle), seconds)
        if hooks is not None and hooks.wants_slow:
            hooks.callback_slow(handle, seconds)

    def _task_of_step(self, handle: Handle) -> Any:
        """The task whose step ``handle`` runs, or None (tasks live a layer up: BaseLoop)."""
        return None

    # -- instruments ---------------------------------------------------------------------

    def _add_instrument(self, instrument: object) -> None:
        current = self._instruments
        if current is not None and any(each is instrument for each in current.instruments):
            return
        if current is None:
            self._instruments = InstrumentSet((instrument,), self._instrument_failed)
        else:
            self._instruments = current.with_(instrument)
        self._update_mode()

    def _remove_instrument(self, instrument: object) -> bool:
        """Remove ``instrument``; whether it was installed."""
        current = self._instruments
        if current is None or not any(each is instrument for each in current.instruments):
            return False
        remaining = current.without(instrument)
        self._instruments = remaining if remaining.instruments else None
        self._update_mode()
        return True

    def _instrument_failed(self, instrument: object, hook: str, exc: BaseException) -> None:
        self._remove_instrument(instrument)
        self.call_exception_handler(
            {
                "message": f"instrument {instrument!r} raised in {hook}(); it was removed",
                "exception": exc,
            }
        )

    # -- errors that cannot propagate ----------------------------------------------------

    def get_exception_handler(self) -> Callable[[Any, dict[str, Any]], object] | None:
        return self._exception_handler

    def set_exception_handler(
        self, handler: Callable[[Any, dict[str, Any]], object] | None
    ) -> None:
        if handler is not None and not callable(handler):
            raise TypeError(f"A callable object or None is expected, got {handler!r}")
        self._exception_handler = handler

    def default_exception_handler(self, context: dict[str, Any]) -> None:
        """Log ``context`` (message, exception with traceback, and every other key)."""
        message = context.get("message") or "Unhandled exception in event loop"
        exception = context.get("exception")
        exc_info: Any = False
        if exception is not None:
            exc_info = (type(exception), exception, exception.__traceback__)
        lines = [str(message)]
        lines += _task_places(context.get("task") or context.get("future"), exception)
        for key in sorted(context):
            if key in {"message", "exception"}:
                continue
            value = context[key]
            if key == "source_traceback":
                text = "".join(traceback.format_list(value)).rstrip()
                lines.append(f"Object created at (most recent call last):\n{text}")
            else:
                lines.append(f"{key}: {value!r}")
        logger.error("\n".join(lines), exc_info=exc_info)

    def call_exception_handler(self, context: dict[str, Any]) -> None:
        """Hand ``context`` to the exception handler; never raises (but for exits)."""
        handler = self._exception_handler
        if handler is None:
            try:
                self.default_exception_handler(context)
            except (SystemExit, KeyboardInterrupt):
                raise
            except BaseException:
                logger.error("Exception in default exception handler", exc_info=True)
            return
        try:
            run_in = _context_of_subject(context) if HANDLER_RUNS_IN_SUBJECT_CONTEXT else None
            if run_in is None:
                handler(self, context)
            else:
                run_in.run(handler, self, context)
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            try:
                self.default_exception_handler(
                    {
                        "message": "Unhandled error in exception handler",
                        "exception": exc,
                        "context": context,
                    }
                )
            except (SystemExit, KeyboardInterrupt):
                raise
            except BaseException:
                logger.error(
                    "Exception in default exception handler while handling an unexpected "
                    "error in custom exception handler",
                    exc_info=True,
                )

    # -- debug mode ----------------------------------------------------------------------

    def get_debug(self) -> bool:
        return self._debug

    def set_debug(self, enabled: object) -> None:
        """Debug mode on or off; any truth value, as asyncio takes (``set_debug(1)``)."""
        debug = bool(enabled)
        self._debug = debug
        self._update_mode()
        if self.is_running():
            self.call_soon_threadsafe(self._set_origin_tracking, debug)

    def _set_origin_tracking(self, enabled: bool) -> None:
        """In debug mode, coroutines remember where they were created (for warnings)."""
        if enabled == (self._saved_origin_depth is not None):
            return
        if enabled:
            self._saved_origin_depth = sys.get_coroutine_origin_tracking_depth()
            sys.set_coroutine_origin_tracking_depth(DEBUG_STACK_DEPTH)
        else:
            sys.set_coroutine_origin_tracking_depth(self._saved_origin_depth or 0)
            self._saved_origin_depth = None


# From Python 3.12 asyncio runs a custom exception handler in the context of what the report
# is about (the task, future or handle), so the handler sees that code's context variables
# (gh-96704); 3.11 runs it in the caller's context.  spindle does what the running Python's
# asyncio does.
HANDLER_RUNS_IN_SUBJECT_CONTEXT: Final = sys.version_info >= (3, 12)


def as_scheduler(loop: object) -> Scheduler | None:
    """``loop`` if it is spindle's loop (a ``Scheduler``), else None, typed.

    For hot paths holding a loop as ``Any`` (a future's, a task's): compiled, an ``Any``
    narrowed by ``isinstance`` is checked again at each use, while the typed name this returns
    has its fields read directly.  The call itself still checks twice (the ``isinstance``, then
    the return value against its type), each a walk through the loop class's bases: a future
    and a task call it once, in ``__init__``, and keep the result (``FutureCore._scheduler``).
    """
    return loop if isinstance(loop, Scheduler) else None


def _context_of_subject(context: dict[str, Any]) -> contextvars.Context | None:
    """The context of the task, future or handle an exception-handler ``context`` is about."""
    subject = context.get("task")
    if subject is None:
        subject = context.get("future")  # a Task is sometimes reported as a "future"
    if subject is None:
        subject = context.get("handle")
    get_context = getattr(subject, "get_context", None)
    if get_context is None:
        return None
    found = get_context()
    return found if isinstance(found, contextvars.Context) else None


def _describe_step(handle: Handle) -> str:
    """A task's step is named by its task (whose repr says which coroutine, and where);
    any other callback by its handle (whose repr, in debug mode, says where it was created)."""
    owner = getattr(handle._callback, "__self__", None)
    if owner is not None and hasattr(owner, "get_coro"):
        return repr(owner)
    return repr(handle)


def _task_places(subject: object, exception: object) -> list[str]:
    """Where the task a report is about was created, and where it failed.

    ``tasks.origin_of`` reads spindle's Task's record of its ``create_task`` call (kept while a
    runner's diagnostics run); the failing line is the innermost entry of the exception's
    traceback.
    """
    from spindle._core.tasks import origin_of  # a layer up in _core (tasks import this module)

    lines = []
    origin = origin_of(subject)
    if origin is not None:
        filename, lineno, function = origin
        lines.append(f"task created at {_shown(filename)}:{lineno} in {function}()")
    tb = getattr(exception, "__traceback__", None)
    if callable(getattr(subject, "get_coro", None)):
        last = None
        while tb is not None:
            last, tb = tb, tb.tb_next
        if last is not None:
            code = last.tb_frame.f_code
            line = linecache.getline(code.co_filename, last.tb_lineno).strip()
            where = f"{_shown(code.co_filename)}:{last.tb_lineno} in {code.co_name}()"
            lines.append(f"task failed at {where}{f': {line}' if line else ''}")
    return lines


def _shown(filename: str) -> str:
    """``filename`` relative to the working directory when below it."""
    try:
        relative = os.path.relpath(filename)
    except ValueError:
        return filename
    return filename if relative.startswith(os.pardir) else relative
