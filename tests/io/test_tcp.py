"""TCP transports and create_connection, over real loopback sockets, on both loops.

Flow control is asserted through the transport's own counters and the protocol's recorded
pause/resume events, never through timing.
"""

from __future__ import annotations

import asyncio
import io
import os
import socket
import sys
import tempfile
from typing import Any

import pytest

from spindle._io.connect.happy_eyeballs import interleave, staggered_race
from spindle._io.loop import EventLoop
from tests.conftest import ExceptionHandlerRecorder
from tests.io.conftest import Chunks, Recorder, echo_server, is_spindle, run

pytestmark = pytest.mark.usefixtures("fd_guard")
Loop = asyncio.AbstractEventLoop
KiB = 1024


class Pausable(Recorder):
    """A Recorder whose ``resumed`` future completes at resume_writing."""

    def __init__(self, loop: Loop) -> None:
        super().__init__(loop)
        self.resumed = loop.create_future()

    def resume_writing(self) -> None:
        super().resume_writing()
        self.resumed.set_result(None)


async def connected_pair(
    loop: Loop, client_factory: Any = None, server_factory: Any = None
) -> tuple[Any, Any, Any, Any]:
    """A server with one client: (server, client transport, client protocol, server protocol)."""
    accepted: list[Any] = []

    def make_server_protocol() -> Any:
        protocol = (server_factory or (lambda: Recorder(loop)))()
        accepted.append(protocol)
        return protocol

    server = await loop.create_server(make_server_protocol, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    transport, client = await loop.create_connection(
        client_factory or (lambda: Recorder(loop)), "127.0.0.1", port
    )
    while not accepted or accepted[0].transport is None:
        await asyncio.sleep(0)
    return server, transport, client, accepted[0]


async def shut(server: Any, *transports: Any) -> None:
    for transport in transports:
        transport.close()
    server.close()
    await server.wait_closed()
    await asyncio.sleep(0)  # let connection_lost run
    await asyncio.sleep(0)


def test_echo_over_tcp(any_loop: Loop) -> None:
    async def main() -> None:
        server, port = await echo_server(any_loop)
        transport, client = await any_loop.create_connection(
            lambda: Recorder(any_loop), "127.0.0.1", port
        )
        transport.write(b"hello ")
        transport.write(bytearray(b"world"))
        assert await client.received(11) == b"hello world"
        transport.close()
        assert await client.lost is None
        assert client.events == ["made", "data", "lost"]
        server.close()
        await server.wait_closed()

    run(any_loop, main())


def test_buffered_protocol_receives_into_its_own_buffer(any_loop: Loop) -> None:
    payload = os.urandom(1024 * KiB)

    class Buffered(asyncio.BufferedProtocol):
        def __init__(self) -> None:
            self.buffer = bytearray(1000)
            self.received = bytearray()
            self.largest = 0
            self.lost = any_loop.create_future()

        def get_buffer(self, sizehint: int) -> bytearray:
            return self.buffer

        def buffer_updated(self, nbytes: int) -> None:
            self.largest = max(self.largest, nbytes)
            self.received += self.buffer[:nbytes]

        def eof_received(self) -> bool:
            return False

        def connection_lost(self, exc: Exception | None) -> None:
            self.lost.set_result(exc)

    class SendAndClose(asyncio.Protocol):
        def connection_made(self, transport: Any) -> None:
            transport.write(payload)
            transport.close()

    async def main() -> None:
        server = await any_loop.create_server(SendAndClose, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        _, protocol = await any_loop.create_connection(Buffered, "127.0.0.1", port)
        assert await protocol.lost is None
        assert protocol.received == payload
        assert protocol.largest <= 1000
        server.close()
        await server.wait_closed()

    run(any_loop, main())


def test_large_and_small_reads_arrive_whole_in_order_as_bytes_of_their_own(
    any_loop: Loop,
) -> None:
    """Large and small, every chunk is a ``bytes`` of its own that no later read overwrites
    (spindle reads each into new bytes, shrunk to what arrived)."""
    here, there = socket.socketpair()
    here.setblocking(False)
    pieces = [os.urandom(size) for size in (100 * KiB, 1 * KiB, 10, 80 * KiB, 70 * KiB, 5)]
    sizes: list[int] = []

    async def main() -> None:
        transport, protocol = await any_loop.create_connection(lambda: Chunks(any_loop), sock=here)
        received = 0
        for piece in pieces:
            there.sendall(piece)  # the socket buffer takes each whole (well under its size)
            received += len(piece)
            await protocol.received(received)
            sizes.append(len(protocol.chunks[-1]))
        transport.close()
        await protocol.lost
        assert all(type(chunk) is bytes for chunk in protocol.chunks)
        assert b"".join(protocol.chunks) == b"".join(pieces)

    try:
        run(any_loop, main())
    finally:
        there.close()
    if is_spindle(any_loop):
        # (Each piece arrived in one read: the socket held it whole before the loop looked.)
        assert sizes == [len(piece) for piece in pieces]


def test_after_a_large_read_the_end_of_the_stream_and_a_failing_protocol_are_told(
    any_loop: Loop,
) -> None:
    """The read that follows a large one (into new bytes on spindle) ends the stream and
    reports a protocol's error as every read does."""
    recorder = ExceptionHandlerRecorder()
    any_loop.set_exception_handler(recorder)

    class FailsOnSmall(Recorder):
        def data_received(self, data: bytes) -> None:
            if len(data) < KiB:
                raise ValueError("cannot parse that")
            super().data_received(data)

    async def main() -> None:
        for fail in (False, True):
            here, there = socket.socketpair()
            here.setblocking(False)
            with there:
                transport, protocol = await any_loop.create_connection(
                    lambda: FailsOnSmall(any_loop), sock=here
                )
                there.sendall(bytes(100 * KiB))
                await protocol.received(100 * KiB)
                if fail:
                    there.sendall(b"bad")
                else:
                    there.shutdown(socket.SHUT_WR)
                    await protocol.eof
                lost = await protocol.lost
                assert isinstance(lost, ValueError) if fail else lost is None
                assert protocol.events == (
                    ["made", "data", "lost"] if fail else ["made", "data", "eof", "lost"]
                )
                transport.close()

    run(any_loop, main())
    (context,) = recorder.contexts
    assert context["message"] == "Fatal error: protocol.data_received() call failed."


def test_slow_reader_pauses_the_writer_and_draining_resumes_it(any_loop: Loop) -> None:
    async def main() -> None:
        server, transport, client, peer = await connected_pair(
            any_loop, client_factory=lambda: Pausable(any_loop)
        )
        peer.transport.pause_reading()  # the slow reader reads nothing for now
        transport.set_write_buffer_limits(high=64 * KiB)
        assert transport.get_write_buffer_limits() == (16 * KiB, 64 * KiB)
        chunk = b"x" * (16 * KiB)
        written = 0
        while "pause" not in client.events:  # the writer writes until it is told to stop
            transport.write(chunk)
            written += len(chunk)
            assert transport.get_write_buffer_size() <= 64 * KiB + len(chunk)
        assert transport.get_write_buffer_size() > 64 * KiB
        peer.transport.resume_reading()
        await client.resumed
        assert transport.get_write_buffer_size() <= 16 * KiB
        assert client.events == ["made", "pause", "resume"]
        assert len(await peer.received(written)) == written
        await shut(server, transport)

    run(any_loop, main())


def test_writelines_sends_the_pieces_in_order(any_loop: Loop) -> None:
    pieces = [b"a", bytearray(b"b"), memoryview(b"cd"), b"e" * 100_000, b"", b"f"]
    expected = b"".join(pieces)

    async def main() -> None:
        server, transport, _client, peer = await connected_pair(any_loop)
        transport.writelines(pieces)
        assert await peer.received(len(expected)) == expected
        await shut(server, transport)

    run(any_loop, main())


def test_writelines_behind_buffered_data_keeps_the_order(any_loop: Loop) -> None:
    big = os.urandom(8 * 1024 * KiB)  # more than the kernel buffers take at once

    async def main() -> None:
        server, transport, _client, peer = await connected_pair(any_loop)
        peer.transport.pause_reading()
        transport.write(big)
        assert transport.get_write_buffer_size() > 0
        transport.writelines([b"tail-", bytearray(b"end")])
        peer.transport.resume_reading()
        assert await peer.received(len(big) + 8) == big + b"tail-end"
        await shut(server, transport)

    run(any_loop, main())


def test_write_copies_mutable_data_it_has_to_buffer(any_loop: Loop) -> None:
    if not is_spindle(any_loop) and sys.version_info >= (3, 12):
        pytest.skip("asyncio 3.12+ buffers a view of the caller's data (zero-copy writes)")

    async def main() -> None:
        server, transport, _client, peer = await connected_pair(any_loop)
        peer.transport.pause_reading()
        filler = b"\0" * (8 * 1024 * KiB)
        transport.write(filler)
        data = bytearray(b"original")
        transport.write(data)
        data[:] = b"changed!"  # the caller reuses its buffer at once
        peer.transport.resume_reading()
        received = await peer.received(len(filler) + 8)
        assert received[-8:] == b"original"
        await shut(server, transport)

    run(any_loop, main())


def test_write_eof_half_closes_and_the_peer_can_still_answer(any_loop: Loop) -> None:
    class AnswerAtEof(asyncio.Protocol):
        def connection_made(self, transport: Any) -> None:
            self.transport = transport
            self.data = b""

        def data_received(self, data: bytes) -> None:
            self.data += data

        def eof_received(self) -> bool:
            self.transport.write(b"got:" + self.data)
            self.transport.close()
            return True

    async def main() -> None:
        server = await any_loop.create_server(AnswerAtEof, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        transport, client = await any_loop.create_connection(
            lambda: Recorder(any_loop), "127.0.0.1", port
        )
        assert transport.can_write_eof()
        transport.write(b"hello")
        transport.write_eof()
        with pytest.raises(RuntimeError, match="write_eof"):
            transport.write(b"more")
        assert await client.lost is None
        assert client.data == b"got:hello"
        assert client.events == ["made", "data", "eof", "lost"]
        server.close()
        await server.wait_closed()

    run(any_loop, main())


def test_extra_info_socket_is_usable_like_a_socket(any_loop: Loop) -> None:
    async def main() -> None:
        server, transport, _client, peer = await connected_pair(any_loop)
        port = server.sockets[0].getsockname()[1]
        sock = transport.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
        assert sock.getpeername() == ("127.0.0.1", port)
        assert transport.get_extra_info("peername") == ("127.0.0.1", port)
        assert transport.get_extra_info("sockname") == sock.getsockname()
        assert peer.transport.get_extra_info("peername") == sock.getsockname()
        assert transport.get_extra_info("no such thing", "default") == "default"
        await shut(server, transport)

    run(any_loop, main())


def test_both_ends_of_a_tcp_connection_have_nodelay(any_loop: Loop) -> None:
    async def main() -> None:
        server, transport, _client, peer = await connected_pair(any_loop)
        for end in (transport, peer.transport):
            sock = end.get_extra_info("socket")
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        await shut(server, transport)

    run(any_loop, main())


def test_paused_reading_delivers_nothing_until_resumed(any_loop: Loop) -> None:
    async def main() -> None:
        server, transport, client, peer = await connected_pair(any_loop)
        transport.pause_reading()
        assert not transport.is_reading()
        peer.transport.write(b"waiting")
        for _ in range(5):
            await asyncio.sleep(0)
        assert client.data == b""
        transport.resume_reading()
        assert transport.is_reading()
        assert await client.received(7) == b"waiting"
        await shut(server, transport)

    run(any_loop, main())


def test_close_flushes_the_buffer_before_connection_lost(any_loop: Loop) -> None:
    payload = os.urandom(8 * 1024 * KiB)

    async def main() -> None:
        server, transport, client, peer = await connected_pair(any_loop)
        transport.write(payload)
        assert transport.get_write_buffer_size() > 0
        transport.close()
        assert transport.is_closing()
        assert await peer.received(len(payload)) == payload
        assert await client.lost is None
        await peer.eof
        await shut(server)

    run(any_loop, main())


def test_abort_drops_the_buffer(any_loop: Loop) -> None:
    async def main() -> None:
        server, transport, client, peer = await connected_pair(any_loop)
        peer.transport.pause_reading()
        transport.write(b"\0" * (8 * 1024 * KiB))
        assert transport.get_write_buffer_size() > 0
        transport.abort()
        assert transport.is_closing()
        assert transport.get_write_buffer_size() == 0
        assert await client.lost is None
        await shut(server, peer.transport)

    run(any_loop, main())


def test_write_refuses_what_is_not_bytes(any_loop: Loop) -> None:
    async def main() -> None:
        server, transport, _client, _peer = await connected_pair(any_loop)
        with pytest.raises(TypeError, match="bytes-like"):
            transport.write("text")
        await shut(server, transport)

    run(any_loop, main())


def test_invalid_write_buffer_limits_are_refused(any_loop: Loop) -> None:
    async def main() -> None:
        server, transport, _client, _peer = await connected_pair(any_loop)
        with pytest.raises(ValueError, match="must be >="):
            transport.set_write_buffer_limits(high=10, low=20)
        await shut(server, transport)

    run(any_loop, main())


def test_connection_with_local_addr_binds_it(any_loop: Loop) -> None:
    async def main() -> None:
        server, port = await echo_server(any_loop)
        transport, _ = await any_loop.create_connection(
            asyncio.Protocol, "127.0.0.1", port, local_addr=("127.0.0.1", 0)
        )
        assert transport.get_extra_info("sockname")[0] == "127.0.0.1"
        await shut(server, transport)

    run(any_loop, main())


def test_connection_over_a_given_connected_socket(any_loop: Loop) -> None:
    async def main() -> None:
        server, port = await echo_server(any_loop)
        sock = socket.create_connection(("127.0.0.1", port))
        transport, client = await any_loop.create_connection(lambda: Recorder(any_loop), sock=sock)
        transport.write(b"via sock")
        assert await client.received(8) == b"via sock"
        await shut(server, transport)

    run(any_loop, main())


def _sendfile_through_transport(loop: Loop, file: Any, **kwargs: Any) -> tuple[int, bytes]:
    async def main() -> tuple[int, bytes]:
        server, transport, _client, peer = await connected_pair(loop)
        transport.write(b"head:")
        sent = await loop.sendfile(transport, file, **kwargs)
        transport.write(b":tail")
        transport.close()
        await peer.eof
        received = bytes(peer.data)
        await shut(server, peer.transport)
        return sent, received

    return run(loop, main())


def test_sendfile_on_a_transport_keeps_order_with_writes(any_loop: Loop) -> None:
    content = os.urandom(3 * 1024 * KiB)
    with tempfile.TemporaryFile() as file:
        file.write(content)
        file.seek(0)
        sent, received = _sendfile_through_transport(any_loop, file, offset=5, count=2_000_000)
    assert sent == 2_000_000
    assert received == b"head:" + content[5:2_000_005] + b":tail"


def test_sendfile_on_a_transport_falls_back_for_in_memory_files(any_loop: Loop) -> None:
    content = os.urandom(1024 * KiB)
    sent, received = _sendfile_through_transport(any_loop, io.BytesIO(content))
    assert (sent, received) == (len(content), b"head:" + content + b":tail")



# -- happy eyeballs ----------------------------------------------------------------------

V6 = [(socket.AF_INET6, f"v6-{n}") for n in range(3)]
V4 = [(socket.AF_INET, f"v4-{n}") for n in range(3)]


@pytest.mark.parametrize(
    ("infos", "first_family_count", "expected"),
    [
        ([], 1, []),
        (V6[:2] + V4[:2], 1, [V6[0], V4[0], V6[1], V4[1]]),
        (V6 + V4[:1], 1, [V6[0], V4[0], V6[1], V6[2]]),
        (V6[:2] + V4[:2], 2, [V6[0], V6[1], V4[0], V4[1]]),
        (V6 + V4, 3, [V6[0], V6[1], V6[2], V4[0], V4[1], V4[2]]),
        (V4[:1] + V6[:2] + V4[1:2], 1, [V4[0], V6[0], V4[1], V6[1]]),
        (V4, 1, V4),
    ],
)
def test_interleave_alternates_address_families(
    infos: list[Any], first_family_count: int, expected: list[Any]
) -> None:
    assert interleave(infos, first_family_count) == expected


def test_staggered_race_starts_the_next_attempt_on_delay_or_failure(virtual_loop: Loop) -> None:
    events: list[tuple[float, str]] = []

    def attempt(index: int, duration: float | None, fails: bool) -> Any:
        async def run_attempt() -> str:
            events.append((virtual_loop.time(), f"start {index}"))
            try:
                if duration is None:
                    await virtual_loop.create_future()  # never answers
                await asyncio.sleep(duration or 0)
            except asyncio.CancelledError:
                events.append((virtual_loop.time(), f"cancelled {index}"))
                raise
            if fails:
                events.append((virtual_loop.time(), f"failed {index}"))
                raise OSError(f"attempt {index} failed")
            return f"winner {index}"

        return run_attempt

    async def main() -> str | None:
        attempts = [attempt(0, None, False), attempt(1, 0.05, True), attempt(2, 0.1, False)]
        result = await staggered_race(virtual_loop, attempts, 0.25, discard=events.append)
        await asyncio.sleep(0)
        return result

    assert run(virtual_loop, main()) == "winner 2"
    assert events == [
        (0.0, "start 0"),
        (0.25, "start 1"),
        (0.3, "failed 1"),
        (0.3, "start 2"),
        (0.4, "cancelled 0"),
    ]


def test_staggered_race_discards_a_late_second_success(virtual_loop: Loop) -> None:
    discarded: list[str] = []

    def attempt(name: str) -> Any:
        async def run_attempt() -> str:
            await asyncio.sleep(1.0)
            return name

        return run_attempt

    async def main() -> str | None:
        result = await staggered_race(
            virtual_loop, [attempt("first"), attempt("second")], 0.0, discard=discarded.append
        )
        for _ in range(3):
            await asyncio.sleep(0)
        return result

    assert run(virtual_loop, main()) == "first"
    assert discarded == ["second"]


def test_staggered_race_is_none_when_every_attempt_fails(virtual_loop: Loop) -> None:
    async def fail() -> str:
        raise OSError("no")

    assert run(virtual_loop, staggered_race(virtual_loop, [fail, fail], None, print)) is None


class TwoAddressResolver:
    """getaddrinfo for a name with an IPv6 and an IPv4 address (no DNS needed)."""

    async def getaddrinfo(self, host: Any, port: Any, **kwargs: Any) -> list[Any]:
        assert host == "dual.test"
        return [
            (socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("::1", port, 0, 0)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port)),
        ]


class SpindleTwoAddressLoop(TwoAddressResolver, EventLoop):  # type: ignore[misc]
    pass


class AsyncioTwoAddressLoop(TwoAddressResolver, asyncio.SelectorEventLoop):  # type: ignore[misc]
    pass


@pytest.mark.parametrize("loop_class", [SpindleTwoAddressLoop, AsyncioTwoAddressLoop])
@pytest.mark.parametrize("delay", [None, 0.25])
def test_connection_to_a_two_address_name_reaches_the_listening_one(
    loop_class: Any, delay: float | None
) -> None:
    loop = loop_class()

    async def main() -> None:
        server, port = await echo_server(loop, "127.0.0.1")  # nobody on ::1
        transport, client = await loop.create_connection(
            lambda: Recorder(loop), "dual.test", port, happy_eyeballs_delay=delay
        )
        assert transport.get_extra_info("peername") == ("127.0.0.1", port)
        transport.write(b"hi")
        assert await client.received(2) == b"hi"
        await shut(server, transport)

    try:
        run(loop, main())
    finally:
        loop.run_until_complete(loop.shutdown_default_executor())
        loop.close()


@pytest.mark.parametrize("loop_class", [SpindleTwoAddressLoop, AsyncioTwoAddressLoop])
def test_failing_connection_to_every_address_lists_every_error(loop_class: Any) -> None:
    loop = loop_class()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))  # a port nobody listens on
        port = probe.getsockname()[1]
        try:
            with pytest.raises(OSError, match="Multiple exceptions") as caught:
                run(loop, loop.create_connection(asyncio.Protocol, "dual.test", port))
            assert "::1" in str(caught.value) and "127.0.0.1" in str(caught.value)
        finally:
            loop.close()


def test_spindle_can_raise_all_connection_errors_as_a_group() -> None:
    loop = SpindleTwoAddressLoop()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        try:
            with pytest.raises(ExceptionGroup) as caught:
                connecting = loop.create_connection(
                    asyncio.Protocol, "dual.test", port, all_errors=True
                )
                run(loop, connecting)
            assert len(caught.value.exceptions) == 2
        finally:
            loop.close()
