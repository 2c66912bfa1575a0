"""``FlowControlMixin``: how ``StreamWriter.drain()`` learns that the transport's buffer is full.

A transport tells its protocol ``pause_writing()`` when its write buffer passes the high-water
mark and ``resume_writing()`` when it drains below the low-water mark.  This mixin turns those
two calls into something a task can wait on: ``_drain_helper()`` returns at once while writing
flows, and parks the caller on a future while it is paused.  Several tasks may drain at once;
resuming wakes them all.

The writing side has three states, kept in one enum and changed in one place each:

    FLOWING --pause_writing--> PAUSED --resume_writing--> FLOWING
    FLOWING or PAUSED --connection_lost--> LOST (final)

Once LOST, draining raises ``ConnectionResetError`` (every later ``write(); await drain()``
loop must stop), and the drainers that were parked when the connection went are woken with
its error.  A transport that pauses twice, or resumes without pausing, is broken: that raises.

The method and attribute names (``_drain_helper``, ``_get_close_waiter``, ``_drain_waiters``)
are asyncio's, because subprocess protocols and CPython's own tests call them.
"""

from __future__ import annotations

import asyncio
import collections
import enum

from spindle import events
from spindle._core.futures import note_owner

__all__ = ["FlowControlMixin", "WritingState"]


class WritingState(enum.Enum):
    """Whether a stream's writer may write on, must wait, or has lost its connection."""

    FLOWING = "flowing"
    PAUSED = "paused"
    LOST = "lost"


class FlowControlMixin(asyncio.Protocol):
    """The protocol half of ``drain()``: pause_writing, resume_writing and connection_lost.

    A subclass that overrides those three must call the mixin's versions.  ``drain()`` calls
    ``_drain_helper`` only when writing is not ``FLOWING`` (flowing, it has nothing to wait for).
    """

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self._loop = events.get_event_loop() if loop is None else loop
        self._writing = WritingState.FLOWING
        self._drain_waiters: collections.deque[asyncio.Future[None]] = collections.deque()

    def pause_writing(self) -> None:
        if self._writing is WritingState.LOST:
            return  # nothing will ever be written again; drain() already raises
        if self._writing is WritingState.PAUSED:
            raise RuntimeError("cannot pause writing: it is already paused")
        self._writing = WritingState.PAUSED

    def resume_writing(self) -> None:
        if self._writing is WritingState.LOST:
            return
        if self._writing is WritingState.FLOWING:
            raise RuntimeError("cannot resume writing: it is not paused")
        self._writing = WritingState.FLOWING
        for waiter in self._drain_waiters:
            if not waiter.done():
                waiter.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        was_paused = self._writing is WritingState.PAUSED
        self._writing = WritingState.LOST
        if not was_paused:
            return  # nobody can be waiting in drain()
        for waiter in self._drain_waiters:
            if waiter.done():
                continue
            if exc is None:
                waiter.set_result(None)
            else:
                waiter.set_exception(exc)

    async def _drain_helper(self) -> None:
        """Return once the transport accepts more data; raise if the connection is gone."""
        if self._writing is WritingState.LOST:
            raise ConnectionResetError("Connection lost")
        if self._writing is WritingState.FLOWING:
            return
        waiter: asyncio.Future[None] = self._loop.create_future()
        note_owner(waiter, self)
        self._drain_waiters.append(waiter)
        try:
            await waiter
        finally:
            self._drain_waiters.remove(waiter)

    def _get_close_waiter(self, stream: object) -> asyncio.Future[None]:
        """The future that ``StreamWriter.wait_closed()`` awaits; protocols with one override."""
        raise NotImplementedError(
            f"cannot wait for {type(self).__name__} to close: it keeps no close waiter"
        )

    # -- hooks for StreamWriter.start_tls -------------------------------------------------

    def _is_server_side(self) -> bool:
        """Whether this protocol serves an accepted connection (its TLS side is the server's)."""
        return False

    def _replace_transport(self, transport: asyncio.BaseTransport) -> None:
        """Adopt the TLS transport that ``loop.start_tls`` put on top of the old one."""
        raise NotImplementedError(
            f"cannot upgrade to TLS: {type(self).__name__} cannot adopt a new transport"
        )
