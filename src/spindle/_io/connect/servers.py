"""``Server``: listening sockets, the accept loop, and the connections a server owns.

A server moves through three states: ``CREATED`` (sockets bound, not accepting),
``SERVING`` (listening; each socket has a reader that accepts) and ``CLOSED`` (sockets
closed).  Closing stops accepting but leaves established connections alone;
``close_clients()`` / ``abort_clients()`` end those too, and ``wait_closed()`` returns once
the server is closed *and* its last connection is gone (asyncio's 3.12.1+ meaning; on 3.11,
as there, a closed server's ``wait_closed()`` returns at once).

Accepting is synchronous: the reader accepts up to ``backlog`` connections per wake-up and
builds each transport on the spot, with no task per connection.  When the process runs out
of descriptors (EMFILE and friends) the server reports it, stops accepting for a second and
tries again, rather than spinning on a listening socket it cannot serve.
"""

from __future__ import annotations

import asyncio
import enum
import errno
import functools
import socket
import ssl
import sys
import warnings
import weakref
from asyncio import trsock
from collections.abc import Callable
from typing import Any, cast

from spindle._core.handles import TimerHandle
from spindle._io.connect import listeners
from spindle._io.contract import IOLoop
from spindle._io.poller import READ
from spindle._io.tls import TLSProtocol
from spindle._io.transports.faces import SocketTransport

__all__ = ["Server", "ServerState"]

# asyncio before 3.12.1: wait_closed() on a closed server does not wait for its connections.
_CLOSED_RETURNS_AT_ONCE = sys.version_info < (3, 12)

ACCEPT_RETRY_DELAY = 1.0
_OUT_OF_RESOURCES = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM}


class ServerState(enum.Enum):
    CREATED = "created"
    SERVING = "serving"
    CLOSED = "closed"


class Server(asyncio.AbstractServer):
    """What ``create_server`` and ``create_unix_server`` return."""

    _state = ServerState.CLOSED  # until __init__ has run

    def __init__(
        self,
        loop: IOLoop,
        sockets: list[socket.socket],
        protocol_factory: Callable[[], asyncio.BaseProtocol],
        ssl_context: ssl.SSLContext | None,
        backlog: int,
        ssl_handshake_timeout: float | None,
        ssl_shutdown_timeout: float | None,
        unix_paths: list[tuple[str, int]] | None = None,
    ) -> None:
        self._loop = loop
        self._sockets = sockets
        self._protocol_factory = protocol_factory
        self._ssl_context = ssl_context
        self._backlog = backlog
        self._ssl_handshake_timeout = ssl_handshake_timeout
        self._ssl_shutdown_timeout = ssl_shutdown_timeout
        self._unix_paths = unix_paths or []  # (path, inode) to unlink on close
        # Weak, so that a transport its user forgot can still be collected (and warn).
        self._clients: weakref.WeakSet[SocketTransport] = weakref.WeakSet()
        self._waiters: list[asyncio.Future[None]] | None = []
        self._serving_forever: asyncio.Future[None] | None = None
        self._retry_timer: TimerHandle | None = None
        self._state = ServerState.CREATED

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._state.value} sockets={self.sockets!r}>"

    def __del__(self, _warn: Any = warnings.warn) -> None:
        if self._state is not ServerState.CLOSED:
            _warn(f"unclosed server {self!r}", ResourceWarning, source=self)
            for sock in self._sockets:
                sock.close()  # not registered with the loop: it would hold us alive

    # -- the connections it owns ---------------------------------------------------------

    def _attach(self, transport: SocketTransport) -> None:
        self._clients.add(transport)

    def _detach(self, transport: SocketTransport) -> None:
        self._clients.discard(transport)
        if not self._clients and self._state is ServerState.CLOSED:
            self._wake_waiters()

    def _wake_waiters(self) -> None:
        waiters, self._waiters = self._waiters, None
        for waiter in waiters or ():
            if not waiter.done():
                waiter.set_result(None)

    def close_clients(self) -> None:
        """Close every connection this server accepted (their buffers are flushed first)."""
        for transport in list(self._clients):
            transport.close()

    def abort_clients(self) -> None:
        """Abort every connection this server accepted (buffered data is dropped)."""
        for transport in list(self._clients):
            transport.abort()

    # -- the AbstractServer interface ----------------------------------------------------

    def get_loop(self) -> asyncio.AbstractEventLoop:
        # The loop that made a server is spindle's EventLoop, an AbstractEventLoop; the
        # server itself uses only what the IOLoop contract lists.
        return cast(asyncio.AbstractEventLoop, self._loop)

    def is_serving(self) -> bool:
        return self._state is ServerState.SERVING

    @property
    def sockets(self) -> tuple[trsock.TransportSocket, ...]:
        """The listening sockets, wrapped as asyncio wraps them (the server keeps them)."""
        return tuple(trsock.TransportSocket(sock) for sock in self._sockets)

    def close(self) -> None:
        """Stop listening and close the listening sockets; connections stay open."""
        if self._state is ServerState.CLOSED:
            return
        self._state = ServerState.CLOSED
        if self._retry_timer is not None:
            self._retry_timer.cancel()
        for sock in self._sockets:
            if not self._loop.is_closed():
                self._loop._remove_handler(sock.fileno(), READ)
            sock.close()
        self._sockets = []
        listeners.remove_files(self._unix_paths)
        if self._serving_forever is not None and not self._serving_forever.done():
            self._serving_forever.cancel()
        if not self._clients:
            self._wake_waiters()

    async def start_serving(self) -> None:
        self._start()

    async def serve_forever(self) -> None:
        if self._serving_forever is not None:
            raise RuntimeError(f"server {self!r} is already being awaited on serve_forever()")
        if self._state is ServerState.CLOSED:
            raise RuntimeError(f"cannot serve forever: server {self!r} is closed")
        self._start()
        self._serving_forever = self._loop.create_future()
        try:
            await self._serving_forever
        except asyncio.CancelledError:
            try:
                self.close()
                await self.wait_closed()
            finally:
                raise
        finally:
            self._serving_forever = None

    async def wait_closed(self) -> None:
        """Wait until the server is closed and its last connection has gone.

        That is asyncio's meaning from 3.12.1 on.  Before (3.11), a server already closed
        returns at once, connections or not (CPython gh-79033), and code written for 3.11 (a
        websockets server that closes its handlers itself, after this returns) relies on it:
        spindle follows the running Python.
        """
        if self._waiters is None or (_CLOSED_RETURNS_AT_ONCE and self._state is ServerState.CLOSED):
            return
        waiter: asyncio.Future[None] = self._loop.create_future()
        self._waiters.append(waiter)
        await waiter

    # -- accepting -----------------------------------------------------------------------

    def _start(self) -> None:
        if self._state is not ServerState.CREATED:
            return
        self._state = ServerState.SERVING
        for sock in self._sockets:
            sock.listen(self._backlog)
            self._loop._add_handler(sock.fileno(), READ, self._on_acceptable, (sock,))

    def _resume_accepting(self, sock: socket.socket) -> None:
        self._retry_timer = None
        if self._state is ServerState.SERVING:
            self._loop._add_handler(sock.fileno(), READ, self._on_acceptable, (sock,))

    def _on_acceptable(self, sock: socket.socket) -> None:
        for _ in range(self._backlog):
            try:
                conn, address = sock.accept()
            except (BlockingIOError, InterruptedError):
                return  # nothing more pending
            except ConnectionAbortedError:
                continue  # the client gave up before we got to it
            except OSError as exc:
                self._loop.call_exception_handler(
                    {
                        "message": "socket.accept() out of system resource"
                        if exc.errno in _OUT_OF_RESOURCES
                        else "cannot accept a connection",
                        "exception": exc,
                        "socket": trsock.TransportSocket(sock),
                    }
                )
                if exc.errno in _OUT_OF_RESOURCES:
                    self._loop._remove_handler(sock.fileno(), READ)
                    self._retry_timer = self._loop.call_later(
                        ACCEPT_RETRY_DELAY, self._resume_accepting, sock
                    )
                return
            self._accepted(conn, address)

    def _accepted(self, conn: socket.socket, address: Any) -> None:
        conn.setblocking(False)
        extra = {"peername": address}
        try:
            protocol = self._protocol_factory()
            if self._ssl_context is None:
                SocketTransport(self._loop, conn, protocol, None, extra, server=self)
            else:
                self._accepted_tls(conn, protocol, extra)
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            conn.close()
            self._loop.call_exception_handler(
                {
                    "message": "Error on transport creation for incoming connection",
                    "exception": exc,
                    "socket": trsock.TransportSocket(conn),
                }
            )

    def _accepted_tls(
        self, conn: socket.socket, protocol: asyncio.BaseProtocol, extra: dict[str, Any]
    ) -> None:
        waiter: asyncio.Future[None] = self._loop.create_future()
        tls = TLSProtocol(
            self._loop,
            protocol,
            self._ssl_context,
            waiter,
            server_side=True,
            handshake_timeout=self._ssl_handshake_timeout,
            shutdown_timeout=self._ssl_shutdown_timeout,
        )
        raw = SocketTransport(self._loop, conn, tls, None, extra, server=self)
        waiter.add_done_callback(functools.partial(_after_handshake, self._loop, raw))


def _after_handshake(
    loop: IOLoop, raw: SocketTransport, waiter: asyncio.Future[None]
) -> None:
    """A failed server-side handshake closes the connection (reported in debug mode only:
    scanners and impatient clients make failed handshakes routine on a public server)."""
    if waiter.cancelled() or waiter.exception() is None:
        return
    raw.close()
    if loop.get_debug():
        loop.call_exception_handler(
            {
                "message": "TLS handshake failed for an incoming connection",
                "exception": waiter.exception(),
                "transport": raw,
            }
        )
