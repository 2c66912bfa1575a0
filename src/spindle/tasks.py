"""The task-level API: sleeping, spawning tasks and waiting for several things at once.

Everything here is written against the public surface of an event loop (``create_future``,
``create_task``, ``call_later``, ...) and the public methods of futures and tasks, so each
function works the same on spindle's loop and on asyncio's, and with either kind of future.
Where asyncio reaches into a future's private fields (a cancelled child's message, say), this
module asks the public way instead: ``fut.result()`` raises exactly the CancelledError that
asyncio's private helper would have built.

The module is longer than most because it is asyncio's ``tasks`` module: seven combinators
that each need their own bookkeeping.  They are kept short and independent of one another.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import inspect
import math
import types
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Generator, Iterable
from typing import Any, Generic, TypeVar, overload

from spindle import events, timeouts
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
_FutureT = TypeVar("_FutureT", bound="asyncio.Future[Any]")

FIRST_COMPLETED = concurrent.futures.FIRST_COMPLETED
FIRST_EXCEPTION = concurrent.futures.FIRST_EXCEPTION
ALL_COMPLETED = concurrent.futures.ALL_COMPLETED


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
    if math.isnan(delay):
        raise ValueError("cannot sleep: invalid delay NaN (not a number)")
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
    """The CancelledError that awaiting the cancelled ``fut`` raises (message included)."""
    try:
        fut.result()
    except CancelledError as exc:
        return exc
    raise AssertionError(f"{fut!r} is not cancelled")


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
            by_argument[aw] = child
        children.append(child)
    outer = _GatheringFuture(children, loop=children[0].get_loop())
    on_child_done = _gather_callback(outer, children, len(by_argument), return_exceptions)
    callback_context = contextvars.copy_context()  # one for all the children's callbacks
    for child in by_argument.values():
        # A child that is already done is reported now, so a gather of finished futures
        # is finished on return (3.12's eager-task behaviour).
        if child.done():
            on_child_done(child)
        else:
            add_bookkeeping_callback(child, on_child_done, callback_context)
    # spindle's futures speak asyncio's future protocol without being its class.
    return outer  # type: ignore[return-value]


def _gather_callback(
    outer: _GatheringFuture,
    children: list[asyncio.Future[Any]],
    distinct: int,
    return_exceptions: bool,
) -> Callable[[asyncio.Future[Any]], None]:
    """The done-callback shared by a gather's children."""
    finished = 0

    def on_child_done(child: asyncio.Future[Any]) -> None:
        nonlocal finished
        finished += 1
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
        if finished < distinct:
            return
        if outer._cancel_requested:
            # Being cancelled wins over return_exceptions (bpo-32684).
            outer.set_exception(_last_cancellation(children))
        elif return_exceptions:
            outer.set_result([_outcome(child) for child in children])
        else:
            # Every child succeeded: a failure would have finished the gather already.
            outer.set_result([child.result() for child in children])

    return on_child_done


def _outcome(child: asyncio.Future[Any]) -> Any:
    """A finished child's result, or its exception as a value (``return_exceptions``)."""
    if child.cancelled():
        args = _cancellation(child).args
        return CancelledError(args[0] if args else "")
    exc = child.exception()
    return exc if exc is not None else child.result()


def _last_cancellation(children: list[asyncio.Future[Any]]) -> CancelledError:
    for child in reversed(children):
        if child.cancelled():
            return _cancellation(child)
    return CancelledError()  # every child suppressed its cancellation


# -- wait and wait_for -----------------------------------------------------------------


async def wait(
    aws: Iterable[_FutureT], *, timeout: float | None = None, return_when: str = ALL_COMPLETED
) -> tuple[set[_FutureT], set[_FutureT]]:
    """Wait until the futures in ``aws`` are done as ``return_when`` says; never raises on
    timeout.  Returns ``(done, pending)``.

    Bare coroutines are refused with TypeError (asyncio removed their implicit wrapping in
    3.11, so 3.11 and 3.12 agree: wrap them in tasks first).
    """
    if isfuture(aws) or iscoroutine(aws):
        raise TypeError(f"cannot wait: expected a list of futures, not {type(aws).__name__}")
    if return_when not in (FIRST_COMPLETED, FIRST_EXCEPTION, ALL_COMPLETED):
        raise ValueError(f"cannot wait: invalid return_when value: {return_when}")
    futures = set(aws)
    if not futures:
        raise ValueError("cannot wait: the set of tasks/futures is empty")
    if any(iscoroutine(f) for f in futures):
        raise TypeError(
            "cannot wait for a coroutine: passing coroutines is forbidden, "
            "wrap them in tasks explicitly"
        )
    loop = events.get_running_loop()
    return await _wait_until(futures, timeout, return_when, loop)


def _release(waiter: asyncio.Future[None], *_: object) -> None:
    if not waiter.done():
        waiter.set_result(None)


async def _wait_until(
    futures: set[_FutureT],
    timeout: float | None,
    return_when: str,
    loop: asyncio.AbstractEventLoop,
) -> tuple[set[_FutureT], set[_FutureT]]:
    waiter: asyncio.Future[None] = loop.create_future()
    note_owner(waiter, futures)  # diagnostics: the task waits for these
    timer = loop.call_later(timeout, _release, waiter) if timeout is not None else None
    remaining = len(futures)

    def on_done(fut: asyncio.Future[Any]) -> None:
        nonlocal remaining
        remaining -= 1
        failed = not fut.cancelled() and fut.exception() is not None
        if (
            remaining <= 0
            or return_when == FIRST_COMPLETED
            or (return_when == FIRST_EXCEPTION and failed)
        ):
            _release(waiter)

    for fut in futures:
        fut.add_done_callback(on_done)
    try:
        await waiter
    finally:
        if timer is not None:
            timer.cancel()
        for fut in futures:
            fut.remove_done_callback(on_done)
    done = {f for f in futures if f.done()}
    return done, futures - done


async def wait_for(aw: Awaitable[_T], timeout: float | None) -> _T:
    """Await ``aw``; cancel it and raise TimeoutError if it takes longer than ``timeout``.

    3.12 semantics: a coroutine runs in the calling task, inside ``timeouts.timeout``.  So a
    task that suppresses the cancellation and returns a value has that value returned (not
    lost), and a cancellation from outside that races the deadline stays a CancelledError:
    it is neither swallowed nor turned into TimeoutError (3.11's wait_for did both).
    """
    if timeout is not None and timeout <= 0:
        # Already expired: do not even start a coroutine that has not started.
        fut = ensure_future(aw)
        if fut.done():
            return fut.result()  # type: ignore[no-any-return]
        await _cancel_and_wait(fut)
        try:
            return fut.result()  # type: ignore[no-any-return]
        except CancelledError as exc:
            raise TimeoutError from exc
    async with timeouts.timeout(timeout):
        return await aw


async def _cancel_and_wait(fut: asyncio.Future[Any]) -> None:
    """Cancel ``fut`` and wait until it is done, without ever awaiting ``fut`` itself (so
    that this wait can be cancelled on its own)."""
    loop = events.get_running_loop()
    waiter: asyncio.Future[None] = loop.create_future()
    note_owner(waiter, fut)

    def release(_: asyncio.Future[Any]) -> None:
        _release(waiter)

    fut.add_done_callback(release)
    try:
        fut.cancel()
        await waiter
    finally:
        fut.remove_done_callback(release)


# -- as_completed and shield -----------------------------------------------------------


class _AsCompleted(Generic[_T]):
    """The iterator ``as_completed`` returns.

    As a plain iterator (any Python) it yields coroutines, each returning the outcome of the
    next future to finish.  As an async iterator (3.13) it yields the finished futures
    themselves.  Finished futures wait in a FIFO until a consumer takes them; None in it
    means the timeout expired.

    The work starts at the first iteration, as with 3.11's generator (3.13 starts it in the
    call, and its tests accept either), so bad arguments raise there too.
    """

    def __init__(self, aws: Iterable[Awaitable[_T]], timeout: float | None) -> None:
        self._aws: Iterable[Awaitable[_T]] | None = aws  # None once started
        self._timeout = timeout
        self._loop: asyncio.AbstractEventLoop | None = None
        self._todo: set[asyncio.Future[_T]] = set()
        self._left = 0
        self._finished: deque[asyncio.Future[_T] | None] = deque()
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._timer: asyncio.TimerHandle | None = None

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
