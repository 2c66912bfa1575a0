"""Things going wrong: resets, half-closes, refused connections, closing at awkward moments,
writes after close, bad addresses, a protocol that raises; and 100 MB through an echo server
coming back intact.  On both loops, except where a test says it checks spindle's own promise.
"""

from __future__ import annotations

import asyncio
import gc
import hashlib
import logging
import os
import socket
import struct
from typing import Any

import pytest

from tests.conftest import ExceptionHandlerRecorder
from tests.io.conftest import (
    Echo,
    Recorder,
    echo_server,
    is_spindle,
    nonblocking_pair,
    open_fds,
    run,
)

pytestmark = pytest.mark.usefixtures("fd_guard")
Loop = asyncio.AbstractEventLoop
KiB, MiB = 1024, 1024 * 1024


def reset(sock: socket.socket) -> None:
    """Close ``sock`` so that the peer gets an RST instead of a FIN."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


async def accepted_by_raw_socket(loop: Loop) -> tuple[Any, Recorder, socket.socket]:
    """A transport connected to a plain socket we control: (transport, protocol, peer)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        transport, protocol = await loop.create_connection(
            lambda: Recorder(loop), *listener.getsockname()
        )
        peer, _ = listener.accept()
    return transport, protocol, peer


def test_peer_reset_during_a_large_write_loses_the_connection_with_the_error(
    any_loop: Loop,
) -> None:
    async def main() -> None:
        transport, protocol, peer = await accepted_by_raw_socket(any_loop)
        transport.write(b"\0" * (16 * MiB))  # far more than the kernel buffers hold
        assert transport.get_write_buffer_size() > 0
        reset(peer)
        exc = await protocol.lost
        assert isinstance(exc, (ConnectionResetError, BrokenPipeError))
        assert transport.is_closing()
        assert transport.get_write_buffer_size() == 0

    run(any_loop, main())


def test_peer_reset_while_idle_is_reported_to_the_reader(any_loop: Loop) -> None:
    async def main() -> None:
        _, protocol, peer = await accepted_by_raw_socket(any_loop)
        reset(peer)
        assert isinstance(await protocol.lost, ConnectionResetError)
        assert protocol.events == ["made", "lost"]

    run(any_loop, main())


def test_half_closed_peer_can_still_be_written_to(any_loop: Loop) -> None:
    async def main() -> None:
        with socket.socket() as listener:
            listener.bind(("127.0.0.1", 0))
            listener.listen()
            transport, protocol = await any_loop.create_connection(
                lambda: Recorder(any_loop, keep_open_on_eof=True), *listener.getsockname()
            )
            peer, _ = listener.accept()
        with peer:
            peer.sendall(b"last words")
            peer.shutdown(socket.SHUT_WR)
            await protocol.eof
            assert not transport.is_closing()  # eof_received said: keep it open
            transport.write(b"still heard")
            transport.close()
            await protocol.lost
            received = b""
            while chunk := peer.recv(100):
                received += chunk
        assert (protocol.data, received) == (b"last words", b"still heard")
        assert protocol.events == ["made", "data", "eof", "lost"]

    run(any_loop, main())


def test_connecting_to_a_closed_port_is_refused(any_loop: Loop) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        with pytest.raises(ConnectionRefusedError):
            run(any_loop, any_loop.create_connection(asyncio.Protocol, *probe.getsockname()))


def test_clients_outlive_a_closed_server(any_loop: Loop) -> None:
    async def main() -> None:
        server, port = await echo_server(any_loop)
        transport, client = await any_loop.create_connection(
            lambda: Recorder(any_loop), "127.0.0.1", port
        )
        transport.write(b"before")
        await client.received(6)
        server.close()
        transport.write(b" after")
        assert await client.received(12) == b"before after"  # still echoed
        with pytest.raises(ConnectionRefusedError):
            await any_loop.create_connection(asyncio.Protocol, "127.0.0.1", port)
        transport.close()
        await client.lost
        await server.wait_closed()

    run(any_loop, main())


def test_closing_twice_or_closing_then_aborting_loses_the_connection_once(any_loop: Loop) -> None:
    async def main() -> None:
        server, port = await echo_server(any_loop)
        for second in ("close", "abort"):
            transport, client = await any_loop.create_connection(
                lambda: Recorder(any_loop), "127.0.0.1", port
            )
            transport.close()
            getattr(transport, second)()
            await client.lost
            transport.close()
            for _ in range(3):
                await asyncio.sleep(0)
            assert client.events == ["made", "lost"]
        server.close()
        await server.wait_closed()

    run(any_loop, main())


def test_writes_after_close_are_dropped_with_a_warning(
    any_loop: Loop, caplog: pytest.LogCaptureFixture
) -> None:
    async def main() -> None:
        server, port = await echo_server(any_loop)
        transport, client = await any_loop.create_connection(
            lambda: Recorder(any_loop), "127.0.0.1", port
        )
        transport.close()
        await client.lost
        with caplog.at_level(logging.WARNING, logger="asyncio"):
            for _ in range(4):
                transport.write(b"into the void")
            assert not caplog.records  # a few stragglers are normal: no noise
            transport.write(b"into the void")
            assert len(caplog.records) == 1  # the fifth is worth a warning
        server.close()
        await server.wait_closed()

    run(any_loop, main())


def test_spindle_warning_about_dropped_writes_says_how_much_was_lost(
    spindle_loop: Any, caplog: pytest.LogCaptureFixture
) -> None:
    async def main() -> None:
        server, port = await echo_server(spindle_loop)
        transport, client = await spindle_loop.create_connection(
            lambda: Recorder(spindle_loop), "127.0.0.1", port
        )
        transport.abort()
        await client.lost
        with caplog.at_level(logging.WARNING, logger="asyncio"):
            for _ in range(20):
                transport.write(b"0123456789")
        # warned at 5, 10 and 20 dropped writes: the count doubles between warnings
        assert [r.getMessage().split(": ", 1)[1] for r in caplog.records] == [
            "5 writes (50 bytes) dropped: cannot write, the connection is lost",
            "10 writes (100 bytes) dropped: cannot write, the connection is lost",
            "20 writes (200 bytes) dropped: cannot write, the connection is lost",
        ]
        server.close()
        await server.wait_closed()

    run(spindle_loop, main())


def test_invalid_host_fails_to_resolve(any_loop: Loop) -> None:
    with pytest.raises(socket.gaierror):
        run(any_loop, any_loop.create_connection(asyncio.Protocol, "no-such-host.invalid", 80))


def test_port_out_of_range_is_refused(any_loop: Loop) -> None:
    with pytest.raises(OverflowError, match="port must be 0-65535"):
        run(any_loop, any_loop.create_connection(asyncio.Protocol, "127.0.0.1", 70000))


def test_binding_a_port_in_use_names_the_address(any_loop: Loop) -> None:
    async def main() -> None:
        server, port = await echo_server(any_loop)
        try:
            with pytest.raises(OSError, match="error while attempting to bind on address") as err:
                await any_loop.create_server(Echo, "127.0.0.1", port, reuse_address=False)
            assert "127.0.0.1" in str(err.value)
        finally:
            server.close()
            await server.wait_closed()

    run(any_loop, main())


def test_malformed_datagram_address_is_refused(any_loop: Loop) -> None:
    with pytest.raises(TypeError, match="2-tuple is expected"):
        run(
            any_loop,
            any_loop.create_datagram_endpoint(asyncio.DatagramProtocol, local_addr="127.0.0.1:80"),
        )


def _report_of_a_failing_receiver(loop: Loop, factory: Any) -> dict[str, Any]:
    """Echo a message to a protocol (made by ``factory``) whose receiving raises ValueError:
    the connection ends with that error; return the one report the exception handler got."""
    recorder = ExceptionHandlerRecorder()
    loop.set_exception_handler(recorder)

    async def main() -> None:
        server, port = await echo_server(loop)
        transport, client = await loop.create_connection(factory, "127.0.0.1", port)
        transport.write(b"echo me")
        assert isinstance(await client.lost, ValueError)
        server.close()
        await server.wait_closed()

    run(loop, main())
    (context,) = recorder.contexts
    assert isinstance(context["exception"], ValueError)
    return context


def test_protocol_raising_in_data_received_is_reported_and_ends_the_connection(
    any_loop: Loop,
) -> None:
    class Fragile(Recorder):
        def data_received(self, data: bytes) -> None:
            raise ValueError("cannot parse that")

    context = _report_of_a_failing_receiver(any_loop, lambda: Fragile(any_loop))
    assert context["message"] == "Fatal error: protocol.data_received() call failed."


def test_buffered_protocol_raising_in_buffer_updated_is_reported_by_that_name(
    any_loop: Loop,
) -> None:
    class Fragile(asyncio.BufferedProtocol):
        def __init__(self) -> None:
            self.buffer = bytearray(64)
            self.lost = any_loop.create_future()

        def get_buffer(self, sizehint: int) -> bytearray:
            return self.buffer

        def buffer_updated(self, nbytes: int) -> None:
            raise ValueError("cannot parse that")

        def connection_lost(self, exc: Exception | None) -> None:
            self.lost.set_result(exc)

    context = _report_of_a_failing_receiver(any_loop, Fragile)
    assert context["message"] == "Fatal error: protocol.buffer_updated() call failed."


class BrokenAtStart(Recorder):
    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        raise ZeroDivisionError("cannot set up")


async def _broken_client(loop: Loop, kind: str) -> tuple[Any, BrokenAtStart, list[Any]]:
    """A transport of ``kind`` whose protocol raises in connection_made; what to close after."""
    if kind == "tcp":
        server, port = await echo_server(loop)
        transport, protocol = await loop.create_connection(
            lambda: BrokenAtStart(loop), "127.0.0.1", port
        )
        return transport, protocol, [server]
    if kind == "unix":
        a, b = nonblocking_pair()
        transport, protocol = await loop.create_unix_connection(lambda: BrokenAtStart(loop), sock=a)
        return transport, protocol, [b]
    if kind == "udp":
        transport, protocol = await loop.create_datagram_endpoint(
            lambda: BrokenAtStart(loop), local_addr=("127.0.0.1", 0)
        )
        return transport, protocol, []
    if kind == "read pipe":
        r, w = os.pipe()
        transport, protocol = await loop.connect_read_pipe(
            lambda: BrokenAtStart(loop), os.fdopen(r, "rb", 0)
        )
        return transport, protocol, [w]
    assert kind == "write pipe"
    r, w = os.pipe()
    transport, protocol = await loop.connect_write_pipe(
        lambda: BrokenAtStart(loop), os.fdopen(w, "wb", 0)
    )
    return transport, protocol, [r]


@pytest.mark.parametrize("kind", ["tcp", "unix", "udp", "read pipe", "write pipe"])
def test_protocol_raising_in_connection_made_is_reported_and_the_transport_still_returned(
    any_loop: Loop, kind: str
) -> None:
    # asyncio: the transport is returned (create_connection does not raise) and the error goes
    # to the exception handler.  spindle also closes that transport (connection_lost(None)
    # follows); asyncio leaves it open for the caller to close.
    recorder = ExceptionHandlerRecorder()
    any_loop.set_exception_handler(recorder)

    async def main() -> None:
        transport, protocol, others = await _broken_client(any_loop, kind)
        assert protocol.events[0] == "made"
        assert transport.is_closing() is is_spindle(any_loop)
        transport.close()
        assert await protocol.lost is None
        assert protocol.events == ["made", "lost"]
        for other in others:
            if isinstance(other, int):
                os.close(other)
            elif isinstance(other, asyncio.AbstractServer):
                other.close()
                await other.wait_closed()
            else:
                other.close()

    run(any_loop, main())
    (context,) = recorder.contexts
    assert isinstance(context["exception"], ZeroDivisionError)


def test_server_protocol_raising_in_connection_made_is_reported_and_the_server_serves_on(
    any_loop: Loop,
) -> None:
    recorder = ExceptionHandlerRecorder()
    any_loop.set_exception_handler(recorder)
    made: list[BrokenAtStart] = []

    def factory() -> Recorder:
        # The first connection's protocol fails to set up; the second one is fine.
        protocol = BrokenAtStart(any_loop) if not made else Echo()
        made.append(protocol)  # type: ignore[arg-type]
        return protocol

    async def main() -> None:
        server = await any_loop.create_server(factory, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        _, first_writer = await asyncio.open_connection("127.0.0.1", port)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"still serving")
        assert await reader.readexactly(13) == b"still serving"
        for w in (first_writer, writer):
            w.close()
            await w.wait_closed()
        first = made[0]
        assert isinstance(first, BrokenAtStart)
        first.transport.close()
        assert await first.lost is None
        server.close()
        await server.wait_closed()

    run(any_loop, main())
    (context,) = recorder.contexts
    assert isinstance(context["exception"], ZeroDivisionError)


def test_unclosed_transport_warns(spindle_loop: Any) -> None:
    a, b = socket.socketpair()

    async def main() -> None:
        await spindle_loop.create_connection(asyncio.Protocol, sock=a)

    run(spindle_loop, main())
    with pytest.warns(ResourceWarning, match="unclosed transport"):
        spindle_loop.close()  # drops the loop's handles: nothing keeps the transport alive
        gc.collect()
    b.close()


def test_many_connections_leave_no_descriptor_behind(any_loop: Loop) -> None:
    async def main() -> None:
        server, port = await echo_server(any_loop)
        for _ in range(50):
            transport, client = await any_loop.create_connection(
                lambda: Recorder(any_loop), "127.0.0.1", port
            )
            transport.write(b"x")
            await client.received(1)
            transport.close()
            await client.lost
        server.close()
        await server.wait_closed()
        for _ in range(3):
            await asyncio.sleep(0)

    before = open_fds()
    run(any_loop, main())
    gc.collect()
    assert set(open_fds()) - set(before) == set()


class StreamingClient(asyncio.Protocol):
    """Sends ``total`` random bytes with flow control, hashing what goes out and comes back."""

    def __init__(self, loop: Loop, total: int) -> None:
        self.loop = loop
        self.remaining = total
        self.total = total
        self.sent = hashlib.sha256()
        self.received = hashlib.sha256()
        self.count = 0
        self.chunk = os.urandom(256 * KiB)
        self.paused = False
        self.can_write = loop.create_future()
        self.done = loop.create_future()

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        self.loop.create_task(self.pump())

    async def pump(self) -> None:
        while self.remaining:
            piece = self.chunk[: min(len(self.chunk), self.remaining)]
            self.remaining -= len(piece)
            self.sent.update(piece)
            self.transport.write(piece)
            if self.paused:
                self.can_write = self.loop.create_future()
                await self.can_write

    def pause_writing(self) -> None:
        self.paused = True

    def resume_writing(self) -> None:
        self.paused = False
        if not self.can_write.done():
            self.can_write.set_result(None)

    def data_received(self, data: bytes) -> None:
        self.received.update(data)
        self.count += len(data)
        if self.count == self.total:
            self.done.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_exception(exc or ConnectionError("lost before the echo was complete"))


def test_100_megabytes_through_an_echo_server_come_back_intact(spindle_loop: Any) -> None:
    total = 100 * MiB

    async def main() -> None:
        server, port = await echo_server(spindle_loop)
        transport, client = await spindle_loop.create_connection(
            lambda: StreamingClient(spindle_loop, total), "127.0.0.1", port
        )
        transport.set_write_buffer_limits(high=4 * MiB)
        await asyncio.wait_for(client.done, 30)
        assert client.count == total
        assert client.received.hexdigest() == client.sent.hexdigest()
        transport.close()
        server.close()
        await server.wait_closed()

    run(spindle_loop, main())
