"""Opening stream connections: ``create_connection``, ``create_unix_connection``, and the
step they share with ``connect_accepted_socket``, turning a connected socket into a transport.

``create_connection`` resolves the host, orders the addresses (``happy_eyeballs.interleave``)
and races connection attempts (``happy_eyeballs.staggered_race``; strictly one after the
other without ``happy_eyeballs_delay``).  Each attempt records its error; when all fail, the
caller gets the one error, or one ``OSError`` listing them all, or with ``all_errors=True``
an ``ExceptionGroup`` of them (asyncio 3.12's option).

``open_transport`` wraps the socket in a ``SocketTransport`` (or, with ``ssl=``, in a
``SocketTransport`` carrying a ``TLSProtocol``) and waits until the protocol has seen
``connection_made`` (and, with TLS, until the handshake is done).
"""

from __future__ import annotations

import asyncio
import functools
import os
import socket
from collections.abc import Callable
from typing import Any

from spindle._core.timers import refuse_nan
from spindle._io import resolve
from spindle._io.connect import happy_eyeballs
from spindle._io.connect.listeners import bind_error
from spindle._io.contract import IOLoop
from spindle._io.tls import TLSProtocol, check_tls_arguments, client_context
from spindle._io.transports.faces import SocketTransport, until_started

__all__ = ["connect_sock", "create_connection", "create_unix_connection", "open_transport"]

ProtocolFactory = Callable[[], asyncio.BaseProtocol]


async def open_transport(
    loop: IOLoop,
    sock: socket.socket,
    protocol_factory: ProtocolFactory,
    ssl: Any = None,
    server_hostname: str | None = None,
    *,
    server_side: bool = False,
    handshake_timeout: float | None = None,
    shutdown_timeout: float | None = None,
) -> tuple[asyncio.Transport, asyncio.BaseProtocol]:
    """A transport (TLS if ``ssl``) over the connected ``sock``, once it is ready for use."""
    sock.setblocking(False)
    protocol = protocol_factory()
    waiter: asyncio.Future[None] = loop.create_future()
    if ssl:
        context = ssl if server_side else client_context(ssl, server_hostname)
        tls = TLSProtocol(
            loop,
            protocol,
            context,
            waiter,
            server_side=server_side,
            server_hostname=server_hostname,
            handshake_timeout=handshake_timeout,
            shutdown_timeout=shutdown_timeout,
        )
        raw = SocketTransport(loop, sock, tls)
        transport: asyncio.Transport = tls.app_transport
    else:
        raw = transport = SocketTransport(loop, sock, protocol, waiter)
    await until_started(waiter, raw.abort)
    return transport, protocol


def _bind_local(sock: socket.socket, local_infos: list[resolve.AddrInfo]) -> None:
    error: OSError | None = None
    for family, _, _, _, address in local_infos:
        if family != sock.family:
            continue
        try:
            sock.bind(address)
            return
        except OSError as exc:
            error = bind_error(exc, address)
    raise error or OSError(f"no matching local address with family={sock.family!r} found")


async def connect_sock(
    loop: IOLoop,
    errors: list[Exception],
    info: resolve.AddrInfo,
    local_infos: list[resolve.AddrInfo] | None,
) -> socket.socket:
    """One attempt: create, bind (to ``local_infos``), connect.  Errors go to ``errors``."""
    family, type_, proto, _, address = info
    sock: socket.socket | None = None
    try:
        sock = socket.socket(family, type_, proto)
        sock.setblocking(False)
        if local_infos is not None:
            _bind_local(sock, local_infos)
        await loop.sock_connect(sock, address)
        return sock
    except BaseException as exc:
        if sock is not None:
            sock.close()
        if isinstance(exc, Exception):
            errors.append(exc)
        raise


def _combined_error(errors: list[Exception], all_errors: bool) -> Exception:
    if all_errors:
        return ExceptionGroup("create_connection failed", errors)
    for error in errors:
        if not isinstance(error, OSError):
            return error  # a bug (bad argument...) rather than a network failure: show it
    if len(errors) == 1 or all(str(e) == str(errors[0]) for e in errors):
        return errors[0]
    return OSError(f"Multiple exceptions: {', '.join(str(e) for e in errors)}")


async def create_connection(
    loop: IOLoop,
    protocol_factory: ProtocolFactory,
    host: str | None,
    port: int | str | None,
    *,
    ssl: Any,
    family: int,
    proto: int,
    flags: int,
    sock: socket.socket | None,
    local_addr: Any,
    server_hostname: str | None,
    ssl_handshake_timeout: float | None,
    ssl_shutdown_timeout: float | None,
    happy_eyeballs_delay: float | None,
    interleave: int | None,
    all_errors: bool,
) -> tuple[asyncio.Transport, asyncio.BaseProtocol]:
    check_tls_arguments(
        ssl,
        server_hostname=server_hostname,
        handshake_timeout=ssl_handshake_timeout,
        shutdown_timeout=ssl_shutdown_timeout,
    )
    if happy_eyeballs_delay is not None:
        refuse_nan(happy_eyeballs_delay, "happy_eyeballs_delay")
    if ssl and server_hostname is None:
        if not host:
            raise ValueError("You must set server_hostname when using ssl without a host")
        server_hostname = host
    if host is None and port is None:
        if sock is None:
            raise ValueError("host and port was not specified and no sock specified")
        if sock.type != socket.SOCK_STREAM:
            raise ValueError(f"A Stream Socket was expected, got {sock!r}")
        return await open_transport(
            loop,
            sock,
            protocol_factory,
            ssl,
            server_hostname,
            handshake_timeout=ssl_handshake_timeout,
            shutdown_timeout=ssl_shutdown_timeout,
        )
    if sock is not None:
        raise ValueError("host/port and sock can not be specified at the same time")
    kind: dict[str, Any] = {
        "family": family,
        "type": socket.SOCK_STREAM,
        "proto": proto,
        "flags": flags,
    }
    infos = await resolve.resolve(loop, (host, port), **kind)
    if not infos:
        raise OSError(f"cannot connect: getaddrinfo({host!r}, {port!r}) returned no address")
    local_infos = None
    if local_addr is not None:
        local_infos = await resolve.resolve(loop, local_addr, what="bind", **kind)
        if not local_infos:
            raise OSError(f"cannot bind: getaddrinfo({local_addr!r}) returned no address")
    if happy_eyeballs_delay is not None and interleave is None:
        interleave = 1
    if interleave:
        infos = happy_eyeballs.interleave(infos, interleave)
    errors: list[Exception] = []
    attempts = [functools.partial(connect_sock, loop, errors, info, local_infos) for info in infos]
    try:
        connected = await happy_eyeballs.staggered_race(
            loop._as_asyncio_loop(), attempts, happy_eyeballs_delay, socket.socket.close
        )
        if connected is None:
            raise _combined_error(errors, all_errors)
    finally:
        # Each error's traceback holds the frame of its attempt, which holds this list:
        # emptied, the list no longer keeps the errors (and their sockets) in a cycle.
        errors.clear()
    try:
        return await open_transport(
            loop,
            connected,
            protocol_factory,
            ssl,
            server_hostname,
            handshake_timeout=ssl_handshake_timeout,
            shutdown_timeout=ssl_shutdown_timeout,
        )
    except BaseException:
        connected.close()  # ours: nobody else will
        raise


async def create_unix_connection(
    loop: IOLoop,
    protocol_factory: ProtocolFactory,
    path: Any,
    *,
    ssl: Any,
    sock: socket.socket | None,
    server_hostname: str | None,
    ssl_handshake_timeout: float | None,
    ssl_shutdown_timeout: float | None,
) -> tuple[asyncio.Transport, asyncio.BaseProtocol]:
    check_tls_arguments(
        ssl,
        server_hostname=server_hostname,
        handshake_timeout=ssl_handshake_timeout,
        shutdown_timeout=ssl_shutdown_timeout,
    )
    if ssl and server_hostname is None:
        raise ValueError("you have to pass server_hostname when using ssl")
    owned = path is not None
    if path is not None:
        if sock is not None:
            raise ValueError("path and sock can not be specified at the same time")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM, 0)
        try:
            sock.setblocking(False)
            await loop.sock_connect(sock, os.fspath(path))
        except BaseException:
            sock.close()
            raise
    elif sock is None:
        raise ValueError("no path and sock were specified")
    elif sock.family != socket.AF_UNIX or sock.type != socket.SOCK_STREAM:
        raise ValueError(f"A UNIX Domain Stream Socket was expected, got {sock!r}")
    try:
        return await open_transport(
            loop,
            sock,
            protocol_factory,
            ssl,
            server_hostname,
            handshake_timeout=ssl_handshake_timeout,
            shutdown_timeout=ssl_shutdown_timeout,
        )
    except BaseException:
        if owned:
            sock.close()
        raise
