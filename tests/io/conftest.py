"""Shared pieces of the socket, transport and server tests.

``fd_guard`` (module-scoped; a module opts in with ``pytestmark``) fails the module when it
leaves file descriptors open.  The protocols below record what happens to them, so tests can
assert exact event orders instead of timing.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import socket
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

import pytest

T = TypeVar("T")
Loop = asyncio.AbstractEventLoop


def open_fds() -> dict[int, str]:
    fds = {}
    for name in os.listdir("/proc/self/fd"):
        # The descriptor listdir itself used is gone already: skip it.
        with contextlib.suppress(OSError):
            fds[int(name)] = os.readlink(f"/proc/self/fd/{name}")
    return fds


@pytest.fixture(scope="module")
def fd_guard(request: pytest.FixtureRequest) -> Iterator[None]:
    gc.collect()
    before = open_fds()
    yield
    gc.collect()
    leaked = {fd: target for fd, target in open_fds().items() if fd not in before}
    assert not leaked, f"{request.module.__name__} leaked file descriptors: {leaked}"


def run(loop: Loop, coro: Coroutine[Any, Any, T]) -> T:
    return loop.run_until_complete(coro)


def ipv6_works() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


def is_spindle(loop: Loop) -> bool:
    return type(loop).__module__.startswith("spindle")


def nonblocking_pair(kind: int = socket.SOCK_STREAM) -> tuple[socket.socket, socket.socket]:
    a, b = socket.socketpair(socket.AF_UNIX, kind)
    a.setblocking(False)
    b.setblocking(False)
    return a, b


class Recorder(asyncio.Protocol):
    """Records every callback as an event; ``lost`` completes at ``connection_lost``."""

    def __init__(self, loop: Loop, *, keep_open_on_eof: bool = False) -> None:
        self.loop = loop
        self.events: list[str] = []
        self.data = bytearray()
        self.transport: Any = None
        self.made = loop.create_future()
        self.lost = loop.create_future()
        self.eof = loop.create_future()
        self.keep_open_on_eof = keep_open_on_eof
        self.lost_exc: BaseException | None = None
        self._wanted = 0
        self._arrived: asyncio.Future[bytes] | None = None

    def connection_made(self, transport: Any) -> None:
        self.events.append("made")
        self.transport = transport
        self.made.set_result(None)

    def data_received(self, data: bytes) -> None:
        if not self.events or self.events[-1] != "data":
            self.events.append("data")
        self.data += data
        self._check_arrived()

    def eof_received(self) -> bool:
        self.events.append("eof")
        self.eof.set_result(None)
        return self.keep_open_on_eof

    def pause_writing(self) -> None:
        self.events.append("pause")

    def resume_writing(self) -> None:
        self.events.append("resume")

    def connection_lost(self, exc: Exception | None) -> None:
        self.events.append("lost")
        self.lost_exc = exc
        self.lost.set_result(exc)
        self._check_arrived()

    def received(self, nbytes: int) -> asyncio.Future[bytes]:
        """Completes with the data once ``nbytes`` have arrived (or the connection is lost)."""
        self._wanted = nbytes
        self._arrived = self.loop.create_future()
        self._check_arrived()
        return self._arrived

    def _check_arrived(self) -> None:
        fut = self._arrived
        enough = len(self.data) >= self._wanted or self.lost.done()
        if fut is not None and not fut.done() and enough:
            fut.set_result(bytes(self.data))


class Chunks(Recorder):
    """A Recorder that also keeps every ``data_received`` argument as it was given."""

    def __init__(self, loop: Loop) -> None:
        super().__init__(loop)
        self.chunks: list[Any] = []

    def data_received(self, data: bytes) -> None:
        self.chunks.append(data)
        super().data_received(data)


class Echo(asyncio.Protocol):
    """Writes back whatever it receives; closes when the peer half-closes."""

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.transport.write(data)


async def echo_server(loop: Loop, host: Any = "127.0.0.1") -> tuple[Any, int]:
    server = await loop.create_server(Echo, host, 0)
    return server, server.sockets[0].getsockname()[1]


@contextlib.contextmanager
def gc_disabled() -> Iterator[None]:
    """Only reference counting frees objects inside: a reference cycle shows as a survivor."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
