"""Happy Eyeballs (RFC 8305): connect to whichever address answers first.

A host name often resolves to several addresses, IPv6 and IPv4.  Trying them one after the
other makes a dead first address cost a full connect timeout.  Instead:

* ``interleave`` (a pure function) reorders the addresses so the families alternate
  (v6, v4, v6, v4, ...), after the first ``first_family_count`` addresses of the first family;
* ``staggered_race`` starts the first attempt, and starts the next one when the previous one
  fails or when ``delay`` seconds have passed without an answer, whichever comes first.  The
  first attempt to succeed wins; every other is cancelled, and a late second success is
  handed to ``discard`` (to close its socket).  With ``delay=None`` attempts run strictly one
  after the other, which is also how ``create_connection`` works without happy eyeballs.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Coroutine, Iterable, Sequence
from typing import Any, TypeVar

__all__ = ["interleave", "staggered_race"]

T = TypeVar("T")


def interleave(infos: Sequence[T], first_family_count: int = 1) -> list[T]:
    """``infos`` (getaddrinfo entries) with address families alternating, RFC 8305 style."""
    by_family: dict[Any, list[T]] = {}
    for info in infos:
        by_family.setdefault(info[0], []).append(info)  # type: ignore[index]
    groups = list(by_family.values())
    if not groups:
        return []
    head = groups[0][: max(first_family_count - 1, 0)]
    groups[0] = groups[0][len(head) :]
    rest = [info for row in itertools.zip_longest(*groups) for info in row if info is not None]
    return head + rest


async def staggered_race(
    loop: asyncio.AbstractEventLoop,
    attempts: Iterable[Callable[[], Coroutine[Any, Any, T]]],
    delay: float | None,
    discard: Callable[[T], object],
) -> T | None:
    """The result of the first attempt to succeed, or None when all fail.

    Attempts record their own errors (the caller gives them a list); this function only
    orders them.
    """
    pending = iter(attempts)
    outcome: asyncio.Future[T | None] = loop.create_future()
    running: set[asyncio.Future[T]] = set()
    timer: asyncio.TimerHandle | None = None
    exhausted = False

    def start_next() -> None:
        nonlocal timer, exhausted
        if timer is not None:
            timer.cancel()
            timer = None
        if outcome.done():
            return
        factory = next(pending, None)
        if factory is None:
            exhausted = True
            if not running:
                outcome.set_result(None)
            return
        task = loop.create_task(factory())
        running.add(task)
        task.add_done_callback(finished)
        if delay is not None:
            timer = loop.call_later(delay, start_next)

    def finished(task: asyncio.Future[T]) -> None:
        running.discard(task)
        if task.cancelled():
            return
        if task.exception() is None:
            if outcome.done():
                discard(task.result())  # a late success: somebody else won
            else:
                outcome.set_result(task.result())
            return
        if not outcome.done():
            if exhausted and not running:
                outcome.set_result(None)
            else:
                start_next()  # a failure starts the next attempt at once

    start_next()
    try:
        return await outcome
    finally:
        if timer is not None:
            timer.cancel()
        for task in list(running):
            task.cancel()
