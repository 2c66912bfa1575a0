"""``ReadingCore``: a transport's read side, shared by stream sockets, datagram sockets and pipes.

Watching.  Every transport watches its descriptor for readability once its protocol has
been told it is connected (``_start``): sockets and read pipes to read, a write pipe to hear
that its reader has gone (the poller reports the hang-up as readable).  It watches exactly
while it is OPEN, started, not paused by its protocol and not at end of file;
``_start_reading`` and ``_stop_reading`` are the only places that register and unregister
the callback, ``_on_readable``.

Reading a stream.  ``_on_readable`` here is the stream read path of TCP and Unix sockets and
of read pipes, written once.  The transport supplies the system call (``_recv_into``:
``sock.recv_into``, or ``os.readv`` on the pipe, and ``_recv``: ``sock.recv``, ``os.read``),
as it supplies ``send``/``writev`` to the write side.  The bytes go into the loop's shared
buffer and the protocol gets a ``bytes`` copy of just what arrived, or, for a
``BufferedProtocol``, straight into the protocol's own buffer (``get_buffer`` /
``buffer_updated``), with no copy.  After a large read (``LARGE_READ``, a quarter of the
shared buffer) the next goes straight into a new ``bytes`` of up to ``FRESH_READ_SIZE``
(``_recv``): a copy of 100 KiB costs more than a fresh object, while a copy of 1 KiB
costs less; the first small read goes back to the shared buffer.  (Either way a read is one
system call; bench.echo's 100 KiB rows show the difference.)  A read of nothing is the end of
the stream: ``eof_received`` decides whether the transport stays open to write (``_on_eof``).
Datagram sockets and write pipes read differently and bring their own ``_on_readable``.

Errors the protocol raises while receiving end the connection (``_fatal_error``), as in
asyncio: the transport cannot know what the protocol made of the bytes it did not take.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from spindle._io.contract import IOLoop
from spindle._io.poller import READ
from spindle._io.readiness import READ_BUFFER_SIZE
from spindle._io.transports.base import TransportCore, TransportState, settle_waiter

__all__ = ["ReadingCore"]

_OPEN = TransportState.OPEN
# A read this large (a quarter of the loop's buffer) makes the next go into new bytes.
LARGE_READ = READ_BUFFER_SIZE // 4
# What a read into new bytes asks for: under glibc's default mmap threshold (128 KiB), so
# the bytes come from the heap, whose pages are reused.  A 256 KiB read is a fresh memory
# mapping each time (a page fault per page touched) in a process that has not moved the
# threshold: in a bare echo program it doubled the server's CPU per 100 KiB request.
FRESH_READ_SIZE = 127 * 1024


class ReadingCore(TransportCore):
    """The read side of a transport (see the module docstring)."""

    _recv_into: Callable[[Any], int]  # one read into a buffer: recv_into() / os.readv()
    _recv: Callable[[int], bytes]  # one read into new bytes: recv() / os.read()
    _read_error = "Fatal read error on transport"

    def __init__(
        self, loop: IOLoop, protocol: asyncio.BaseProtocol, extra: dict[str, Any] | None
    ) -> None:
        super().__init__(loop, protocol, extra)
        self._reading = False  # a reader is registered
        self._read_started = False  # connection_made has been called
        self._read_paused = False  # the protocol paused reading
        self._read_ended = False  # end of file: nothing more to read
        self._view = memoryview(loop._shared_read_buffer())
        self._buffered_protocol = isinstance(protocol, asyncio.BufferedProtocol)
        self._large_reads = False  # the last read was large: read the next into new bytes

    def _start(self, waiter: asyncio.Future[None] | None) -> None:
        """(Scheduled by the constructor.)  connection_made, then reading, then the waiter."""
        self._read_started = True
        if self._call_connection_made(waiter):
            self._start_reading()
            settle_waiter(waiter)

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._protocol = protocol
        self._buffered_protocol = isinstance(protocol, asyncio.BufferedProtocol)
        self._large_reads = False  # (a BufferedProtocol gives its own buffer)

    # -- watching ------------------------------------------------------------------------

    def _start_reading(self) -> None:
        if self._reading or not self._read_started or self._read_paused or self._read_ended:
            return
        if self._state is _OPEN:
            self._reading = True
            self._loop._add_handler(self._fd, READ, self._on_readable, ())

    def _stop_reading(self) -> None:
        if self._reading:
            self._reading = False
            self._loop._remove_handler(self._fd, READ)

    def is_reading(self) -> bool:
        return self._state is _OPEN and not self._read_paused

    def pause_reading(self) -> None:
        if self.is_reading():
            self._read_paused = True
            self._stop_reading()

    def resume_reading(self) -> None:
        if self._state is _OPEN and self._read_paused:
            self._read_paused = False
            self._start_reading()

    def _stop_io(self) -> None:
        super()._stop_io()
        self._stop_reading()

    # -- reading a stream ----------------------------------------------------------------

    def _on_readable(self) -> None:
        protocol: Any = self._protocol
        large = self._large_reads  # (never set for a BufferedProtocol)
        try:
            if self._buffered_protocol:
                buf = protocol.get_buffer(-1)
                if not len(buf):
                    raise RuntimeError("get_buffer() returned an empty buffer")
            else:
                buf = self._view
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._fatal_error(exc, "Fatal error: protocol.get_buffer() call failed.")
            return
        try:
            if large:
                data = self._recv(FRESH_READ_SIZE)
                nbytes = len(data)
            else:
                nbytes = self._recv_into(buf)
        except (BlockingIOError, InterruptedError):
            return
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._read_failed(exc)
            return
        if not nbytes:
            self._on_eof()
            return
        try:
            if self._buffered_protocol:
                protocol.buffer_updated(nbytes)
            else:
                if large:
                    self._large_reads = nbytes >= LARGE_READ
                else:
                    if nbytes >= LARGE_READ:
                        self._large_reads = True
                    data = self._view[:nbytes].tobytes()
                protocol.data_received(data)
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._fatal_error(exc, self._delivery_failed())

    def _delivery_failed(self) -> str:
        method = "buffer_updated" if self._buffered_protocol else "data_received"
        return f"Fatal error: protocol.{method}() call failed."

    def _read_failed(self, exc: BaseException) -> None:
        """The read itself failed (the peer reset...)."""
        self._fatal_error(exc, self._read_error)

    def _on_eof(self) -> None:
        """The stream has ended: tell the protocol; close unless it asks to stay open."""
        self._read_ended = True
        self._stop_reading()
        try:
            keep_open = self._protocol.eof_received()  # type: ignore[attr-defined]
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._fatal_error(exc, "Fatal error: protocol.eof_received() call failed.")
            return
        if not keep_open:
            self.close()
