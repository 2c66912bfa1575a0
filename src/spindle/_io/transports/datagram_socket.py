"""``DatagramCore``: the core of the transport of UDP and Unix datagram sockets (its face is
``faces.DatagramSocketTransport``).

Datagrams keep their boundaries, so the write buffer is a queue of ``(datagram, address)``
pairs rather than a byte stream; for flow control each pair counts its length plus a small
header, so that a flood of empty datagrams still fills the buffer (asyncio 3.12's rule).
As with streams, ``sendto`` tries to send at once and buffers only when the socket is full.

Errors about one datagram (ICMP "port unreachable" arriving as ``ConnectionRefusedError``,
a datagram too large...) do not end the transport: they go to the protocol's
``error_received`` and the transport carries on.  Empty datagrams are sent (asyncio 3.12+).
"""

from __future__ import annotations

import asyncio
import socket
from asyncio import trsock
from collections import deque
from typing import Any

from spindle._io.contract import IOLoop
from spindle._io.poller import WRITE
from spindle._io.transports.base import TransportState
from spindle._io.transports.writable import WritableCore

__all__ = ["DatagramCore"]

DATAGRAM_HEADER_SIZE = 8  # what each queued datagram counts for beyond its bytes
_GONE = (TransportState.LOST, TransportState.CLOSED)


class DatagramCore(WritableCore):
    """A datagram transport (see the module docstring)."""

    def __init__(
        self,
        face: asyncio.BaseTransport,
        loop: IOLoop,
        sock: socket.socket,
        protocol: asyncio.BaseProtocol,
        address: Any,
        waiter: asyncio.Future[None] | None,
        extra: dict[str, Any],
    ) -> None:
        super().__init__(face, loop, protocol, extra)
        self._sock = sock
        self._own(sock, sock.fileno())
        self._extra["socket"] = trsock.TransportSocket(sock)  # as in stream_socket.py
        for key, getter in (("sockname", sock.getsockname), ("peername", sock.getpeername)):
            try:
                self._extra[key] = getter()
            except OSError:
                self._extra[key] = None
        self._address = address  # the only destination allowed, when given
        self._connected = self._extra["peername"] is not None
        self._buffer: deque[tuple[bytes, Any]] = deque()
        self._view = memoryview(loop._shared_read_buffer())  # what recvfrom_into fills
        loop.call_soon(self._start, waiter)

    def _describe(self) -> str:
        return f"fd={self._fd} write=<bufsize={self._buffer_size}>"

    def _error_received(self, exc: OSError) -> None:
        try:
            self._protocol.error_received(exc)  # type: ignore[attr-defined]
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as error:
            self._fatal_error(error, "Fatal error: protocol.error_received() call failed.")

    def _failed(self, exc: BaseException, message: str) -> None:
        """An error about one datagram (an ``OSError``) goes to ``error_received`` and the
        transport carries on; anything else ends it."""
        if isinstance(exc, OSError):
            self._error_received(exc)
        else:
            self._fatal_error(exc, message)

    def _on_readable(self) -> None:
        try:
            nbytes, address = self._sock.recvfrom_into(self._view)
        except (BlockingIOError, InterruptedError):
            return
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._failed(exc, "Fatal read error on datagram transport")
            return
        try:
            self._protocol.datagram_received(self._view[:nbytes].tobytes(), address)  # type: ignore[attr-defined]
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._fatal_error(exc, "Fatal error: protocol.datagram_received() call failed.")

    def _send(self, data: Any, address: Any) -> None:
        if self._connected:
            self._sock.send(data)
        else:
            self._sock.sendto(data, address)

    def sendto(self, data: Any, addr: Any = None) -> None:
        if not isinstance(data, (bytes, bytearray, memoryview)):
            kind = type(data).__name__
            raise TypeError(f"data argument must be a bytes-like object, not {kind!r}")
        if self._address is not None:
            if addr not in (None, self._address):
                raise ValueError(f"Invalid address: must be None or {self._address}")
            addr = self._address
        if self._state in _GONE:
            self._drop_write(len(data))
            return
        if not self._buffer:
            try:
                self._send(data, addr)
                return
            except (BlockingIOError, InterruptedError):
                self._loop._add_handler(self._fd, WRITE, self._on_writable, ())
            except (SystemExit, KeyboardInterrupt):
                raise
            except BaseException as exc:
                self._failed(exc, "Fatal write error on datagram transport")
                return
        self._buffer.append((bytes(data), addr))
        self._buffer_size += len(data) + DATAGRAM_HEADER_SIZE
        self._maybe_pause_protocol()

    def _on_writable(self) -> None:
        while self._buffer:
            data, address = self._buffer[0]
            try:
                self._send(data, address)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                self._drop_head()
                self._error_received(exc)
                return
            except (SystemExit, KeyboardInterrupt):
                raise
            except BaseException as exc:
                self._fatal_error(exc, "Fatal write error on datagram transport")
                return
            self._drop_head()
        self._maybe_resume_protocol()  # the protocol may send more from here
        if not self._buffer and self._state not in _GONE:
            self._loop._remove_handler(self._fd, WRITE)
            if self._state is TransportState.CLOSING:
                self._lose(None)

    def _drop_head(self) -> None:
        data, _ = self._buffer.popleft()
        self._buffer_size -= len(data) + DATAGRAM_HEADER_SIZE
