"""Fixes that CPython's own I/O tests (``tests/conformance``) led to, each checked directly.

Every test runs on spindle's loop and on asyncio's, through the loop's public API
(``create_connection(ssl=...)``, ``start_tls``), so asyncio's own TLS is the reference for
each expectation.  The CPython test that found each one is named in its docstring.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import ssl
import weakref
from collections.abc import Iterator

import pytest

from tests.io.conftest import gc_disabled
from tests.io.tls_support import (
    PKI,
    App,
    Loop,
    ThreadPeer,
    loop_fixture,  # noqa: F401  (the loop fixture)
    pki_fixture,  # noqa: F401  (the pki fixture)
    run,
    wait_for_the_end,
)

pytestmark = [
    pytest.mark.usefixtures("fd_guard"),
    pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command"),
]


async def open_tls(loop: Loop, app: App, port: int, context: ssl.SSLContext) -> None:
    await loop.create_connection(
        lambda: app, "127.0.0.1", port, ssl=context, server_hostname="localhost"
    )


@pytest.fixture
def no_garbage_collector() -> Iterator[None]:
    """Only reference counting frees objects during the test: a reference cycle shows."""
    with gc_disabled():
        yield


def test_tls_transport_class_name_says_ssl(loop: Loop, pki: PKI) -> None:
    """test_events: ``'ssl' in tr.__class__.__name__.lower()``."""
    peer = ThreadPeer(pki, wait_for_the_end)

    async def main() -> None:
        client = App(loop)
        await open_tls(loop, client, peer.port, pki.client_context())
        assert "ssl" in type(client.transport).__name__.lower()
        assert isinstance(client.transport, asyncio.Transport)
        client.transport.close()
        await client.lost

    try:
        run(loop, main())
    finally:
        assert peer.join() == "close_notify"


@pytest.mark.usefixtures("no_garbage_collector")
def test_a_lost_tls_connection_is_freed_without_the_garbage_collector(loop: Loop, pki: PKI) -> None:
    """test_ssl.test_create_connection_memory_leak: the protocol keeps its transport (as
    most do), yet once the connection is lost nothing refers back to it, so the SSL context
    goes as soon as the application lets go."""
    peer = ThreadPeer(pki, wait_for_the_end)
    context = pki.client_context()
    context_ref = weakref.ref(context)

    async def main(context: ssl.SSLContext) -> None:
        client = App(loop)
        await open_tls(loop, client, peer.port, context)
        await client.received(5)
        client.transport.close()
        await client.lost

    try:
        run(loop, main(context))
        del context
        assert context_ref() is None
    finally:
        assert peer.join() == "close_notify"


def test_a_lost_tls_transport_lets_go_of_its_protocol(loop: Loop, pki: PKI) -> None:
    """What breaks the cycle above: asyncio's lost transports answer None, and so do
    spindle's TLS transports."""
    peer = ThreadPeer(pki, wait_for_the_end)

    async def main() -> None:
        client = App(loop)
        await open_tls(loop, client, peer.port, pki.client_context())
        assert client.transport.get_protocol() is client
        client.transport.close()
        await client.lost
        assert client.transport.get_protocol() is None
        assert client.transport.is_closing()

    try:
        run(loop, main())
    finally:
        assert peer.join() == "close_notify"


def test_peer_eof_while_reading_is_paused_delivers_the_rest_and_sends_no_close_notify(
    loop: Loop, pki: PKI
) -> None:
    """test_ssl.test_shutdown_timeout_handler_not_set: the peer sends data, then closes its
    end of the TCP connection without close_notify while the application has paused reading.
    On resume the application gets the data, then the EOF, and the connection closes with no
    close_notify sent back (the peer reads its raw socket and must see just the end)."""
    eof_sent: asyncio.Future[None] = loop.create_future()

    def send_then_half_close(tls: ssl.SSLSocket) -> str:
        tls.sendall(b"hello")
        assert tls.recv(5) == b"world"
        tls.sendall(b"extra bytes")
        tls.shutdown(socket.SHUT_WR)  # also drops the TLS layer: recv() reads raw TCP now
        loop.call_soon_threadsafe(eof_sent.set_result, None)
        rest = tls.recv(1024)
        return "closed without close_notify" if rest == b"" else f"got {len(rest)} raw bytes"

    peer = ThreadPeer(pki, send_then_half_close)

    class PausesAfterHello(App):
        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if data == b"hello":
                self.transport.write(b"world")
                self.transport.pause_reading()

    async def main() -> None:
        client = PausesAfterHello(loop)
        await open_tls(loop, client, peer.port, pki.client_context())
        await eof_sent
        client.transport.resume_reading()
        assert await client.lost is None
        assert client.data == b"helloextra bytes"
        assert client.events == ["made", "eof", "lost"]

    try:
        run(loop, main())
    finally:
        assert peer.join() == "closed without close_notify"


def test_start_tls_argument_errors_read_like_asyncios(loop: Loop, pki: PKI) -> None:
    """test_sslproto.test_start_tls_wrong_args matches asyncio's wording."""

    async def main() -> None:
        with pytest.raises(TypeError, match="SSLContext, got"):
            await loop.start_tls(None, None, None)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="is not supported"):
            await loop.start_tls(None, None, pki.server_context())  # type: ignore[arg-type]

    run(loop, main())


def test_tls_handshake_timeout_error_reads_like_asyncios(loop: Loop, pki: PKI) -> None:
    """test_ssl.test_create_connection_ssl_slow_handshake: 'SSL handshake is taking longer'."""
    with socket.create_server(("127.0.0.1", 0)) as mute:  # accepts, never answers

        async def main() -> None:
            port = mute.getsockname()[1]
            with pytest.raises(ConnectionAbortedError, match=r"SSL handshake is taking longer"):
                await loop.create_connection(
                    asyncio.Protocol,
                    "127.0.0.1",
                    port,
                    ssl=pki.client_context(),
                    server_hostname="localhost",
                    ssl_handshake_timeout=0.1,
                )

        run(loop, main())
