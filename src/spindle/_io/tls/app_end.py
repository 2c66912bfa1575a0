"""``AppEnd``: the application protocol on top of a TLS connection, and asyncio's contract with it.

The contract is strict, and this class is where it is kept: ``connection_made`` once, then
any number of ``data_received`` (or ``get_buffer``/``buffer_updated`` for a
``BufferedProtocol``), ``eof_received`` at most once, and ``connection_lost`` exactly once if
and only if ``connection_made`` was called (``AppState`` records where it is).  Once the
connection is lost it lets go of the protocol and of the application's transport: both
refer back to the TLS layer (the transport calls it, the protocol usually keeps the
transport), and that reference cycle would keep the connection's buffers and SSL context
alive until the garbage collector runs, instead of freeing them as soon as the application
drops its transport.  asyncio lets go the same way (a lost transport's protocol is None).

It also holds the application's side of flow control: whether it paused reading, and the
water marks of its write buffer, with ``pause_writing``/``resume_writing`` called on the
crossings (their errors go to the loop's exception handler: ``transports.policy``).

Plaintext is delivered from a ``TLSEngine``: a ``BufferedProtocol`` gets it decrypted straight
into its own buffer; a plain ``Protocol`` gets ``bytes`` made from a reusable 256 KiB buffer
(sixteen full TLS records, what asyncio's TLS layer reads at once too), so reading allocates
nothing but what it hands out, and a bulk transfer takes a step per 256 KiB.  (With 64 KiB
pieces, pyperformance's ``asyncio_tcp_ssl`` ran 4% behind uvloop: per 10 MB the interpreted
steps cost 4.4 million instructions, 2.3 million with 256 KiB, and the stream's reader paused
after every third piece, leaving ciphertext in OpenSSL's buffer to be moved at the next feed.)
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import cast

from spindle._io.contract import AnyLoop
from spindle._io.tls.engine import TLSEngine
from spindle._io.tls.states import AppState
from spindle._io.tls.transport import SSLTransport
from spindle._io.transports.policy import Limit, call_protocol, water_marks

__all__ = ["PLAINTEXT_BUFFER", "WRITE_HIGH_WATER", "AppEnd"]

PLAINTEXT_BUFFER = 256 * 1024  # at most this much per data_received() call
WRITE_HIGH_WATER = 512 * 1024  # asyncio's default for TLS transports


class AppEnd:
    def __init__(
        self,
        loop: AnyLoop,
        protocol: asyncio.BaseProtocol,
        transport: SSLTransport,
        *,
        connected: bool,
    ) -> None:
        self._loop = loop
        self.transport: SSLTransport | None = transport
        self.state = AppState.CONNECTED if connected else AppState.WAITING
        self.reading_paused = False
        self.writing_paused = False
        self.write_high, self.write_low = water_marks(None, None, WRITE_HIGH_WATER)
        self._plain: memoryview | None = None  # made on first use (BufferedProtocols need none)
        self.set_protocol(protocol)

    def set_protocol(self, protocol: asyncio.BaseProtocol | None) -> None:
        self.protocol = protocol
        self._buffered = protocol if isinstance(protocol, asyncio.BufferedProtocol) else None

    @property
    def scratch(self) -> memoryview:
        """The buffer plaintext is decrypted into for ``data_received()``, or to be dropped."""
        if self._plain is None:
            self._plain = memoryview(bytearray(PLAINTEXT_BUFFER))
        return self._plain

    # -- the lifecycle -----------------------------------------------------------------------

    def connect(self) -> None:
        protocol, transport = self.protocol, self.transport
        if self.state is AppState.WAITING and protocol is not None and transport is not None:
            self.state = AppState.CONNECTED
            transport._handed_out()
            protocol.connection_made(transport)

    def eof(self) -> None:
        if self.state is AppState.CONNECTED:
            self.state = AppState.EOF
            # A true result asks to stay half-open, which TLS cannot do (asyncio ignores it
            # too): the connection closes either way.
            cast(asyncio.Protocol, self.protocol).eof_received()

    def closing(self) -> None:
        if self.transport is not None:
            self.transport._closing()

    def lost(self, exc: Exception | None) -> None:
        """The connection is over: tell the protocol (if it was connected), then let go."""
        protocol, transport = self.protocol, self.transport
        connected = self.state in (AppState.CONNECTED, AppState.EOF)
        self.state = AppState.LOST
        self.set_protocol(None)
        self.transport = None
        if transport is not None:
            transport._connection_lost()
        if connected and protocol is not None:
            protocol.connection_lost(exc)

    # -- reading -----------------------------------------------------------------------------

    def deliver(self, engine: TLSEngine, still_open: Callable[[], bool]) -> bool:
        """Hand decrypted data over while the app reads and the connection stays open.

        True when the peer's close_notify was reached.
        """
        if self._buffered is not None:
            return self._deliver_into_buffers(engine, self._buffered, still_open)
        view = self.scratch
        stream = cast(asyncio.Protocol, self.protocol)
        while True:
            filled, peer_closed = engine.read_into(view)
            if filled:
                stream.data_received(bytes(view[:filled]))
            if peer_closed or filled < len(view) or self.reading_paused or not still_open():
                return peer_closed

    def _deliver_into_buffers(
        self, engine: TLSEngine, app: asyncio.BufferedProtocol, still_open: Callable[[], bool]
    ) -> bool:
        while True:
            with memoryview(app.get_buffer(engine.plaintext_hint() or -1)) as view:
                size = len(view)
                if not size:
                    raise RuntimeError("cannot read: the protocol's get_buffer() returned 0 bytes")
                filled, peer_closed = engine.read_into(view)
            if filled:
                app.buffer_updated(filled)
            if peer_closed or filled < size or self.reading_paused or not still_open():
                return peer_closed

    # -- writing -----------------------------------------------------------------------------

    def set_write_limits(self, high: Limit | None, low: Limit | None, unsent: int) -> None:
        self.write_high, self.write_low = water_marks(high, low, WRITE_HIGH_WATER)
        self.control_writing(unsent)

    def control_writing(self, unsent: int) -> None:
        """Pause or resume the application's writing, given what is still unsent."""
        if self.state is not AppState.CONNECTED and self.state is not AppState.EOF:
            return
        protocol = self.protocol
        if protocol is None:
            return
        if not self.writing_paused and unsent > self.write_high:
            self.writing_paused = True
            call_protocol(self._loop, self.transport, protocol, protocol.pause_writing)
        elif self.writing_paused and unsent <= self.write_low:
            self.writing_paused = False
            call_protocol(self._loop, self.transport, protocol, protocol.resume_writing)
