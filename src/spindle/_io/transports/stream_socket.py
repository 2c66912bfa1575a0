"""``SocketCore``: the core of the stream transport over a connected TCP or Unix socket (its
face is ``faces.SocketTransport``).

Reading is ``reading.ReadingCore`` (watch, read into new bytes or a ``BufferedProtocol``'s
own buffer, hand over).

Writing is ``write_buffer.BufferedWrites`` (send at once, buffer the rest, one ``writev``
per flush).  ``write_eof`` shuts the write side
down once the buffer is empty; ``sendfile_native`` hands the socket to ``os.sendfile`` after
the buffer has drained.

Closing.  ``close()`` stops reading and lets the buffer drain before ``connection_lost(None)``;
``abort()`` drops the buffer.  Both end in ``TransportCore._lose`` (see base).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from asyncio import trsock
from collections import deque
from typing import Any, Final, Protocol

from spindle._io.contract import IOLoop
from spindle._io.transports.base import TransportState
from spindle._io.transports.write_buffer import BufferedWrites, Data

__all__ = ["ConnectionOwner", "SocketCore", "set_nodelay"]

_OPEN: Final = TransportState.OPEN
_CLOSING: Final = TransportState.CLOSING


def set_nodelay(sock: socket.socket) -> None:
    """Turn Nagle's algorithm off on a TCP socket: small writes go out at once."""
    if (
        sock.family in (socket.AF_INET, socket.AF_INET6)
        and sock.type == socket.SOCK_STREAM
        and sock.proto in (0, socket.IPPROTO_TCP)
    ):
        # Not every TCP-like socket takes it (e.g. one already shut down): no harm then.
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class ConnectionOwner(Protocol):
    """Who keeps a list of the connections it accepted (``connect/servers.Server``)."""

    def _attach(self, transport: Any) -> None: ...

    def _detach(self, transport: Any) -> None: ...


class SocketCore(BufferedWrites):
    """A stream transport over a connected, non-blocking socket (TCP or Unix)."""

    def __init__(
        self,
        face: asyncio.BaseTransport,
        loop: IOLoop,
        sock: socket.socket,
        protocol: asyncio.BaseProtocol,
        waiter: asyncio.Future[None] | None,
        extra: dict[str, Any],
        server: ConnectionOwner | None,
    ) -> None:
        super().__init__(face, loop, protocol, extra)
        self._sock = sock
        self._own(sock, sock.fileno())
        if type(sock) is not socket.socket:
            self._via_socket = sock  # (see reading.py)
        # What get_extra_info("socket") gives, as in asyncio: a wrapper refusing what would
        # break the transport (blocking mode, timeouts); the transport keeps the socket.
        self._extra["socket"] = trsock.TransportSocket(sock)
        for key, getter in (("sockname", sock.getsockname), ("peername", sock.getpeername)):
            if key not in self._extra:
                try:
                    self._extra[key] = getter()
                except OSError:
                    self._extra[key] = None
        set_nodelay(sock)
        self._buffer: deque[Data] = deque()
        self._flush_waiter: asyncio.Future[None] | None = None
        self._server = server
        if server is not None:
            server._attach(face)
        loop.call_soon(self._start, waiter)

    def _describe(self) -> str:
        return (
            f"fd={self._fd} read={'polling' if self._reading else 'idle'} "
            f"write=<bufsize={self._buffer_size}>"
        )

    def _read_error(self) -> str:
        return "Fatal read error on socket transport"

    # -- writing (the rest is BufferedWrites) ------------------------------------------

    def _write_error(self) -> str:
        return "Fatal write error on socket transport"

    def _buffer_flushed(self) -> None:
        if self._flush_waiter is not None and not self._flush_waiter.done():
            self._flush_waiter.set_result(None)
        if self._state is _CLOSING:
            self._lose(None)
        elif self._eof:
            self._shutdown_write()

    def _shutdown_write(self) -> None:
        try:
            self._sock.shutdown(socket.SHUT_WR)
        except OSError as exc:
            self._fatal_error(exc, "Fatal error on shutdown of socket transport")

    # -- closing -------------------------------------------------------------------------

    def _stop_io(self) -> None:
        super()._stop_io()
        waiter = self._flush_waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(ConnectionError("cannot send a file: the connection is lost"))

    def _release(self) -> None:
        super()._release()
        server, self._server = self._server, None
        if server is not None:
            server._detach(self.face())

    # -- sendfile (native path; see sock_sendfile.py) --------------------------------------
    # The face's sendfile_native awaits (a compiled coroutine would pass a cancellation on
    # in the form Python 3.12 deprecates); the core keeps the state.

    def _begin_sendfile(self) -> asyncio.Future[None] | None:
        """Hand the socket to ``os.sendfile``: stop reading, refuse writes; the future that
        completes once what was written before has gone out (None: nothing is buffered)."""
        self.pause_reading()
        self._sendfile_active = True
        if self._buffer:
            self._flush_waiter = self._loop.create_future()
        return self._flush_waiter

    def _end_sendfile(self, resume_reading: bool) -> None:
        self._sendfile_active = False
        self._flush_waiter = None
        if resume_reading:
            self.resume_reading()
