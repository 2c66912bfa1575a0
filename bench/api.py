"""The primitives a benchmark case may use, as one small record per implementation.

Each case is written once, against the public loop API plus the few high-level primitives named
here.  An implementation supplies *its own* primitives: spindle's cases call ``spindle.sleep``,
``spindle.gather``, ``spindle.TaskGroup`` and ``spindle.Queue``; asyncio, uvloop and rloop (which
ship only a loop) call asyncio's.  The protocols below are the narrow surface the cases touch, so
any conforming implementation type-checks against them without a cast.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Protocol, Self

__all__ = ["Api", "QueueLike", "TaskGroupLike", "asyncio_api"]


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


@dataclass(frozen=True)
class Api:
    """One implementation's primitives, as the cases call them."""

    sleep: Callable[[float], Awaitable[None]]
    gather: Callable[..., Awaitable[list[Any]]]
    task_group: Callable[[], TaskGroupLike]
    queue: Callable[[int], QueueLike]


def _asyncio_queue(maxsize: int) -> QueueLike:
    return asyncio.Queue(maxsize)


def asyncio_api() -> Api:
    """asyncio's primitives, used by every implementation that ships only a loop."""
    return Api(
        sleep=asyncio.sleep,
        gather=asyncio.gather,
        task_group=asyncio.TaskGroup,
        queue=_asyncio_queue,
    )
