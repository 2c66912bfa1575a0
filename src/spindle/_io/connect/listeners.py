"""Making the listening sockets of a server: ``create_server`` and ``create_unix_server``.

One TCP server may listen on several hosts, and one host may resolve to several addresses
(``None`` or ``""`` means every interface: 0.0.0.0 and ::).  Each address gets its own
socket.  IPv6 sockets are made IPv6-only, so that "::" and "0.0.0.0" can both be bound on
the same port.  If any socket cannot be bound, every socket made so far is closed before the
error (which names the address) propagates: a failed ``create_server`` leaks nothing.

A Unix server removes a stale socket file left by a previous run before binding, and
remembers the inode it created so that ``Server.close`` removes that file, and only that
file (not a socket another process has bound at the same path since).
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import socket
import stat
import sys
from collections.abc import Iterable
from typing import Any

from spindle._io import resolve
from spindle._io.contract import IOLoop

__all__ = [
    "bind_error",
    "remove_files",
    "remove_stale_unix_socket",
    "set_reuse_port",
    "tcp_listeners",
    "unix_listener",
]

logger = logging.getLogger("asyncio")


def _hosts(host: Any) -> list[Any]:
    if host == "":
        return [None]
    if isinstance(host, str) or not isinstance(host, Iterable):
        return [host]
    return list(host)


def bind_error(exc: OSError, address: Any) -> OSError:
    """What a failed ``bind`` raises: asyncio's words, naming the address (same errno)."""
    reason = (exc.strerror or str(exc)).lower()
    return OSError(exc.errno, f"error while attempting to bind on address {address!r}: {reason}")


def set_reuse_port(sock: socket.socket) -> None:
    if not hasattr(socket, "SO_REUSEPORT"):
        raise ValueError("reuse_port not supported by socket module")
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    except OSError:
        raise ValueError(
            "reuse_port not supported by socket module, SO_REUSEPORT defined but not "
            "implemented."
        ) from None


def _configure(
    sock: socket.socket, reuse_address: bool, reuse_port: bool | None, keep_alive: bool | None
) -> None:
    if reuse_address:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        set_reuse_port(sock)
    if keep_alive:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    if sock.family == socket.AF_INET6 and hasattr(socket, "IPPROTO_IPV6"):
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, True)


async def tcp_listeners(
    loop: IOLoop,
    host: Any,
    port: Any,
    *,
    family: int,
    flags: int,
    reuse_address: bool | None,
    reuse_port: bool | None,
    keep_alive: bool | None,
) -> list[socket.socket]:
    """Bound, non-blocking (not yet listening) sockets for every address of every host."""
    if reuse_address is None:
        reuse_address = os.name == "posix" and sys.platform != "cygwin"
    lookups = [
        loop.create_task(
            resolve.resolve(
                loop,
                (name, port),
                family=family,
                type=socket.SOCK_STREAM,
                flags=flags,
                what="create a server",
            )
        )
        for name in _hosts(host)
    ]
    infos: dict[Any, None] = {}  # ordered, without duplicates
    try:
        for lookup in lookups:
            found = await lookup
            if not found:
                raise OSError(f"cannot create a server: getaddrinfo({host!r}) returned no address")
            infos.update(dict.fromkeys(found))
    finally:
        for lookup in lookups:
            lookup.cancel()
    sockets: list[socket.socket] = []
    try:
        for af, type_, proto, _, address in infos:
            try:
                sock = socket.socket(af, type_, proto)
            except OSError:
                continue  # a family this host cannot make sockets of (IPv6 disabled...)
            sockets.append(sock)
            _configure(sock, reuse_address, reuse_port, keep_alive)
            try:
                sock.bind(address)
            except OSError as exc:
                raise bind_error(exc, address) from None
            sock.setblocking(False)
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    if not sockets:
        raise OSError(f"cannot create a server: no socket could be made for {host!r}")
    return sockets


def remove_stale_unix_socket(path: str) -> None:
    """Remove the socket file a previous run left at ``path`` (not any other kind of file)."""
    try:
        if stat.S_ISSOCK(os.stat(path).st_mode):
            os.remove(path)
    except FileNotFoundError:
        pass
    except OSError as exc:
        logger.error("Unable to check or remove stale UNIX socket %r: %r", path, exc)


def remove_files(to_remove: list[tuple[str, int]]) -> None:
    """Remove each ``(path, inode)`` socket file a server made, if it is still that file."""
    for path, inode in to_remove:
        try:
            if os.stat(path).st_ino == inode:
                os.unlink(path)
        except OSError:
            pass  # already gone, or replaced by someone else's socket: leave it


def unix_listener(
    path: Any, sock: socket.socket | None, cleanup: bool
) -> tuple[socket.socket, list[tuple[str, int]]]:
    """A bound, non-blocking Unix stream socket, and the ``(path, inode)`` to remove on close."""
    if path is not None:
        if sock is not None:
            raise ValueError("path and sock can not be specified at the same time")
        path = os.fspath(path)
        if isinstance(path, bytes):
            path = os.fsdecode(path)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        if path and path[0] != "\0":  # abstract-namespace names have no file
            remove_stale_unix_socket(path)
        try:
            sock.bind(path)
        except OSError as exc:
            sock.close()
            if exc.errno == errno.EADDRINUSE:
                raise OSError(errno.EADDRINUSE, f"Address {path!r} is already in use") from None
            raise
        except BaseException:
            sock.close()
            raise
    elif sock is None:
        raise ValueError("path was not specified, and no sock specified")
    elif sock.family != socket.AF_UNIX or sock.type != socket.SOCK_STREAM:
        raise ValueError(f"A UNIX Domain Stream Socket was expected, got {sock!r}")
    sock.setblocking(False)
    to_remove: list[tuple[str, int]] = []
    name = sock.getsockname()
    if cleanup and isinstance(name, str) and name and name[0] != "\0":
        with contextlib.suppress(OSError):  # gone already: nothing to remove later
            to_remove.append((name, os.stat(name).st_ino))
    return sock, to_remove
