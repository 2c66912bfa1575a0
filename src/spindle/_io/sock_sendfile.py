"""Sending a file over a socket: ``os.sendfile`` when the kernel can do it, else in blocks.

``os.sendfile`` copies from a file to a socket inside the kernel: no bytes pass through
Python.  It works for regular files and stream sockets; anything else (a ``BytesIO``, a pipe,
a platform without the call) takes the *fallback*, ``send_in_blocks``, which reads blocks in
the executor (file reads may block) and hands each to a sender.

``sock_sendfile`` is ``loop.sock_sendfile``; the socket transport's native path and
``loop.sendfile`` (``connect/sendfile.py``) use ``native_sendfile`` and ``send_in_blocks``.
The file position ends just after the last byte sent, even on error, as asyncio documents.
"""

from __future__ import annotations

import asyncio
import errno
import functools
import io
import os
import socket
from collections.abc import Awaitable, Callable
from typing import IO

from spindle._io.contract import IOLoop
from spindle._io.poller import WRITE

__all__ = ["check_params", "native_sendfile", "send_in_blocks", "sock_sendfile"]

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
    loop: IOLoop,
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
    send = functools.partial(loop.sock_sendall, sock)
    return await send_in_blocks(loop, file, offset, count, send)


async def native_sendfile(
    loop: IOLoop, sock: socket.socket, file: IO[bytes], offset: int, count: int | None
) -> int:
    if not hasattr(os, "sendfile"):
        raise asyncio.SendfileNotAvailableError("os.sendfile() is not available")
    try:
        fileno = file.fileno()
        size = os.fstat(fileno).st_size
    except (AttributeError, OSError, io.UnsupportedOperation):
        raise asyncio.SendfileNotAvailableError("not a regular file") from None
    block = min(count or size, _MAX_BLOCK)
    # Bytes sent so far; a list because a call cancelled mid-way reports its count late.
    progress = [0]
    try:
        while block and (count is None or progress[0] < count):
            total = progress[0]
            if count is not None:
                block = min(count - total, _MAX_BLOCK)
            try:
                # The socket does not block, but reading the file may wait on the disk: the
                # call runs on a worker thread (offload.py), not the loop's.
                sent = await loop._offload.run(
                    os.sendfile, sock.fileno(), fileno, offset + total, block,
                    on_cancel=progress.append,
                )  # fmt: skip
            except (BlockingIOError, InterruptedError):
                await loop._wait_ready(sock.fileno(), WRITE)
                continue
            except OSError as exc:
                if total == 0 and exc.errno in _UNSUPPORTED:
                    raise asyncio.SendfileNotAvailableError("os.sendfile call failed") from exc
                raise
            if sent == 0:
                break  # end of file
            progress[0] += sent
    finally:
        total = sum(progress)
        if total:
            file.seek(offset + total)
    return total


async def send_in_blocks(
    loop: IOLoop,
    file: IO[bytes],
    offset: int,
    count: int | None,
    send: Callable[[memoryview], Awaitable[None]],
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
