"""Transports and connection races clean up after themselves.

* A descriptor that an open transport owns is refused by the public reader/writer API.
* A transport lets go of its protocol once ``connection_lost`` has run, so the usual
  protocol <-> transport pair is freed by reference counting, not by the garbage collector.
* A finished happy-eyeballs race keeps nothing alive.
* A transport closed after its loop has closed releases its descriptor at once.

The "freed without the GC" tests run with the collector disabled and watch weak references.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import socket
import warnings
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from spindle._io.connect.happy_eyeballs import staggered_race
from spindle._io.loop import EventLoop
from tests.io.conftest import Loop, gc_disabled, nonblocking_pair, run

pytestmark = pytest.mark.usefixtures("fd_guard")

REFUSED = r"File descriptor .* is used by transport"


class Keeper(asyncio.Protocol, asyncio.DatagramProtocol):
    """Holds its transport, as most protocols do; ``lost`` completes at connection_lost."""

    def __init__(self, loop: Loop) -> None:
        self.transport: Any = None
        self.lost = loop.create_future()

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost.set_result(exc)


# What each kind of transport is opened on: (transport, protocol, the other end to close).
Opener = Callable[[Loop], Awaitable[tuple[Any, Keeper, Any]]]


async def open_tcp(loop: Loop) -> tuple[Any, Keeper, Any]:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        transport, protocol = await loop.create_connection(lambda: Keeper(loop), "127.0.0.1", port)
        peer, _ = listener.accept()  # already connected: accept() does not block
    return transport, protocol, peer


async def open_unix(loop: Loop) -> tuple[Any, Keeper, Any]:
    mine, peer = nonblocking_pair()
    transport, protocol = await loop.create_connection(lambda: Keeper(loop), sock=mine)
    return transport, protocol, peer


async def open_udp(loop: Loop) -> tuple[Any, Keeper, Any]:
    transport, protocol = await loop.create_datagram_endpoint(
        lambda: Keeper(loop), local_addr=("127.0.0.1", 0)
    )
    return transport, protocol, None


async def open_read_pipe(loop: Loop) -> tuple[Any, Keeper, Any]:
    read_end, write_end = os.pipe()
    pipe = os.fdopen(read_end, "rb", 0)
    transport, protocol = await loop.connect_read_pipe(lambda: Keeper(loop), pipe)
    return transport, protocol, os.fdopen(write_end, "wb", 0)


async def open_write_pipe(loop: Loop) -> tuple[Any, Keeper, Any]:
    read_end, write_end = os.pipe()
    pipe = os.fdopen(write_end, "wb", 0)
    transport, protocol = await loop.connect_write_pipe(lambda: Keeper(loop), pipe)
    return transport, protocol, os.fdopen(read_end, "rb", 0)


OPENERS: dict[str, Opener] = {
    "tcp": open_tcp,
    "unix": open_unix,
    "udp": open_udp,
    "read pipe": open_read_pipe,
    "write pipe": open_write_pipe,
}
SOCKET_KINDS = ["tcp", "unix", "udp"]  # asyncio refuses only its socket transports' fds


def close_quietly(thing: Any) -> None:
    if thing is not None:
        thing.close()


# -- a transport's descriptor is its own ---------------------------------------------------


@pytest.mark.parametrize("kind", SOCKET_KINDS)
def test_an_open_transport_s_descriptor_is_refused_by_the_reader_and_writer_api(
    any_loop: Loop, kind: str
) -> None:
    async def main() -> None:
        transport, _, peer = await OPENERS[kind](any_loop)
        sock = transport.get_extra_info("socket")
        try:
            for fd in (sock, sock.fileno()):
                with pytest.raises(RuntimeError, match=REFUSED):
                    any_loop.add_reader(fd, print)
                with pytest.raises(RuntimeError, match=REFUSED):
                    any_loop.add_writer(fd, print)
                with pytest.raises(RuntimeError, match=REFUSED):
                    any_loop.remove_reader(fd)
                with pytest.raises(RuntimeError, match=REFUSED):
                    any_loop.remove_writer(fd)
        finally:
            transport.close()
            close_quietly(peer)

    run(any_loop, main())


def test_the_sockets_a_transport_and_a_server_show_refuse_blocking_mode(any_loop: Loop) -> None:
    async def main() -> None:
        server = await any_loop.create_server(asyncio.Protocol, "127.0.0.1", 0)
        transport, _ = await any_loop.create_connection(
            asyncio.Protocol, *server.sockets[0].getsockname()
        )
        udp, _ = await any_loop.create_datagram_endpoint(
            asyncio.DatagramProtocol, local_addr=("127.0.0.1", 0)
        )
        try:
            shown = [server.sockets[0], transport.get_extra_info("socket")]
            shown.append(udp.get_extra_info("socket"))
            for sock in shown:
                assert isinstance(sock, asyncio.trsock.TransportSocket)
                assert sock.fileno() >= 0 and sock.gettimeout() == 0
                with pytest.raises(ValueError):
                    sock.settimeout(1)
                with pytest.raises(ValueError):
                    sock.setblocking(True)
        finally:
            transport.close()
            udp.close()
            server.close()
            await server.wait_closed()

    run(any_loop, main())


def test_a_socket_operation_that_would_wait_on_a_transport_s_socket_is_refused(
    any_loop: Loop,
) -> None:
    async def main() -> None:
        transport, _, peer = await open_unix(any_loop)
        # The same descriptor, as a plain socket object (asyncio's get_extra_info("socket")
        # is a wrapper that sock_* methods do not take).
        same = socket.socket(fileno=transport.get_extra_info("socket").fileno())
        same.setblocking(False)
        try:
            with pytest.raises(RuntimeError, match=REFUSED):
                await any_loop.sock_recv(same, 100)  # nothing to read: it would wait
            with pytest.raises(RuntimeError, match=REFUSED):
                await any_loop.sock_recv_into(same, bytearray(100))
        finally:
            same.detach()
            transport.close()
            peer.close()

    run(any_loop, main())


def test_a_pipe_transport_s_descriptor_is_refused_too(spindle_loop: Loop) -> None:
    async def main() -> None:
        for kind in ("read pipe", "write pipe"):
            transport, _, other_end = await OPENERS[kind](spindle_loop)
            fd = transport.get_extra_info("pipe").fileno()
            with pytest.raises(RuntimeError, match=REFUSED):
                spindle_loop.add_reader(fd, print)
            with pytest.raises(RuntimeError, match=REFUSED):
                spindle_loop.remove_reader(fd)
            transport.close()
            other_end.close()

    run(spindle_loop, main())


def test_a_closing_transport_s_descriptor_is_no_longer_refused(any_loop: Loop) -> None:
    async def main() -> None:
        transport, protocol, peer = await open_unix(any_loop)
        fd = transport.get_extra_info("socket").fileno()
        transport.close()
        # The transport has stopped watching it: there is nothing to remove.
        assert (any_loop.remove_reader(fd), any_loop.remove_writer(fd)) == (False, False)
        await protocol.lost
        peer.close()

    run(any_loop, main())


def test_a_refused_call_leaves_the_transport_reading(any_loop: Loop) -> None:
    async def main() -> bytes:
        transport, protocol, peer = await open_unix(any_loop)
        received = any_loop.create_future()
        protocol.data_received = received.set_result  # type: ignore[method-assign]
        with pytest.raises(RuntimeError, match=REFUSED):
            any_loop.remove_reader(transport.get_extra_info("socket"))
        peer.send(b"still here")
        try:
            return await received
        finally:
            transport.close()
            peer.close()

    assert run(any_loop, main()) == b"still here"


# -- a lost connection lets go of its protocol ---------------------------------------------


@pytest.mark.parametrize("kind", sorted(OPENERS))
def test_a_lost_connection_lets_go_of_its_protocol(any_loop: Loop, kind: str) -> None:
    async def lose() -> tuple[Any, weakref.ref[Keeper]]:
        transport, protocol, other_end = await OPENERS[kind](any_loop)
        transport.close()
        await protocol.lost
        close_quietly(other_end)
        return transport, weakref.ref(protocol)

    with gc_disabled():
        transport, protocol_ref = run(any_loop, lose())
        # The protocol still holds the transport, but no longer the other way round.
        assert transport.get_protocol() is None
        assert protocol_ref() is None


# -- a finished race keeps nothing alive -----------------------------------------------------


class Connection:
    """Stands in for a connected socket: something a weak reference can watch."""

    def __init__(self, name: str) -> None:
        self.name = name


def test_a_finished_race_keeps_neither_its_winner_nor_a_late_loser(virtual_loop: Loop) -> None:
    made: list[weakref.ref[Connection]] = []
    discarded: list[str] = []

    def attempt(name: str) -> Callable[[], Any]:
        async def connect() -> Connection:
            await asyncio.sleep(1.0)
            connection = Connection(name)
            made.append(weakref.ref(connection))
            return connection

        return connect

    async def main() -> str:
        attempts = [attempt("first"), attempt("second")]
        winner = await staggered_race(
            virtual_loop, attempts, 0.0, lambda late: discarded.append(late.name)
        )
        assert winner is not None
        for _ in range(3):  # let the late success arrive and be discarded
            await asyncio.sleep(0)
        return winner.name

    with gc_disabled():
        assert run(virtual_loop, main()) == "first"
        assert discarded == ["second"]
        assert [connection() for connection in made] == [None, None]


# -- closing after the loop has closed -------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(OPENERS))
def test_closing_after_the_loop_has_closed_releases_the_descriptor_at_once(
    spindle_loop: Loop, kind: str
) -> None:
    transport, protocol, other_end = run(spindle_loop, OPENERS[kind](spindle_loop))
    fd = transport._core._fd
    spindle_loop.close()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no ResourceWarning, now or when collected
        transport.close()
        with pytest.raises(OSError):
            os.fstat(fd)  # released
        assert transport.is_closing() and not protocol.lost.done()
        del transport
        gc.collect()
    close_quietly(other_end)


def test_closing_with_unsent_data_after_the_loop_has_closed_says_what_was_dropped(
    spindle_loop: Loop, caplog: pytest.LogCaptureFixture
) -> None:
    transport, _, peer = run(spindle_loop, open_unix(spindle_loop))
    transport.write(b"x" * (16 * 1024 * 1024))  # far more than the socket buffer takes
    unsent = transport.get_write_buffer_size()
    assert unsent
    fd = transport._core._fd
    spindle_loop.close()
    with caplog.at_level(logging.WARNING, logger="asyncio"):
        transport.close()
    assert f"{unsent} buffered bytes dropped" in caplog.text
    with pytest.raises(OSError):
        os.fstat(fd)
    peer.close()


class RefusedThenListening(EventLoop):
    """A loop resolving any name to an address that refuses, then one that listens."""

    async def getaddrinfo(self, host: Any, port: Any, **kwargs: Any) -> list[Any]:
        tcp = (socket.AF_INET, socket.SOCK_STREAM, 6, "")
        return [(*tcp, ("127.0.0.2", port)), (*tcp, ("127.0.0.1", port))]


# (asyncio 3.11 leaves a failed attempt's socket to the GC: its errors list is a cycle.)
def test_a_connection_s_failed_attempts_leave_no_socket_behind(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made: list[weakref.ref[socket.socket]] = []

    class WatchedSocket(socket.socket):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            made.append(weakref.ref(self))

    loop = RefusedThenListening()

    async def main(port: int) -> None:
        transport, _ = await loop.create_connection(asyncio.Protocol, "two.test", port)
        transport.close()
        await asyncio.sleep(0)

    try:
        with socket.create_server(("127.0.0.1", 0)) as listener, gc_disabled():
            monkeypatch.setattr(socket, "socket", WatchedSocket)
            run(loop, main(listener.getsockname()[1]))
            monkeypatch.undo()
            assert len(made) == 2 and [sock() for sock in made] == [None, None]
    finally:
        loop.close()
