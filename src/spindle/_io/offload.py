"""The system calls that may wait on a disk or a child, made on a worker thread, not the loop's.

Three calls that asyncio makes on the loop's own thread can block it for as long as a disk or
the kernel takes:

* starting a child: ``subprocess.Popen`` forks, then reads the exec-error pipe until the child
  has called ``exec`` (or failed to), a blocking ``os.read``;
* ``os.sendfile``: the socket is non-blocking, but the file's pages are read from the disk
  when they are not in the page cache;
* a Unix server's socket path: the ``stat`` of a stale socket file, its removal, the ``bind``
  that creates the new one and the ``stat`` that records its inode.

Tools that catch blocking calls inside a running loop (blockbuster, used by aiohttp's and
anyio's test suites and by many applications') exempt those calls when asyncio's own functions
make them.  spindle does not ask for the same exemption: it makes the calls where no loop runs.
``Offload`` is a small pool of threads, separate from the loop's default executor (whose size,
thread names and shutdown belong to the application), made on first use and shut down with
the loop.  A coroutine awaits ``run(func, *args)``; the loop keeps running meanwhile.

A call is never abandoned half-way: a coroutine cancelled while its call runs on the worker
learns of the cancellation only once the call has finished, and the caller is told what the call
did (``on_cancel``), so that, for instance, the bytes ``os.sendfile`` sent are counted and a
child that started is not left running.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
from collections.abc import Callable
from typing import Any, Protocol, TypeVar, TypeVarTuple

from spindle._core.futures import wrap_concurrent_future

__all__ = ["Offload"]

T = TypeVar("T")
Ts = TypeVarTuple("Ts")

# Enough for a few files sent and a child started at once; more calls wait their turn.
MAX_WORKERS = 4


class _Loop(Protocol):
    """What ``Offload`` needs of its loop: futures, and being woken from another thread."""

    def create_future(self) -> asyncio.Future[Any]: ...

    def call_soon_threadsafe(self, callback: Callable[..., object], *args: Any) -> Any: ...

    def is_closed(self) -> bool: ...


class Offload:
    """Worker threads for the loop's own blocking system calls (see the module docstring)."""

    def __init__(self, loop: _Loop) -> None:
        # Let go at close(): the loop holds this object, and a closed loop is then freed as
        # soon as the program drops it, without waiting for the garbage collector.
        self._loop: _Loop | None = loop
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None

    async def run(
        self,
        func: Callable[[*Ts], T],
        *args: *Ts,
        on_cancel: Callable[[T], object] | None = None,
    ) -> T:
        """``func(*args)`` on a worker thread, its result or its exception.

        A cancellation that arrives while the call runs is raised once the call has finished;
        ``on_cancel(result)`` is called first if it returned, so that what it did (a child
        started, bytes sent) is not lost.
        """
        loop = self._loop
        if loop is None:
            raise RuntimeError("cannot run a call on the worker threads of a closed loop")
        if self._executor is None:
            self._executor = concurrent.futures.ThreadPoolExecutor(
                MAX_WORKERS, thread_name_prefix="spindle-offload"
            )
        done: asyncio.Future[T] = wrap_concurrent_future(
            self._executor.submit(func, *args), loop=loop
        )
        cancelled: asyncio.CancelledError | None = None
        while not done.done():
            # Awaiting a waiter, not ``done``: a cancellation cancels the waiter only.
            waiter: asyncio.Future[None] = loop.create_future()
            done.add_done_callback(functools.partial(_wake, waiter))
            try:
                await waiter
            except asyncio.CancelledError as exc:
                # Even when the call has just finished (its outcome is in, this task has not
                # resumed yet): the caller was cancelled, and must hear it.  Dropping it here
                # left a cancelled sendfile sending a whole file (aiohttp's
                # test_static_file_huge_cancel).
                cancelled = exc
        if cancelled is not None:
            if on_cancel is not None and not done.cancelled() and done.exception() is None:
                on_cancel(done.result())
            raise cancelled
        return done.result()

    def close(self) -> None:
        self._loop = None
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False)


def _wake(waiter: asyncio.Future[None], _: object) -> None:
    if not waiter.done():
        waiter.set_result(None)
