"""What the TLS tests share: certificates, recording protocols, servers and clients.

Certificates are made once per session with the ``openssl`` command in a temporary directory
(a CA, a server certificate for localhost/127.0.0.1, a client certificate, and a second CA
that nobody trusts, with a certificate of its own): no key lives in the repository.

A test module uses the fixtures by importing them (``pki_fixture`` gives ``pki``,
``loop_fixture`` gives ``loop``).
"""

from __future__ import annotations

import asyncio
import functools
import socket
import ssl
import subprocess
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from spindle._io.tls import SSLTransport, TLSProtocol, upgrade_to_tls

Loop = asyncio.AbstractEventLoop


# -- certificates ------------------------------------------------------------------------------


@dataclass
class PKI:
    dir: Path

    def path(self, name: str) -> str:
        return str(self.dir / name)

    def server_context(self, *, client_ca: str | None = None) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.path("server.pem"), self.path("server.key"))
        if client_ca is not None:
            context.verify_mode = ssl.CERT_REQUIRED
            context.load_verify_locations(self.path(client_ca))
        return context

    def client_context(self, *, ca: str = "ca.pem", cert: str | None = None) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=self.path(ca))
        if cert is not None:
            context.load_cert_chain(self.path(f"{cert}.pem"), self.path(f"{cert}.key"))
        return context


def _openssl(cwd: Path, *args: str) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def _make_ca(cwd: Path, name: str, subject: str) -> None:
    _openssl(
        cwd, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
        "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.pem", "-days", "2",
        "-subj", subject,
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    )  # fmt: skip


def _make_leaf(cwd: Path, name: str, ca: str, subject: str, extensions: str) -> None:
    (cwd / f"{name}.ext").write_text(
        "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
        "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n" + extensions
    )
    _openssl(
        cwd, "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
        "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", subject,
    )  # fmt: skip
    _openssl(
        cwd, "x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key",
        "-CAcreateserial", "-out", f"{name}.pem", "-days", "2", "-extfile", f"{name}.ext",
    )  # fmt: skip


@pytest.fixture(scope="session", name="pki")
def pki_fixture(tmp_path_factory: pytest.TempPathFactory) -> PKI:
    cwd = tmp_path_factory.mktemp("tls-pki")
    _make_ca(cwd, "ca", "/CN=spindle test CA")
    _make_ca(cwd, "stranger", "/CN=a CA nobody trusts")
    _make_leaf(
        cwd, "server", "ca", "/CN=localhost",
        "extendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n",
    )  # fmt: skip
    _make_leaf(cwd, "client", "ca", "/CN=spindle test client", "extendedKeyUsage=clientAuth\n")
    _make_leaf(cwd, "impostor", "stranger", "/CN=impostor", "extendedKeyUsage=clientAuth\n")
    return PKI(cwd)


# -- fixtures ----------------------------------------------------------------------------------


def _has_tcp(loop: Loop) -> bool:
    return type(loop).create_server is not asyncio.AbstractEventLoop.create_server


@pytest.fixture(name="loop")
def loop_fixture(any_loop: Loop) -> Loop:
    """``any_loop``, once it can make TCP connections (spindle's transports land separately)."""
    if not _has_tcp(any_loop):
        pytest.skip("spindle's TCP transports (create_connection/create_server) are not there yet")
    return any_loop


def run(loop: Loop, coro: Awaitable[Any]) -> Any:
    return loop.run_until_complete(coro)


def start_tls_on(loop: Loop) -> Callable[..., Awaitable[asyncio.Transport]]:
    """spindle's loop.start_tls, or the same code (upgrade_to_tls) driven by asyncio's loop."""
    if type(loop).__module__.startswith("spindle"):
        return loop.start_tls  # type: ignore[return-value]
    return functools.partial(upgrade_to_tls, loop)


# -- application protocols that record what happens to them ----------------------------------


class App(asyncio.Protocol):
    """Records its callbacks in order; optionally greets, echoes, or closes after greeting."""

    def __init__(
        self, loop: Loop, *, greeting: bytes = b"", echo: bool = False, close: bool = False
    ) -> None:
        self.loop = loop
        self.greeting, self.echo, self.close_after_greeting = greeting, echo, close
        self.events: list[str] = []
        self.data = bytearray()
        self.transport: Any = None
        self.lost: asyncio.Future[BaseException | None] = loop.create_future()
        self.resumed: asyncio.Future[None] | None = None
        self.paused: asyncio.Future[None] = loop.create_future()  # the first pause_writing
        self._want: tuple[int, asyncio.Future[None]] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.events.append("made")
        self.transport = transport
        if self.greeting:
            self.transport.write(self.greeting)
        if self.close_after_greeting:
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        self.data += data
        if self.echo:
            self.transport.write(data)
        self._check_want()

    def eof_received(self) -> None:
        self.events.append("eof")

    def connection_lost(self, exc: Exception | None) -> None:
        self.events.append("lost")
        self.lost.set_result(exc)
        if self._want is not None and not self._want[1].done():
            self._want[1].set_exception(ConnectionError(f"lost after {len(self.data)} bytes"))

    def pause_writing(self) -> None:
        self.events.append("pause_writing")
        self.resumed = self.loop.create_future()
        if not self.paused.done():
            self.paused.set_result(None)

    def resume_writing(self) -> None:
        self.events.append("resume_writing")
        assert self.resumed is not None
        self.resumed.set_result(None)
        self.resumed = None

    async def received(self, nbytes: int) -> bytes:
        """Wait until ``nbytes`` have arrived in all."""
        if len(self.data) < nbytes:
            self._want = (nbytes, self.loop.create_future())
            await self._want[1]
        return bytes(self.data)

    def _check_want(self) -> None:
        want = self._want
        if want is not None and len(self.data) >= want[0] and not want[1].done():
            want[1].set_result(None)


class BackpressureEcho(App):
    """Echoes, and stops reading while its own writes are paused (what a good server does)."""

    def __init__(self, loop: Loop, *, start_paused: bool = False) -> None:
        super().__init__(loop, echo=True)
        self.start_paused = start_paused

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        if self.start_paused:
            self.transport.pause_reading()

    def pause_writing(self) -> None:
        super().pause_writing()
        self.transport.pause_reading()

    def resume_writing(self) -> None:
        super().resume_writing()
        self.transport.resume_reading()


def shrink_kernel_buffers(reader: App, sender: App) -> None:
    """Small socket buffers, so that a sender's pause comes from spindle's TLS layer (pausing
    the transport below it) and not from megabytes of loopback buffering in the kernel."""
    reader.transport.get_extra_info("socket").setsockopt(
        socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024
    )
    sender.transport.get_extra_info("socket").setsockopt(
        socket.SOL_SOCKET, socket.SO_SNDBUF, 64 * 1024
    )


def holds_back(transport: SSLTransport) -> bool:
    """Whether a TLS transport holds more ciphertext than its read limit, which is when it
    pauses the transport below it."""
    return transport.get_read_buffer_size() > transport.get_read_buffer_limits()[1]


async def until(condition: Callable[[], bool]) -> None:
    """Let the loop run until ``condition()`` holds (a state to reach, not a time to wait)."""
    while not condition():
        await asyncio.sleep(0.001)


class SmallBuffers(asyncio.BufferedProtocol):
    """A BufferedProtocol application that takes at most 1000 bytes at a time."""

    def __init__(self, loop: Loop) -> None:
        self.buffer = bytearray(1000)
        self.data = bytearray()
        self.events: list[str] = []
        self.lost: asyncio.Future[BaseException | None] = loop.create_future()
        self.some_data: asyncio.Future[None] = loop.create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.events.append("made")

    def get_buffer(self, sizehint: int) -> bytearray:
        return self.buffer

    def buffer_updated(self, nbytes: int) -> None:
        self.data += self.buffer[:nbytes]
        if not self.some_data.done():
            self.some_data.set_result(None)

    def eof_received(self) -> None:
        self.events.append("eof")

    def connection_lost(self, exc: Exception | None) -> None:
        self.events.append("lost")
        self.lost.set_result(exc)


# -- connecting --------------------------------------------------------------------------------


@dataclass
class Served:
    server: asyncio.AbstractServer
    port: int
    waiters: list[asyncio.Future[None]]  # one per accepted connection: its handshake


async def serve(
    loop: Loop,
    make_app: Callable[[], asyncio.BaseProtocol],
    context: ssl.SSLContext | None,
    **tls_args: Any,
) -> Served:
    """A TLS server with spindle's TLSProtocol on ``loop`` (plain TCP when context is None)."""
    waiters: list[asyncio.Future[None]] = []

    def factory() -> asyncio.BaseProtocol:
        if context is None:
            return make_app()
        waiter: asyncio.Future[None] = loop.create_future()
        waiters.append(waiter)
        return TLSProtocol(loop, make_app(), context, waiter, server_side=True, **tls_args)

    server = await loop.create_server(factory, "127.0.0.1", 0)
    return Served(server, server.sockets[0].getsockname()[1], waiters)


async def stop(served: Served) -> None:
    served.server.close()
    await served.server.wait_closed()


async def connect(
    loop: Loop,
    app: asyncio.BaseProtocol,
    port: int,
    context: ssl.SSLContext,
    server_hostname: str | None = "localhost",
    **tls_args: Any,
) -> TLSProtocol:
    """A TLS client connection to 127.0.0.1:port, returned once the handshake succeeded."""
    waiter: asyncio.Future[None] = loop.create_future()
    tls = TLSProtocol(loop, app, context, waiter, server_hostname=server_hostname, **tls_args)
    await loop.create_connection(lambda: tls, "127.0.0.1", port)
    await waiter
    return tls


async def send_with_backpressure(app: App, payload: bytes, on_pause: Callable[[], None]) -> None:
    """Write ``payload`` in 64 KiB pieces, waiting whenever the transport pauses ``app``."""
    view = memoryview(payload)
    for start in range(0, len(payload), 64 * 1024):
        if app.resumed is not None:
            on_pause()
            await app.resumed
        app.transport.write(view[start : start + 64 * 1024])


class Sender(App):
    """Once told to go, sends a payload as fast as its transport lets it, then closes."""

    def __init__(self, loop: Loop, payload: bytes) -> None:
        super().__init__(loop)
        self.payload = payload
        self.go: asyncio.Future[None] = loop.create_future()
        self.task: asyncio.Task[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.task = self.loop.create_task(self._send())

    async def _send(self) -> None:
        await self.go
        await send_with_backpressure(self, self.payload, lambda: None)
        self.transport.close()


class ThreadPeer:
    """A TLS server on a blocking ``ssl`` socket in a thread, reporting what it saw."""

    def __init__(self, pki: PKI, script: Callable[[ssl.SSLSocket], str]) -> None:
        self.context = pki.server_context()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.script = script
        self.outcome = ""
        self.release = threading.Event()
        self.thread = threading.Thread(target=self._run)
        self.thread.start()

    def _run(self) -> None:
        try:
            conn, _ = self.listener.accept()
            with self.context.wrap_socket(
                conn, server_side=True, suppress_ragged_eofs=False
            ) as tls:
                self.outcome = self.script(tls)
        except Exception as exc:
            self.outcome = f"failed: {exc!r}"
        finally:
            self.listener.close()

    def join(self) -> str:
        self.release.set()
        self.thread.join(10)
        return self.outcome


def wait_for_the_end(tls: ssl.SSLSocket) -> str:
    """Greet, then read until the client ends: close_notify (then answer it), or a bare EOF."""
    tls.sendall(b"ready")
    try:
        data = tls.recv(100)
    except ssl.SSLEOFError:
        return "EOF without close_notify"
    except ConnectionResetError:
        return "connection reset"
    assert data == b"", data
    tls.unwrap()  # answers the close_notify
    return "close_notify"
