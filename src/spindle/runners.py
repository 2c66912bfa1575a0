"""``spindle.run()`` and ``spindle.Runner``: the entry point of an async program.

A runner owns one loop for its whole life: it creates it on first use, runs coroutines on it
(``run`` may be called several times), and on ``close()`` finishes what is left in the order
asyncio 3.12 does: cancel the tasks still pending (reporting the exceptions they end with
through the loop's exception handler), finalize async generators, shut the default executor
down (waiting at most five minutes for its threads), close the loop.

Ctrl-C, as in asyncio 3.11+: the first SIGINT cancels the main task, so its ``finally`` blocks
and ``async with`` exits run, and ``run()`` then raises KeyboardInterrupt; a second SIGINT
raises KeyboardInterrupt at once.  Only the main thread can receive signals, and the runner
only takes SIGINT over when nobody else has (the handler is still Python's default).

The runner is also where the tools around spindle plug in.  ``spindle.diagnostics`` sits in a
layer above this one, so the runner cannot call it; instead it offers hooks (``RunnerHooks``),
and diagnostics registers a factory for them with ``add_runner_hooks`` when it is imported
(``import spindle`` imports it).  With no hooks registered, a runner does nothing extra.
asyncio's own runner, driving the loop that ``spindle.install()`` gives it, reaches the same
hooks through that loop (``spindle.patch.RunnerAwareEventLoop``); ``hooks_for`` hands a loop
its hooks once, so a loop driven by a spindle ``Runner`` is never reported on twice.
"""

from __future__ import annotations

import asyncio
import contextvars
import enum
import inspect
import signal
import threading
import types
import weakref
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Protocol, TypeVar

from spindle import events
from spindle._core.current import running_loop
from spindle._core.loop import BaseLoop
from spindle._core.tasks import all_tasks, iscoroutine
from spindle.exceptions import CancelledError

__all__ = ["Runner", "run"]  # what spindle exports; the hooks API is for spindle.diagnostics

T = TypeVar("T")

# How long close() waits for the default executor's threads: asyncio's THREAD_JOIN_TIMEOUT.
EXECUTOR_SHUTDOWN_TIMEOUT = 300.0

# What the exception handler is told when a leftover task raises as it is cancelled.  Both
# names, because under ``import spindle as asyncio`` the program calls it asyncio.run(), and
# code written for asyncio matches asyncio's wording ("... during asyncio.run() shutdown").
SHUTDOWN_ERROR = (
    "unhandled exception during spindle.run()/asyncio.run() shutdown: a task still pending "
    "when the runner closed was cancelled, and raised instead of ending"
)


class RunnerState(enum.Enum):
    CREATED = "created"
    INITIALIZED = "initialized"
    CLOSED = "closed"


class RunnerHooks(Protocol):
    """What a runner tells the tools watching it, at four moments of its life."""

    def main_finished(self) -> None:
        """``run_until_complete`` returned (or raised): the loop has stopped."""

    def closing(self, main_qualname: str | None, leftover: set[asyncio.Task[Any]]) -> None:
        """``close()`` is about to cancel ``leftover`` and shut down.

        ``main_qualname`` names the last main coroutine if it returned, else it is None.
        """

    def closed(self) -> None:
        """The shutdown is over; the loop is about to be closed."""

    def interrupted(self, frame: types.FrameType | None) -> None:
        """The first Ctrl-C arrived (``frame``: where it interrupted); the main task is
        about to be cancelled."""


# Each is called with every runner's new loop; it returns hooks for that loop, or None.
_hook_factories: list[Callable[[asyncio.AbstractEventLoop], RunnerHooks | None]] = []


# The loops that have been given their hooks (weakly: a loop's entry goes with the loop).
_hooked_loops: weakref.WeakSet[asyncio.AbstractEventLoop] = weakref.WeakSet()


def add_runner_hooks(factory: Callable[[asyncio.AbstractEventLoop], RunnerHooks | None]) -> None:
    """Have every runner created from now on ask ``factory`` for hooks for its loop."""
    if factory not in _hook_factories:
        _hook_factories.append(factory)


def hooks_for(loop: asyncio.AbstractEventLoop) -> list[RunnerHooks]:
    """The hooks for ``loop`` from every registered factory; none if it was given them before.

    Once per loop because two runners can see the same loop: a spindle ``Runner`` whose
    ``loop_factory`` is ``asyncio.new_event_loop`` after ``install()`` gets a loop that also
    watches for asyncio's runner.  The first to ask reports; the other stays quiet.
    """
    if loop in _hooked_loops:
        return []
    _hooked_loops.add(loop)
    return [hooks for factory in _hook_factories if (hooks := factory(loop)) is not None]


class NotACoroutineError(TypeError, ValueError):
    """``run()`` was given something other than a coroutine.

    A TypeError, as the mistake is one of type; also a ValueError, which is what asyncio
    raises, so ``except ValueError`` written for asyncio still catches it.
    """


def _check_coroutine(obj: object, caller: str) -> None:
    if iscoroutine(obj):
        return
    hint = ""
    if inspect.iscoroutinefunction(obj):
        name = getattr(obj, "__name__", "main")
        hint = f" (pass {name}(), the coroutine, not {name}, the function)"
    raise NotACoroutineError(f"{caller}: a coroutine was expected, got {obj!r}{hint}")


def _check_no_running_loop(caller: str) -> None:
    if running_loop() is not None:
        raise RuntimeError(
            f"{caller} cannot be called from a running event loop: "
            "inside a coroutine, await the coroutine (or create a task) instead"
        )


class Runner:
    """A context manager owning one event loop: ``with Runner() as r: r.run(main())``."""

    def __init__(
        self,
        *,
        debug: bool | None = None,
        loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None,
    ) -> None:
        self._state = RunnerState.CREATED
        self._debug = debug
        self._loop_factory = loop_factory
        self._loop: asyncio.AbstractEventLoop | None = None
        self._context: contextvars.Context | None = None
        self._interrupt_count = 0
        self._set_event_loop = False
        self._hooks: list[RunnerHooks] = []
        # The __qualname__ of the last main coroutine, once it has returned.
        self._main_returned: str | None = None

    def __enter__(self) -> Runner:
        self._lazy_init()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: types.TracebackType | None,
    ) -> None:
        self.close()

    def get_loop(self) -> asyncio.AbstractEventLoop:
        """The runner's loop (created now if need be)."""
        return self._lazy_init()

    def run(self, coro: Coroutine[Any, Any, T], *, context: contextvars.Context | None = None) -> T:
        """Run ``coro`` as a task on the runner's loop until it is done; return its result."""
        _check_coroutine(coro, "Runner.run()")
        _check_no_running_loop("Runner.run()")
        loop = self._lazy_init()
        task = loop.create_task(coro, context=self._context if context is None else context)
        self._main_returned = None
        restore_sigint = self._take_over_sigint(loop, task)
        self._interrupt_count = 0
        try:
            result = loop.run_until_complete(task)
        except CancelledError:
            # After Ctrl-C the cancellation is ours; unless someone else cancelled the task too,
            # what the user sees is the KeyboardInterrupt they asked for.
            if self._interrupt_count > 0 and task.uncancel() == 0:
                # Chained to the CancelledError, as asyncio's: its traceback shows where main()
                # was waiting when Ctrl-C came.
                raise KeyboardInterrupt()  # noqa: B904
            raise
        finally:
            restore_sigint()
            for hooks in self._hooks:
                hooks.main_finished()
        self._main_returned = getattr(coro, "__qualname__", "main")
        return result

    def close(self) -> None:
        """Cancel leftover tasks, finish async generators and the executor, close the loop."""
        if self._state is not RunnerState.INITIALIZED:
            return
        loop = self._lazy_init()
        try:
            leftover = all_tasks(loop)
            for hooks in self._hooks:
                hooks.closing(self._main_returned, leftover)
            _cancel_tasks(loop, leftover)
            loop.run_until_complete(loop.shutdown_asyncgens())
            _shutdown_default_executor(loop)
        finally:
            try:
                for hooks in self._hooks:
                    hooks.closed()
            finally:
                if self._set_event_loop:
                    events.set_event_loop(None)
                loop.close()
                self._loop = None
                self._state = RunnerState.CLOSED

    def _lazy_init(self) -> asyncio.AbstractEventLoop:
        """The runner's loop, created on first use (CREATED -> INITIALIZED)."""
        if self._state is RunnerState.CLOSED:
            raise RuntimeError("Runner is closed: cannot use it again (state: CLOSED)")
        if self._state is RunnerState.INITIALIZED:
            assert self._loop is not None
            return self._loop
        if self._loop_factory is None:
            loop = events.new_event_loop()
            # asyncio sets the thread's loop only for a loop it made itself (a factory's loop
            # may belong elsewhere), and only once per runner.
            if not self._set_event_loop:
                events.set_event_loop(loop)
                self._set_event_loop = True
        else:
            loop = self._loop_factory()
        if self._debug is not None:
            loop.set_debug(self._debug)
        self._loop = loop
        self._context = contextvars.copy_context()
        self._hooks = hooks_for(loop)
        self._state = RunnerState.INITIALIZED
        return loop

    def _take_over_sigint(
        self, loop: asyncio.AbstractEventLoop, main_task: asyncio.Task[Any]
    ) -> Callable[[], None]:
        """Make Ctrl-C cancel ``main_task``; return the function that undoes it."""
        if threading.current_thread() is not threading.main_thread():
            return _nothing
        if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
            return _nothing  # someone else handles SIGINT: leave it to them

        def on_sigint(signum: int, frame: types.FrameType | None) -> None:
            self._interrupt_count += 1
            if self._interrupt_count == 1 and not main_task.done():
                for hooks in self._hooks:
                    hooks.interrupted(frame)
                main_task.cancel()
                # The loop may be asleep in its poll: wake it so it sees the cancellation.
                loop.call_soon_threadsafe(_nothing)
                return
            raise KeyboardInterrupt()

        try:
            signal.signal(signal.SIGINT, on_sigint)
        except ValueError:  # an embedded interpreter whose main thread takes no signals
            return _nothing

        def restore() -> None:
            if signal.getsignal(signal.SIGINT) is on_sigint:
                signal.signal(signal.SIGINT, signal.default_int_handler)

        return restore


def _nothing() -> None:
    pass


def _cancel_tasks(loop: asyncio.AbstractEventLoop, tasks: set[asyncio.Task[Any]]) -> None:
    """Cancel ``tasks``, wait for them, report the exceptions they end with."""
    if not tasks:
        return
    for task in tasks:
        task.cancel()
    loop.run_until_complete(_all_done(loop, tasks))
    for task in tasks:
        if not task.cancelled() and task.exception() is not None:
            loop.call_exception_handler(
                {
                    "message": SHUTDOWN_ERROR,
                    "exception": task.exception(),
                    "task": task,
                }
            )


def _all_done(
    loop: asyncio.AbstractEventLoop, tasks: set[asyncio.Task[Any]]
) -> asyncio.Future[None]:
    """A future of ``loop`` that completes once every task in ``tasks`` is done."""
    waiter: asyncio.Future[None] = loop.create_future()
    remaining = len(tasks)

    def one_done(_: object) -> None:
        nonlocal remaining
        remaining -= 1
        if remaining == 0 and not waiter.done():
            waiter.set_result(None)

    for task in tasks:
        task.add_done_callback(one_done)
    return waiter


def _shutdown_default_executor(loop: asyncio.AbstractEventLoop) -> None:
    """Shut the executor down, with asyncio 3.12's timeout where the loop accepts one."""
    shutdown: Callable[..., Awaitable[None]] = loop.shutdown_default_executor
    if _accepts_timeout(loop, shutdown):
        loop.run_until_complete(shutdown(EXECUTOR_SHUTDOWN_TIMEOUT))
    else:  # asyncio's loop before 3.12 waits without a limit
        loop.run_until_complete(shutdown())


def _accepts_timeout(loop: asyncio.AbstractEventLoop, shutdown: Callable[..., object]) -> bool:
    """Whether ``loop.shutdown_default_executor`` takes asyncio 3.12's ``timeout``."""
    if isinstance(loop, BaseLoop):
        return True  # spindle's does (and compiled, it has no signature to inspect)
    try:
        return "timeout" in inspect.signature(shutdown).parameters
    except (TypeError, ValueError):  # a loop method written in C, with no signature
        return False


def run(
    main: Coroutine[Any, Any, T],
    *,
    debug: bool | None = None,
    loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None,
) -> T:
    """Run ``main`` on a new event loop, close the loop, return ``main``'s result.

    The program's entry point, ideally called once.  It cannot be called while a loop is
    running in this thread.  ``debug`` sets the loop's debug mode (None leaves the default);
    ``loop_factory`` makes the loop (default: ``spindle.new_event_loop``).
    """
    _check_no_running_loop("spindle.run()")
    _check_coroutine(main, "spindle.run()")
    with Runner(debug=debug, loop_factory=loop_factory) as runner:
        return runner.run(main)
