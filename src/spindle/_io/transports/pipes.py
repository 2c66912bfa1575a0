"""The cores of the pipe transports, ``ReadPipeCore`` and ``WritePipeCore`` (their faces are
``faces.ReadPipeTransport`` and ``faces.WritePipeTransport``).

They serve ``connect_read_pipe`` / ``connect_write_pipe``, and through them the standard
streams of child processes (``subprocess/transport.py``).  Both take either a file object
(closed when the transport is done) or a bare file descriptor (``os.close``-d when the
transport is done).

A read pipe reads as every stream transport does (``reading.ReadingCore``: ``os.read``).
End of file on a read pipe means the writer has gone: the protocol gets ``eof_received`` and
then ``connection_lost(None)``.

A write pipe writes as every stream transport does (``write_buffer.BufferedWrites``: at once,
buffering the rest and flushing it with ``os.writev``).  To learn that the reading side has
gone even while idle, its read side (``reading``) watches its own descriptor for *readability*
when it is a FIFO or socket: the poller reports a hang-up there.  Closing a
write pipe is ``write_eof``: flush, then close the descriptor, which is the EOF the reader sees.

A pipe closed after its loop has closed lets its descriptor go at once, as every transport
does (``base``): the other end, often a child process that outlives the loop, must
see the EOF now.
"""

from __future__ import annotations

import asyncio
import errno
import os
import stat
from collections import deque
from typing import Any

from spindle._io.contract import IOLoop
from spindle._io.transports.base import TransportState
from spindle._io.transports.reading import ReadingCore
from spindle._io.transports.write_buffer import BufferedWrites, Data

__all__ = ["ReadPipeCore", "WritePipeCore", "pipe_fd"]

_OPEN = TransportState.OPEN


def pipe_fd(pipe: Any, what: str) -> tuple[int, int]:
    """The descriptor of ``pipe`` (made non-blocking) and its mode; ValueError if it is not
    something a pipe transport can use."""
    fd = pipe if isinstance(pipe, int) else pipe.fileno()
    mode = os.fstat(fd).st_mode
    if not (stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or stat.S_ISCHR(mode)):
        raise ValueError(
            f"cannot make a {what} pipe transport: fd {fd} is not a pipe, socket or "
            "character device"
        )
    os.set_blocking(fd, False)
    return fd, mode


def _still_holds(core: ReadPipeCore | WritePipeCore) -> bool:
    """Whether a pipe transport still holds its pipe.  CPython's tests disown a pipe by
    setting asyncio's attribute ``_pipe`` of the transport (the face) to None: the transport
    then neither closes it nor warns about it."""
    face = core.face()
    return face is not core and face._pipe is not None and core._fileobj is not None


class ReadPipeCore(ReadingCore):
    def __init__(
        self,
        face: asyncio.BaseTransport,
        loop: IOLoop,
        pipe: Any,
        fd: int,
        protocol: asyncio.BaseProtocol,
        waiter: asyncio.Future[None] | None,
        extra: dict[str, Any],
    ) -> None:
        super().__init__(face, loop, protocol, extra)
        self._own(pipe, fd)
        self._extra["pipe"] = pipe
        loop.call_soon(self._start, waiter)

    def _describe(self) -> str:
        return f"fd={self._fd}"

    def _holds_descriptor(self) -> bool:
        return _still_holds(self)

    def _read_error(self) -> str:
        return "Fatal read error on pipe transport"

    def _read_failed(self, exc: BaseException) -> None:
        if isinstance(exc, OSError) and exc.errno == errno.EIO:
            self._lose(exc)  # the other side of a pty went away: an EOF
        else:
            super()._read_failed(exc)

    def _on_eof(self) -> None:
        super()._on_eof()
        self._lose(None)  # the writer has gone for good: a pipe does not stay half-open


class WritePipeCore(BufferedWrites):
    """Writes to a pipe; its read side only watches for the reader's hang-up (a FIFO's or a
    socket's: a character device reports none)."""

    def __init__(
        self,
        face: asyncio.BaseTransport,
        loop: IOLoop,
        pipe: Any,
        fd: int,
        mode: int,
        protocol: asyncio.BaseProtocol,
        waiter: asyncio.Future[None] | None,
        extra: dict[str, Any],
    ) -> None:
        super().__init__(face, loop, protocol, extra)
        self._own(pipe, fd)
        self._extra["pipe"] = pipe
        self._buffer: deque[Data] = deque()
        self._read_ended = not (stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode))  # nothing to watch
        loop.call_soon(self._start, waiter)

    def _describe(self) -> str:
        return f"fd={self._fd} bufsize={self._buffer_size}"

    def _holds_descriptor(self) -> bool:
        return _still_holds(self)

    def _on_readable(self) -> None:
        """The reader has gone (a write pipe has nothing to read)."""
        self._lose(BrokenPipeError() if self._buffer else None)

    def _write_error(self) -> str:
        return "Fatal write error on pipe transport"

    def _accepts_writes(self) -> bool:
        return self._state is _OPEN  # after close() (= write_eof) writes are dropped

    def _buffer_flushed(self) -> None:
        if self._state is TransportState.CLOSING:
            self._lose(None)

    def write_eof(self) -> None:
        if self._state is not _OPEN:
            return
        self._state = TransportState.CLOSING
        self._lose_once_flushed()

    def close(self) -> None:
        self.write_eof()
