"""Fixes that other projects' test suites (``tests/peers``) led to, each checked directly.

Every test runs on spindle's loop and on asyncio's, over real loopback sockets, so asyncio is
the reference for each expectation.  The suite and test that found each one is named in its
docstring.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import shutil
import socket
import ssl
import weakref
from typing import BinaryIO

import pytest

from tests.io.conftest import gc_disabled, is_spindle
from tests.io.tls_support import (
    PKI,
    App,
    Loop,
    loop_fixture,  # noqa: F401  (the loop fixture)
    pki_fixture,  # noqa: F401  (the pki fixture)
    run,
)

pytestmark = [
    pytest.mark.usefixtures("fd_guard"),
    pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command"),
]

REFUSAL = b"HTTP/1.1 426 Upgrade Required\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


class Refuses(App):
    """An HTTP server's connection that answers any request with a refusal, then closes."""

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.data.endswith(b"\r\n\r\n"):
            self.transport.write(REFUSAL)
            self.transport.close()  # close_notify, then the wait for the client's end


class Refused(Exception):
    """What the client raises: like urllib's HTTPError, it holds the response, whose reader
    keeps the connection open."""

    def __init__(self, response: BinaryIO) -> None:
        super().__init__("refused")
        self.response = response


def blocking_request(port: int, context: ssl.SSLContext) -> None:
    """An HTTPS request on a blocking socket, as urllib makes it in an executor thread."""
    raw = socket.create_connection(("127.0.0.1", port))
    sock = context.wrap_socket(raw, server_hostname="localhost")
    sock.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
    response = sock.makefile("rb")
    sock.close()  # the response's reader keeps the connection open, as in http.client
    while response.readline() not in (b"\r\n", b""):
        pass
    raise Refused(response)  # the connection closes when the exception goes


@pytest.mark.parametrize("wait", ["run_until_complete", "await"])
def test_an_error_from_an_executor_thread_is_freed_and_its_socket_closes(
    loop: Loop, pki: PKI, wait: str
) -> None:
    """websockets, ``SecureClientServerTests.test_http_request_ws_endpoint``: urllib's
    HTTPError, raised in an executor thread, holds the response's TLS socket.  Once the caller
    dropped it the socket must close at once, without the garbage collector, so that the
    server, waiting for the client's end after its close_notify, loses the connection.  On
    spindle a reference cycle (through the thread's future, and the frames of ``await``) kept
    the error, and the socket, until the collector ran."""
    executor = concurrent.futures.ThreadPoolExecutor(1)
    server_side: list[Refuses] = []
    errors: list[weakref.ref[Refused]] = []

    def make_server_side() -> Refuses:
        server_side.append(Refuses(loop))
        return server_side[-1]

    async def request(port: int) -> None:
        try:
            await loop.run_in_executor(executor, blocking_request, port, pki.client_context())
        except Refused as exc:
            errors.append(weakref.ref(exc))

    async def wait_for_the_server(server: asyncio.AbstractServer) -> object:
        lost = await asyncio.wait_for(server_side[0].lost, 10)  # bounds a hang, times nothing
        server.close()
        await server.wait_closed()
        return lost

    with gc_disabled():
        server = run(
            loop, loop.create_server(make_server_side, "127.0.0.1", 0, ssl=pki.server_context())
        )
        port = server.sockets[0].getsockname()[1]
        try:
            if wait == "await":
                run(loop, request(port))
            else:
                try:
                    run(
                        loop,
                        loop.run_in_executor(
                            executor, blocking_request, port, pki.client_context()
                        ),
                    )
                except Refused as exc:
                    # As unittest's assertRaises does (websockets' test uses it): asyncio's
                    # run_until_complete is Python code whose frame holds the future.
                    exc.with_traceback(None)
                    errors.append(weakref.ref(exc))
            executor.shutdown()  # its thread lets go of the work item it ran
            assert len(errors) == 1
            assert errors[0]() is None, "the error (and its socket) outlived the caller"
            # The client may close with our close_notify unread: its kernel then resets.
            assert isinstance(
                run(loop, wait_for_the_server(server)), (type(None), ConnectionResetError)
            )
            assert server_side[0].data.startswith(b"GET / HTTP/1.1\r\n")
        finally:
            executor.shutdown()
            server.close()


def test_start_tls_on_a_connection_that_is_closing_answers_none(loop: Loop, pki: PKI) -> None:
    """aiohttp, ``test_connector.py::test_start_tls_connection_returns_none``: asyncio's
    ``start_tls`` returns None for a transport closed before the upgrade, and aiohttp turns
    that into its ClientConnectorError ("Failed to start TLS"); spindle raised a RuntimeError,
    which went past aiohttp's error handling to the application."""
    with socket.create_server(("127.0.0.1", 0)) as listener:

        async def main() -> None:
            old, new = App(loop), App(loop)
            transport, _ = await loop.create_connection(lambda: old, *listener.getsockname())
            transport.close()
            upgraded = await loop.start_tls(
                transport, new, pki.client_context(), server_hostname="localhost"
            )
            assert upgraded is None
            await asyncio.sleep(0)
            if is_spindle(loop):
                # The transport is left alone: its own protocol hears the end, and the new
                # one, never connected, hears nothing (asyncio tells the new one instead).
                assert (old.events, new.events) == (["made", "lost"], [])

        run(loop, main())
