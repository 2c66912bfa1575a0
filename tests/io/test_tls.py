"""TLS connections (``spindle._io.tls.protocol``): handshake, data both ways, flow control,
certificate checks, timeouts, close_notify, abort and a peer's EOF.

Every connection test runs on spindle's loop and on asyncio's (the ``loop`` fixture), with
spindle's ``TLSProtocol`` on both ends, or against Python's blocking ``ssl`` sockets in a
thread where a test must see exactly what went over the wire (close_notify or not).
"""

from __future__ import annotations

import asyncio
import gc
import os
import shutil
import socket
import ssl
from typing import Any

import pytest

from spindle._io.tls import TLSProtocol
from spindle._io.tls.states import TLSState, check_move
from tests.io.tls_support import (
    PKI,
    App,
    BackpressureEcho,
    Loop,
    Sender,
    SmallBuffers,
    ThreadPeer,
    connect,
    holds_back,
    loop_fixture,  # noqa: F401  (the loop fixture)
    pki_fixture,  # noqa: F401  (the pki fixture)
    run,
    send_with_backpressure,
    serve,
    shrink_kernel_buffers,
    stop,
    until,
    wait_for_the_end,
)

pytestmark = [
    pytest.mark.usefixtures("fd_guard"),
    pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command"),
]


# -- handshake and data ------------------------------------------------------------------------


def test_handshake_then_data_flows_both_ways(loop: Loop, pki: PKI) -> None:
    server_apps: list[App] = []

    def make_server_app() -> App:
        server_apps.append(App(loop, greeting=b"hello\n", echo=True))
        return server_apps[-1]

    async def main() -> None:
        served = await serve(loop, make_server_app, pki.server_context())
        client = App(loop)
        await connect(loop, client, served.port, pki.client_context())
        assert await client.received(6) == b"hello\n"
        client.transport.write(b"ping ")
        client.transport.writelines([b"and ", bytearray(b"pong"), memoryview(b"!")])
        assert await client.received(20) == b"hello\nping and pong!"
        client.transport.close()
        assert client.transport.is_closing()
        assert await client.lost is None
        assert await server_apps[0].lost is None
        await stop(served)
        # Each side hears the other's close_notify as an end of file (asyncio says so to
        # the side that closed first too), then the connection is lost, cleanly.
        assert client.events == ["made", "eof", "lost"]
        assert server_apps[0].events == ["made", "eof", "lost"]
        assert server_apps[0].data == b"ping and pong!"

    run(loop, main())


def test_get_extra_info_has_tls_and_socket_details(loop: Loop, pki: PKI) -> None:
    async def main() -> None:
        served = await serve(loop, lambda: App(loop), pki.server_context())
        client = App(loop)
        context = pki.client_context()
        await connect(loop, client, served.port, context)
        transport = client.transport
        assert isinstance(transport, asyncio.Transport)
        assert transport.get_extra_info("sslcontext") is context
        ssl_object = transport.get_extra_info("ssl_object")
        assert isinstance(ssl_object, ssl.SSLObject)
        assert ssl_object.version() in ("TLSv1.2", "TLSv1.3")
        assert transport.get_extra_info("cipher") == ssl_object.cipher()
        peercert = transport.get_extra_info("peercert")
        assert ((("commonName", "localhost"),)) in peercert["subject"]
        assert transport.get_extra_info("compression") is None
        assert transport.get_extra_info("peername") == ("127.0.0.1", served.port)
        assert transport.get_extra_info("sockname")[0] == "127.0.0.1"
        assert transport.get_extra_info("socket").family == socket.AF_INET
        assert transport.get_extra_info("no such thing", "default") == "default"
        assert transport.get_protocol() is client
        transport.close()
        await client.lost
        await stop(served)

    run(loop, main())


def test_large_transfer_with_write_backpressure(loop: Loop, pki: PKI) -> None:
    payload = os.urandom(8 * 1024 * 1024)
    server_apps: list[BackpressureEcho] = []

    def make_server_app() -> BackpressureEcho:
        # The server reads nothing until the client has felt backpressure.
        server_apps.append(BackpressureEcho(loop, start_paused=True))
        return server_apps[-1]

    def start_the_server() -> None:
        if server_apps[0].start_paused:
            server_apps[0].start_paused = False
            server_apps[0].transport.resume_reading()

    async def main() -> None:
        served = await serve(loop, make_server_app, pki.server_context())
        client = App(loop)
        await connect(loop, client, served.port, pki.client_context())
        await served.waiters[0]
        await send_with_backpressure(client, payload, start_the_server)
        assert await client.received(len(payload)) == payload
        client.transport.close()
        await client.lost
        await server_apps[0].lost
        await stop(served)
        assert client.events[:2] == ["made", "pause_writing"]
        assert client.events.count("pause_writing") == client.events.count("resume_writing")
        assert client.events[-1] == "lost"

    run(loop, main())


def test_paused_reader_pushes_back_on_the_sender(loop: Loop, pki: PKI) -> None:
    payload = os.urandom(4 * 1024 * 1024)
    senders: list[Sender] = []

    def make_sender() -> Sender:
        senders.append(Sender(loop, payload))
        return senders[-1]

    async def main() -> None:
        served = await serve(loop, make_sender, pki.server_context())
        client = App(loop)
        await connect(loop, client, served.port, pki.client_context())
        client.transport.pause_reading()
        assert not client.transport.is_reading()
        await served.waiters[0]
        sender = senders[0]
        shrink_kernel_buffers(client, sender)
        sender.go.set_result(None)
        await sender.paused
        await until(lambda: holds_back(client.transport))
        # The client's TLS layer stopped reading its socket, with at most one more receive
        # than its limit, and the sender stays paused: the backpressure went all the way back.
        high = client.transport.get_read_buffer_limits()[1]
        assert client.transport.get_read_buffer_size() <= high + 256 * 1024
        assert client.data == b"" and sender.resumed is not None
        client.transport.resume_reading()
        assert await client.lost is None
        assert client.data == payload
        assert client.events == ["made", "eof", "lost"]
        assert "pause_writing" in sender.events
        await sender.lost
        await stop(served)

    run(loop, main())


def test_close_while_paused_still_exchanges_close_notify(loop: Loop, pki: PKI) -> None:
    senders: list[Sender] = []

    def make_sender() -> Sender:
        senders.append(Sender(loop, os.urandom(2 * 1024 * 1024)))
        return senders[-1]

    async def main() -> None:
        served = await serve(loop, make_sender, pki.server_context())
        client = App(loop)
        await connect(loop, client, served.port, pki.client_context(), shutdown_timeout=10)
        client.transport.pause_reading()
        await served.waiters[0]
        sender = senders[0]
        shrink_kernel_buffers(client, sender)
        sender.go.set_result(None)
        await sender.paused
        await until(lambda: holds_back(client.transport))
        client.transport.close()
        assert await client.lost is None  # not a shutdown timeout: the exchange went through
        assert await sender.lost is None
        await stop(served)
        assert client.events == ["made", "eof", "lost"]

    run(loop, main())


def test_buffered_protocol_application_gets_every_byte(loop: Loop, pki: PKI) -> None:
    payload = os.urandom(1024 * 1024 + 17)

    async def main() -> None:
        make_app = lambda: App(loop, greeting=payload, close=True)  # noqa: E731
        served = await serve(loop, make_app, pki.server_context())
        client = SmallBuffers(loop)
        await connect(loop, client, served.port, pki.client_context())
        assert await client.lost is None
        await stop(served)
        assert client.data == payload
        assert client.events == ["made", "eof", "lost"]

    run(loop, main())


def test_peer_close_notify_gives_eof_then_connection_lost(loop: Loop, pki: PKI) -> None:
    async def main() -> None:
        make_app = lambda: App(loop, greeting=b"bye", close=True)  # noqa: E731
        served = await serve(loop, make_app, pki.server_context())
        client = App(loop)
        await connect(loop, client, served.port, pki.client_context())
        assert await client.lost is None
        await stop(served)
        assert client.data == b"bye"
        assert client.events == ["made", "eof", "lost"]

    run(loop, main())


# -- certificate checks ------------------------------------------------------------------------


def test_untrusted_server_certificate_fails_the_client_handshake(loop: Loop, pki: PKI) -> None:
    async def main() -> None:
        server_app = App(loop)
        served = await serve(loop, lambda: server_app, pki.server_context())
        client = App(loop)
        with pytest.raises(ssl.SSLCertVerificationError) as caught:
            await connect(loop, client, served.port, pki.client_context(ca="stranger.pem"))
        assert "certificate verify failed" in str(caught.value)
        # the server was told why (our alert reached it), and neither app was connected
        with pytest.raises(ssl.SSLError, match=r"unknown ca|UNKNOWN_CA"):
            await served.waiters[0]
        await stop(served)
        assert client.events == [] and server_app.events == []

    run(loop, main())


def test_hostname_mismatch_fails_the_handshake(loop: Loop, pki: PKI) -> None:
    async def main() -> None:
        served = await serve(loop, lambda: App(loop), pki.server_context())
        client = App(loop)
        with pytest.raises(ssl.SSLCertVerificationError) as caught:
            await connect(
                loop, client, served.port, pki.client_context(), server_hostname="example.org"
            )
        assert "Hostname mismatch" in caught.value.verify_message
        with pytest.raises(ssl.SSLError):
            await served.waiters[0]
        await stop(served)
        assert client.events == []

    run(loop, main())


def test_trusted_client_certificate_is_verified_and_visible(loop: Loop, pki: PKI) -> None:
    server_apps: list[App] = []

    def make_server_app() -> App:
        server_apps.append(App(loop, greeting=b"welcome"))
        return server_apps[-1]

    async def main() -> None:
        served = await serve(loop, make_server_app, pki.server_context(client_ca="ca.pem"))
        client = App(loop)
        await connect(loop, client, served.port, pki.client_context(cert="client"))
        await client.received(7)
        peercert = server_apps[0].transport.get_extra_info("peercert")
        assert (("commonName", "spindle test client"),) in peercert["subject"]
        client.transport.close()
        await client.lost
        await server_apps[0].lost
        await stop(served)

    run(loop, main())


def test_untrusted_client_certificate_fails_the_server_handshake(loop: Loop, pki: PKI) -> None:
    async def main() -> None:
        served = await serve(loop, lambda: App(loop), pki.server_context(client_ca="ca.pem"))
        client = App(loop)
        try:
            # TLS 1.3: the client is done before the server has judged its certificate, so
            # the refusal reaches the client as the end of its connection.
            await connect(loop, client, served.port, pki.client_context(cert="impostor"))
        except ssl.SSLError:
            pass
        else:
            assert isinstance(await client.lost, ssl.SSLError)
        with pytest.raises(ssl.SSLCertVerificationError):
            await served.waiters[0]
        await stop(served)

    run(loop, main())


# -- timeouts ----------------------------------------------------------------------------------


def test_handshake_timeout_aborts_the_connection(loop: Loop, pki: PKI) -> None:
    async def main() -> None:
        mute = App(loop)  # a plain TCP server that never answers the client hello
        served = await serve(loop, lambda: mute, None)
        client = App(loop)
        with pytest.raises(ConnectionAbortedError, match=r"TLS handshake.*0\.2 seconds"):
            await connect(loop, client, served.port, pki.client_context(), handshake_timeout=0.2)
        assert await mute.lost is None  # the server saw the connection go
        assert mute.data.startswith(b"\x16\x03")  # it did get a TLS handshake record
        await stop(served)
        assert client.events == []

    run(loop, main())


def test_handshake_gives_up_after_60_seconds_by_default(virtual_loop: Loop, pki: PKI) -> None:
    """asyncio's default timeout, exactly and instantly, on spindle's virtual clock.

    (The clock jumps whenever the loop would wait with a timer pending, so only a peer that
    never answers makes a deterministic test of it: a shutdown timeout cannot be tested so.)
    """
    loop = virtual_loop

    async def main() -> None:
        mute = App(loop)
        served = await serve(loop, lambda: mute, None)
        start = loop.time()
        with pytest.raises(ConnectionAbortedError, match=r"longer than 60\.0 seconds"):
            await connect(loop, App(loop), served.port, pki.client_context())
        assert loop.time() == start + 60.0
        await mute.lost
        await stop(served)

    run(loop, main())


def test_timeouts_must_be_positive(pki: PKI) -> None:
    loop = asyncio.new_event_loop()
    try:
        for name in ("handshake_timeout", "shutdown_timeout"):
            with pytest.raises(ValueError, match="must be a positive number"):
                options: dict[str, Any] = {name: 0, "server_hostname": "localhost"}
                TLSProtocol(loop, App(loop), pki.client_context(), None, **options)
        with pytest.raises(ValueError, match="cannot serve TLS without"):
            TLSProtocol(loop, App(loop), None, None, server_side=True)
    finally:
        loop.close()


def test_unclosed_tls_transport_warns(pki: PKI) -> None:
    loop = asyncio.new_event_loop()
    try:
        tls = TLSProtocol(loop, App(loop), pki.client_context(), None, server_hostname="localhost")
        tls.app_transport._handed_out()  # what a finished handshake does
        with pytest.warns(ResourceWarning, match="unclosed TLS transport"):
            del tls
            gc.collect()
    finally:
        loop.close()


def test_app_transport_switches_protocols_and_keeps_asyncio_rules(loop: Loop, pki: PKI) -> None:
    async def main() -> None:
        served = await serve(loop, lambda: App(loop, echo=True), pki.server_context())
        client = App(loop)
        await connect(loop, client, served.port, pki.client_context())
        transport = client.transport
        transport.write(b"one")
        await client.received(3)
        buffered = SmallBuffers(loop)
        transport.set_protocol(buffered)
        assert transport.get_protocol() is buffered
        transport.write(bytearray(b"two"))
        with pytest.raises(TypeError, match="cannot write: data must be bytes"):
            transport.write("text")
        with pytest.raises(NotImplementedError):
            transport.write_eof()
        assert not transport.can_write_eof()
        assert transport.get_write_buffer_limits() == (128 * 1024, 512 * 1024)
        transport.set_write_buffer_limits(high=100)
        assert transport.get_write_buffer_limits() == (25, 100)
        assert transport.get_read_buffer_limits() == (64 * 1024, 256 * 1024)
        assert transport.is_reading()
        transport.pause_reading()
        assert not transport.is_reading()
        transport.resume_reading()
        await buffered.some_data
        transport.close()
        assert not transport.is_reading()
        assert await buffered.lost is None
        assert client.data == b"one" and buffered.data == b"two"
        assert buffered.events == ["eof", "lost"] and client.events == ["made"]
        await stop(served)

    run(loop, main())


# -- close_notify, abort, bare EOF: checked against Python's blocking ssl sockets -------------


def test_close_sends_close_notify_and_waits_for_the_answer(loop: Loop, pki: PKI) -> None:
    peer = ThreadPeer(pki, wait_for_the_end)

    async def main() -> None:
        client = App(loop)
        await connect(loop, client, peer.port, pki.client_context())
        await client.received(5)
        client.transport.close()
        client.transport.write(b"too late")  # dropped, as asyncio does: no exception
        assert await client.lost is None
        assert client.events == ["made", "eof", "lost"]

    try:
        run(loop, main())
    finally:
        assert peer.join() == "close_notify"


def test_abort_closes_at_once_without_close_notify(loop: Loop, pki: PKI) -> None:
    peer = ThreadPeer(pki, wait_for_the_end)

    async def main() -> None:
        client = App(loop)
        await connect(loop, client, peer.port, pki.client_context())
        await client.received(5)
        client.transport.abort()
        assert client.transport.is_closing()
        assert await client.lost is None
        assert client.events == ["made", "lost"]

    try:
        run(loop, main())
    finally:
        assert peer.join() in ("EOF without close_notify", "connection reset")


def test_bare_eof_from_the_peer_ends_the_connection_like_close_notify(loop: Loop, pki: PKI) -> None:
    def send_and_vanish(tls: ssl.SSLSocket) -> str:
        tls.sendall(b"bye")
        return "closed without close_notify"  # leaving the with-block closes the socket

    peer = ThreadPeer(pki, send_and_vanish)

    async def main() -> None:
        client = App(loop)
        await connect(loop, client, peer.port, pki.client_context())
        assert await client.lost is None
        assert client.data == b"bye"
        assert client.events == ["made", "eof", "lost"]

    try:
        run(loop, main())
    finally:
        assert peer.join() == "closed without close_notify"


def test_shutdown_timeout_aborts_when_the_peer_never_answers(loop: Loop, pki: PKI) -> None:
    def hear_but_never_answer(tls: ssl.SSLSocket) -> str:
        tls.sendall(b"ready")
        assert tls.recv(100) == b""  # the client's close_notify
        peer.release.wait(10)
        return "heard close_notify"

    peer = ThreadPeer(pki, hear_but_never_answer)

    async def main() -> None:
        client = App(loop)
        await connect(loop, client, peer.port, pki.client_context(), shutdown_timeout=0.2)
        await client.received(5)
        client.transport.close()
        lost = await client.lost
        assert isinstance(lost, TimeoutError)
        assert "TLS shutdown timed out" in str(lost)

    try:
        run(loop, main())
    finally:
        assert peer.join() == "heard close_notify"


# -- the pure parts: states and water marks ----------------------------------------------------


def test_tls_states_move_only_forward() -> None:
    check_move(TLSState.UNWRAPPED, TLSState.DO_HANDSHAKE)
    check_move(TLSState.WRAPPED, TLSState.FLUSHING)
    check_move(TLSState.SHUTDOWN, TLSState.CLOSED)
    with pytest.raises(RuntimeError, match="cannot move a TLS connection from WRAPPED to"):
        check_move(TLSState.WRAPPED, TLSState.DO_HANDSHAKE)
    with pytest.raises(RuntimeError, match="from CLOSED to WRAPPED"):
        check_move(TLSState.CLOSED, TLSState.WRAPPED)
