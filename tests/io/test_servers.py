"""Servers: several hosts, start/stop, serve_forever, closing clients, TLS, on both loops.

Where asyncio changed a server's behaviour after 3.11, spindle follows the running Python
(wait_closed waiting for connections from 3.12.1, the socket file cleanup from 3.13); what
3.13 added (close_clients/abort_clients) spindle has on every Python, and the asyncio run of
those tests is skipped on older Pythons.
"""

from __future__ import annotations

import asyncio
import gc
import io
import shutil
import socket
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.io.conftest import Echo, Recorder, echo_server, ipv6_works, is_spindle, run
from tests.io.tls_support import PKI, pki_fixture  # noqa: F401  (the pki fixture)

pytestmark = pytest.mark.usefixtures("fd_guard")
Loop = asyncio.AbstractEventLoop
needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")


def skip_on_old_asyncio(loop: Loop, version: tuple[int, ...], what: str) -> None:
    if not is_spindle(loop) and sys.version_info < version:
        pytest.skip(f"asyncio {'.'.join(map(str, version))}+ {what}")


async def talk(loop: Loop, address: Any, message: bytes = b"ping") -> bytes:
    family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
    transport, client = await loop.create_connection(
        lambda: Recorder(loop), address[0], address[1], family=family
    )
    transport.write(message)
    data = await client.received(len(message))
    transport.close()
    await client.lost
    return data


def test_server_listens_on_several_hosts(any_loop: Loop) -> None:
    hosts = ["127.0.0.1", "::1"] if ipv6_works() else ["127.0.0.1"]

    async def main() -> None:
        server = await any_loop.create_server(Echo, hosts, 0)
        addresses = [sock.getsockname() for sock in server.sockets]
        assert sorted(address[0] for address in addresses) == sorted(hosts)
        for address in addresses:
            assert await talk(any_loop, address) == b"ping"
        server.close()
        await server.wait_closed()

    run(any_loop, main())


def test_server_without_a_host_listens_on_every_interface(any_loop: Loop) -> None:
    async def main() -> None:
        server = await any_loop.create_server(Echo, None, 0)
        families = {sock.family for sock in server.sockets}
        assert socket.AF_INET in families
        if ipv6_works():
            assert socket.AF_INET6 in families
            v6 = next(s for s in server.sockets if s.family == socket.AF_INET6)
            assert v6.getsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY)
        for sock in server.sockets:
            assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR)
        server.close()
        await server.wait_closed()

    run(any_loop, main())


def test_reuse_port_lets_two_servers_share_a_port(any_loop: Loop) -> None:
    async def main() -> None:
        first = await any_loop.create_server(Echo, "127.0.0.1", 0, reuse_port=True)
        port = first.sockets[0].getsockname()[1]
        second = await any_loop.create_server(Echo, "127.0.0.1", port, reuse_port=True)
        assert second.sockets[0].getsockname()[1] == port
        for server in (first, second):
            server.close()
            await server.wait_closed()

    run(any_loop, main())


def test_server_created_without_serving_starts_when_asked(any_loop: Loop) -> None:
    async def main() -> None:
        server = await any_loop.create_server(Echo, "127.0.0.1", 0, start_serving=False)
        assert not server.is_serving()
        address = server.sockets[0].getsockname()
        with pytest.raises(ConnectionRefusedError):  # not even listening yet
            await any_loop.create_connection(asyncio.Protocol, *address)
        await server.start_serving()
        assert server.is_serving()
        assert await talk(any_loop, address) == b"ping"
        server.close()
        assert not server.is_serving()
        await server.wait_closed()

    run(any_loop, main())


def test_server_over_a_given_listening_socket(any_loop: Loop) -> None:
    async def main() -> None:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        server = await any_loop.create_server(Echo, sock=sock)
        assert server.sockets[0].getsockname() == sock.getsockname()
        assert await talk(any_loop, sock.getsockname()) == b"ping"
        server.close()
        await server.wait_closed()

    run(any_loop, main())


def test_server_argument_errors(any_loop: Loop) -> None:
    with socket.socket() as sock:
        with pytest.raises(ValueError, match="host/port and sock"):
            run(any_loop, any_loop.create_server(Echo, "127.0.0.1", 0, sock=sock))
        with pytest.raises(ValueError, match="Neither host/port nor sock"):
            run(any_loop, any_loop.create_server(Echo))
    with (
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as datagram,
        pytest.raises(ValueError, match="Stream Socket was expected"),
    ):
        run(any_loop, any_loop.create_server(Echo, sock=datagram))


def test_serve_forever_until_cancelled_closes_the_server(any_loop: Loop) -> None:
    async def main() -> None:
        server, port = await echo_server(any_loop)
        serving = any_loop.create_task(server.serve_forever())
        await asyncio.sleep(0)
        assert server.is_serving()
        with pytest.raises(RuntimeError, match="already being awaited"):
            await server.serve_forever()
        assert await talk(any_loop, ("127.0.0.1", port)) == b"ping"
        serving.cancel()
        with pytest.raises(asyncio.CancelledError):
            await serving
        assert not server.is_serving()
        assert server.sockets == ()
        with pytest.raises(RuntimeError, match="closed"):
            await server.serve_forever()

    run(any_loop, main())


def test_async_with_closes_the_server(any_loop: Loop) -> None:
    async def main() -> None:
        server, _ = await echo_server(any_loop)
        async with server:
            assert server.is_serving()
            assert server.get_loop() is any_loop
        assert not server.is_serving()

    run(any_loop, main())


async def server_with_clients(loop: Loop, count: int) -> tuple[Any, list[Recorder]]:
    server, port = await echo_server(loop)
    clients = []
    for _ in range(count):
        transport, client = await loop.create_connection(lambda: Recorder(loop), "127.0.0.1", port)
        transport.write(b"hi")
        await client.received(2)  # the server has certainly accepted it by now
        clients.append(client)
    return server, clients


def test_wait_closed_waits_for_the_last_connection_from_python_3_12(any_loop: Loop) -> None:
    # asyncio 3.12.1 fixed wait_closed() to wait for the connections (gh-79033); on 3.11 a
    # closed server's wait_closed() returns at once.  spindle follows the running Python.
    events: list[str] = []

    async def main() -> None:
        server, (client,) = await server_with_clients(any_loop, 1)
        server.close()

        async def wait() -> None:
            await server.wait_closed()
            events.append("wait_closed returned")

        waiting = any_loop.create_task(wait())
        for _ in range(5):
            await asyncio.sleep(0)
        events.append("client closes")
        client.transport.close()
        await waiting
        await client.lost

    run(any_loop, main())
    if sys.version_info >= (3, 12):
        assert events == ["client closes", "wait_closed returned"]
    else:
        assert events == ["wait_closed returned", "client closes"]


def test_close_clients_closes_every_connection(any_loop: Loop) -> None:
    skip_on_old_asyncio(any_loop, (3, 13), "has Server.close_clients")

    async def main() -> None:
        server, clients = await server_with_clients(any_loop, 3)
        server.close()
        server.close_clients()
        await server.wait_closed()
        for client in clients:
            assert await client.lost is None
            assert client.events[-2:] == ["eof", "lost"]  # a clean close: EOF first

    run(any_loop, main())


def test_abort_clients_aborts_every_connection(any_loop: Loop) -> None:
    skip_on_old_asyncio(any_loop, (3, 13), "has Server.abort_clients")

    async def main() -> None:
        server, clients = await server_with_clients(any_loop, 2)
        server.close()
        server.abort_clients()
        await server.wait_closed()
        for client in clients:
            await client.lost

    run(any_loop, main())


def test_connect_accepted_socket(any_loop: Loop) -> None:
    async def main() -> None:
        with socket.socket() as listener:
            listener.bind(("127.0.0.1", 0))
            listener.listen()
            client = socket.create_connection(listener.getsockname())
            accepted, _ = listener.accept()
            transport, _ = await any_loop.connect_accepted_socket(Echo, accepted)
            client.sendall(b"accepted")
            client.setblocking(False)
            assert await any_loop.sock_recv(client, 100) == b"accepted"
            transport.close()
            client.close()
            await asyncio.sleep(0)

    run(any_loop, main())


def test_unclosed_server_warns(spindle_loop: Any) -> None:
    async def main() -> None:
        await spindle_loop.create_server(Echo, "127.0.0.1", 0, start_serving=False)

    with pytest.warns(ResourceWarning, match="unclosed server"):
        run(spindle_loop, main())
        gc.collect()


def test_spindle_server_sets_keep_alive(spindle_loop: Any) -> None:
    async def main() -> None:
        server = await spindle_loop.create_server(Echo, "127.0.0.1", 0, keep_alive=True)
        assert server.sockets[0].getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE)
        server.close()
        await server.wait_closed()

    run(spindle_loop, main())


# -- TLS through ssl= --------------------------------------------------------------------


@needs_openssl
def test_tls_echo_through_create_server_and_create_connection(any_loop: Loop, pki: PKI) -> None:
    async def main() -> None:
        server = await any_loop.create_server(Echo, "127.0.0.1", 0, ssl=pki.server_context())
        port = server.sockets[0].getsockname()[1]
        transport, client = await any_loop.create_connection(
            lambda: Recorder(any_loop),
            "127.0.0.1",
            port,
            ssl=pki.client_context(),
            server_hostname="localhost",
        )
        assert transport.get_extra_info("peercert") is not None
        transport.write(b"secret")
        assert await client.received(6) == b"secret"
        transport.close()
        await client.lost
        server.close()
        await server.wait_closed()

    run(any_loop, main())


@needs_openssl
def test_tls_over_a_unix_socket(any_loop: Loop, pki: PKI, tmp_path: Path) -> None:
    path = str(tmp_path / "tls.sock")

    async def main() -> None:
        server = await any_loop.create_unix_server(Echo, path, ssl=pki.server_context())
        transport, client = await any_loop.create_unix_connection(
            lambda: Recorder(any_loop), path, ssl=pki.client_context(), server_hostname="localhost"
        )
        transport.write(b"unix+tls")
        assert await client.received(8) == b"unix+tls"
        transport.close()
        await client.lost
        server.close()
        await server.wait_closed()

    run(any_loop, main())


@needs_openssl
def test_tls_with_an_untrusted_certificate_fails_to_connect(any_loop: Loop, pki: PKI) -> None:
    async def main() -> None:
        server = await any_loop.create_server(Echo, "127.0.0.1", 0, ssl=pki.server_context())
        port = server.sockets[0].getsockname()[1]
        with pytest.raises(ssl_error()):
            await any_loop.create_connection(
                asyncio.Protocol, "127.0.0.1", port, ssl=True, server_hostname="localhost"
            )
        server.close()
        await server.wait_closed()

    run(any_loop, main())


def ssl_error() -> type[Exception]:
    import ssl

    return ssl.SSLCertVerificationError


def test_tls_arguments_without_ssl_are_refused(any_loop: Loop) -> None:
    with pytest.raises(ValueError, match="server_hostname is only meaningful with ssl"):
        run(any_loop, any_loop.create_connection(Echo, "127.0.0.1", 1, server_hostname="x"))
    with pytest.raises(ValueError, match="ssl_handshake_timeout is only meaningful with ssl"):
        run(any_loop, any_loop.create_server(Echo, "127.0.0.1", 0, ssl_handshake_timeout=1))


@needs_openssl
def test_sendfile_over_tls_falls_back_to_writing(any_loop: Loop, pki: PKI) -> None:
    content = bytes(range(256)) * 4096  # 1 MiB

    class Collect(Recorder):
        def eof_received(self) -> bool:
            self.events.append("eof")
            return False

    async def main() -> None:
        received: list[Recorder] = []

        def make() -> Recorder:
            received.append(Collect(any_loop))
            return received[-1]

        server = await any_loop.create_server(make, "127.0.0.1", 0, ssl=pki.server_context())
        port = server.sockets[0].getsockname()[1]
        transport, _ = await any_loop.create_connection(
            asyncio.Protocol,
            "127.0.0.1",
            port,
            ssl=pki.client_context(),
            server_hostname="localhost",
        )
        sent = await any_loop.sendfile(transport, io.BytesIO(content))
        assert sent == len(content)
        assert await received[0].received(len(content)) == content
        transport.close()
        await received[0].lost
        server.close()
        await server.wait_closed()

    run(any_loop, main())
