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
from typing import Any, Generic, TypeVar

from spindle._io.contract import AnyLoop, Cancellable

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
    loop: AnyLoop,
    attempts: Iterable[Callable[[], Coroutine[Any, Any, T]]],
    delay: float | None,
    discard: Callable[[T], object],
) -> T | None:
    """The result of the first attempt to succeed, or None when all fail.

    Attempts record their own errors (the caller gives them a list); this function only
    orders them.
    """
    race = _Race(loop, attempts, delay, discard)
    race.start_next()
    try:
        return await race.outcome
    finally:
        race.stop()


class _Race(Generic[T]):
    """The state of one ``staggered_race``.

    A class rather than two closures calling each other: such closures form a reference cycle
    that would keep the race, and the socket it connected, alive until the garbage collector
    runs.  Here the only references to a race are its running attempts' done-callbacks (and
    its timer until cancelled), and they go as the attempts finish.
    """

    def __init__(
        self,
        loop: AnyLoop,
        attempts: Iterable[Callable[[], Coroutine[Any, Any, T]]],
        delay: float | None,
        discard: Callable[[T], object],
    ) -> None:
        self._loop = loop
        self._pending = iter(attempts)
        self._delay = delay
        self._discard = discard
        self.outcome: asyncio.Future[T | None] = loop.create_future()
        self._running: set[asyncio.Future[T]] = set()
        self._timer: Cancellable | None = None
        self._exhausted = False

    def start_next(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.outcome.done():
            return
        factory = next(self._pending, None)
        if factory is None:
            self._exhausted = True
            if not self._running:
                self.outcome.set_result(None)
            return
        task = self._loop.create_task(factory())
        self._running.add(task)
        task.add_done_callback(self._finished)
        if self._delay is not None:
            self._timer = self._loop.call_later(self._delay, self.start_next)

    def _finished(self, task: asyncio.Future[T]) -> None:
        self._running.discard(task)
        if task.cancelled():
            return
        outcome = self.outcome
        if task.exception() is None:
            if outcome.done():
                self._discard(task.result())  # a late success: somebody else won
            else:
                outcome.set_result(task.result())
        elif not outcome.done():
            if self._exhausted and not self._running:
                outcome.set_result(None)
            else:
                self.start_next()  # a failure starts the next attempt at once

    def stop(self) -> None:
        """The race is decided (or abandoned): no more attempts; cancel those still running."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for task in list(self._running):
            task.cancel()
