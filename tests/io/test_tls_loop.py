"""The loop's TLS methods: ``start_tls`` (STARTTLS, and TLS inside TLS), and ``ssl=`` of
``create_connection``/``create_server`` end to end, checked on asyncio's loop against asyncio's
own TLS, and across the two implementations.

On asyncio's loop, ``start_tls`` is spindle's code driven by asyncio's loop
(``upgrade_to_tls``), while ``ssl=`` is asyncio's own TLS: the expectations are the same.
"""

from __future__ import annotations

import asyncio
import shutil
import ssl
from pathlib import Path

import pytest

from spindle._io.tls import SSLTransport, TLSProtocol
from tests.io.tls_support import (
    PKI,
    App,
    Loop,
    connect,
    loop_fixture,  # noqa: F401  (the loop fixture)
    pki_fixture,  # noqa: F401  (the pki fixture)
    run,
    serve,
    start_tls_on,
    stop,
)

pytestmark = [
    pytest.mark.usefixtures("fd_guard"),
    pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command"),
]


# -- STARTTLS ----------------------------------------------------------------------------------


class StartTLSServer(App):
    """Plain text until "STARTTLS", then TLS (with the same protocol object) and an echo."""

    def __init__(self, loop: Loop, pki: PKI) -> None:
        super().__init__(loop)
        self.pki = pki
        self.upgraded: asyncio.Future[asyncio.Transport] = loop.create_future()

    def data_received(self, data: bytes) -> None:
        if data == b"STARTTLS\n" and not self.upgraded.done():
            self.events.append("starttls")
            self.transport.write(b"OK\n")
            self.loop.create_task(self._upgrade())
        else:
            self.events.append(f"tls data {data.decode()}")
            self.transport.write(data.upper())

    async def _upgrade(self) -> None:
        start_tls = start_tls_on(self.loop)
        try:
            transport = await start_tls(
                self.transport, self, self.pki.server_context(), server_side=True
            )
        except Exception as exc:
            self.upgraded.set_exception(exc)  # the test looks at it there
            return
        self.transport = transport
        self.upgraded.set_result(transport)


def test_start_tls_upgrades_a_plain_connection(loop: Loop, pki: PKI) -> None:
    server_apps: list[StartTLSServer] = []

    def make_server_app() -> StartTLSServer:
        server_apps.append(StartTLSServer(loop, pki))
        return server_apps[-1]

    async def main() -> None:
        served = await serve(loop, make_server_app, None)
        client = App(loop)
        plain, _ = await loop.create_connection(lambda: client, "127.0.0.1", served.port)
        plain.write(b"STARTTLS\n")
        assert await client.received(3) == b"OK\n"
        start_tls = start_tls_on(loop)
        transport = await start_tls(
            plain, client, pki.client_context(), server_hostname="localhost"
        )
        assert isinstance(transport, SSLTransport)
        assert transport.get_protocol() is client
        assert isinstance(transport.get_extra_info("ssl_object"), ssl.SSLObject)
        server_transport = await server_apps[0].upgraded
        client.transport = transport
        transport.write(b"secret")
        assert await client.received(9) == b"OK\nSECRET"
        transport.close()
        assert await client.lost is None
        assert await server_apps[0].lost is None
        assert server_transport.is_closing()
        await stop(served)
        # no second connection_made on either side; one connection_lost each
        assert client.events == ["made", "eof", "lost"]
        assert server_apps[0].events == ["made", "starttls", "tls data secret", "eof", "lost"]

    run(loop, main())


def test_start_tls_rejects_bad_arguments(loop: Loop, pki: PKI) -> None:
    async def main() -> None:
        served = await serve(loop, lambda: App(loop), None)
        client = App(loop)
        plain, _ = await loop.create_connection(lambda: client, "127.0.0.1", served.port)
        start_tls = start_tls_on(loop)
        with pytest.raises(TypeError, match=r"must be an ssl\.SSLContext"):
            await start_tls(plain, client, "not a context")
        plain.close()
        # A connection that ended first: None, as asyncio answers (test_peer_regressions).
        assert (
            await start_tls(plain, client, pki.client_context(), server_hostname="localhost")
            is None
        )
        await client.lost
        await stop(served)

    run(loop, main())


def test_start_tls_handshake_failure_raises_and_closes_the_transport(loop: Loop, pki: PKI) -> None:
    async def main() -> None:
        server_apps: list[StartTLSServer] = []

        def make_server_app() -> StartTLSServer:
            server_apps.append(StartTLSServer(loop, pki))
            return server_apps[-1]

        served = await serve(loop, make_server_app, None)
        client = App(loop)
        plain, _ = await loop.create_connection(lambda: client, "127.0.0.1", served.port)
        plain.write(b"STARTTLS\n")
        await client.received(3)
        start_tls = start_tls_on(loop)
        with pytest.raises(ssl.SSLCertVerificationError):
            await start_tls(
                plain, client, pki.client_context(ca="stranger.pem"), server_hostname="localhost"
            )
        assert plain.is_closing()
        # The application was connected before start_tls: it hears that the connection ended.
        assert isinstance(await client.lost, ssl.SSLCertVerificationError)
        with pytest.raises(ssl.SSLError):
            await server_apps[0].upgraded
        await server_apps[0].lost
        await stop(served)

    run(loop, main())


def test_start_tls_runs_tls_inside_tls(loop: Loop, pki: PKI) -> None:
    server_apps: list[StartTLSServer] = []

    def make_server_app() -> StartTLSServer:
        server_apps.append(StartTLSServer(loop, pki))
        return server_apps[-1]

    async def main() -> None:
        served = await serve(loop, make_server_app, pki.server_context())  # the outer TLS
        client = App(loop)
        outer = await connect(loop, client, served.port, pki.client_context())
        client.transport.write(b"STARTTLS\n")
        assert await client.received(3) == b"OK\n"
        start_tls = start_tls_on(loop)
        inner = await start_tls(
            client.transport, client, pki.client_context(), server_hostname="localhost"
        )
        await server_apps[0].upgraded
        client.transport = inner
        inner.write(b"nested")
        assert await client.received(9) == b"OK\nNESTED"
        # the inner TLS runs over the outer TLS transport, which runs over TCP
        assert inner.get_extra_info("ssl_object") is not outer.app_transport.get_extra_info(
            "ssl_object"
        )
        assert inner.get_extra_info("peername") == ("127.0.0.1", served.port)
        inner.close()
        assert await client.lost is None
        assert await server_apps[0].lost is None
        await stop(served)
        assert client.events == ["made", "eof", "lost"]

    run(loop, main())


# -- ssl= of create_connection and create_server -----------------------------------------------


def test_ssl_argument_gives_tls_connections_end_to_end(loop: Loop, pki: PKI) -> None:
    server_apps: list[App] = []

    def make_server_app() -> App:
        server_apps.append(App(loop, greeting=b"hi", echo=True))
        return server_apps[-1]

    async def main() -> None:
        server = await loop.create_server(make_server_app, "127.0.0.1", 0, ssl=pki.server_context())
        port = server.sockets[0].getsockname()[1]
        client = App(loop)
        context = pki.client_context()
        transport, _ = await loop.create_connection(
            lambda: client, "127.0.0.1", port, ssl=context, server_hostname="localhost"
        )
        assert transport.get_extra_info("sslcontext") is context
        assert await client.received(2) == b"hi"
        transport.write(b" there")
        assert await client.received(8) == b"hi there"
        transport.close()
        assert await client.lost is None
        assert await server_apps[0].lost is None
        assert client.events == ["made", "eof", "lost"]
        assert server_apps[0].events == ["made", "eof", "lost"]
        # and the streams API on top of it
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=context, server_hostname="localhost"
        )
        assert await reader.readexactly(2) == b"hi"
        writer.write(b"streamed")
        await writer.drain()
        assert await reader.readexactly(8) == b"streamed"
        writer.close()
        await writer.wait_closed()
        server.close()
        await server.wait_closed()

    run(loop, main())


def test_ssl_argument_verifies_the_server(loop: Loop, pki: PKI) -> None:
    async def main() -> None:
        context = pki.server_context()
        server = await loop.create_server(lambda: App(loop), "127.0.0.1", 0, ssl=context)
        port = server.sockets[0].getsockname()[1]
        # ssl=True: the system's trust store, which does not know our test CA
        with pytest.raises(ssl.SSLCertVerificationError):
            await loop.create_connection(
                lambda: App(loop), "127.0.0.1", port, ssl=True, server_hostname="localhost"
            )
        with pytest.raises(ssl.SSLCertVerificationError, match="Hostname mismatch"):
            await loop.create_connection(
                lambda: App(loop), "127.0.0.1", port,
                ssl=pki.client_context(), server_hostname="example.org",
            )  # fmt: skip
        server.close()
        await server.wait_closed()

    run(loop, main())


def test_ssl_argument_works_over_unix_sockets(loop: Loop, pki: PKI, tmp_path: Path) -> None:
    path = str(tmp_path / "tls.sock")

    async def main() -> None:
        server = await loop.create_unix_server(
            lambda: App(loop, echo=True), path, ssl=pki.server_context()
        )
        client = App(loop)
        transport, _ = await loop.create_unix_connection(
            lambda: client, path, ssl=pki.client_context(), server_hostname="localhost"
        )
        assert isinstance(transport.get_extra_info("ssl_object"), ssl.SSLObject)
        transport.write(b"over a unix socket")
        assert await client.received(18) == b"over a unix socket"
        transport.close()
        assert await client.lost is None
        server.close()
        await server.wait_closed()

    run(loop, main())


@pytest.mark.parametrize("spindle_side", ["client", "server"])
def test_interoperates_with_asyncio_tls(spindle_side: str, pki: PKI) -> None:
    """spindle's TLSProtocol on one end, asyncio's own TLS (on asyncio's loop) on the other."""
    loop = asyncio.new_event_loop()
    server_apps: list[App] = []

    def make_server_app() -> App:
        server_apps.append(App(loop, greeting=b"hello", echo=True))
        return server_apps[-1]

    async def main() -> None:
        if spindle_side == "server":
            served = await serve(loop, make_server_app, pki.server_context())
            server, port = served.server, served.port
        else:
            server = await loop.create_server(
                make_server_app, "127.0.0.1", 0, ssl=pki.server_context()
            )
            port = server.sockets[0].getsockname()[1]
        client = App(loop)
        if spindle_side == "client":
            await connect(loop, client, port, pki.client_context())
        else:
            await loop.create_connection(
                lambda: client, "127.0.0.1", port,
                ssl=pki.client_context(), server_hostname="localhost",
            )  # fmt: skip
        assert isinstance(client.transport, SSLTransport) == (spindle_side == "client")
        assert await client.received(5) == b"hello"
        client.transport.write(b" world" * 100_000)
        assert await client.received(600_005) == b"hello" + b" world" * 100_000
        client.transport.close()
        assert await client.lost is None
        assert await server_apps[0].lost is None
        assert client.events == ["made", "eof", "lost"]
        assert server_apps[0].events == ["made", "eof", "lost"]
        server.close()
        await server.wait_closed()

    try:
        run(loop, main())
    finally:
        loop.close()


def test_a_tls_protocol_needs_a_hostname_when_the_context_checks_it(pki: PKI) -> None:
    loop = asyncio.new_event_loop()
    try:
        with pytest.raises(ValueError, match="server_hostname"):
            TLSProtocol(loop, App(loop), pki.client_context(), None)
    finally:
        loop.close()
