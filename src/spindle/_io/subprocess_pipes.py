"""Pipe transports for a child process's stdin, stdout and stderr.

A child's standard streams are plain pipes, so these are small transports over a
non-blocking descriptor read with ``os.readv`` and written with ``os.write``.  They are
private to subprocesses until the loop's general pipe transports (``connect_read_pipe`` /
``connect_write_pipe``) land; then the two should be merged.

Two details matter:

* Reading goes into one preallocated buffer per transport (a pipe never returns more than
  its capacity, 64 KiB by default), and the protocol gets ``bytes`` of the filled part:
  no large allocation per read.
* The write end is also watched for *reading*.  A pipe's write end never becomes
  readable, but epoll reports an error on it as soon as the reader (the child) closes its
  end, so a child that exits or closes stdin is noticed even when nothing is being written.

``start()`` is separate from construction so that the owner decides when events begin:
the subprocess transport starts its pipes only after its own protocol's
``connection_made``, so no pipe event can overtake it.
"""

from __future__ import annotations

import asyncio
import enum
import os
import stat
import warnings
from typing import IO, Any

from spindle._io.flow_control import WriteFlowControl
from spindle._io.readiness import ReadinessLoop

__all__ = ["PipeState", "ReadPipeTransport", "WritePipeTransport"]

READ_BUFFER_SIZE = 64 * 1024


class PipeState(enum.Enum):
    OPEN = "open"
    CLOSING = "closing"  # close() or EOF seen: connection_lost is scheduled or awaits a flush
    CLOSED = "closed"  # connection_lost has been called


class _PipeTransport:
    """What both directions share: the descriptor, the state, and the way out."""

    def __init__(self, loop: ReadinessLoop, pipe: IO[bytes], protocol: Any) -> None:
        self._loop = loop
        self._pipe: IO[bytes] | None = pipe
        self._fd = pipe.fileno()
        self._protocol = protocol
        self._state = PipeState.OPEN
        os.set_blocking(self._fd, False)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} fd={self._fd} {self._state.value}>"

    def _begin_closing(self, exc: BaseException | None) -> None:
        """Stop watching the descriptor; connection_lost follows on a later callback."""
        self._state = PipeState.CLOSING
        self._loop.remove_reader(self._fd)
        self._loop.remove_writer(self._fd)
        if self._loop.is_closed():
            self._call_connection_lost(exc)  # nothing will run any more: finish now
        else:
            self._loop.call_soon(self._call_connection_lost, exc)

    def _call_connection_lost(self, exc: BaseException | None) -> None:
        if self._state is PipeState.CLOSED:
            return
        self._state = PipeState.CLOSED
        try:
            if not self._loop.is_closed():
                self._protocol.connection_lost(exc)
        finally:
            if self._pipe is not None:
                self._pipe.close()
                self._pipe = None
            self._protocol = None

    def _fatal_error(self, exc: BaseException, message: str) -> None:
        if not isinstance(exc, OSError):  # OSErrors are the peer's doing: reported via exc
            self._loop.call_exception_handler(
                {"message": message, "exception": exc, "transport": self, "protocol": self._protocol}
            )
        self._begin_closing(exc)

    def _warn_unclosed(self, _warn: Any) -> None:
        if self._state is PipeState.OPEN and self._pipe is not None:
            _warn(f"unclosed transport {self!r}", ResourceWarning, source=self)
            self._pipe.close()


class ReadPipeTransport(_PipeTransport, asyncio.ReadTransport):
    """The parent's end of a child's stdout or stderr."""

    def __init__(self, loop: ReadinessLoop, pipe: IO[bytes], protocol: asyncio.Protocol) -> None:
        _PipeTransport.__init__(self, loop, pipe, protocol)
        asyncio.ReadTransport.__init__(self, {"pipe": pipe})
        self._buffer = bytearray(READ_BUFFER_SIZE)
        self._view = memoryview(self._buffer)
        self._paused = False

    def start(self) -> None:
        self._protocol.connection_made(self)
        if self._state is PipeState.OPEN and not self._paused:
            self._loop.add_reader(self._fd, self._read_ready)

    def _read_ready(self) -> None:
        try:
            count = os.readv(self._fd, [self._buffer])
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._fatal_error(exc, "Fatal read error on pipe transport")
            return
        if count:
            self._protocol.data_received(bytes(self._view[:count]))
            return
        self._begin_closing(None)  # EOF: the child closed its end
        self._protocol.eof_received()

    def is_reading(self) -> bool:
        return self._state is PipeState.OPEN and not self._paused

    def pause_reading(self) -> None:
        if self._state is PipeState.OPEN and not self._paused:
            self._paused = True
            self._loop.remove_reader(self._fd)

    def resume_reading(self) -> None:
        if self._state is PipeState.OPEN and self._paused:
            self._paused = False
            self._loop.add_reader(self._fd, self._read_ready)

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._protocol = protocol

    def get_protocol(self) -> asyncio.BaseProtocol:
        protocol: asyncio.BaseProtocol = self._protocol
        return protocol

    def is_closing(self) -> bool:
        return self._state is not PipeState.OPEN

    def close(self) -> None:
        if self._state is PipeState.OPEN:
            self._begin_closing(None)

    def __del__(self, _warn: Any = warnings.warn) -> None:
        self._warn_unclosed(_warn)


class WritePipeTransport(_PipeTransport, asyncio.WriteTransport):
    """The parent's end of a child's stdin."""

    def __init__(self, loop: ReadinessLoop, pipe: IO[bytes], protocol: asyncio.BaseProtocol) -> None:
        _PipeTransport.__init__(self, loop, pipe, protocol)
        asyncio.WriteTransport.__init__(self, {"pipe": pipe})
        self._buffer = bytearray()
        self._flow = WriteFlowControl(loop, self)
        self._lost_writes = 0  # writes dropped after the peer went away (as asyncio counts)

    def start(self) -> None:
        self._protocol.connection_made(self)
        if self._state is PipeState.OPEN and stat.S_ISFIFO(os.fstat(self._fd).st_mode):
            self._loop.add_reader(self._fd, self._peer_closed)  # see the module docstring

    def _peer_closed(self) -> None:
        self._buffer.clear()
        self._flow.update(0, self._protocol)
        self._begin_closing(BrokenPipeError() if self._buffer else None)

    def write(self, data: bytes | bytearray | memoryview) -> None:  # type: ignore[override]
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"data must be a bytes-like object, not {type(data).__name__}")
        if self._lost_writes or (self._state is not PipeState.OPEN and self._protocol is None):
            self._drop_lost_write()
            return
        if self._state is not PipeState.OPEN:
            raise RuntimeError(f"cannot write: the pipe transport is {self._state.value}")
        if not data:
            return
        if not self._buffer:
            try:
                written = os.write(self._fd, data)
            except (BlockingIOError, InterruptedError):
                written = 0
            except OSError as exc:
                self._lost_writes = 1
                self._fatal_error(exc, "Fatal write error on pipe transport")
                return
            if written == len(data):
                return
            data = memoryview(data)[written:]
            self._loop.add_writer(self._fd, self._write_ready)
        self._buffer += data
        self._flow.update(len(self._buffer), self._protocol)

    def _drop_lost_write(self) -> None:
        # The peer is gone and connection_lost(exc) has reported it (drain() raises it);
        # like asyncio, further writes are dropped, with a warning once it looks like a bug.
        self._lost_writes += 1
        if self._lost_writes >= 5:
            self._loop.call_exception_handler(
                {"message": "pipe closed by peer or os.write(pipe, data) raised exception."}
            )

    def _write_ready(self) -> None:
        try:
            written = os.write(self._fd, self._buffer)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._buffer.clear()
            self._lost_writes = 1
            self._fatal_error(exc, "Fatal write error on pipe transport")
            return
        del self._buffer[:written]  # O(1): bytearray deletes from the front in place
        self._flow.update(len(self._buffer), self._protocol)
        if not self._buffer:
            self._loop.remove_writer(self._fd)
            if self._state is PipeState.CLOSING:
                self._begin_closing(None)  # the flush that close() waited for is done

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        if self._state is not PipeState.OPEN:
            return
        self._state = PipeState.CLOSING
        if not self._buffer:
            self._begin_closing(None)

    def close(self) -> None:
        self.write_eof()

    def abort(self) -> None:
        if self._state is PipeState.CLOSED:
            return
        self._buffer.clear()
        self._begin_closing(None)

    def is_closing(self) -> bool:
        return self._state is not PipeState.OPEN

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._protocol = protocol

    def get_protocol(self) -> asyncio.BaseProtocol:
        protocol: asyncio.BaseProtocol = self._protocol
        return protocol

    def get_write_buffer_size(self) -> int:
        return len(self._buffer)

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return self._flow.low, self._flow.high

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self._flow.set_limits(high, low)
        self._flow.update(len(self._buffer), self._protocol)

    def __del__(self, _warn: Any = warnings.warn) -> None:
        self._warn_unclosed(_warn)
