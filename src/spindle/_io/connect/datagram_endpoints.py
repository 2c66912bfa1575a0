"""``create_datagram_endpoint``: choosing, binding and connecting the datagram socket.

With ``local_addr`` and/or ``remote_addr`` given as host names, both are resolved and paired
by ``(family, proto)``: only a family that has both a local and a remote address (when both
are asked for) is usable.  Those pairs are tried in order until one socket binds and
connects; the first error is raised if none does.  ``allow_broadcast`` sockets are not
connected (a broadcast socket sends to many addresses), the remote address becomes the
default destination instead.

``reuse_address=True`` is refused as asyncio refuses it since 3.11: SO_REUSEADDR on UDP lets
another process steal the port's traffic.
"""

from __future__ import annotations

import asyncio
import socket
import sys
from collections.abc import Callable
from typing import Any

from spindle._io import resolve
from spindle._io.connect.listeners import remove_stale_unix_socket, set_reuse_port
from spindle._io.contract import IOLoop
from spindle._io.transports.faces import DatagramSocketTransport, until_started

__all__ = ["create_datagram_endpoint"]

# asyncio's words for a sock= that is not SOCK_DGRAM (code and tests match on them; 3.13
# changed them).
_NOT_DATAGRAM_SOCKET = (
    "A UDP Socket was expected" if sys.version_info < (3, 13) else "A datagram socket was expected"
)

AddressPairs = list[tuple[tuple[int, int], list[Any]]]


async def _address_pairs(
    loop: IOLoop, local_addr: Any, remote_addr: Any, family: int, proto: int, flags: int
) -> AddressPairs:
    """``[((family, proto), [local, remote]), ...]`` for every usable family."""
    if not (local_addr or remote_addr):
        if family == 0:
            raise ValueError("unexpected address family")
        return [((family, proto), [None, None])]
    if family == getattr(socket, "AF_UNIX", None):
        for address in (local_addr, remote_addr):
            if address is not None and not isinstance(address, str):
                raise TypeError(f"string is expected for a Unix address, got {address!r}")
        if local_addr and local_addr[0] != "\0":
            remove_stale_unix_socket(local_addr)
        return [((family, proto), [local_addr, remote_addr])]
    by_kind: dict[tuple[int, int], list[Any]] = {}
    for index, address in ((0, local_addr), (1, remote_addr)):
        if address is None:
            continue
        if not (isinstance(address, tuple) and len(address) == 2):
            raise TypeError(f"2-tuple is expected for an internet address, got {address!r}")
        infos = await resolve.resolve(
            loop, address, family=family, type=socket.SOCK_DGRAM, proto=proto, flags=flags
        )
        if not infos:
            raise OSError(f"getaddrinfo({address!r}) returned no address")
        for fam, _, pro, _, sockaddr in infos:
            by_kind.setdefault((fam, pro), [None, None])[index] = sockaddr
    pairs = [
        (kind, pair)
        for kind, pair in by_kind.items()
        if not ((local_addr and pair[0] is None) or (remote_addr and pair[1] is None))
    ]
    if not pairs:
        raise ValueError("can not get address information: no family has both addresses")
    return pairs


async def _open_socket(
    loop: IOLoop,
    pairs: AddressPairs,
    reuse_port: bool | None,
    allow_broadcast: bool | None,
) -> tuple[socket.socket, Any]:
    errors: list[OSError] = []
    for (family, proto), (local, remote) in pairs:
        sock = socket.socket(family=family, type=socket.SOCK_DGRAM, proto=proto)
        try:
            if reuse_port:
                set_reuse_port(sock)
            if allow_broadcast:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
            sock.setblocking(False)
            if local is not None:
                sock.bind(local)
            if remote is not None and not allow_broadcast:
                await loop.sock_connect(sock, remote)
            return sock, remote
        except OSError as exc:
            sock.close()
            errors.append(exc)
        except BaseException:
            sock.close()
            raise
    raise errors[0]


async def create_datagram_endpoint(
    loop: IOLoop,
    protocol_factory: Callable[[], asyncio.BaseProtocol],
    local_addr: Any,
    remote_addr: Any,
    *,
    family: int,
    proto: int,
    flags: int,
    reuse_address: bool | None,
    reuse_port: bool | None,
    allow_broadcast: bool | None,
    sock: socket.socket | None,
) -> tuple[asyncio.DatagramTransport, asyncio.BaseProtocol]:
    if reuse_address:
        raise ValueError(
            "Passing `reuse_address=True` is no longer supported, as the usage of "
            "SO_REUSEPORT in UDP poses a significant security concern."
        )
    remote = None
    if sock is not None:
        if sock.type != socket.SOCK_DGRAM:
            raise ValueError(f"{_NOT_DATAGRAM_SOCKET}, got {sock!r}")
        given = {
            "local_addr": local_addr,
            "remote_addr": remote_addr,
            "family": family,
            "proto": proto,
            "flags": flags,
            "reuse_port": reuse_port,
            "allow_broadcast": allow_broadcast,
        }
        problems = ", ".join(f"{name}={value}" for name, value in given.items() if value)
        if problems:
            raise ValueError(
                "socket modifier keyword arguments can not be used when sock is specified. "
                f"({problems})"
            )
        sock.setblocking(False)
    else:
        pairs = await _address_pairs(loop, local_addr, remote_addr, family, proto, flags)
        sock, remote = await _open_socket(loop, pairs, reuse_port, allow_broadcast)
    protocol = protocol_factory()
    waiter: asyncio.Future[None] = loop.create_future()
    transport = DatagramSocketTransport(loop, sock, protocol, remote, waiter)
    await until_started(waiter, transport.abort)
    return transport, protocol
