"""The write pipe transport for a child process's stdin.

``write()`` tries ``os.write`` at once and buffers only what the pipe would not take; the
rest is flushed when the poller reports the pipe writable.  The buffer (``PendingWrites``)
keeps the caller's own chunks: ``bytes`` cannot change, so a 64 MiB write is queued without
copying it (a bytearray's leftover is copied once, since its owner may change it); several
buffered chunks go out in one ``os.writev``.  The protocol is paused above
the high water mark and resumed at the low one (asyncio's defaults: 64 KiB and a quarter
of it), which is what makes ``StreamWriter.drain()`` wait.

The write end is also watched for *reading*.  A pipe's write end never becomes readable,
but epoll reports an error on it as soon as the reader (the child) closes its end, so a
child that exits or closes its stdin is noticed even when nothing is being written.

Writing after ``close()`` or ``write_eof()`` is a bug in the caller and raises.  Writing
after the *child* went away cannot be prevented by the caller; the loss was reported to
the protocol (``connection_lost(exc)``, so ``drain()`` raises), and like asyncio the data
is dropped, with one report to the exception handler if it keeps happening.
"""

from __future__ import annotations

import asyncio
import os
import stat
import warnings
from collections import deque
from collections.abc import Callable
from itertools import islice
from typing import IO, Any

from spindle._io.readiness import ReadinessLoop
from spindle._io.subprocess_pipes import PipeState, PipeTransportBase

__all__ = ["PendingWrites", "WritePipeTransport", "write_buffer_limits"]

DEFAULT_HIGH_WATER = 64 * 1024
WRITEV_MAX_CHUNKS = 64  # well under every system's IOV_MAX
LOST_WRITES_REPORTED_AT = 5  # asyncio's threshold for "writing to a lost pipe" warnings


def write_buffer_limits(high: int | None, low: int | None) -> tuple[int, int]:
    """``(high, low)`` water marks from what the user gave (asyncio's defaults)."""
    if high is None:
        high = DEFAULT_HIGH_WATER if low is None else 4 * low
    if low is None:
        low = high // 4
    if not high >= low >= 0:
        raise ValueError(f"high ({high!r}) must be >= low ({low!r}) must be >= 0")
    return high, low


def byte_view(data: bytes | bytearray | memoryview) -> memoryview:
    """A flat view of ``data``'s bytes (copied only if it is not flat bytes already)."""
    view = memoryview(data)
    if view.itemsize != 1 or view.ndim != 1 or not view.c_contiguous:
        view = memoryview(view.tobytes())
    return view


class PendingWrites:
    """Bytes waiting to be written, as a queue of chunks (see the module docstring)."""

    def __init__(self) -> None:
        self._chunks: deque[memoryview] = deque()
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def append(self, view: memoryview) -> None:
        if not isinstance(view.obj, bytes):
            view = memoryview(view.tobytes())  # its owner could change it after write()
        self._chunks.append(view)
        self._size += len(view)

    def head(self) -> list[memoryview]:
        """The first chunks, for one ``os.writev``."""
        return list(islice(self._chunks, WRITEV_MAX_CHUNKS))

    def consume(self, count: int) -> None:
        """Drop the first ``count`` bytes (they were written)."""
        self._size -= count
        chunks = self._chunks
        while count:
            first = chunks[0]
            if count < len(first):
                chunks[0] = first[count:]
                return
            chunks.popleft()
            count -= len(first)

    def clear(self) -> None:
        self._chunks.clear()
        self._size = 0


class WritePipeTransport(PipeTransportBase, asyncio.WriteTransport):
    """The parent's end of a child's stdin."""

    def __init__(
        self, loop: ReadinessLoop, pipe: IO[bytes], protocol: asyncio.BaseProtocol
    ) -> None:
        PipeTransportBase.__init__(self, loop, pipe, protocol)
        asyncio.WriteTransport.__init__(self, {"pipe": pipe})
        self._buffer = PendingWrites()
        self._high, self._low = write_buffer_limits(None, None)
        self._protocol_paused = False
        # 0 while the peer is there; then the count of writes dropped since it went away.
        self._lost_writes = 0

    def start(self) -> None:
        self._protocol.connection_made(self)
        if self._state is PipeState.OPEN and stat.S_ISFIFO(os.fstat(self._fd).st_mode):
            self._loop.add_reader(self._fd, self._peer_closed)  # see the module docstring

    def _peer_closed(self) -> None:
        exc = BrokenPipeError() if self._buffer else None
        self._buffer.clear()
        self._lost_writes = 1
        self._begin_closing(exc)

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"data must be a bytes-like object, not {type(data).__name__}")
        if self._lost_writes:
            self._drop_lost_write()
            return
        if self._state is not PipeState.OPEN:
            raise RuntimeError(f"cannot write: the pipe transport is {self._state.value}")
        view = byte_view(data)
        if not view:
            return
        if not self._buffer:
            try:
                written = os.write(self._fd, view)
            except (BlockingIOError, InterruptedError):
                written = 0
            except OSError as exc:
                self._lost_writes = 1
                self._fatal_error(exc, "Fatal write error on pipe transport")
                return
            if written == len(view):
                return
            view = view[written:]
            self._loop.add_writer(self._fd, self._write_ready)
        self._buffer.append(view)
        self._update_flow()

    def _drop_lost_write(self) -> None:
        self._lost_writes += 1
        if self._lost_writes == LOST_WRITES_REPORTED_AT:
            self._loop.call_exception_handler(
                {"message": "cannot write: the pipe was closed by its reader or failed"}
            )

    def _write_ready(self) -> None:
        chunks = self._buffer.head()
        try:
            written = (
                os.write(self._fd, chunks[0]) if len(chunks) == 1 else os.writev(self._fd, chunks)
            )
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._buffer.clear()
            self._lost_writes = 1
            self._fatal_error(exc, "Fatal write error on pipe transport")
            return
        self._buffer.consume(written)
        self._update_flow()
        if not self._buffer:
            self._loop.remove_writer(self._fd)
            if self._state is PipeState.CLOSING:
                self._begin_closing(None)  # the flush that close() waited for is done

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        """Close the pipe once the buffer is flushed: the child reads EOF."""
        if self._state is not PipeState.OPEN:
            return
        self._state = PipeState.CLOSING
        if not self._buffer:
            self._begin_closing(None)

    def close(self) -> None:
        self.write_eof()

    def abort(self) -> None:
        if self._state is not PipeState.CLOSED:
            self._buffer.clear()
            self._begin_closing(None)

    def is_closing(self) -> bool:
        return self._state is not PipeState.OPEN

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._protocol = protocol

    def get_protocol(self) -> asyncio.BaseProtocol:
        protocol: asyncio.BaseProtocol = self._protocol
        return protocol

    # -- flow control --------------------------------------------------------------------

    def get_write_buffer_size(self) -> int:
        return len(self._buffer)

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return self._low, self._high

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self._high, self._low = write_buffer_limits(high, low)
        self._update_flow()

    def _update_flow(self) -> None:
        """Pause the protocol above the high mark; resume it at or below the low mark."""
        size = len(self._buffer)
        if not self._protocol_paused and size > self._high:
            self._protocol_paused = True
            self._tell_protocol(self._protocol.pause_writing, "pause_writing")
        elif self._protocol_paused and size <= self._low:
            self._protocol_paused = False
            self._tell_protocol(self._protocol.resume_writing, "resume_writing")

    def _tell_protocol(self, method: Callable[[], object], name: str) -> None:
        try:
            method()
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._loop.call_exception_handler(
                {
                    "message": f"protocol.{name}() failed",
                    "exception": exc,
                    "transport": self,
                    "protocol": self._protocol,
                }
            )

    def __del__(self, _warn: Any = warnings.warn) -> None:
        self._warn_unclosed(_warn)
