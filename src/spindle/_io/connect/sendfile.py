"""Sending files: ``os.sendfile`` when the kernel can do it, reading and writing otherwise.

``os.sendfile`` copies from a file to a socket inside the kernel: no bytes pass through
Python.  It works for regular files and stream sockets; anything else (a ``BytesIO``, a pipe,
a TLS transport, a platform without the call) takes the *fallback*, which reads blocks in the
executor (file reads may block) and writes them.

Two entry points:

* ``sock_sendfile`` for a bare socket (``loop.sock_sendfile``);
* ``transport_sendfile`` for a transport (``loop.sendfile``).  On spindle's socket transport
  the native path first waits for the transport's write buffer to drain (bytes written before
  must go out before the file), pauses reading, and makes ``write()`` refuse while the kernel
  owns the socket.  The fallback writes through the transport and waits whenever the
  transport asks its protocol to pause: it temporarily installs ``_DrainingProtocol`` to hear
  that, and puts the user's protocol back afterwards.

The file position ends just after the last byte sent, even on error, as asyncio documents.
"""

from __future__ import annotations

import asyncio
import errno
import io
import os
import socket
from typing import IO, TYPE_CHECKING, Any

from spindle._io.poller import WRITE

if TYPE_CHECKING:
    from spindle._io.sockets import SocketMethods

__all__ = ["check_params", "native_sendfile", "sock_sendfile", "transport_sendfile"]

FALLBACK_BLOCK_SIZE = 256 * 1024
# errno values meaning "this file/socket pair cannot use sendfile", not "the peer went away".
_UNSUPPORTED = {errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EOVERFLOW}
_MAX_BLOCK = 2**30  # keeps 32-bit platforms clear of OverflowError


def check_params(sock_type: int, file: IO[bytes], offset: int, count: int | None) -> None:
    if "b" not in getattr(file, "mode", "b"):
        raise ValueError("file should be opened in binary mode")
    if sock_type != socket.SOCK_STREAM:
        raise ValueError("only SOCK_STREAM type sockets are supported")
    if count is not None and (not isinstance(count, int) or count <= 0):
        kind = ValueError if isinstance(count, int) else TypeError
        raise kind(f"count must be a positive integer (got {count!r})")
    if not isinstance(offset, int) or offset < 0:
        kind = ValueError if isinstance(offset, int) else TypeError
        raise kind(f"offset must be a non-negative integer (got {offset!r})")


async def sock_sendfile(
    loop: SocketMethods,
    sock: socket.socket,
    file: IO[bytes],
    offset: int,
    count: int | None,
    fallback: bool,
) -> int:
    check_params(sock.type, file, offset, count)
    try:
        return await native_sendfile(loop, sock, file, offset, count)
    except asyncio.SendfileNotAvailableError:
        if not fallback:
            raise
    return await _fallback(loop, file, offset, count, lambda data: loop.sock_sendall(sock, data))


async def native_sendfile(
    loop: SocketMethods, sock: socket.socket, file: IO[bytes], offset: int, count: int | None
) -> int:
    if not hasattr(os, "sendfile"):
        raise asyncio.SendfileNotAvailableError("os.sendfile() is not available")
    try:
        fileno = file.fileno()
        size = os.fstat(fileno).st_size
    except (AttributeError, OSError, io.UnsupportedOperation):
        raise asyncio.SendfileNotAvailableError("not a regular file") from None
    block = min(count or size, _MAX_BLOCK)
    total = 0
    try:
        while block and (count is None or total < count):
            if count is not None:
                block = min(count - total, _MAX_BLOCK)
            try:
                sent = os.sendfile(sock.fileno(), fileno, offset + total, block)
            except (BlockingIOError, InterruptedError):
                await loop._wait_ready(sock.fileno(), WRITE)
                continue
            except OSError as exc:
                if total == 0 and exc.errno in _UNSUPPORTED:
                    raise asyncio.SendfileNotAvailableError("os.sendfile call failed") from exc
                raise
            if sent == 0:
                break  # end of file
            total += sent
    finally:
        if total:
            file.seek(offset + total)
    return total


async def _fallback(
    loop: SocketMethods, file: IO[bytes], offset: int, count: int | None, send: Any
) -> int:
    """Read blocks in the executor and hand each to ``send`` (a coroutine function)."""
    if offset:
        file.seek(offset)
    buffer = bytearray(min(count, FALLBACK_BLOCK_SIZE) if count else FALLBACK_BLOCK_SIZE)
    total = 0
    try:
        while count is None or total < count:
            view = memoryview(buffer)
            if count is not None:
                view = view[: count - total]
            read = await loop.run_in_executor(None, file.readinto, view)  # type: ignore[attr-defined]
            if not read:
                break  # end of file
            await send(view[:read])
            total += read
    finally:
        if total and hasattr(file, "seek"):
            file.seek(offset + total)
    return total


async def transport_sendfile(
    loop: SocketMethods,
    transport: asyncio.WriteTransport,
    file: IO[bytes],
    offset: int,
    count: int | None,
    fallback: bool,
) -> int:
    from spindle._io.transports.stream_socket import SocketTransport

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
        return await _fallback(loop, file, offset, count, send)
    finally:
        draining.restore()


class _DrainingProtocol(asyncio.Protocol):
    """Stands in for the user's protocol during a fallback sendfile, to hear pause/resume."""

    def __init__(self, loop: SocketMethods, transport: Any) -> None:
        self._loop = loop
        self._transport = transport
        self._user_protocol: asyncio.BaseProtocol = transport.get_protocol()
        self._resume_reading = (
            isinstance(transport, asyncio.ReadTransport) and transport.is_reading()
        )
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
