"""Datagram endpoints (UDP and Unix datagrams), on both loops."""

from __future__ import annotations

import asyncio
import socket
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.io.conftest import is_spindle, run

pytestmark = pytest.mark.usefixtures("fd_guard")
Loop = asyncio.AbstractEventLoop


class Datagrams(asyncio.DatagramProtocol):
    """Records datagrams and errors; ``wait(n)`` completes once n datagrams have arrived."""

    def __init__(self, loop: Loop, echo: bool = False) -> None:
        self.loop = loop
        self.echo = echo
        self.transport: Any = None
        self.received: list[tuple[bytes, Any]] = []
        self.errors: list[Exception] = []
        self.events: list[str] = []
        self.lost = loop.create_future()
        self.error = loop.create_future()
        self._want = 0
        self._arrived: asyncio.Future[None] | None = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.received.append((data, addr))
        if self.echo:
            self.transport.sendto(data, addr)
        if self._arrived is not None and len(self.received) >= self._want:
            self._arrived.set_result(None)
            self._arrived = None

    def error_received(self, exc: Exception) -> None:
        self.errors.append(exc)
        if not self.error.done():
            self.error.set_result(exc)

    def pause_writing(self) -> None:
        self.events.append("pause")

    def resume_writing(self) -> None:
        self.events.append("resume")

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost.set_result(exc)

    async def wait(self, count: int) -> list[tuple[bytes, Any]]:
        if len(self.received) < count:
            self._want = count
            self._arrived = self.loop.create_future()
            await self._arrived
        return self.received


def test_echo_over_udp(any_loop: Loop) -> None:
    async def main() -> None:
        server, _ = await any_loop.create_datagram_endpoint(
            lambda: Datagrams(any_loop, echo=True), local_addr=("127.0.0.1", 0)
        )
        address = server.get_extra_info("sockname")
        client, protocol = await any_loop.create_datagram_endpoint(
            lambda: Datagrams(any_loop), remote_addr=address
        )
        assert client.get_extra_info("peername") == address
        client.sendto(b"one")
        client.sendto(bytearray(b"two"), address)
        received = await protocol.wait(2)
        assert [data for data, _ in received] == [b"one", b"two"]
        assert received[0][1] == address
        client.close()
        server.close()
        assert await protocol.lost is None

    run(any_loop, main())


def test_connected_endpoint_refuses_other_destinations(any_loop: Loop) -> None:
    async def main() -> None:
        transport, _ = await any_loop.create_datagram_endpoint(
            lambda: Datagrams(any_loop), remote_addr=("127.0.0.1", 9)
        )
        with pytest.raises(ValueError, match="Invalid address"):
            transport.sendto(b"x", ("127.0.0.1", 10))
        with pytest.raises(TypeError, match="bytes-like"):
            transport.sendto("text")
        transport.close()

    run(any_loop, main())


def test_icmp_port_unreachable_goes_to_error_received(any_loop: Loop) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()
    # the probe is closed now: nobody listens on that port

    async def main() -> None:
        transport, protocol = await any_loop.create_datagram_endpoint(
            lambda: Datagrams(any_loop), remote_addr=closed
        )
        transport.sendto(b"anyone?")
        error = await protocol.error
        assert isinstance(error, ConnectionRefusedError)
        assert not transport.is_closing()  # one datagram's error does not end the transport
        transport.close()

    run(any_loop, main())


def test_unix_datagram_endpoint(any_loop: Loop, tmp_path: Path) -> None:
    server_path, client_path = str(tmp_path / "server"), str(tmp_path / "client")

    async def main() -> None:
        server, _ = await any_loop.create_datagram_endpoint(
            lambda: Datagrams(any_loop, echo=True), local_addr=server_path, family=socket.AF_UNIX
        )
        client, protocol = await any_loop.create_datagram_endpoint(
            lambda: Datagrams(any_loop),
            local_addr=client_path,
            remote_addr=server_path,
            family=socket.AF_UNIX,
        )
        client.sendto(b"unix datagram")
        assert (await protocol.wait(1))[0] == (b"unix datagram", server_path)
        client.close()
        server.close()
        await protocol.lost

    run(any_loop, main())


def test_buffered_datagrams_pause_the_protocol_and_arrive_in_order(
    any_loop: Loop, tmp_path: Path
) -> None:
    # Unix datagram sockets have flow control: a sender blocks when the receiver's queue is full.
    theirs = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    theirs.bind(str(tmp_path / "theirs"))

    async def main() -> None:
        transport, protocol = await any_loop.create_datagram_endpoint(
            lambda: Datagrams(any_loop),
            local_addr=str(tmp_path / "ours"),
            remote_addr=str(tmp_path / "theirs"),
            family=socket.AF_UNIX,
        )
        transport.set_write_buffer_limits(high=4096)
        sent = 0
        while "pause" not in protocol.events:  # the peer reads nothing: its queue fills up
            transport.sendto(sent.to_bytes(4, "big") * 256)
            sent += 1
        assert transport.get_write_buffer_size() > 4096
        theirs.setblocking(False)
        received: list[bytes] = []
        while len(received) < sent:
            received.append(await any_loop.sock_recv(theirs, 2048))
        assert [int.from_bytes(data[:4], "big") for data in received] == list(range(sent))
        assert protocol.events == ["pause", "resume"]
        if is_spindle(any_loop) or sys.version_info < (3, 13):
            # asyncio 3.13.0 counts 8 header bytes per datagram and leaves some counted
            # after its buffer has drained; everything was sent all the same (above).
            assert transport.get_write_buffer_size() == 0
        transport.close()
        await protocol.lost

    with theirs:
        run(any_loop, main())


def test_endpoint_over_a_given_socket_refuses_other_options(any_loop: Loop) -> None:
    with (
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock,
        pytest.raises(ValueError, match="socket modifier keyword arguments"),
    ):
        run(
            any_loop,
            any_loop.create_datagram_endpoint(
                asyncio.DatagramProtocol, sock=sock, local_addr=("127.0.0.1", 0)
            ),
        )
    with (
        socket.socket(socket.AF_INET, socket.SOCK_STREAM) as stream,
        pytest.raises(ValueError, match=r"(UDP Socket|datagram socket) was expected"),  # 3.13
    ):
        run(any_loop, any_loop.create_datagram_endpoint(asyncio.DatagramProtocol, sock=stream))


def test_reuse_address_is_refused_clearly(spindle_loop: Loop) -> None:
    # asyncio 3.11 dropped the parameter (TypeError); spindle keeps it and explains.
    with pytest.raises(ValueError, match="reuse_address"):
        run(
            spindle_loop,
            spindle_loop.create_datagram_endpoint(
                asyncio.DatagramProtocol, local_addr=("127.0.0.1", 0), reuse_address=True
            ),
        )


def test_reuse_port_lets_two_endpoints_share_a_port(any_loop: Loop) -> None:
    async def main() -> None:
        first, _ = await any_loop.create_datagram_endpoint(
            asyncio.DatagramProtocol, local_addr=("127.0.0.1", 0), reuse_port=True
        )
        port = first.get_extra_info("sockname")[1]
        second, _ = await any_loop.create_datagram_endpoint(
            asyncio.DatagramProtocol, local_addr=("127.0.0.1", port), reuse_port=True
        )
        assert second.get_extra_info("sockname")[1] == port
        first.close()
        second.close()
        await asyncio.sleep(0)

    run(any_loop, main())


def test_allow_broadcast_sets_so_broadcast(any_loop: Loop) -> None:
    async def main() -> None:
        transport, _ = await any_loop.create_datagram_endpoint(
            asyncio.DatagramProtocol, local_addr=("127.0.0.1", 0), allow_broadcast=True
        )
        sock = transport.get_extra_info("socket")
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST)
        transport.close()
        await asyncio.sleep(0)

    run(any_loop, main())


def test_empty_datagrams_are_sent(any_loop: Loop) -> None:
    if not is_spindle(any_loop) and sys.version_info < (3, 13):
        pytest.skip("asyncio 3.11 and 3.12.1 drop empty datagrams (3.13 sends them)")

    async def main() -> None:
        server, protocol = await any_loop.create_datagram_endpoint(
            lambda: Datagrams(any_loop), local_addr=("127.0.0.1", 0)
        )
        client, _ = await any_loop.create_datagram_endpoint(
            asyncio.DatagramProtocol, remote_addr=server.get_extra_info("sockname")
        )
        client.sendto(b"")
        assert (await protocol.wait(1))[0][0] == b""
        client.close()
        server.close()
        await protocol.lost

    run(any_loop, main())


def test_endpoint_without_addresses_needs_a_family(any_loop: Loop) -> None:
    with pytest.raises(ValueError, match="unexpected address family"):
        run(any_loop, any_loop.create_datagram_endpoint(asyncio.DatagramProtocol))
