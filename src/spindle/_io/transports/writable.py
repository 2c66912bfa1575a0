"""``WritableCore``: a transport with a write buffer, and the flow control around it.

Flow control.  A writable transport keeps a byte count of its write buffer and tells its
protocol to pause when the count rises above the high-water mark and to resume when it falls
to the low-water mark.  The marks come from the pure ``transport_base.write_buffer_limits``.

Closing waits for the buffer to drain, except when the loop has closed: nothing can send it
any more, so the transport is lost at once and a warning says how many bytes were dropped.

Writes after the connection is lost cannot be delivered.  Raising would break the many
protocols that write from callbacks racing with a peer's reset, so, as asyncio does, they are
dropped; unlike asyncio the warning says what happened and how much was lost, and it repeats
only each time the count doubles.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sized
from typing import Any

from spindle._io.contract import IOLoop
from spindle._io.transports.base import TransportCore, TransportState, write_buffer_limits

__all__ = ["WritableCore"]

logger = logging.getLogger("asyncio")

# Writes dropped after the connection was lost before the first warning (asyncio's number).
DROPPED_WRITES_WARNING = 5


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
        self._lose_once_flushed()

    def _lose_once_flushed(self) -> None:
        """(CLOSING) Lose the connection now if the buffer is empty or can never be sent."""
        if not self._buffer:
            self._lose(None)
        elif self._loop.is_closed():
            logger.warning(
                "%r: %d buffered bytes dropped: cannot send them, the event loop is closed",
                self,
                self._buffer_size,
            )
            self._lose(None)
        # else _buffer_flushed() loses it once the buffer has been sent

    def abort(self) -> None:
        self._lose(None)

    def __init__(
        self, loop: IOLoop, protocol: asyncio.BaseProtocol, extra: dict[str, Any] | None
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
