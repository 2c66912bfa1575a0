"""``WritableCore``: a transport with a write buffer, and the flow control around it.

Flow control.  A writable transport keeps a byte count of its write buffer and tells its
protocol to pause when the count rises above the high-water mark and to resume when it falls
to the low-water mark (``policy.water_marks``; what the protocol raises there goes to the
exception handler, ``policy.call_protocol``).

Closing waits for the buffer to drain, except when the loop has closed: nothing can send it
any more, so the transport is lost at once and a warning says how many bytes were dropped.

Writes that can no longer be delivered are dropped and counted (``policy.DroppedWrites``).
What is buffered, and how it is sent, is the subclass's: a byte stream
(``write_buffer.BufferedWrites``) or datagrams (``datagram_socket``).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Any

from spindle._core.native import mypyc_attr
from spindle._io.contract import IOLoop
from spindle._io.poller import WRITE
from spindle._io.transports.base import TransportState
from spindle._io.transports.policy import DroppedWrites, Limit, call_protocol, water_marks
from spindle._io.transports.reading import ReadingCore

__all__ = ["WritableCore"]

logger = logging.getLogger("asyncio")


@mypyc_attr(allow_interpreted_subclasses=True)
class WritableCore(ReadingCore):
    """A transport with a write buffer: byte count, water marks, pause/resume of the protocol."""

    # What is still to be sent (its subclasses' own kind of queue).
    _buffer: deque[Any]

    def __init__(
        self,
        face: asyncio.BaseTransport,
        loop: IOLoop,
        protocol: asyncio.BaseProtocol,
        extra: dict[str, Any],
    ) -> None:
        super().__init__(face, loop, protocol, extra)
        self._high, self._low = water_marks(None, None)
        self._buffer_size = 0
        self._writing_paused = False
        self._dropped = DroppedWrites()

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
                self.face(),
                self._buffer_size,
            )
            self._lose(None)
        # else _buffer_flushed() loses it once the buffer has been sent

    def abort(self) -> None:
        self._lose(None)

    def get_write_buffer_size(self) -> int:
        return self._buffer_size

    def get_write_buffer_limits(self) -> tuple[Limit, Limit]:
        """``(low, high)``, in asyncio's order."""
        return self._low, self._high

    def set_write_buffer_limits(self, high: Limit | None = None, low: Limit | None = None) -> None:
        self._high, self._low = water_marks(high, low)
        self._maybe_pause_protocol()

    def _maybe_pause_protocol(self) -> None:
        if self._buffer_size <= self._high or self._writing_paused:
            return
        self._writing_paused = True
        protocol = self._protocol
        call_protocol(self._loop, self.face(), protocol, protocol.pause_writing)

    def _maybe_resume_protocol(self) -> None:
        if not self._writing_paused or self._buffer_size > self._low:
            return
        self._writing_paused = False
        protocol = self._protocol
        call_protocol(self._loop, self.face(), protocol, protocol.resume_writing)

    def _drop_write(self, nbytes: int) -> None:
        """A write that can no longer be delivered: count it (see the module docstring)."""
        self._dropped.add(self.face(), nbytes, closing=self._state is TransportState.CLOSING)

    def _stop_io(self) -> None:
        super()._stop_io()
        self._drop_buffer()

    def _drop_buffer(self) -> None:
        """Forget what is buffered (abort, fatal error) and stop waiting to write it."""
        if self._buffer:
            self._buffer.clear()
            self._buffer_size = 0
            self._loop._remove_handler(self._fd, WRITE)
