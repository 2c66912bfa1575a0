"""Pipe transports for a child process's stdout and stderr (stdin: ``subprocess_stdin``).

A child's standard streams are plain pipes, so these are small transports over a
non-blocking descriptor.  They are private to subprocesses until the loop's general pipe
transports (``connect_read_pipe`` / ``connect_write_pipe``) land; then the two should be
merged.

Reading goes into one preallocated buffer per transport with ``os.readv`` (a pipe never
returns more than its capacity, 64 KiB by default), and the protocol gets ``bytes`` of the
filled part: no large allocation per read.

``start()`` is separate from construction so that the owner decides when events begin:
the subprocess transport starts its pipes only after its own protocol's
``connection_made``, so no pipe event can overtake it.
"""

from __future__ import annotations

import asyncio
import enum
import os
import warnings
from typing import IO, Any

from spindle._io.readiness import ReadinessLoop

__all__ = ["PipeState", "PipeTransportBase", "ReadPipeTransport"]

READ_BUFFER_SIZE = 64 * 1024


class PipeState(enum.Enum):
    OPEN = "open"
    CLOSING = "closing"  # close() or EOF seen: connection_lost is scheduled or awaits a flush
    CLOSED = "closed"  # connection_lost has been called


class PipeTransportBase:
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

    def discard(self) -> None:
        """Close the pipe without a word to the protocol: for a transport never started."""
        self._state = PipeState.CLOSED
        self._protocol = None
        if self._pipe is not None:
            self._pipe.close()
            self._pipe = None

    def _fatal_error(self, exc: BaseException, message: str) -> None:
        if not isinstance(exc, OSError):  # OSErrors are the peer's doing: reported via exc
            context = {"message": message, "exception": exc, "transport": self}
            self._loop.call_exception_handler({**context, "protocol": self._protocol})
        self._begin_closing(exc)

    def _warn_unclosed(self, _warn: Any) -> None:
        if self._state is PipeState.OPEN and self._pipe is not None:
            _warn(f"unclosed transport {self!r}", ResourceWarning, source=self)
            self._pipe.close()


class ReadPipeTransport(PipeTransportBase, asyncio.ReadTransport):
    """The parent's end of a child's stdout or stderr."""

    def __init__(self, loop: ReadinessLoop, pipe: IO[bytes], protocol: asyncio.Protocol) -> None:
        PipeTransportBase.__init__(self, loop, pipe, protocol)
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
