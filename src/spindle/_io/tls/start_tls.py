"""``start_tls``: TLS slid under an application on a connection that is already open.

The TLS machinery itself is a protocol (``protocol.TLSProtocol``) that can sit on any
stream transport, so the loop needs very little: ``create_connection``/``create_server`` put a
``TLSProtocol`` between their transport and the application's protocol, and ``start_tls``
slides one under an application on a connection that is already open (STARTTLS).

``start_tls`` here is a plain function of any loop (``upgrade_to_tls``), so it can be tested on
asyncio's loop and spindle's alike; the loop method only adds the closed-loop check.
"""

from __future__ import annotations

import asyncio
import ssl

from spindle._io.readiness import ReadinessLoop
from spindle._io.tls.protocol import TLSProtocol
from spindle._io.tls.transport import SSLTransport
from spindle._io.transports.faces import until_started

__all__ = ["TLSMethods", "upgrade_to_tls"]


async def upgrade_to_tls(
    loop: asyncio.AbstractEventLoop,
    transport: asyncio.BaseTransport,
    protocol: asyncio.BaseProtocol,
    sslcontext: ssl.SSLContext,
    *,
    server_side: bool = False,
    server_hostname: str | None = None,
    ssl_handshake_timeout: float | None = None,
    ssl_shutdown_timeout: float | None = None,
) -> SSLTransport | None:
    """Run TLS over ``transport`` for ``protocol``; the new transport, once the handshake is done.

    ``protocol`` keeps its connection (no second ``connection_made``); from now on it must use
    the returned transport, and ``transport`` belongs to the TLS layer.  If the handshake
    fails or the wait is cancelled, ``transport`` is closed.

    None when ``transport`` is already closing: the connection ended before the upgrade, and
    asyncio answers so (its ``start_tls`` is declared to return ``Transport | None``); code
    written for asyncio checks for it (aiohttp raises its ClientConnectorError, "Failed to
    start TLS").  ``transport`` is left alone, so its protocol still hears the end.
    """
    if not isinstance(sslcontext, ssl.SSLContext):
        raise TypeError(
            f"cannot start TLS: sslcontext must be an ssl.SSLContext, "
            f"got {type(sslcontext).__name__}"
        )
    if not isinstance(transport, asyncio.Transport):
        raise TypeError(
            f"cannot start TLS: transport {transport!r} is not supported (not a stream transport)"
        )
    if transport.is_closing():
        return None
    waiter: asyncio.Future[None] = loop.create_future()
    tls = TLSProtocol(
        loop,
        protocol,
        sslcontext,
        waiter,
        server_side=server_side,
        server_hostname=server_hostname,
        handshake_timeout=ssl_handshake_timeout,
        shutdown_timeout=ssl_shutdown_timeout,
        call_connection_made=False,
    )
    # No byte may reach the TLS layer before it is connected, nor the old protocol after
    # the switch: hold reading across it.
    transport.pause_reading()
    transport.set_protocol(tls)
    tls.connection_made(transport)
    transport.resume_reading()
    tls_transport = tls.app_transport  # now: a connection lost at once lets go of it
    await until_started(waiter, transport.close)
    return tls_transport


class TLSMethods(ReadinessLoop):
    """TLS over any transport: ``start_tls`` (``ssl=`` lives in create_connection/server)."""

    async def start_tls(
        self,
        transport: asyncio.BaseTransport,
        protocol: asyncio.BaseProtocol,
        sslcontext: ssl.SSLContext,
        *,
        server_side: bool = False,
        server_hostname: str | None = None,
        ssl_handshake_timeout: float | None = None,
        ssl_shutdown_timeout: float | None = None,
    ) -> asyncio.Transport | None:
        """Upgrade an open connection to TLS; the transport ``protocol`` must use from now on
        (None when the connection was already closing: ``upgrade_to_tls``)."""
        self._check_closed("start TLS")
        return await upgrade_to_tls(
            self._as_asyncio_loop(),
            transport,
            protocol,
            sslcontext,
            server_side=server_side,
            server_hostname=server_hostname,
            ssl_handshake_timeout=ssl_handshake_timeout,
            ssl_shutdown_timeout=ssl_shutdown_timeout,
        )
