"""``TLSProtocol``: TLS spoken over any stream transport.

The TLS layer is a protocol to the transport below it (TCP, a Unix socket, even
another TLS transport) and a transport to the application above it.  Three helpers do the
parts that do not need the loop: ``TLSEngine`` (``engine.py``: OpenSSL on memory buffers),
``AppEnd`` (``app_end.py``: the application protocol and asyncio's contract with it) and
``SSLTransport`` (``transport.py``: what the application holds, which asks this class for
everything through the methods of its ``TLSLayer``).  This class is the state machine that
joins them to the loop (states in ``states.py``):

* ciphertext arrives (``buffer_updated``): it is fed to the engine and the current state takes
  its next step: handshake, decrypt for the application, or shutdown;
* the application writes: the engine encrypts at once, and the output goes to the transport;
* the application closes, or the peer does (close_notify, or a bare EOF, which asyncio also
  takes as the end): FLUSHING, then SHUTDOWN, where close_notify is exchanged, then the
  transport below is closed; its ``connection_lost`` ends everything (CLOSED).

Backpressure goes through in both directions.  Writes: while the transport below has paused
us, output stays in the engine, and the application is paused when that grows past its
water mark (asyncio's semantics: 512 KiB by default).  Reads: while the application has
paused reading, ciphertext piles up in the engine, and past a water mark (256 KiB) the
transport below is paused too.

Two timeouts bound the phases that wait on the peer: the handshake (default 60 s, then
``ConnectionAbortedError``) and the close_notify exchange (default 30 s, then
``TimeoutError``); both abort the connection.  Errors reach whoever waits: the handshake's
waiter, or the application's ``connection_lost``; errors that are not ``OSError`` (bugs, not
network trouble) also go to the loop's exception handler.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Any, cast

from spindle._io.contract import AnyLoop, Cancellable
from spindle._io.tls.app_end import AppEnd
from spindle._io.tls.arguments import client_context
from spindle._io.tls.engine import TLSEngine
from spindle._io.tls.states import (
    HANDSHAKE_TIMEOUT,
    SHUTDOWN_TIMEOUT,
    TLSState,
    check_move,
    positive_timeout,
)
from spindle._io.tls.transport import Data, SSLTransport
from spindle._io.transports.policy import Limit, water_marks

__all__ = ["TLSProtocol"]

READ_HIGH_WATER = 256 * 1024  # ciphertext held for a paused application
CIPHERTEXT_BUFFER = 256 * 1024  # what the transport below receives into, per read

S = TLSState


class TLSProtocol(asyncio.BufferedProtocol):
    """TLS between a transport below and an application protocol above (module docstring)."""

    def __init__(
        self,
        loop: AnyLoop,
        app_protocol: asyncio.BaseProtocol,
        sslcontext: ssl.SSLContext | None,
        waiter: asyncio.Future[None] | None,
        *,
        server_side: bool = False,
        server_hostname: str | None = None,
        handshake_timeout: float | None = None,
        shutdown_timeout: float | None = None,
        call_connection_made: bool = True,
    ) -> None:
        self._loop = loop
        self._handshake_timeout = positive_timeout(
            handshake_timeout, HANDSHAKE_TIMEOUT, "handshake"
        )
        self._shutdown_timeout = positive_timeout(shutdown_timeout, SHUTDOWN_TIMEOUT, "shutdown")
        if sslcontext is None:
            if server_side:
                raise ValueError("cannot serve TLS without an ssl.SSLContext holding a certificate")
            sslcontext = client_context(None, server_hostname)
        self._engine = TLSEngine(
            sslcontext, server_side=server_side, server_hostname=server_hostname
        )
        self._extra: dict[str, Any] = {"sslcontext": sslcontext}
        self._state = S.UNWRAPPED
        self._waiter = waiter
        self._transport: asyncio.Transport | None = None
        self._error: Exception | None = None  # why we gave up, for connection_lost
        self._raw = memoryview(bytearray(CIPHERTEXT_BUFFER))
        self._raw_eof = False  # the transport below reported EOF
        self._close_when_flushed = False  # close the transport once our output is out
        self._below_paused_us = False  # the transport below asked us to stop writing
        self._we_paused_below = False  # we paused the transport below's reading
        self._read_scheduled = False
        self._read_high, self._read_low = water_marks(None, None, READ_HIGH_WATER)
        self._handshake_timer: Cancellable | None = None
        self._shutdown_timer: Cancellable | None = None
        self._app = AppEnd(
            loop, app_protocol, SSLTransport(loop, self), connected=not call_connection_made
        )

    def __repr__(self) -> str:
        side = "server" if self._engine.sslobj.server_side else "client"
        return f"<TLSProtocol {side} {self._state.name}>"

    @property
    def app_transport(self) -> SSLTransport:
        """The transport the application holds (until the connection is lost)."""
        transport = self._app.transport
        if transport is None:
            raise RuntimeError("cannot use the TLS connection's transport: the connection is lost")
        return transport

    def _move(self, new: TLSState) -> None:
        check_move(self._state, new)
        self._state = new

    # -- the transport below calls these ---------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)
        self._move(S.DO_HANDSHAKE)
        self._handshake_timer = self._loop.call_later(
            self._handshake_timeout, self._on_handshake_timeout
        )
        self._advance()  # sends our first handshake message (the client's hello)

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._raw

    def buffer_updated(self, nbytes: int) -> None:
        self._engine.feed(self._raw[:nbytes])
        self._advance()

    def eof_received(self) -> bool:
        self._raw_eof = True
        if self._state is S.DO_HANDSHAKE:
            self._fail(ConnectionResetError("cannot complete the TLS handshake: the peer closed"))
        elif not (self._state is S.WRAPPED and self._app.reading_paused):
            self._advance()
        # else: the rest is delivered, then the EOF, when the application resumes reading
        return True  # keep the transport open: we close it ourselves, when TLS is done

    def pause_writing(self) -> None:
        self._below_paused_us = True

    def resume_writing(self) -> None:
        self._below_paused_us = False
        self._flush()
        if self._close_when_flushed:
            self._close_transport()

    def connection_lost(self, exc: Exception | None) -> None:
        error = exc if exc is not None else self._error
        if self._state is not S.CLOSED:
            self._move(S.CLOSED)
        self._cancel_timers()
        self._wake_waiter(
            error or ConnectionResetError("cannot complete the TLS handshake: connection lost")
        )
        self._engine.drop()
        self._app.lost(error)
        self._transport = None  # it refers to us: no cycle to outlive the connection

    def _advance(self) -> None:
        """Something arrived (ciphertext, EOF, a resume): the current state's next step."""
        try:
            if self._state is S.DO_HANDSHAKE:
                self._step_handshake()
            elif self._state is S.WRAPPED:
                self._step_reading()
            elif self._state is S.FLUSHING:
                self._step_flushing()
            elif self._state is S.SHUTDOWN:
                self._step_shutdown()
            # UNWRAPPED cannot receive; in CLOSED whatever arrives is of no use.
        except Exception as exc:
            self._fail(exc, "Fatal error in the TLS layer or its application protocol")

    # -- the handshake -----------------------------------------------------------------------

    def _step_handshake(self) -> None:
        try:
            done = self._engine.handshake()
        except ssl.SSLError as exc:  # includes SSLCertVerificationError
            self._fail(exc, graceful=True)  # graceful: the peer gets our alert, and learns why
            return
        if not done:
            self._flush()
            return
        self._cancel_timers()
        self._move(S.WRAPPED)
        self._extra.update(self._engine.details())
        self._flush()  # our last handshake message (and TLS 1.3 session tickets)
        self._app.connect()
        self._wake_waiter(None)
        if self._state is S.WRAPPED:  # connection_made may have closed it already
            self._step_reading()

    def _on_handshake_timeout(self) -> None:
        self._handshake_timer = None
        if self._state is S.DO_HANDSHAKE:
            self._fail(
                ConnectionAbortedError(
                    f"TLS handshake timed out: SSL handshake is taking longer than "
                    f"{self._handshake_timeout} seconds; the connection is aborted"
                )
            )

    # -- data both ways ----------------------------------------------------------------------

    def _still_wrapped(self) -> bool:
        return self._state is S.WRAPPED

    def _step_reading(self) -> None:
        if self._app.reading_paused:
            self._control_reading_below()
            return
        peer_closed = self._app.deliver(self._engine, self._still_wrapped)
        if self._state is not S.WRAPPED:
            return  # the application closed or aborted from one of its callbacks
        engine = self._engine
        if engine.backlog:
            engine.encrypt_backlog()  # a renegotiation that held writes back may be done
        if engine.has_output():
            self._flush()  # reading can produce output too (alerts, key updates)
        if peer_closed or (self._raw_eof and not self._app.reading_paused):
            self._app.eof()
            self.begin_close()
        else:
            self._control_reading_below()

    def _control_reading_below(self) -> None:
        pending = self._engine.ciphertext_in()
        if self._transport is None:
            return
        if not self._we_paused_below and pending > self._read_high:
            self._we_paused_below = True
            self._transport.pause_reading()
        elif self._we_paused_below and pending <= self._read_low:
            self._we_paused_below = False
            self._transport.resume_reading()

    def write_app_data(self, data: Data) -> bool:
        """Encrypt ``data`` and send what the transport will take.

        False when the connection takes no more data (our close_notify is out, or the
        connection is gone): the caller reports the dropped write.
        """
        if self._state in (S.SHUTDOWN, S.CLOSED):
            return False
        try:
            self._engine.encrypt(data)
        except ssl.SSLError as exc:
            self._fail(exc)
            return False
        self._flush()
        return True

    def _flush(self) -> None:
        """Hand our output to the transport below, unless it asked us to wait."""
        transport = self._transport
        sendable = self._state is not S.CLOSED and not self._below_paused_us
        if transport is not None and sendable and self._engine.has_output():
            transport.write(self._engine.take_output())
        unsent = self._engine.unsent()
        if unsent > self._app.write_high or self._app.writing_paused:
            self._app.control_writing(unsent)

    # -- closing -----------------------------------------------------------------------------

    def begin_close(self) -> None:
        """Start the close_notify exchange (the application's close(), or the peer's)."""
        self._app.closing()
        if self._state in (S.UNWRAPPED, S.DO_HANDSHAKE):
            self.abort()
        elif self._state is S.WRAPPED:
            self._move(S.FLUSHING)
            self._shutdown_timer = self._loop.call_later(
                self._shutdown_timeout, self._on_shutdown_timeout
            )
            if self._we_paused_below and self._transport is not None:
                # The peer's close_notify must get through, whatever the application read.
                self._we_paused_below = False
                self._transport.resume_reading()
            self._advance()

    def _step_flushing(self) -> None:
        self._engine.discard_reads(self._app.scratch)
        self._engine.encrypt_backlog()
        if self._engine.backlog and not self._raw_eof:
            self._flush()
            return  # OpenSSL waits for the peer before it takes the rest
        self._move(S.SHUTDOWN)
        self._step_shutdown()

    def _step_shutdown(self) -> None:
        self._engine.discard_reads(self._app.scratch)  # data the peer sent before close_notify
        if self._raw_eof:
            # The peer has closed its end: no close_notify back (asyncio sends none either);
            # its EOF ends the connection as its close_notify would have.
            self._app.eof()
        elif self._engine.shutdown():
            self._app.eof()  # the peer's close_notify came (asyncio says so even after close())
        else:
            self._flush()
            return  # until the peer's close_notify, or its EOF
        self._close_transport()

    def _close_transport(self) -> None:
        self._close_when_flushed = True
        if self._below_paused_us and self._engine.has_output():
            return  # resume_writing() comes back here
        self._flush()
        if self._transport is not None:
            self._transport.close()

    def _on_shutdown_timeout(self) -> None:
        self._shutdown_timer = None
        if self._state in (S.FLUSHING, S.SHUTDOWN):
            self._fail(
                TimeoutError(
                    f"TLS shutdown timed out: no close_notify from the peer within "
                    f"{self._shutdown_timeout} seconds; the connection is aborted"
                )
            )

    def abort(self) -> None:
        """Drop the connection now: no close_notify, buffered data lost."""
        self._app.closing()
        if self._state is not S.CLOSED:
            self._move(S.CLOSED)
        self._cancel_timers()
        if self._transport is not None:
            self._transport.abort()

    def _fail(self, exc: Exception, message: str = "", *, graceful: bool = False) -> None:
        """Give up on the connection because of ``exc``, which the waiter and the app get."""
        if self._state is S.CLOSED:
            return
        self._error = exc
        self._move(S.CLOSED)
        self._cancel_timers()
        self._app.closing()
        self._wake_waiter(exc)
        if not isinstance(exc, OSError):  # OSErrors (SSLError too) reach connection_lost only
            self._loop.call_exception_handler(
                {
                    "message": message or "Fatal error in the TLS layer",
                    "exception": exc,
                    "transport": self._transport,
                    "protocol": self,
                }
            )
        if self._transport is None:
            return
        if graceful and self._engine.has_output():
            self._transport.write(self._engine.take_output())  # e.g. the alert saying why
            self._transport.close()
        else:
            self._transport.abort()

    def _cancel_timers(self) -> None:
        for timer in (self._handshake_timer, self._shutdown_timer):
            if timer is not None:
                timer.cancel()
        self._handshake_timer = self._shutdown_timer = None

    def _wake_waiter(self, exc: BaseException | None) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is None or waiter.done():
            return  # none, or cancelled by whoever waited
        if exc is None:
            waiter.set_result(None)
        else:
            waiter.set_exception(exc)

    # -- what SSLTransport asks (its TLSLayer) ---------------------------------------------

    def extra_info(self, name: str, default: Any) -> Any:
        if name in self._extra:
            return self._extra[name]
        if self._transport is not None:
            return self._transport.get_extra_info(name, default)
        return default

    def app_protocol(self) -> asyncio.BaseProtocol | None:
        return self._app.protocol

    def set_app_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._app.set_protocol(protocol)

    def app_reading_paused(self) -> bool:
        return self._app.reading_paused

    def pause_app_reading(self) -> None:
        self._app.reading_paused = True

    def resume_app_reading(self) -> None:
        if not self._app.reading_paused:
            return
        self._app.reading_paused = False
        if not self._read_scheduled:
            # Not now: resume_reading() is often called from inside a callback of ours.
            self._read_scheduled = True
            self._loop.call_soon(self._resume_reading_step)

    def _resume_reading_step(self) -> None:
        self._read_scheduled = False
        if self._state is S.WRAPPED:
            self._advance()

    def write_buffer_limits(self) -> tuple[Limit, Limit]:
        return self._app.write_low, self._app.write_high

    def set_write_buffer_limits(self, high: Limit | None, low: Limit | None) -> None:
        self._app.set_write_limits(high, low, self._engine.unsent())

    def write_buffer_size(self) -> int:
        return self._engine.unsent()

    def read_buffer_limits(self) -> tuple[Limit, Limit]:
        return self._read_low, self._read_high

    def set_read_buffer_limits(self, high: Limit | None, low: Limit | None) -> None:
        self._read_high, self._read_low = water_marks(high, low, READ_HIGH_WATER)
        self._control_reading_below()

    def read_buffer_size(self) -> int:
        return self._engine.ciphertext_in()
