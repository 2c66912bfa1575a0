"""The loop's connection methods: connections, servers, datagram endpoints, pipes, sendfile.

This class is the public face only: each method checks nothing beyond its signature and
hands over to the module of this room that does the work.

    connections.py         create_connection, create_unix_connection, connect_accepted_socket
    happy_eyeballs.py      address interleaving and the staggered connection race
    listeners.py           the listening sockets of create_server / create_unix_server
    servers.py             Server: accepting, and the connections it owns
    datagram_endpoints.py  create_datagram_endpoint
    sendfile.py            loop.sendfile (loop.sock_sendfile is ``sock_sendfile.py``'s)

The transports themselves are the room below (``transports/``), and TLS is reached through
its one door (``spindle._io.tls``).
"""

from __future__ import annotations

import asyncio
import socket
import sys
from collections.abc import Callable, Sequence
from typing import IO, Any, TypeVar

from spindle._io.connect import connections, datagram_endpoints, listeners, sendfile
from spindle._io.connect.servers import Server
from spindle._io.sockets import SocketMethods
from spindle._io.tls import check_tls_arguments
from spindle._io.transports.faces import ReadPipeTransport, WritePipeTransport, until_started

__all__ = ["ConnectionMethods"]

P = TypeVar("P", bound=asyncio.BaseProtocol)
ProtocolFactory = Callable[[], asyncio.BaseProtocol]


class ConnectionMethods(SocketMethods):
    """Connections, servers, datagram endpoints, pipes and sendfile (see the module docstring)."""

    async def create_connection(
        self,
        protocol_factory: Callable[[], P],
        host: str | None = None,
        port: int | str | None = None,
        *,
        ssl: Any = None,
        family: int = 0,
        proto: int = 0,
        flags: int = 0,
        sock: socket.socket | None = None,
        local_addr: tuple[str, int] | None = None,
        server_hostname: str | None = None,
        ssl_handshake_timeout: float | None = None,
        ssl_shutdown_timeout: float | None = None,
        happy_eyeballs_delay: float | None = None,
        interleave: int | None = None,
        all_errors: bool = False,
    ) -> tuple[asyncio.Transport, P]:
        """Connect to ``host``:``port`` (or wrap the connected ``sock``); (transport, protocol)."""
        transport, protocol = await connections.create_connection(
            self,
            protocol_factory,
            host,
            port,
            ssl=ssl,
            family=family,
            proto=proto,
            flags=flags,
            sock=sock,
            local_addr=local_addr,
            server_hostname=server_hostname,
            ssl_handshake_timeout=ssl_handshake_timeout,
            ssl_shutdown_timeout=ssl_shutdown_timeout,
            happy_eyeballs_delay=happy_eyeballs_delay,
            interleave=interleave,
            all_errors=all_errors,
        )
        return transport, protocol  # type: ignore[return-value]

    async def create_unix_connection(
        self,
        protocol_factory: Callable[[], P],
        path: str | None = None,
        *,
        ssl: Any = None,
        sock: socket.socket | None = None,
        server_hostname: str | None = None,
        ssl_handshake_timeout: float | None = None,
        ssl_shutdown_timeout: float | None = None,
    ) -> tuple[asyncio.Transport, P]:
        """Connect to the Unix socket at ``path`` (or wrap ``sock``); (transport, protocol)."""
        transport, protocol = await connections.create_unix_connection(
            self,
            protocol_factory,
            path,
            ssl=ssl,
            sock=sock,
            server_hostname=server_hostname,
            ssl_handshake_timeout=ssl_handshake_timeout,
            ssl_shutdown_timeout=ssl_shutdown_timeout,
        )
        return transport, protocol  # type: ignore[return-value]

    async def connect_accepted_socket(
        self,
        protocol_factory: Callable[[], P],
        sock: socket.socket,
        *,
        ssl: Any = None,
        ssl_handshake_timeout: float | None = None,
        ssl_shutdown_timeout: float | None = None,
    ) -> tuple[asyncio.Transport, P]:
        """Wrap a socket accepted outside the loop (server side, for ``ssl``)."""
        if sock.type != socket.SOCK_STREAM:
            raise ValueError(f"A Stream Socket was expected, got {sock!r}")
        check_tls_arguments(
            ssl,
            handshake_timeout=ssl_handshake_timeout,
            shutdown_timeout=ssl_shutdown_timeout,
            server=True,
        )
        transport, protocol = await connections.open_transport(
            self,
            sock,
            protocol_factory,
            ssl,
            server_side=True,
            handshake_timeout=ssl_handshake_timeout,
            shutdown_timeout=ssl_shutdown_timeout,
        )
        return transport, protocol  # type: ignore[return-value]

    async def create_server(
        self,
        protocol_factory: ProtocolFactory,
        host: str | Sequence[str] | None = None,
        port: int | None = None,
        *,
        family: int = socket.AF_UNSPEC,
        flags: int = socket.AI_PASSIVE,
        sock: socket.socket | None = None,
        backlog: int = 100,
        ssl: Any = None,
        reuse_address: bool | None = None,
        reuse_port: bool | None = None,
        keep_alive: bool | None = None,
        ssl_handshake_timeout: float | None = None,
        ssl_shutdown_timeout: float | None = None,
        start_serving: bool = True,
    ) -> Server:
        """Listen on every address of ``host`` (one or several hosts) or on ``sock``."""
        check_tls_arguments(
            ssl,
            handshake_timeout=ssl_handshake_timeout,
            shutdown_timeout=ssl_shutdown_timeout,
            server=True,
        )
        if host is not None or port is not None:
            if sock is not None:
                raise ValueError("host/port and sock can not be specified at the same time")
            sockets = await listeners.tcp_listeners(
                self,
                host,
                port,
                family=family,
                flags=flags,
                reuse_address=reuse_address,
                reuse_port=reuse_port,
                keep_alive=keep_alive,
            )
        elif sock is None:
            raise ValueError("Neither host/port nor sock were specified")
        elif sock.type != socket.SOCK_STREAM:
            raise ValueError(f"A Stream Socket was expected, got {sock!r}")
        else:
            sock.setblocking(False)
            sockets = [sock]
        server = Server(
            self,
            sockets,
            protocol_factory,
            ssl,
            backlog,
            ssl_handshake_timeout,
            ssl_shutdown_timeout,
        )
        if start_serving:
            server._start()
        return server

    async def create_unix_server(
        self,
        protocol_factory: ProtocolFactory,
        path: Any = None,
        *,
        sock: socket.socket | None = None,
        backlog: int = 100,
        ssl: Any = None,
        ssl_handshake_timeout: float | None = None,
        ssl_shutdown_timeout: float | None = None,
        start_serving: bool = True,
        cleanup_socket: bool | None = None,
    ) -> Server:
        """Listen on the Unix socket ``path`` (or on ``sock``).

        ``cleanup_socket``: remove the socket file when the server closes.  The default is the
        running Python's: yes from 3.13 on (where asyncio added the option), no before.
        """
        if cleanup_socket is None:
            cleanup_socket = sys.version_info >= (3, 13)
        check_tls_arguments(
            ssl,
            handshake_timeout=ssl_handshake_timeout,
            shutdown_timeout=ssl_shutdown_timeout,
            server=True,
        )
        # A stale socket file's stat and removal, the bind that makes the new file and the stat
        # of its inode touch the file system: on a worker thread, not the loop's.
        listener, to_remove = await self._offload.run(
            listeners.unix_listener, path, sock, cleanup_socket, on_cancel=_close_listener
        )
        server = Server(
            self,
            [listener],
            protocol_factory,
            ssl,
            backlog,
            ssl_handshake_timeout,
            ssl_shutdown_timeout,
            to_remove,
        )
        if start_serving:
            server._start()
        return server

    async def create_datagram_endpoint(
        self,
        protocol_factory: Callable[[], P],
        local_addr: Any = None,
        remote_addr: Any = None,
        *,
        family: int = 0,
        proto: int = 0,
        flags: int = 0,
        reuse_address: bool | None = None,
        reuse_port: bool | None = None,
        allow_broadcast: bool | None = None,
        sock: socket.socket | None = None,
    ) -> tuple[asyncio.DatagramTransport, P]:
        """A UDP (or Unix datagram) endpoint; (transport, protocol)."""
        transport, protocol = await datagram_endpoints.create_datagram_endpoint(
            self,
            protocol_factory,
            local_addr,
            remote_addr,
            family=family,
            proto=proto,
            flags=flags,
            reuse_address=reuse_address,
            reuse_port=reuse_port,
            allow_broadcast=allow_broadcast,
            sock=sock,
        )
        return transport, protocol  # type: ignore[return-value]

    async def connect_read_pipe(
        self, protocol_factory: Callable[[], P], pipe: Any
    ) -> tuple[asyncio.ReadTransport, P]:
        """Read from ``pipe`` (a file object, e.g. ``os.fdopen(r, "rb")``)."""
        protocol = protocol_factory()
        waiter: asyncio.Future[None] = self.create_future()
        transport = ReadPipeTransport(self, pipe, protocol, waiter)
        await until_started(waiter, transport.close)
        return transport, protocol

    async def connect_write_pipe(
        self, protocol_factory: Callable[[], P], pipe: Any
    ) -> tuple[asyncio.WriteTransport, P]:
        """Write to ``pipe`` (a file object, e.g. ``os.fdopen(w, "wb")``)."""
        protocol = protocol_factory()
        waiter: asyncio.Future[None] = self.create_future()
        transport = WritePipeTransport(self, pipe, protocol, waiter)
        await until_started(waiter, transport.abort)
        return transport, protocol

    async def sendfile(
        self,
        transport: asyncio.WriteTransport,
        file: IO[bytes],
        offset: int = 0,
        count: int | None = None,
        *,
        fallback: bool = True,
    ) -> int:
        """Send ``file`` through ``transport``: os.sendfile when possible; bytes sent."""
        return await sendfile.transport_sendfile(self, transport, file, offset, count, fallback)


def _close_listener(made: tuple[socket.socket, list[tuple[str, int]]]) -> None:
    """A Unix listener made for a cancelled ``create_unix_server``: closed, its file removed."""
    listener, to_remove = made
    listener.close()
    listeners.remove_files(to_remove)
