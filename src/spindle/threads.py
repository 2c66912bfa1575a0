"""Crossing between the loop's thread and other threads.

Three bridges, one per direction of travel:

- ``to_thread`` runs a blocking function in the loop's default executor and lets a coroutine
  await it.  The caller's ``contextvars`` are copied into the worker, so a request id set in
  a context variable is still visible in the thread.
- ``wrap_future`` goes the other way for a result: it turns a ``concurrent.futures.Future``
  (completed by some thread) into a future of the loop, which a task can await.
- ``run_coroutine_threadsafe`` lets a plain thread hand a coroutine to a loop running
  elsewhere and get back a ``concurrent.futures.Future`` to block on.

A loop's futures may only be touched from the loop's thread, and a concurrent future may be
completed from any thread.  So every hop across the boundary goes through
``loop.call_soon_threadsafe``, never through a direct call, except where we already run on
the loop's thread.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import functools
from collections.abc import Callable, Coroutine
from typing import Any, ParamSpec, TypeVar, cast

from spindle import events
from spindle._core.futures import isfuture, wrap_concurrent_future
from spindle._core.tasks import ensure_future, iscoroutine

__all__ = ["run_coroutine_threadsafe", "to_thread", "wrap_future"]

_T = TypeVar("_T")
_P = ParamSpec("_P")


async def to_thread(func: Callable[_P, _T], /, *args: _P.args, **kwargs: _P.kwargs) -> _T:
    """Run ``func(*args, **kwargs)`` in the default executor and return its result.

    The current ``contextvars.Context`` is copied and the call runs inside the copy, so
    context variables set by the caller are visible in the worker thread (and changes made
    there do not leak back).
    """
    loop = events.get_running_loop()
    context = contextvars.copy_context()
    call = functools.partial(context.run, func, *args, **kwargs)
    return await loop.run_in_executor(None, call)


def wrap_future(
    future: concurrent.futures.Future[_T] | asyncio.Future[_T],
    *,
    loop: asyncio.AbstractEventLoop | None = None,
) -> asyncio.Future[_T]:
    """A future of ``loop`` (default: the current loop) that mirrors a concurrent future.

    A future that already belongs to a loop is returned unchanged.  Cancelling the returned
    future cancels the concurrent one.
    """
    if isfuture(future):
        return cast("asyncio.Future[_T]", future)
    if not isinstance(future, concurrent.futures.Future):
        raise TypeError(
            f"cannot wrap {type(future).__name__}: a concurrent.futures.Future is expected"
        )
    if loop is None:
        loop = events.get_event_loop()
    return cast("asyncio.Future[_T]", wrap_concurrent_future(future, loop=loop))


def run_coroutine_threadsafe(
    coro: Coroutine[Any, Any, _T], loop: asyncio.AbstractEventLoop
) -> concurrent.futures.Future[_T]:
    """Submit ``coro`` to ``loop`` (running in another thread); return a concurrent future.

    The coroutine becomes a task of ``loop``.  Its outcome is copied into the returned future;
    cancelling the returned future cancels the task.
    """
    if not iscoroutine(coro):
        raise TypeError(f"a coroutine object is required, not {type(coro).__name__}")
    outcome: concurrent.futures.Future[_T] = concurrent.futures.Future()

    def start() -> None:
        # Runs on the loop's thread.
        try:
            task = ensure_future(coro, loop=loop)
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            if outcome.set_running_or_notify_cancel():
                outcome.set_exception(exc)
            raise
        _chain_to_concurrent(task, outcome, loop)

    loop.call_soon_threadsafe(start)
    return outcome


def _chain_to_concurrent(
    source: asyncio.Future[_T],
    destination: concurrent.futures.Future[_T],
    loop: asyncio.AbstractEventLoop,
) -> None:
    """Copy ``source``'s outcome into ``destination``; cancel ``source`` if it is cancelled.

    ``source`` lives on ``loop``; ``destination`` may be cancelled from any thread, so the
    cancellation is carried over to the loop with ``call_soon_threadsafe``.
    """

    def on_destination_done(done: concurrent.futures.Future[_T]) -> None:
        if done.cancelled() and not loop.is_closed():
            loop.call_soon_threadsafe(source.cancel)

    def on_source_done(done: asyncio.Future[_T]) -> None:
        if done.cancelled():
            destination.cancel()
        if not destination.set_running_or_notify_cancel():
            return  # cancelled by its owner: nothing to report
        exception = done.exception()
        if exception is not None:
            destination.set_exception(exception)
        else:
            destination.set_result(done.result())

    destination.add_done_callback(on_destination_done)
    source.add_done_callback(on_source_done)
