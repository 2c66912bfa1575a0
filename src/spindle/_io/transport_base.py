"""What every spindle transport shares: its lifecycle, and flow control of its write buffer.

Lifecycle.  A transport moves through four states, in order, and only forward:

    OPEN ──close()──▶ CLOSING ──buffer flushed──▶ LOST ──connection_lost() ran──▶ CLOSED
      └──────────── abort() / fatal error / EOF ───▶ LOST

``LOST`` means "``connection_lost`` is scheduled and no more I/O happens"; the descriptor is
released only when the protocol has been told, in ``CLOSED``.  Every path to the end goes
through ``_lose``, which acts once, so ``connection_lost`` is called exactly once however
many times, and in whatever order, ``close()``, ``abort()`` and errors arrive.

Flow control.  A writable transport keeps a byte count of its write buffer and tells its
protocol to pause when the count rises above the high-water mark and to resume when it falls
to the low-water mark.  The marks are computed by the pure ``write_buffer_limits``.

Writes after the connection is lost cannot be delivered.  Raising would break the many
protocols that write from callbacks racing with a peer's reset, so, as asyncio does, they are
dropped; unlike asyncio the warning says what happened and how much was lost, and it repeats
only each time the count doubles.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import traceback
import warnings
from collections.abc import Sized
from typing import TYPE_CHECKING, Any

from spindle._core.handles import capture_source_traceback

if TYPE_CHECKING:
    from spindle._io.sockets import SocketMethods

__all__ = ["TransportCore", "TransportState", "WritableCore", "write_buffer_limits"]

logger = logging.getLogger("asyncio")

DEFAULT_HIGH_WATER = 64 * 1024
# Writes dropped after the connection was lost before the first warning (asyncio's number).
DROPPED_WRITES_WARNING = 5


class TransportState(enum.Enum):
    OPEN = "open"
    CLOSING = "closing"  # close() called: flushing the write buffer
    LOST = "lost"  # connection_lost scheduled: no more I/O
    CLOSED = "closed"  # connection_lost called, descriptor released


def write_buffer_limits(high: int | None = None, low: int | None = None) -> tuple[int, int]:
    """``(high, low)`` water marks from what the user gave (asyncio's defaults and rules)."""
    if high is None:
        high = DEFAULT_HIGH_WATER if low is None else 4 * low
    if low is None:
        low = high // 4
    if not high >= low >= 0:
        raise ValueError(f"high ({high!r}) must be >= low ({low!r}) must be >= 0")
    return high, low


class TransportCore(asyncio.BaseTransport):
    """State, protocol, extras and the road to ``connection_lost`` (see the module docstring)."""

    _state: TransportState = TransportState.CLOSED  # until __init__ has run
    _extra: dict[str, Any]  # asyncio.BaseTransport's slot (get_extra_info reads it)

    def __init__(
        self, loop: SocketMethods, protocol: asyncio.BaseProtocol, extra: dict[str, Any] | None
    ) -> None:
        super().__init__(extra)
        self._loop = loop
        self._protocol = protocol
        self._state = TransportState.OPEN
        # Where it was made, for the unclosed-transport warning (debug mode only: it costs).
        self._created_at: traceback.StackSummary | None = (
            capture_source_traceback() if loop.get_debug() else None
        )

    # -- hooks for the concrete transports -----------------------------------------------

    def _describe(self) -> str:
        """What identifies this transport in its repr (e.g. ``fd=7``)."""
        return ""

    def _stop_io(self) -> None:
        """Stop reading and writing (entering LOST)."""

    def _release(self) -> None:
        """Close the descriptor (entering CLOSED); must be safe to call twice."""

    def _holds_descriptor(self) -> bool:
        """Whether there is still a descriptor to release (asked by ``__del__``)."""
        return True

    # -- the lifecycle -------------------------------------------------------------------

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._state.value} {self._describe()}>"

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._protocol

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._protocol = protocol

    def is_closing(self) -> bool:
        return self._state is not TransportState.OPEN

    def _lose(self, exc: BaseException | None) -> None:
        """Stop all I/O now and tell the protocol on the next pass; later calls do nothing."""
        if self._state in (TransportState.LOST, TransportState.CLOSED):
            return
        self._state = TransportState.LOST
        self._stop_io()
        self._loop.call_soon(self._call_connection_lost, exc)

    def _call_connection_lost(self, exc: BaseException | None) -> None:
        try:
            self._protocol.connection_lost(exc)  # type: ignore[arg-type]
        finally:
            self._state = TransportState.CLOSED
            self._release()

    def _fatal_error(self, exc: BaseException, message: str) -> None:
        """An error the transport cannot go on after: report it and lose the connection."""
        if isinstance(exc, OSError):
            # The peer reset, the network went away...: the protocol hears it through
            # connection_lost(exc); only debug mode also logs it.
            if self._loop.get_debug():
                logger.debug("%r: %s", self, message, exc_info=True)
        else:
            self._report(message, exc)
        self._lose(exc)

    def _report(self, message: str, exc: BaseException) -> None:
        self._loop.call_exception_handler(
            {"message": message, "exception": exc, "transport": self, "protocol": self._protocol}
        )

    def __del__(self, _warn: Any = warnings.warn) -> None:
        if self._state is TransportState.CLOSED or not self._holds_descriptor():
            return
        if self._state is not TransportState.OPEN:
            # Closed by its user (or an error), but the loop stopped before it could finish:
            # not the user's oversight, so no warning; just let the descriptor go.
            self._state = TransportState.CLOSED
            self._release()
            return
        where = ""
        if self._created_at:
            where = " created at\n" + "".join(traceback.format_list(self._created_at))
        _warn(f"unclosed transport {self!r}{where}", ResourceWarning, source=self)
        self._state = TransportState.CLOSED
        self._release()


class WritableCore(TransportCore):
    """A transport with a write buffer: byte count, water marks, pause/resume of the protocol."""

    # What is still to be sent (its subclasses' own kind of queue).
    _buffer: Sized

    def _stop_reading(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Stop reading; the connection is lost once the write buffer has been sent."""
        if self._state is not TransportState.OPEN:
            return
        self._state = TransportState.CLOSING
        self._stop_reading()
        if not self._buffer:
            self._lose(None)

    def abort(self) -> None:
        self._lose(None)

    def __init__(
        self, loop: SocketMethods, protocol: asyncio.BaseProtocol, extra: dict[str, Any] | None
    ) -> None:
        super().__init__(loop, protocol, extra)
        self._high, self._low = write_buffer_limits()
        self._buffer_size = 0
        self._writing_paused = False
        self._dropped_writes = 0
        self._dropped_bytes = 0
        self._next_drop_warning = DROPPED_WRITES_WARNING

    def get_write_buffer_size(self) -> int:
        return self._buffer_size

    def get_write_buffer_limits(self) -> tuple[int, int]:
        """``(low, high)``, in asyncio's order."""
        return self._low, self._high

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self._high, self._low = write_buffer_limits(high, low)
        self._maybe_pause_protocol()

    def _maybe_pause_protocol(self) -> None:
        if self._buffer_size <= self._high or self._writing_paused:
            return
        self._writing_paused = True
        try:
            self._protocol.pause_writing()
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._report("protocol.pause_writing() failed", exc)

    def _maybe_resume_protocol(self) -> None:
        if not self._writing_paused or self._buffer_size > self._low:
            return
        self._writing_paused = False
        try:
            self._protocol.resume_writing()
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._report("protocol.resume_writing() failed", exc)

    def _drop_write(self, nbytes: int) -> None:
        """A write after the connection was lost: count it, and warn as the count grows."""
        self._dropped_writes += 1
        self._dropped_bytes += nbytes
        if self._dropped_writes == self._next_drop_warning:
            self._next_drop_warning *= 2
            logger.warning(
                "%r: %d writes (%d bytes) dropped: cannot write, the connection is lost",
                self,
                self._dropped_writes,
                self._dropped_bytes,
            )
