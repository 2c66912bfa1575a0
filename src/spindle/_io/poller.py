"""Waiting for file descriptors: epoll on Linux, ``selectors`` elsewhere.

The loop needs four things from a poller: watch a descriptor for reading and/or writing,
change or drop that interest, and wait (with a timeout) for descriptors that are ready.
``EpollPoller`` talks to ``select.epoll`` directly, level-triggered: a descriptor stays
reported for as long as it is readable, which is what a callback-per-readiness loop wants (an
edge-triggered loop would have to drain every socket to EAGAIN before polling again).
``SelectorPoller`` is the portable fallback, built on ``selectors.DefaultSelector``.

Both report events as ``(fd, readable, writable)``; errors and hang-ups count as both, so the
callback's own read or write meets the error and reports it.
"""

from __future__ import annotations

import contextlib
import math
import select
import selectors
from typing import Protocol

__all__ = ["EpollPoller", "Poller", "SelectorPoller", "new_poller"]

READ = 1
WRITE = 2


class Poller(Protocol):
    def set_interest(self, fd: int, old: int, new: int) -> None:
        """Change what ``fd`` is watched for from ``old`` to ``new`` (READ|WRITE bits; 0: none)."""
        ...

    def poll(self, timeout: float | None) -> list[tuple[int, int]]:
        """Wait up to ``timeout`` seconds (None: forever); ``(fd, READ|WRITE bits)`` pairs."""
        ...

    def close(self) -> None: ...


if hasattr(select, "epoll"):
    _EPOLL_READ = select.EPOLLIN | select.EPOLLPRI
    _EPOLL_WRITE = select.EPOLLOUT
    _EPOLL_BOTH = select.EPOLLERR | select.EPOLLHUP
    _EPOLL_MASKS = {
        READ: _EPOLL_READ,
        WRITE: _EPOLL_WRITE,
        READ | WRITE: _EPOLL_READ | _EPOLL_WRITE,
    }

    class EpollPoller:
        """Level-triggered epoll."""

        def __init__(self) -> None:
            self._epoll = select.epoll()
            self._max_events = 64

        def set_interest(self, fd: int, old: int, new: int) -> None:
            if not new:
                # The descriptor may have been closed already (closing removes it from epoll
                # by itself): dropping interest in it is then nothing to do, not an error.
                with contextlib.suppress(FileNotFoundError, OSError):
                    self._epoll.unregister(fd)
            elif not old:
                self._epoll.register(fd, _EPOLL_MASKS[new])
            else:
                self._epoll.modify(fd, _EPOLL_MASKS[new])

        def poll(self, timeout: float | None) -> list[tuple[int, int]]:
            if timeout is None:
                timeout = -1
            elif timeout > 0:
                # epoll counts whole milliseconds; round up so we never wake too early
                # and spin on a timer that is not quite due.
                timeout = math.ceil(timeout * 1e3) * 1e-3
            ready = self._epoll.poll(timeout, self._max_events)
            if len(ready) == self._max_events:
                self._max_events *= 2
            events = []
            for fd, mask in ready:
                bits = 0
                if mask & (_EPOLL_READ | _EPOLL_BOTH):
                    bits |= READ
                if mask & (_EPOLL_WRITE | _EPOLL_BOTH):
                    bits |= WRITE
                events.append((fd, bits))
            return events

        def close(self) -> None:
            self._epoll.close()


class SelectorPoller:
    """Any platform's best selector, through the ``selectors`` module."""

    def __init__(self) -> None:
        self._selector = selectors.DefaultSelector()

    def set_interest(self, fd: int, old: int, new: int) -> None:
        mask = (selectors.EVENT_READ if new & READ else 0) | (
            selectors.EVENT_WRITE if new & WRITE else 0
        )
        if not new:
            self._selector.unregister(fd)
        elif not old:
            self._selector.register(fd, mask)
        else:
            self._selector.modify(fd, mask)

    def poll(self, timeout: float | None) -> list[tuple[int, int]]:
        events = []
        for key, mask in self._selector.select(timeout):
            bits = (READ if mask & selectors.EVENT_READ else 0) | (
                WRITE if mask & selectors.EVENT_WRITE else 0
            )
            events.append((key.fd, bits))
        return events

    def close(self) -> None:
        self._selector.close()


def new_poller() -> Poller:
    """epoll where the platform has it, else the selectors fallback."""
    if hasattr(select, "epoll"):
        return EpollPoller()
    return SelectorPoller()
