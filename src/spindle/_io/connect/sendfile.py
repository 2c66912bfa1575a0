"""``loop.sendfile``: a file through a transport.

On spindle's socket transport the native path first waits for the transport's write buffer
to drain (bytes written before must go out before the file), pauses reading, and makes
``write()`` refuse while the kernel owns the socket (``SocketTransport.sendfile_native``, on
``sock_sendfile.native_sendfile``).  Any other transport (TLS, pipes, another loop's) takes
the fallback, ``sock_sendfile.send_in_blocks``, which writes through the transport and waits
whenever the transport asks its protocol to pause: it temporarily installs
``_DrainingProtocol`` to hear that, and puts the user's protocol back afterwards.
"""

from __future__ import annotations

import asyncio
import socket
from typing import IO, Any

from spindle._io.contract import IOLoop
from spindle._io.sock_sendfile import check_params, send_in_blocks
from spindle._io.transports.faces import SocketTransport

__all__ = ["transport_sendfile"]


async def transport_sendfile(
    loop: IOLoop,
    transport: asyncio.WriteTransport,
    file: IO[bytes],
    offset: int,
    count: int | None,
    fallback: bool,
) -> int:
    if transport.is_closing():
        raise RuntimeError("cannot send a file: the transport is closing")
    if isinstance(transport, asyncio.DatagramTransport):
        raise RuntimeError(f"sendfile is not supported for transport {transport!r}")
    check_params(socket.SOCK_STREAM, file, offset, count)
    if isinstance(transport, SocketTransport):
        try:
            return await transport.sendfile_native(file, offset, count)
        except asyncio.SendfileNotAvailableError:
            if not fallback:
                raise
    elif not fallback:
        raise RuntimeError(
            "fallback is disabled and native sendfile is not supported for transport "
            f"{transport!r}"
        )
    draining = _DrainingProtocol(loop, transport)

    async def send(data: memoryview) -> None:
        await draining.drain()
        transport.write(bytes(data))  # a copy: the read buffer is reused for the next block

    try:
        return await send_in_blocks(loop, file, offset, count, send)
    finally:
        draining.restore()


class _DrainingProtocol(asyncio.Protocol):
    """Stands in for the user's protocol during a fallback sendfile, to hear pause/resume."""

    def __init__(self, loop: IOLoop, transport: Any) -> None:
        self._loop = loop
        self._transport = transport
        self._user_protocol: asyncio.BaseProtocol = transport.get_protocol()
        self._resume_reading = _is_reading(transport)
        high = transport.get_write_buffer_limits()[1]  # (low, high)
        self._user_was_paused = transport.get_write_buffer_size() > high
        self._drained: asyncio.Future[None] | None = None
        if self._user_was_paused:
            self._drained = loop.create_future()
        if self._resume_reading:
            transport.pause_reading()
        transport.set_protocol(self)

    async def drain(self) -> None:
        if self._transport.is_closing():
            raise ConnectionError("cannot send a file: the connection is closed")
        if self._drained is not None:
            await self._drained

    def pause_writing(self) -> None:
        if self._drained is None:
            self._drained = self._loop.create_future()

    def resume_writing(self) -> None:
        if self._drained is not None:
            self._drained.set_result(None)
            self._drained = None

    def connection_lost(self, exc: Exception | None) -> None:
        if self._drained is not None and not self._drained.done():
            self._drained.set_exception(exc or ConnectionError("Connection is closed by peer"))
        self._user_protocol.connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        raise RuntimeError("cannot receive during sendfile: reading should be paused")

    def eof_received(self) -> bool | None:
        raise RuntimeError("cannot receive during sendfile: reading should be paused")

    def restore(self) -> None:
        paused_now = self._drained is not None
        if self._drained is not None and not self._drained.done():
            self._drained.cancel()
        self._transport.set_protocol(self._user_protocol)
        if self._resume_reading:
            self._transport.resume_reading()
        # The user's protocol must end up agreeing with the transport on whether writing is
        # paused: tell it what changed while it was not listening.
        if self._user_was_paused and not paused_now:
            self._user_protocol.resume_writing()
        elif paused_now and not self._user_was_paused:
            self._user_protocol.pause_writing()


def _is_reading(transport: Any) -> bool:
    """Whether ``transport`` reads now; a write-only transport (a pipe) does not read."""
    if not isinstance(transport, asyncio.ReadTransport):
        return False
    try:
        return transport.is_reading()
    except NotImplementedError:  # asyncio.ReadTransport's default: a write pipe, say
        return False
