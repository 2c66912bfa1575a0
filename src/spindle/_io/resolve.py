"""Turning ``(host, port)`` into socket addresses without a resolver call when possible.

Most programs pass IP literals ("127.0.0.1", "::1"); asking the C resolver (in a thread) for
those would cost a thread hand-off per connection for nothing.  ``numeric_addrinfo`` is a
pure function that recognises a literal and builds the ``getaddrinfo``-shaped answer itself;
``resolve`` falls back to ``loop.getaddrinfo`` for everything else.

IPv6 flow info and scope ids given in the address (``(host, port, flowinfo, scope_id)``) are
carried into the answer, and zone-qualified literals ("fe80::1%eth0") go to the resolver,
which knows how to turn the zone name into a scope id.
"""

from __future__ import annotations

import socket
from typing import Any

__all__ = ["AddrInfo", "numeric_addrinfo", "resolve", "split_address"]

# (family, type, proto, canonname, sockaddr): one entry of getaddrinfo's answer.
AddrInfo = tuple[Any, Any, int, str, Any]

_HAS_IPV6 = socket.has_ipv6


def split_address(address: Any, what: str) -> tuple[Any, Any, tuple[int, ...]]:
    """``(host, port, (flowinfo, scope_id) or ())`` of an INET address, or a clear TypeError."""
    if not isinstance(address, (tuple, list)) or not 2 <= len(address) <= 4:
        raise TypeError(
            f"cannot {what}: an internet address must be a (host, port) tuple, "
            f"not {address!r}"
        )
    return address[0], address[1], tuple(address[2:])


def _numeric_port(port: Any) -> int | None:
    if port is None or port in (b"", ""):
        return 0
    if isinstance(port, (int, str, bytes)):
        try:
            return int(port)
        except ValueError:
            return None  # a service name such as "http": the resolver knows it
    return None


def numeric_addrinfo(
    host: Any, port: Any, family: int, type: int, proto: int, extra: tuple[int, ...] = ()
) -> AddrInfo | None:
    """The ``getaddrinfo`` entry for an IP-literal ``host``, or None if it needs resolving."""
    if host is None or proto not in (0, socket.IPPROTO_TCP, socket.IPPROTO_UDP):
        return None
    if type == socket.SOCK_STREAM:
        proto = socket.IPPROTO_TCP
    elif type == socket.SOCK_DGRAM:
        proto = socket.IPPROTO_UDP
    else:
        return None
    number = _numeric_port(port)
    if number is None:
        return None
    if isinstance(host, bytes):
        host = host.decode("idna")
    if not isinstance(host, str) or "%" in host:
        return None  # inet_pton does not take a zone index: let the resolver do it
    if family == socket.AF_UNSPEC:
        families: list[int] = [socket.AF_INET, socket.AF_INET6] if _HAS_IPV6 else [socket.AF_INET]
    else:
        families = [family]
    for af in families:
        try:
            socket.inet_pton(af, host)
        except (OSError, ValueError):
            continue
        if af == socket.AF_INET6:
            flowinfo, scope_id = (*extra, 0, 0)[:2]
            return af, type, proto, "", (host, number, flowinfo, scope_id)
        return af, type, proto, "", (host, number)
    return None


async def resolve(
    loop: Any,
    address: Any,
    *,
    family: int = 0,
    type: int = socket.SOCK_STREAM,
    proto: int = 0,
    flags: int = 0,
    what: str = "connect",
) -> list[AddrInfo]:
    """Every socket address for ``address`` (a (host, port) tuple), literal or resolved."""
    host, port, extra = split_address(address, what)
    info = numeric_addrinfo(host, port, family, type, proto, extra)
    if info is not None:
        return [info]
    infos: list[AddrInfo] = await loop.getaddrinfo(
        host, port, family=family, type=type, proto=proto, flags=flags
    )
    return infos
