"""Pipe transports: ``ReadPipeTransport`` and ``WritePipeTransport``.

They serve ``connect_read_pipe`` / ``connect_write_pipe``, and through them the standard
streams of child processes (``subprocess/transport.py``).  Both take either a file object
(closed when the transport is done) or a bare file descriptor (``os.close``-d when the
transport is done).

Reads go into the loop's shared buffer with ``os.readv`` and are copied out (or straight
into a ``BufferedProtocol``'s buffer).  End of file on a read pipe means the writer has gone:
the protocol gets ``eof_received`` and then ``connection_lost(None)``.

A write pipe writes as every stream transport does (``write_buffer.BufferedWrites``: at once,
buffering the rest and flushing it with ``os.writev``).  To learn that the reading side has
gone even while idle, its read side (``base``) watches its own descriptor for *readability*
when it is a FIFO or socket: the poller reports a hang-up there.  Closing a
write pipe is ``write_eof``: flush, then close the descriptor, which is the EOF the reader sees.

A pipe closed after its loop has closed lets its descriptor go at once, as every transport
does (``base``): the other end, often a child process that outlives the loop, must
see the EOF now.
"""

from __future__ import annotations

import asyncio
import errno
import functools
import os
import stat
from collections import deque
from collections.abc import Iterable
from typing import Any

from spindle._io.contract import IOLoop
from spindle._io.transports.base import TransportCore, TransportState
from spindle._io.transports.write_buffer import BufferedWrites, Data

__all__ = ["ReadPipeTransport", "WritePipeTransport"]

_OPEN = TransportState.OPEN


def _pipe_fd(pipe: Any, what: str) -> tuple[int, int]:
    fd = pipe if isinstance(pipe, int) else pipe.fileno()
    mode = os.fstat(fd).st_mode
    if not (stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or stat.S_ISCHR(mode)):
        raise ValueError(
            f"cannot make a {what} pipe transport: fd {fd} is not a pipe, socket or "
            "character device"
        )
    os.set_blocking(fd, False)
    return fd, mode


def _writev(fd: int, pieces: Iterable[Data]) -> int:
    return os.writev(fd, list(pieces))


class ReadPipeTransport(TransportCore, asyncio.ReadTransport):
    def __init__(
        self,
        loop: IOLoop,
        pipe: Any,
        protocol: asyncio.BaseProtocol,
        waiter: asyncio.Future[None] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        fd, _ = _pipe_fd(pipe, "read")
        super().__init__(loop, protocol, extra)
        self._own(pipe, fd)
        self._extra["pipe"] = pipe
        self._view = memoryview(loop._shared_read_buffer())
        loop.call_soon(self._start, waiter)

    def _describe(self) -> str:
        return f"fd={self._fd}"

    def _on_readable(self) -> None:
        protocol: Any = self._protocol
        buffered = isinstance(protocol, asyncio.BufferedProtocol)
        try:
            buf = protocol.get_buffer(-1) if buffered else self._view
            nbytes = os.readv(self._fd, [buf])
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            if exc.errno == errno.EIO:  # the other side of a pty went away: an EOF
                self._lose(exc)
            else:
                self._fatal_error(exc, "Fatal read error on pipe transport")
            return
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._fatal_error(exc, "Fatal error: protocol.get_buffer() call failed.")
            return
        try:
            if not nbytes:
                self._end_reading()
                protocol.eof_received()
                self._lose(None)
            elif buffered:
                protocol.buffer_updated(nbytes)
            else:
                protocol.data_received(self._view[:nbytes].tobytes())
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._fatal_error(exc, "Fatal error: the protocol failed on data from a pipe.")

    def close(self) -> None:
        self._lose(None)


class WritePipeTransport(BufferedWrites, asyncio.WriteTransport):
    """Writes to a pipe; its read side only watches for the reader's hang-up (a FIFO's or a
    socket's: a character device reports none)."""

    def __init__(
        self,
        loop: IOLoop,
        pipe: Any,
        protocol: asyncio.BaseProtocol,
        waiter: asyncio.Future[None] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        fd, mode = _pipe_fd(pipe, "write")
        super().__init__(loop, protocol, extra)
        self._own(pipe, fd)
        self._extra["pipe"] = pipe
        self._buffer: deque[Data] = deque()
        self._send_one = functools.partial(os.write, fd)
        self._send_many = functools.partial(_writev, fd)
        self._read_ended = not (stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode))  # nothing to watch
        loop.call_soon(self._start, waiter)

    def _describe(self) -> str:
        return f"fd={self._fd} bufsize={self._buffer_size}"

    def _on_readable(self) -> None:
        """The reader has gone (a write pipe has nothing to read)."""
        self._lose(BrokenPipeError() if self._buffer else None)

    _write_error = "Fatal write error on pipe transport"

    def _accepts_writes(self) -> bool:
        return self._state is _OPEN  # after close() (= write_eof) writes are dropped

    def _buffer_flushed(self) -> None:
        if self._state is TransportState.CLOSING:
            self._lose(None)

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        if self._state is not _OPEN:
            return
        self._state = TransportState.CLOSING
        self._lose_once_flushed()

    def close(self) -> None:
        self.write_eof()

    def abort(self) -> None:
        self._lose(None)
