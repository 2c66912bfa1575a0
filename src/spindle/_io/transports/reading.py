"""``ReadingCore``: a transport's read side, shared by stream sockets, datagram sockets and pipes.

Watching.  Every transport watches its descriptor for readability once its protocol has
been told it is connected (``_start``): sockets and read pipes to read, a write pipe to hear
that its reader has gone (the poller reports the hang-up as readable).  It watches exactly
while it is OPEN, started, not paused by its protocol and not at end of file;
``_start_reading`` and ``_stop_reading`` are the only places that register and unregister
the callback, ``_on_readable``.

Reading a stream.  ``_on_readable`` here is the stream read path of TCP and Unix sockets and
of read pipes, written once, with the same system calls for both: ``os.read`` on the
descriptor (a socket's ``recv`` with no flags is a ``read``; ``os.read`` takes its arguments
without the socket method's format parsing, some 350 instructions less a read, counted by
valgrind).  A socket of another class than ``socket.socket`` (a subclass of the program's,
which may count or shape what goes through it) is read through its own ``recv`` and
``recv_into``, as asyncio's transports read every socket (``_via_socket``).  Each read goes
straight into a new ``bytes`` of up to ``READ_SIZE``, which the interpreter shrinks in place
to what arrived and the protocol gets as it is: one system call, no copy (counted by
valgrind, a 1 KiB read into a new ``bytes`` costs some 1,400 instructions less than one into
a shared buffer and a copy of what arrived).  A ``BufferedProtocol`` gets the bytes
straight in its own buffer (``get_buffer`` / ``buffer_updated``, through ``os.readv``).  A
read of nothing is the end of the stream: ``eof_received`` decides whether the transport
stays open to write (``_on_eof``).
Datagram sockets and write pipes read differently and bring their own ``_on_readable``.

Errors the protocol raises while receiving end the connection (``_fatal_error``), as in
asyncio: the transport cannot know what the protocol made of the bytes it did not take.
"""

from __future__ import annotations

import asyncio
import os
import socket
from typing import Any, Final

from spindle._core.native import mypyc_attr
from spindle._io.contract import IOLoop
from spindle._io.poller import READ
from spindle._io.transports.base import TransportCore, TransportState, settle_waiter

__all__ = ["ReadingCore"]

_OPEN: Final = TransportState.OPEN
# What a read asks for: under glibc's default mmap threshold (128 KiB), so the bytes come
# from the heap, whose pages are reused, and are shrunk in place to what arrived.  A 256 KiB
# read is a fresh memory mapping each time (a page fault per page touched) in a process that
# has not moved the threshold: in a bare echo program it doubled the server's CPU per 100 KiB
# request.
READ_SIZE: Final = 127 * 1024
_read: Final = os.read
_readv: Final = os.readv


@mypyc_attr(allow_interpreted_subclasses=True)
class ReadingCore(TransportCore):
    """The read side of a transport (see the module docstring)."""

    def __init__(
        self,
        face: asyncio.BaseTransport,
        loop: IOLoop,
        protocol: asyncio.BaseProtocol,
        extra: dict[str, Any],
    ) -> None:
        super().__init__(face, loop, protocol, extra)
        self._reading = False  # a reader is registered
        self._read_started = False  # connection_made has been called
        self._read_paused = False  # the protocol paused reading
        self._read_ended = False  # end of file: nothing more to read
        # A socket of a class of the program's own (a subclass of socket.socket): read and
        # written through its methods, as asyncio does; None: the descriptor's own calls.
        self._via_socket: socket.socket | None = None
        self._buffered_protocol = isinstance(protocol, asyncio.BufferedProtocol)

    def _start(self, waiter: asyncio.Future[None] | None) -> None:
        """(Scheduled by the constructor.)  connection_made, then reading, then the waiter."""
        self._read_started = True
        if self._call_connection_made(waiter):
            self._start_reading()
            settle_waiter(waiter)

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._protocol = protocol
        self._buffered_protocol = isinstance(protocol, asyncio.BufferedProtocol)

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
        if self._buffered_protocol:
            self._read_into_protocol()
            return
        try:
            sock = self._via_socket
            data = _read(self._fd, READ_SIZE) if sock is None else sock.recv(READ_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._read_failed(exc)
            return
        if not data:
            self._on_eof()
            return
        protocol: Any = self._protocol
        try:
            protocol.data_received(data)
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._fatal_error(exc, "Fatal error: protocol.data_received() call failed.")

    def _read_into_protocol(self) -> None:
        """A ``BufferedProtocol``'s read: into its own buffer, then ``buffer_updated``."""
        protocol: Any = self._protocol
        try:
            buf = protocol.get_buffer(-1)
            if not len(buf):
                raise RuntimeError("get_buffer() returned an empty buffer")
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._fatal_error(exc, "Fatal error: protocol.get_buffer() call failed.")
            return
        try:
            sock = self._via_socket
            nbytes = _readv(self._fd, [buf]) if sock is None else sock.recv_into(buf)
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
            protocol.buffer_updated(nbytes)
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._fatal_error(exc, "Fatal error: protocol.buffer_updated() call failed.")

    def _read_error(self) -> str:
        return "Fatal read error on transport"

    def _read_failed(self, exc: BaseException) -> None:
        """The read itself failed (the peer reset...)."""
        self._fatal_error(exc, self._read_error())

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
