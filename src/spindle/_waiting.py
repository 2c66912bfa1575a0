"""Waiting with a limit: ``wait()`` (for some of several futures) and ``wait_for()`` (for
one, with a timeout).  Part of asyncio's ``tasks`` module; ``spindle.tasks`` exports them.

``wait_for()`` is where asyncio changed most between versions: 3.11 races the awaitable, in a
task of its own, against a timer; 3.12 rewrote it on ``timeout()``, running a coroutine in the
calling task.  Both are here, and the running Python picks its own.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import sys
from collections.abc import Awaitable, Iterable
from typing import Any, TypeVar

from spindle import events, timeouts
from spindle._core.futures import isfuture, note_owner
from spindle._core.tasks import ensure_future, iscoroutine
from spindle._core.timers import refuse_nan
from spindle.exceptions import CancelledError

__all__ = ["ALL_COMPLETED", "FIRST_COMPLETED", "FIRST_EXCEPTION", "wait", "wait_for"]

_T = TypeVar("_T")
_FutureT = TypeVar("_FutureT", bound="asyncio.Future[Any]")

FIRST_COMPLETED = concurrent.futures.FIRST_COMPLETED
FIRST_EXCEPTION = concurrent.futures.FIRST_EXCEPTION
ALL_COMPLETED = concurrent.futures.ALL_COMPLETED


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
    if timeout is not None:
        refuse_nan(timeout, "wait() timeout")
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
        # A future's exception() is read only for FIRST_EXCEPTION: reading it marks it
        # retrieved, and the caller, not wait(), is the one to look at it.
        if (
            remaining <= 0
            or return_when == FIRST_COMPLETED
            or (
                return_when == FIRST_EXCEPTION
                and not fut.cancelled()
                and fut.exception() is not None
            )
        ):
            if timer is not None:
                timer.cancel()
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


# Where wait_for() runs a coroutine: 3.12+ runs it in the calling task, inside a timeout();
# 3.11 wraps it in a task of its own and races that task against a timer.
WAIT_FOR_IN_CALLING_TASK = sys.version_info >= (3, 12)


async def wait_for(aw: Awaitable[_T], timeout: float | None) -> _T:
    """Await ``aw``; cancel it and raise TimeoutError if it takes longer than ``timeout``.

    As the running Python's asyncio does it.  From 3.12 a coroutine runs in the calling
    task, inside ``timeouts.timeout``: a task that suppresses the cancellation and returns a
    value has that value returned, and a cancellation from outside that races the deadline
    stays a CancelledError.  3.11 runs ``aw`` in a task of its own (so it starts a loop turn
    later) and, when the caller is cancelled just as ``aw`` finishes, returns ``aw``'s
    result and drops the caller's cancellation (CPython gh-86296, fixed by 3.12's rewrite).
    """
    if timeout is not None:
        refuse_nan(timeout, "wait_for() timeout")
        if timeout <= 0:
            return await _wait_expired(aw)
    if WAIT_FOR_IN_CALLING_TASK:
        async with timeouts.timeout(timeout):
            return await aw
    if timeout is None:
        return await aw
    return await _wait_for_in_own_task(aw, timeout)


async def _wait_expired(aw: Awaitable[_T]) -> _T:
    """wait_for() with a deadline already past: do not even start a coroutine that has not
    started; cancel ``aw`` and raise TimeoutError unless it is done (or ends otherwise)."""
    fut: asyncio.Future[_T] = ensure_future(aw)
    if fut.done():
        return fut.result()
    await _cancel_and_wait(fut)
    return _result_or_timeout(fut)


def _result_or_timeout(fut: asyncio.Future[_T]) -> _T:
    """The result of ``fut``, which wait_for() cancelled: TimeoutError if it obeyed."""
    try:
        return fut.result()
    except CancelledError as exc:
        raise TimeoutError from exc


async def _wait_for_in_own_task(aw: Awaitable[_T], timeout: float) -> _T:
    """3.11's wait_for(): ``aw`` in a task, released by its end or by a timer."""
    loop = events.get_running_loop()
    released: asyncio.Future[None] = loop.create_future()
    timer = loop.call_later(timeout, _release, released)
    inner: asyncio.Future[_T] = ensure_future(aw, loop=loop)
    note_owner(released, inner)  # diagnostics: the task waits for inner

    def on_inner_done(_: asyncio.Future[_T]) -> None:
        _release(released)

    inner.add_done_callback(on_inner_done)
    try:
        try:
            await released
        except CancelledError:
            if inner.done():
                return inner.result()  # the cancellation lost the race: dropped (3.11)
            inner.remove_done_callback(on_inner_done)
            await _cancel_and_wait(inner)  # never leave it running behind our back
            raise
        if inner.done():
            return inner.result()
        inner.remove_done_callback(on_inner_done)
        await _cancel_and_wait(inner)
        return _result_or_timeout(inner)  # it may have ended otherwise (bpo-40607)
    finally:
        timer.cancel()


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
