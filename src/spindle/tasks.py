"""The task-level API: sleeping, spawning tasks and waiting for several things at once.

Everything here is written against the public surface of an event loop (``create_future``,
``create_task``, ``call_later``, ...) and the public methods of futures and tasks, so each
function works the same on spindle's loop and on asyncio's, and with either kind of future.
Where asyncio reaches into a future's private fields (a cancelled child's message, say), this
module asks the public way instead: ``fut.result()`` raises exactly the CancelledError that
asyncio's private helper would have built.

The module is longer than most because it is asyncio's ``tasks`` module: combinators that
each need their own bookkeeping, kept short and independent of one another.  ``wait`` and
``wait_for`` live in ``spindle._waiting`` (they are exported from here).
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import sys
import types
from collections import deque
from collections.abc import Awaitable, Coroutine, Generator, Iterable
from typing import Any, Generic, TypeVar, overload

from spindle import events
from spindle._core.faces import Future
from spindle._core.futures import isfuture, note_owner, set_result_unless_cancelled
from spindle._core.taskcore import add_bookkeeping_callback
from spindle._core.tasks import (
    Task,
    all_tasks,
    current_task,
    ensure_future,
    iscoroutine,
)
from spindle._core.timers import refuse_nan
from spindle._waiting import ALL_COMPLETED, FIRST_COMPLETED, FIRST_EXCEPTION, wait, wait_for
from spindle.exceptions import CancelledError
from spindle.threads import run_coroutine_threadsafe

__all__ = [
    "ALL_COMPLETED",
    "FIRST_COMPLETED",
    "FIRST_EXCEPTION",
    "Task",
    "all_tasks",
    "as_completed",
    "create_task",
    "current_task",
    "ensure_future",
    "gather",
    "run_coroutine_threadsafe",
    "shield",
    "sleep",
    "wait",
    "wait_for",
]

_T = TypeVar("_T")



# -- sleeping and spawning ---------------------------------------------------------------


@types.coroutine
def _one_turn() -> Generator[None, None, None]:
    """Give the loop one turn: a Task treats a bare ``yield`` as "run me again next pass"."""
    yield


@overload
async def sleep(delay: float) -> None: ...
@overload
async def sleep(delay: float, result: _T) -> _T: ...
async def sleep(delay: float, result: Any = None) -> Any:
    """Suspend the current task for ``delay`` seconds, then return ``result``.

    ``sleep(0)`` (or any delay <= 0) only lets the other ready tasks run once, with no timer.
    """
    if delay <= 0:
        await _one_turn()
        return result
    refuse_nan(delay, "sleep() delay")
    loop = events.get_running_loop()
    future = loop.create_future()
    handle = loop.call_later(delay, set_result_unless_cancelled, future, result)
    try:
        return await future
    finally:
        handle.cancel()  # a cancelled sleep takes its timer out of the loop's queue


def create_task(
    coro: Coroutine[Any, Any, _T],
    *,
    name: str | None = None,
    context: contextvars.Context | None = None,
) -> asyncio.Task[_T]:
    """Wrap ``coro`` in a task of the running loop and schedule it."""
    try:
        loop = events.get_running_loop()
    except RuntimeError:
        if iscoroutine(coro):
            coro.close()  # it will never run: spare the caller a "never awaited" warning
        raise
    if context is None:
        return loop.create_task(coro, name=name)
    return loop.create_task(coro, name=name, context=context)


# -- gather ----------------------------------------------------------------------------


def _cancellation(fut: asyncio.Future[Any]) -> CancelledError:
    """What awaiting ``fut`` raises as a cancellation: asyncio's ``_make_cancelled_error()``.

    On one of spindle's futures that is its own method; another implementation's future is
    asked the public way (its ``result()`` raises that same error).  Either way the future's
    stored CancelledError is handed out once: asking again builds a new one from the message.
    """
    if isinstance(fut, Future):
        return fut._make_cancelled_error()
    if not fut.cancelled():
        return CancelledError()
    try:
        fut.result()
    except CancelledError as exc:
        return exc
    raise AssertionError(f"{fut!r} is cancelled but its result() did not raise CancelledError")


def _cancel_message(fut: asyncio.Future[Any]) -> Any:
    """The message ``fut`` itself was cancelled with (None: none, or the task's coroutine
    raised its CancelledError rather than being cancelled directly)."""
    if isinstance(fut, Future):
        return fut._cancel_message
    args = _cancellation(fut).args
    return args[0] if args else None


class _GatheringFuture(Future):
    """The future ``gather()`` returns.

    Cancelling it cancels the children instead of itself, like ``Task.cancel()``: the
    gathering future then ends with the children's CancelledError once they are done.
    """

    def __init__(
        self, children: list[asyncio.Future[Any]], *, loop: asyncio.AbstractEventLoop
    ) -> None:
        super().__init__(loop=loop)
        self._children = children
        self._cancel_requested = False

    def cancel(self, msg: Any = None) -> bool:
        if self.done():
            return False
        cancelled_any = False
        for child in self._children:
            if child.cancel(msg=msg):
                cancelled_any = True
        if cancelled_any:
            # Propagate the cancellation even with return_exceptions=True (bpo-32684).
            self._cancel_requested = True
        return cancelled_any


def _validate_awaitables(aws: tuple[object, ...]) -> None:
    """Refuse the whole call before any task is created; close the coroutines refused."""
    for aw in aws:
        if not (iscoroutine(aw) or isfuture(aw) or inspect.isawaitable(aw)):
            for other in aws:
                if isinstance(other, (Coroutine, types.GeneratorType)):
                    other.close()
            raise TypeError(
                f"cannot gather {type(aw).__name__!r} object: "
                "an asyncio.Future, a coroutine or an awaitable is required"
            )


# A child already done when gather() is called: 3.12+ reports it at once, so a gather of
# finished futures is finished on return (for eager tasks); 3.11 schedules its callback.
REPORT_DONE_CHILDREN_AT_ONCE = sys.version_info >= (3, 12)


def gather(*aws: Awaitable[Any], return_exceptions: bool = False) -> asyncio.Future[list[Any]]:
    """Run ``aws`` concurrently; the returned future's result lists their results in order.

    Without ``return_exceptions`` the first exception (or cancellation) of a child becomes
    the gather's; with it, exceptions are returned in the list like results.  Cancelling
    the returned future cancels every child that is not done.
    """
    if not aws:
        loop = events.get_event_loop()
        empty = loop.create_future()
        empty.set_result([])
        return empty
    _validate_awaitables(aws)
    children: list[asyncio.Future[Any]] = []
    by_argument: dict[object, asyncio.Future[Any]] = {}
    finished = 0
    outer: _GatheringFuture | None = None  # made once every child is

    def on_child_done(child: asyncio.Future[Any]) -> None:
        """The done-callback shared by the children (it never runs before ``outer`` exists:
        callbacks are scheduled, and children done at once are reported after it is made)."""
        nonlocal finished
        finished += 1
        assert outer is not None
        if outer.done():
            if not child.cancelled():
                child.exception()  # mark it retrieved: the gather has already reported
            return
        if not return_exceptions:
            if child.cancelled():
                outer.set_exception(_cancellation(child))
                return
            exc = child.exception()
            if exc is not None:
                outer.set_exception(exc)
                return
        if finished < len(by_argument):
            return
        # Every child is done.  The outcomes are read even when the gather is cancelled:
        # that marks the children's exceptions retrieved (nobody else will see them).
        if return_exceptions:
            results = [_outcome(child) for child in children]
        else:  # every child succeeded: a failure would have finished the gather already
            results = [child.result() for child in children]
        if outer._cancel_requested:
            # Being cancelled wins over return_exceptions (bpo-32684); asyncio raises what
            # the last argument raises as a cancellation (a bare one if it was not cancelled).
            outer.set_exception(_cancellation(children[-1]))
        else:
            outer.set_result(results)

    callback_context = contextvars.copy_context()  # one for all the children's callbacks
    done_at_once: list[asyncio.Future[Any]] = []
    children_loop: asyncio.AbstractEventLoop | None = None
    for aw in aws:
        child = by_argument.get(aw)
        if child is None:  # the same future or coroutine twice is run once
            if children_loop is not None and type(aw) is types.CoroutineType:
                # The common case, without ensure_future's checks.
                child = children_loop.create_task(aw)
            else:
                child = ensure_future(aw, loop=children_loop)
                children_loop = child.get_loop()
            if child is not aw and isinstance(child, Task):
                # A task of the gather's own making: the caller cannot see it, so it is not
                # reported if the loop closes with it pending (asyncio's rule).
                child._log_destroy_pending = False
            by_argument[aw] = child
            # Registered as each child comes: on 3.11 a child already done has its callback
            # scheduled now, before the tasks of the arguments after it take their first step.
            if REPORT_DONE_CHILDREN_AT_ONCE and child.done():
                done_at_once.append(child)
            else:
                add_bookkeeping_callback(child, on_child_done, callback_context)
        children.append(child)
    outer = _GatheringFuture(children, loop=children[0].get_loop())
    for child in done_at_once:
        on_child_done(child)
    # spindle's futures speak asyncio's future protocol without being its class.
    return outer  # type: ignore[return-value]


def _outcome(child: asyncio.Future[Any]) -> Any:
    """A finished child's result, or its exception as a value (``return_exceptions``).

    A cancelled child is a new CancelledError carrying the message the child itself was
    cancelled with: empty for a task whose coroutine raised it (asyncio's rule).
    """
    if child.cancelled():
        message = _cancel_message(child)
        return CancelledError("" if message is None else message)
    exc = child.exception()
    return exc if exc is not None else child.result()


# -- as_completed and shield -----------------------------------------------------------


AS_COMPLETED_STARTS_IN_CALL = sys.version_info >= (3, 13)


class _AsCompleted(Generic[_T]):
    """The iterator ``as_completed`` returns.

    As a plain iterator (any Python) it yields coroutines, each returning the outcome of the
    next future to finish.  As an async iterator (3.13) it yields the finished futures
    themselves.  Finished futures wait in a FIFO until a consumer takes them; None in it
    means the timeout expired.

    Up to 3.12 the work starts at the first iteration (asyncio's was a generator), so bad
    arguments raise there too; from 3.13 it starts in the call, as asyncio's does.
    """

    def __init__(self, aws: Iterable[Awaitable[_T]], timeout: float | None) -> None:
        if timeout is not None:
            refuse_nan(timeout, "as_completed() timeout")
        self._aws: Iterable[Awaitable[_T]] | None = aws  # None once started
        self._timeout = timeout
        self._loop: asyncio.AbstractEventLoop | None = None
        self._todo: set[asyncio.Future[_T]] = set()
        self._left = 0
        self._finished: deque[asyncio.Future[_T] | None] = deque()
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._timer: asyncio.TimerHandle | None = None
        if AS_COMPLETED_STARTS_IN_CALL:
            self._start()

    def _start(self) -> None:
        aws = self._aws
        if aws is None:
            return
        if inspect.isawaitable(aws):
            raise TypeError(
                f"cannot iterate over {type(aws).__name__}: as_completed() expects an "
                "iterable of awaitables"
            )
        loop = events.get_event_loop()
        self._aws = None
        self._loop = loop
        self._todo = {ensure_future(aw, loop=loop) for aw in set(aws)}
        self._left = len(self._todo)
        for fut in self._todo:
            fut.add_done_callback(self._on_done)
        if self._todo and self._timeout is not None:
            self._timer = loop.call_later(self._timeout, self._on_timeout)

    def __iter__(self) -> _AsCompleted[_T]:
        return self

    def __next__(self) -> Coroutine[Any, Any, _T]:
        self._start()
        if not self._left:
            raise StopIteration
        self._left -= 1
        return self._next_result()

    def __aiter__(self) -> _AsCompleted[_T]:
        return self

    async def __anext__(self) -> asyncio.Future[_T]:
        self._start()
        if not self._left:
            raise StopAsyncIteration
        self._left -= 1
        return await self._next_finished()

    async def _next_result(self) -> _T:
        return (await self._next_finished()).result()

    async def _next_finished(self) -> asyncio.Future[_T]:
        while not self._finished:
            assert self._loop is not None  # set by _start()
            waiter: asyncio.Future[None] = self._loop.create_future()
            note_owner(waiter, self)
            self._waiters.append(waiter)
            try:
                await waiter
            except BaseException:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
                elif self._finished:
                    self._wake_one()  # we were woken but will not consume: pass it on
                raise
        fut = self._finished.popleft()
        if fut is None:
            raise TimeoutError
        return fut

    def _wake_one(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def _on_done(self, fut: asyncio.Future[_T]) -> None:
        if not self._todo:
            return  # the timeout came first
        self._todo.remove(fut)
        self._finished.append(fut)
        self._wake_one()
        if not self._todo and self._timer is not None:
            self._timer.cancel()

    def _on_timeout(self) -> None:
        for fut in self._todo:
            fut.remove_done_callback(self._on_done)
            self._finished.append(None)
            self._wake_one()
        self._todo.clear()


def as_completed(aws: Iterable[Awaitable[_T]], *, timeout: float | None = None) -> _AsCompleted[_T]:
    """Iterate over ``aws`` in the order they finish.

    ``for next_done in as_completed(aws): result = await next_done`` works everywhere;
    ``async for fut in as_completed(aws)`` (3.13) yields the finished futures themselves.
    A TimeoutError is raised when ``timeout`` expires before all are done.
    """
    return _AsCompleted(aws, timeout)


def shield(aw: Awaitable[_T]) -> asyncio.Future[_T]:
    """Protect ``aw`` from the cancellation of whoever awaits the returned future.

    Cancelling the outer future leaves the inner one running; if the inner one is cancelled
    by other means, the outer one is cancelled too.
    """
    inner: asyncio.Future[_T] = ensure_future(aw)
    if inner.done():
        return inner
    outer: asyncio.Future[_T] = inner.get_loop().create_future()
    note_owner(outer, inner)  # diagnostics: whoever awaits outer awaits inner

    def on_inner_done(inner: asyncio.Future[_T]) -> None:
        if outer.cancelled():
            if not inner.cancelled():
                inner.exception()  # mark retrieved: nobody is left to see it
            return
        if inner.cancelled():
            outer.cancel()
            return
        exc = inner.exception()
        if exc is not None:
            outer.set_exception(exc)
        else:
            outer.set_result(inner.result())

    def on_outer_done(outer: asyncio.Future[_T]) -> None:
        if not inner.done():
            inner.remove_done_callback(on_inner_done)

    inner.add_done_callback(on_inner_done)
    outer.add_done_callback(on_outer_done)
    return outer
