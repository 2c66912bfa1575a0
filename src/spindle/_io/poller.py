"""Waiting for file descriptors: epoll on Linux, ``selectors`` elsewhere.

The loop needs four things from a poller: watch a descriptor for reading and/or writing,
change or drop that interest, and wait (with a timeout) for descriptors that are ready.
``EpollPoller`` talks to ``select.epoll`` directly, level-triggered: a descriptor stays
reported for as long as it is readable, which is what a callback-per-readiness loop wants (an
edge-triggered loop would have to drain every socket to EAGAIN before polling again).
``SelectorPoller`` is the portable fallback, built on a ``selectors`` selector: the platform's
best one (kqueue on macOS and the BSDs), or ``poll(2)``.

Which one a new loop gets is a setting, so the fallback is tested where epoll exists too:
``SPINDLE_POLLER=selectors`` forces the platform's default selector, ``SPINDLE_POLLER=poll``
the ``poll(2)`` selector, ``epoll`` or ``auto`` (the default) epoll where the platform has it.
``choose_poller`` is that policy as a pure function; a value it cannot honour warns and falls
back to the default, as every spindle setting does.

Both report events as ``(fd, readable, writable)``; errors and hang-ups count as both, so the
callback's own read or write meets the error and reports it.
"""

from __future__ import annotations

import contextlib
import enum
import math
import os
import select
import selectors
import warnings
from collections.abc import Callable, Collection
from typing import Final, Protocol

__all__ = [
    "EPOLL_READABLE",
    "EPOLL_WRITABLE",
    "POLLER_SETTING",
    "EpollPoller",
    "Poller",
    "PollerKind",
    "SelectorPoller",
    "available_pollers",
    "choose_poller",
    "new_poller",
]

READ: Final = 1
WRITE: Final = 2


class Poller(Protocol):
    def set_interest(self, fd: int, old: int, new: int) -> None:
        """Change what ``fd`` is watched for from ``old`` to ``new`` (READ|WRITE bits; 0: none)."""
        ...

    def poll(self, timeout: float | None) -> list[tuple[int, int]]:
        """Wait up to ``timeout`` seconds (None: forever); ``(fd, READ|WRITE bits)`` pairs."""
        ...

    def close(self) -> None: ...


# epoll's event bits.  Only Linux has epoll; elsewhere they are 0 and no EpollPoller is made
# (``available_pollers``).  The class is at the module's top level, not under an ``if``, so
# that the compiled build can compile it (mypyc compiles no class defined in a block).
_EPOLL_READ: Final[int] = getattr(select, "EPOLLIN", 0) | getattr(select, "EPOLLPRI", 0)
_EPOLL_WRITE: Final[int] = getattr(select, "EPOLLOUT", 0)
_EPOLL_BOTH: Final[int] = getattr(select, "EPOLLERR", 0) | getattr(select, "EPOLLHUP", 0)
# Errors and hang-ups count as both (the module docstring says why).
EPOLL_READABLE: Final[int] = _EPOLL_READ | _EPOLL_BOTH
EPOLL_WRITABLE: Final[int] = _EPOLL_WRITE | _EPOLL_BOTH
_EPOLL_MASKS: Final[dict[int, int]] = {
    READ: _EPOLL_READ,
    WRITE: _EPOLL_WRITE,
    READ | WRITE: _EPOLL_READ | _EPOLL_WRITE,
}


class EpollPoller:
    """Level-triggered epoll (Linux)."""

    def __init__(self) -> None:
        self._epoll: select.epoll = select.epoll()
        # Bound once: compiled, ``self._epoll.poll(...)`` looks the method up at each call.
        self._wait: Callable[[float, int], list[tuple[int, int]]] = self._epoll.poll
        self._max_events: int = 64

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
        events = []
        for fd, mask in self.poll_masks(timeout):
            bits = 0
            if mask & EPOLL_READABLE:
                bits |= READ
            if mask & EPOLL_WRITABLE:
                bits |= WRITE
            events.append((fd, bits))
        return events

    def poll_masks(self, timeout: float | None) -> list[tuple[int, int]]:
        """Wait as ``poll`` does; epoll's own ``(fd, event mask)`` pairs, not translated.

        ``EPOLL_READABLE`` and ``EPOLL_WRITABLE`` say which masks count as which: the loop
        reads them straight from here (``readiness.ReadyDescriptors``), making no pairs of
        its own.
        """
        if timeout is None:
            timeout = -1
        elif timeout > 0:
            # epoll counts whole milliseconds; round up so we never wake too early
            # and spin on a timer that is not quite due.
            timeout = math.ceil(timeout * 1e3) * 1e-3
        ready = self._wait(timeout, self._max_events)
        if len(ready) == self._max_events:
            self._max_events *= 2
        return ready

    def close(self) -> None:
        self._epoll.close()


class SelectorPoller:
    """A selector of the ``selectors`` module: by default the platform's best one."""

    def __init__(
        self, selector: Callable[[], selectors.BaseSelector] = selectors.DefaultSelector
    ) -> None:
        self._selector = selector()

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


class PollerKind(enum.Enum):
    """The pollers a loop can be given; the values are what ``SPINDLE_POLLER`` accepts."""

    EPOLL = "epoll"
    SELECTORS = "selectors"  # selectors.DefaultSelector: kqueue on macOS/BSD, epoll on Linux
    POLL = "poll"  # selectors.PollSelector over poll(2)


POLLER_SETTING = "SPINDLE_POLLER"
_AUTO = "auto"


def available_pollers() -> frozenset[PollerKind]:
    """The pollers this platform offers."""
    kinds = {PollerKind.SELECTORS}
    if hasattr(select, "epoll"):
        kinds.add(PollerKind.EPOLL)
    if hasattr(select, "poll"):
        kinds.add(PollerKind.POLL)
    return frozenset(kinds)


def choose_poller(
    requested: str, available: Collection[PollerKind]
) -> tuple[PollerKind, str | None]:
    """The poller for the setting ``requested``, and a warning when it could not be honoured.

    Empty or ``auto`` means epoll where there is one, else the selectors fallback.
    """
    default = PollerKind.EPOLL if PollerKind.EPOLL in available else PollerKind.SELECTORS
    text = requested.strip().lower()
    if text in ("", _AUTO):
        return default, None
    try:
        kind = PollerKind(text)
    except ValueError:
        choices = ", ".join([_AUTO, *(k.value for k in PollerKind)])
        return default, (
            f"cannot use {POLLER_SETTING}={requested!r}: expected one of {choices}; "
            f"using {default.value}"
        )
    if kind not in available:
        return default, (
            f"cannot use {POLLER_SETTING}={requested!r}: this platform has no {kind.value}; "
            f"using {default.value}"
        )
    return kind, None


def new_poller() -> Poller:
    """The poller ``SPINDLE_POLLER`` asks for: by default epoll, else the selectors fallback."""
    kind, problem = choose_poller(os.environ.get(POLLER_SETTING, ""), available_pollers())
    if problem is not None:
        warnings.warn(problem, RuntimeWarning, stacklevel=2)
    if kind is PollerKind.EPOLL:
        return EpollPoller()
    if kind is PollerKind.POLL:
        return SelectorPoller(selectors.PollSelector)
    return SelectorPoller()
