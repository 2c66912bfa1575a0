"""The loop's socket coroutines (sock_recv, sock_sendall, sock_connect, ...), on both loops,
and the pure address helpers behind them."""

from __future__ import annotations

import asyncio
import io
import os
import socket
import tempfile
import warnings
from typing import Any

import pytest

from spindle._io.resolve import numeric_addrinfo
from tests.io.conftest import ipv6_works, is_spindle, nonblocking_pair, run

pytestmark = pytest.mark.usefixtures("fd_guard")
Loop = asyncio.AbstractEventLoop
TCP, UDP = socket.IPPROTO_TCP, socket.IPPROTO_UDP
INET, INET6, STREAM, DGRAM = socket.AF_INET, socket.AF_INET6, socket.SOCK_STREAM, socket.SOCK_DGRAM


def test_recv_and_sendall_round_trip(any_loop: Loop) -> None:
    a, b = nonblocking_pair()
    with a, b:
        run(any_loop, any_loop.sock_sendall(a, b"hello"))
        assert run(any_loop, any_loop.sock_recv(b, 100)) == b"hello"


def test_recv_waits_for_data_sent_later(any_loop: Loop) -> None:
    events: list[str] = []

    async def main(a: socket.socket, b: socket.socket) -> bytes:
        async def receive() -> bytes:
            events.append("receiving")
            data = await any_loop.sock_recv(b, 100)
            events.append("received")
            return data

        task = any_loop.create_task(receive())
        await asyncio.sleep(0)
        events.append("sending")
        await any_loop.sock_sendall(a, b"late")
        return await task

    a, b = nonblocking_pair()
    with a, b:
        assert run(any_loop, main(a, b)) == b"late"
    assert events == ["receiving", "sending", "received"]


def test_recv_into_fills_the_given_buffer(any_loop: Loop) -> None:
    a, b = nonblocking_pair()
    buffer = bytearray(10)
    with a, b:
        a.send(b"abc")
        assert run(any_loop, any_loop.sock_recv_into(b, buffer)) == 3
    assert buffer[:3] == b"abc"


def test_sendall_larger_than_the_socket_buffer_arrives_whole(any_loop: Loop) -> None:
    payload = os.urandom(4 * 1024 * 1024)

    async def main(a: socket.socket, b: socket.socket) -> bytes:
        async def drain() -> bytes:
            chunks = bytearray()
            while len(chunks) < len(payload):
                chunks += await any_loop.sock_recv(b, 1 << 16)
            return bytes(chunks)

        reader = any_loop.create_task(drain())
        await any_loop.sock_sendall(a, payload)
        return await reader

    a, b = nonblocking_pair()
    with a, b:
        assert run(any_loop, main(a, b)) == payload


def test_connect_and_accept_on_loopback(any_loop: Loop) -> None:
    async def main(listener: socket.socket, client: socket.socket) -> None:
        accepting = any_loop.create_task(any_loop.sock_accept(listener))
        await any_loop.sock_connect(client, listener.getsockname())
        conn, address = await accepting
        with conn:
            assert conn.gettimeout() == 0  # the accepted socket is non-blocking
            assert address == client.getsockname()
            await any_loop.sock_sendall(client, b"ping")
            assert await any_loop.sock_recv(conn, 10) == b"ping"

    with socket.socket() as listener, socket.socket() as client:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.setblocking(False)
        client.setblocking(False)
        run(any_loop, main(listener, client))


def test_connect_resolves_a_host_name(any_loop: Loop) -> None:
    with socket.socket() as listener, socket.socket() as client:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        client.setblocking(False)
        run(any_loop, any_loop.sock_connect(client, ("localhost", listener.getsockname()[1])))
        assert client.getpeername() == listener.getsockname()


def test_connect_to_a_closed_port_is_refused(any_loop: Loop) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        address = probe.getsockname()  # bound, never listening: connections are refused
        with socket.socket() as client:
            client.setblocking(False)
            with pytest.raises(ConnectionRefusedError):
                run(any_loop, any_loop.sock_connect(client, address))


def test_datagrams_with_sendto_and_recvfrom(any_loop: Loop) -> None:
    async def main(a: socket.socket, b: socket.socket) -> None:
        assert await any_loop.sock_sendto(a, b"one", b.getsockname()) == 3
        data, address = await any_loop.sock_recvfrom(b, 100)
        assert (data, address) == (b"one", a.getsockname())
        await any_loop.sock_sendto(a, b"two", b.getsockname())
        buffer = bytearray(100)
        nbytes, address = await any_loop.sock_recvfrom_into(b, buffer)
        assert (buffer[:nbytes], address) == (b"two", a.getsockname())

    with socket.socket(INET, DGRAM) as a, socket.socket(INET, DGRAM) as b:
        for sock in (a, b):
            sock.bind(("127.0.0.1", 0))
            sock.setblocking(False)
        run(any_loop, main(a, b))


def test_blocking_socket_is_refused(any_loop: Loop) -> None:
    any_loop.set_debug(True)  # asyncio checks only in debug mode; spindle always does
    a, b = socket.socketpair()
    with a, b, pytest.raises(ValueError, match="the socket must be non-blocking"):
        run(any_loop, any_loop.sock_recv(a, 1))


def test_blocking_socket_is_refused_outside_debug_mode_too(spindle_loop: Loop) -> None:
    a, b = socket.socketpair()
    with a, b, pytest.raises(ValueError, match="the socket must be non-blocking"):
        run(spindle_loop, spindle_loop.sock_sendall(a, b"x"))


def test_cancelled_recv_leaves_no_reader_and_loses_no_data(any_loop: Loop) -> None:
    async def main(a: socket.socket, b: socket.socket) -> bytes:
        task = any_loop.create_task(any_loop.sock_recv(b, 100))
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert not any_loop.remove_reader(b)  # nothing is watching b any more
        a.send(b"after")
        return await any_loop.sock_recv(b, 100)

    a, b = nonblocking_pair()
    with a, b:
        assert run(any_loop, main(a, b)) == b"after"


def test_a_cancelled_socket_wait_warns_nothing(any_loop: Loop) -> None:
    # Python 3.12 deprecates throw(type, value, traceback); a compiled coroutine passes a
    # cancellation on in that form, so the wait for a socket is not compiled.
    async def main(b: socket.socket) -> None:
        task = any_loop.create_task(any_loop.sock_recv(b, 100))
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    a, b = nonblocking_pair()
    with a, b, warnings.catch_warnings():
        warnings.simplefilter("error")
        run(any_loop, main(b))


def test_a_reader_and_writer_are_removed_with_their_socket_after_it_was_closed(
    any_loop: Loop,
) -> None:
    # A task waits on a reader; another closes the socket; the waiter removes its reader
    # with the closed socket object (fileno() is now -1), as anyio's streams do.
    a, b = nonblocking_pair()

    async def main() -> None:
        readable: asyncio.Future[None] = any_loop.create_future()
        any_loop.add_reader(a, readable.set_result, None)
        any_loop.add_writer(b, lambda: None)
        any_loop.call_soon(a.close)
        any_loop.call_soon(b.close)
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert a.fileno() == -1 and b.fileno() == -1
        assert any_loop.remove_reader(a) is True
        assert any_loop.remove_writer(b) is True
        assert not readable.done()
        # Once removed, the closed socket is forgotten: its number cannot be known any more.
        with pytest.raises(ValueError, match="Invalid file descriptor: -1"):
            any_loop.remove_reader(a)

    run(any_loop, main())


def test_removing_a_closed_socket_that_was_never_registered_is_an_error(any_loop: Loop) -> None:
    a, b = nonblocking_pair()
    a.close()
    b.close()
    with pytest.raises(ValueError, match="Invalid file descriptor: -1"):
        any_loop.remove_reader(a)


def test_cancelled_accept_leaves_no_reader(any_loop: Loop) -> None:
    async def main(listener: socket.socket) -> None:
        task = any_loop.create_task(any_loop.sock_accept(listener))
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert not any_loop.remove_reader(listener)

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.setblocking(False)
        run(any_loop, main(listener))


def _sendfile_and_receive(
    loop: Loop, file: Any, offset: int, count: int | None
) -> tuple[int, bytes]:
    async def receive_all(b: socket.socket) -> bytes:
        received = bytearray()
        while chunk := await loop.sock_recv(b, 1 << 16):
            received += chunk
        return bytes(received)

    async def main(a: socket.socket, b: socket.socket) -> tuple[int, bytes]:
        receiving = loop.create_task(receive_all(b))
        sent = await loop.sock_sendfile(a, file, offset, count)
        a.shutdown(socket.SHUT_WR)
        return sent, await receiving

    a, b = nonblocking_pair()
    with a, b:
        return run(loop, main(a, b))


def test_sock_sendfile_sends_a_regular_file_from_an_offset(any_loop: Loop) -> None:
    content = os.urandom(300_000)
    with tempfile.TemporaryFile() as file:
        file.write(content)
        file.seek(0)
        sent, received = _sendfile_and_receive(any_loop, file, 1000, 200_000)
        assert (sent, received) == (200_000, content[1000:201_000])
        assert file.tell() == 201_000  # the position ends after the last byte sent


def test_sock_sendfile_falls_back_for_files_without_a_descriptor(any_loop: Loop) -> None:
    content = os.urandom(100_000)
    file = io.BytesIO(content)
    sent, received = _sendfile_and_receive(any_loop, file, 10, None)
    assert (sent, received) == (len(content) - 10, content[10:])
    assert file.tell() == len(content)


def test_sock_sendfile_without_fallback_refuses_such_files(any_loop: Loop) -> None:
    a, b = nonblocking_pair()
    with a, b, pytest.raises(asyncio.SendfileNotAvailableError):
        run(any_loop, any_loop.sock_sendfile(a, io.BytesIO(b"x"), fallback=False))


def test_getaddrinfo_and_getnameinfo_match_the_socket_module(any_loop: Loop) -> None:
    expected = socket.getaddrinfo("localhost", 80, type=STREAM)
    assert run(any_loop, any_loop.getaddrinfo("localhost", 80, type=STREAM)) == expected
    name = run(any_loop, any_loop.getnameinfo(("127.0.0.1", 80)))
    assert name == socket.getnameinfo(("127.0.0.1", 80), 0)


@pytest.mark.skipif(not ipv6_works(), reason="IPv6 is not available here")
def test_getaddrinfo_keeps_the_ipv6_scope_id(any_loop: Loop) -> None:
    infos = run(any_loop, any_loop.getaddrinfo("fe80::1%lo", 80, type=STREAM))
    assert infos[0][4] == ("fe80::1", 80, 0, socket.if_nametoindex("lo"))


def test_spindle_connects_ipv6_with_flowinfo_and_scope_id_given(spindle_loop: Loop) -> None:
    if not ipv6_works():
        pytest.skip("IPv6 is not available here")
    with socket.socket(INET6) as listener, socket.socket(INET6) as client:
        listener.bind(("::1", 0))
        listener.listen()
        client.setblocking(False)
        port = listener.getsockname()[1]
        run(spindle_loop, spindle_loop.sock_connect(client, ("::1", port, 0, 0)))
        assert client.getpeername()[:2] == ("::1", port)


@pytest.mark.parametrize(
    ("host", "port", "family", "kind", "extra", "expected"),
    [
        ("127.0.0.1", 80, 0, STREAM, (), (INET, STREAM, TCP, "", ("127.0.0.1", 80))),
        ("127.0.0.1", "80", 0, DGRAM, (), (INET, DGRAM, UDP, "", ("127.0.0.1", 80))),
        ("::1", None, 0, STREAM, (), (INET6, STREAM, TCP, "", ("::1", 0, 0, 0))),
        ("::1", 5, INET6, STREAM, (7, 3), (INET6, STREAM, TCP, "", ("::1", 5, 7, 3))),
        (b"10.0.0.1", b"", INET, STREAM, (), (INET, STREAM, TCP, "", ("10.0.0.1", 0))),
        ("::1", 80, INET, STREAM, (), None),  # wrong family for the literal
        ("fe80::1%lo", 80, 0, STREAM, (), None),  # zone index: the resolver's job
        ("localhost", 80, 0, STREAM, (), None),  # a name, not a literal
        ("127.0.0.1", "http", 0, STREAM, (), None),  # a service name
        ("127.0.0.1", 80, 0, socket.SOCK_RAW, (), None),
        (None, 80, 0, STREAM, (), None),
    ],
)
def test_numeric_addrinfo_recognises_ip_literals(
    host: Any, port: Any, family: int, kind: int, extra: tuple[int, ...], expected: Any
) -> None:
    assert numeric_addrinfo(host, port, family, kind, 0, extra) == expected


def test_spindle_names_a_malformed_address(spindle_loop: Loop) -> None:
    assert is_spindle(spindle_loop)
    with socket.socket() as client:
        client.setblocking(False)
        with pytest.raises(TypeError, match=r"must be a \(host, port\) tuple"):
            run(spindle_loop, spindle_loop.sock_connect(client, "127.0.0.1:80"))


def test_cancelling_a_wait_on_a_socket_closed_meanwhile_is_a_plain_cancel(any_loop: Loop) -> None:
    async def main(a: socket.socket) -> None:
        task = any_loop.create_task(any_loop.sock_recv(a, 10))
        await asyncio.sleep(0)
        a.close()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    a, b = nonblocking_pair()
    with a, b:
        run(any_loop, main(a))
