"""The primitives a benchmark case may use, as one small record per implementation.

Each case is written once, against the public loop API plus the few high-level primitives named
here.  An implementation supplies *its own* primitives: spindle's cases call ``spindle.sleep``,
``spindle.gather``, ``spindle.TaskGroup``, ``spindle.Queue`` and ``spindle.start_server``;
asyncio, uvloop and rloop (which ship only a loop) call asyncio's.  A case can also be run with
asyncio's primitives on any loop (``asyncio_api``): that is what a program gets under
``spindle.install()``, where the loop is spindle's but the code calls ``asyncio.gather``.  The
protocols below are the narrow surface the cases touch, so any conforming implementation
type-checks against them without a cast.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Protocol, Self, runtime_checkable

__all__ = [
    "Api",
    "QueueLike",
    "ReaderLike",
    "TaskGroupLike",
    "TransportLike",
    "WriterLike",
    "asyncio_api",
]


class TaskGroupLike(Protocol):
    """What the TaskGroup case uses: ``async with tg: tg.create_task(coro)``."""

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        et: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None: ...

    def create_task(self, coro: Coroutine[Any, Any, None]) -> object: ...


class QueueLike(Protocol):
    """What the Queue case uses: ``await q.put(item)`` and ``await q.get()``."""

    async def put(self, item: int) -> None: ...

    async def get(self) -> int: ...


class ReaderLike(Protocol):
    """What the streams echo server reads with: ``await reader.read(n)``."""

    async def read(self, n: int = -1) -> bytes: ...


class WriterLike(Protocol):
    """What the streams echo server writes with."""

    def write(self, data: bytes) -> None: ...

    async def drain(self) -> None: ...

    def close(self) -> None: ...

    async def wait_closed(self) -> None: ...


@runtime_checkable
class TransportLike(Protocol):
    """What the echo protocols use of a transport.

    A protocol rather than ``asyncio.Transport``: uvloop's transports implement the API without
    deriving from asyncio's classes, so ``isinstance(t, asyncio.Transport)`` is false for them.
    """

    def write(self, data: bytes) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Api:
    """One implementation's primitives, as the cases call them."""

    sleep: Callable[[float], Awaitable[None]]
    gather: Callable[..., Awaitable[list[Any]]]
    task_group: Callable[[], TaskGroupLike]
    queue: Callable[[int], QueueLike]
    # start_server(client_connected_cb, host, port): the streams server of bench.echo.
    start_server: Callable[..., Awaitable[asyncio.AbstractServer]]


def _asyncio_queue(maxsize: int) -> QueueLike:
    return asyncio.Queue(maxsize)


def asyncio_api() -> Api:
    """asyncio's primitives, used by every implementation that ships only a loop."""
    return Api(
        sleep=asyncio.sleep,
        gather=asyncio.gather,
        task_group=asyncio.TaskGroup,
        queue=_asyncio_queue,
        start_server=asyncio.start_server,
    )
