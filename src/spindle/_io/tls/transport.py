"""``SSLTransport``: the transport an application holds on a TLS connection.

It carries plaintext; all the work is done by the TLS protocol under it
(``protocol.TLSProtocol``), which it asks through the methods of ``TLSLayer``, one for each
of its own: it never reaches into the protocol's application end or its engine.  Its name
follows Python's ``ssl`` module (``SSLContext``, ``SSLObject``, ``SSLSocket``), as asyncio's
TLS transport's does: code that asks whether a transport is
encrypted may look for "ssl" in its class name (CPython's own tests do).

What it keeps itself is its lifecycle, as every spindle transport does:

    OPEN ──close()/abort()/the peer closes──▶ CLOSING ──connection lost──▶ CLOSED

``is_closing()`` is true from CLOSING on.  An application that drops an OPEN transport it was
given gets a ``ResourceWarning`` naming it (one that was never handed out, because the
handshake failed, does not warn).

Writes that can no longer be sent (after close(), or once the connection is gone) are
dropped and counted, as every spindle transport does (``transports.policy.DroppedWrites``;
asyncio's own tests require that such a write does not raise).
"""

from __future__ import annotations

import asyncio
import enum
import warnings
from collections.abc import Iterable
from typing import Any, Protocol

from spindle._io.contract import AnyLoop
from spindle._io.transports.policy import DroppedWrites, Limit

__all__ = ["SSLTransport", "SSLTransportState", "TLSLayer"]


class SSLTransportState(enum.Enum):
    OPEN = "open"
    CLOSING = "closing"
    CLOSED = "closed"


Data = bytes | bytearray | memoryview


class TLSLayer(Protocol):
    """What an ``SSLTransport`` asks of the TLS protocol under it."""

    def extra_info(self, name: str, default: Any) -> Any:
        """The TLS details ('ssl_object', 'peercert', ...), then the transport below's."""
        ...

    def app_protocol(self) -> asyncio.BaseProtocol | None:
        """The application's protocol; None once the connection is lost."""
        ...

    def set_app_protocol(self, protocol: asyncio.BaseProtocol) -> None: ...

    def write_app_data(self, data: Data) -> bool:
        """Encrypt and send ``data``; False when the connection takes no more data."""
        ...

    def begin_close(self) -> None:
        """Send close_notify after what was written, then close."""
        ...

    def abort(self) -> None:
        """Close at once: no close_notify."""
        ...

    def app_reading_paused(self) -> bool: ...

    def pause_app_reading(self) -> None: ...

    def resume_app_reading(self) -> None: ...

    def write_buffer_limits(self) -> tuple[Limit, Limit]:
        """``(low, high)`` of what the application has written and is not sent yet."""
        ...

    def set_write_buffer_limits(self, high: Limit | None, low: Limit | None) -> None: ...

    def write_buffer_size(self) -> int: ...

    def read_buffer_limits(self) -> tuple[Limit, Limit]:
        """``(low, high)`` of the ciphertext held while the application does not read."""
        ...

    def set_read_buffer_limits(self, high: Limit | None, low: Limit | None) -> None: ...

    def read_buffer_size(self) -> int: ...


class SSLTransport(asyncio.Transport):
    """Plaintext over TLS; see the module docstring."""

    def __init__(self, loop: AnyLoop, tls: TLSLayer) -> None:
        super().__init__()
        self._loop = loop
        self._tls = tls
        self._state = SSLTransportState.OPEN
        self._given_to_app = False
        self._dropped = DroppedWrites()

    def __repr__(self) -> str:
        peer = self._tls.extra_info("peername", None)
        return f"<SSLTransport {self._state.value} peer={peer!r}>"

    # -- what the TLS protocol tells us ------------------------------------------------------

    def _handed_out(self) -> None:
        self._given_to_app = True

    def _closing(self) -> None:
        if self._state is SSLTransportState.OPEN:
            self._state = SSLTransportState.CLOSING

    def _connection_lost(self) -> None:
        self._state = SSLTransportState.CLOSED

    # -- the asyncio.Transport interface -----------------------------------------------------

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        """'sslcontext', 'ssl_object', 'cipher', 'peercert', 'compression', then the
        transport below's ('socket', 'peername', 'sockname', ...)."""
        return self._tls.extra_info(name, default)

    def get_protocol(self) -> asyncio.BaseProtocol | None:  # type: ignore[override]
        """The application's protocol; None once the connection is lost (as in asyncio)."""
        return self._tls.app_protocol()

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._tls.set_app_protocol(protocol)

    def is_closing(self) -> bool:
        return self._state is not SSLTransportState.OPEN

    def close(self) -> None:
        """Send close_notify after what was written, then close; connection_lost(None) follows."""
        if self._state is SSLTransportState.OPEN:
            self._tls.begin_close()

    def abort(self) -> None:
        """Close at once: no close_notify, buffered data lost; connection_lost(None) follows."""
        if self._state is not SSLTransportState.CLOSED:
            self._tls.abort()

    def write(self, data: Data) -> None:
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(
                f"cannot write: data must be bytes, bytearray or memoryview, "
                f"not {type(data).__name__}"
            )
        if not data:
            return
        if self._state is not SSLTransportState.OPEN or not self._tls.write_app_data(data):
            closing = self._state is SSLTransportState.CLOSING
            self._dropped.add(self, len(data), closing=closing)

    def writelines(self, list_of_data: Iterable[Data]) -> None:
        # One TLS record stream for the lot: joining costs a copy, but saves a record
        # header, a MAC and a write call per piece.
        self.write(b"".join(list_of_data))

    def write_eof(self) -> None:
        raise NotImplementedError("cannot write_eof(): TLS transports cannot half-close")

    def can_write_eof(self) -> bool:
        return False

    def is_reading(self) -> bool:
        return self._state is SSLTransportState.OPEN and not self._tls.app_reading_paused()

    def pause_reading(self) -> None:
        """Stop calling data_received() until resume_reading()."""
        self._tls.pause_app_reading()

    def resume_reading(self) -> None:
        self._tls.resume_app_reading()

    def set_write_buffer_limits(self, high: Limit | None = None, low: Limit | None = None) -> None:
        self._tls.set_write_buffer_limits(high, low)

    # A limit may be math.inf, as asyncio's may; typeshed's stub says int.
    def get_write_buffer_limits(self) -> tuple[Limit, Limit]:  # type: ignore[override]
        """``(low, high)``, in asyncio's order."""
        return self._tls.write_buffer_limits()

    def get_write_buffer_size(self) -> int:
        """What was written and not yet taken by the transport below (asyncio counts so)."""
        return self._tls.write_buffer_size()

    def set_read_buffer_limits(self, high: Limit | None = None, low: Limit | None = None) -> None:
        """Limits on ciphertext held for a paused application before the peer is paused."""
        self._tls.set_read_buffer_limits(high, low)

    def get_read_buffer_limits(self) -> tuple[Limit, Limit]:
        return self._tls.read_buffer_limits()

    def get_read_buffer_size(self) -> int:
        return self._tls.read_buffer_size()

    # -- the end -----------------------------------------------------------------------------

    def __del__(self, _warn: Any = warnings.warn) -> None:
        if self._given_to_app and self._state is SSLTransportState.OPEN:
            self._state = SSLTransportState.CLOSED
            _warn(f"unclosed TLS transport {self!r}", ResourceWarning, source=self)
