"""websockets, unmodified: server and client both on spindle's loop.

The API used is ``websockets.asyncio`` (the default ``websockets.serve``/``connect`` since
websockets 14; the older "legacy" implementation is deprecated).  These tests run through
``spindle.run``, the entry point a program would use.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest
from websockets.asyncio.client import connect
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosedError, ConnectionClosedOK

import spindle
from tests.conftest import ExceptionHandlerRecorder
from tests.integration.conftest import loop_module

pytestmark = pytest.mark.usefixtures("fd_guard")

T = TypeVar("T")
Handler = Callable[[ServerConnection], Awaitable[None]]


def echo_recording(closes: list[tuple[int | None, str | None]]) -> Handler:
    """A handler that echoes and adds each connection's close code and reason to ``closes``.

    "loop?" asks where the server runs; "bye" makes the server close with 1000 "done".
    """

    async def echo(connection: ServerConnection) -> None:
        try:
            async for message in connection:
                if message == "loop?":
                    await connection.send(loop_module())
                elif message == "bye":
                    await connection.close(1000, "done")
                else:
                    await connection.send(message)
        except ConnectionClosedError:
            pass  # a close code other than 1000 or 1001 ends the iteration with this error
        closes.append((connection.close_code, connection.close_reason))

    return echo


def serve_and_run(
    work: Callable[[Server, str], Awaitable[T]],
) -> tuple[T, list[tuple[int | None, str | None]]]:
    """Runs ``work(server, url)`` under ``spindle.run`` with the echo server serving.

    Returns what ``work`` returned and the close codes the server's connections saw.
    """

    async def main() -> T:
        asyncio.get_running_loop().set_exception_handler(recorder)
        async with serve(echo_recording(closes), "127.0.0.1", 0, max_size=None) as server:
            port = next(iter(server.sockets)).getsockname()[1]
            return await work(server, f"ws://127.0.0.1:{port}")
        # Leaving ``serve`` waits for the handlers, so ``closes`` is complete here.

    closes: list[tuple[int | None, str | None]] = []
    recorder = ExceptionHandlerRecorder()
    result = spindle.run(main())
    assert recorder.contexts == [], "unexpected calls of the loop's exception handler"
    return result, closes


def test_messages_round_trip_and_the_server_closes_with_its_code() -> None:
    async def work(server: Server, url: str) -> list[object]:
        async with connect(url, max_size=None) as ws:
            received: list[object] = []
            for message in ("loop?", "one", b"\x00\xff", "two"):
                await ws.send(message)
                received.append(await ws.recv())
            await ws.send("bye")
            with pytest.raises(ConnectionClosedOK) as closed:
                await ws.recv()
            assert closed.value.rcvd is not None
            received.append((closed.value.rcvd.code, closed.value.rcvd.reason))
            received.append((ws.close_code, ws.close_reason))
            return received

    received, closes = serve_and_run(work)
    assert received == [
        "spindle._io.loop", "one", b"\x00\xff", "two", (1000, "done"), (1000, "done"),
    ]  # fmt: skip
    assert closes == [(1000, "done")]


def test_the_client_closes_with_its_code() -> None:
    async def work(server: Server, url: str) -> tuple[int | None, str | None]:
        ws = await connect(url)
        await ws.send("hello")
        assert await ws.recv() == "hello"
        await ws.close(4000, "client leaves")
        return ws.close_code, ws.close_reason

    client_sees, server_sees = serve_and_run(work)
    assert client_sees == (4000, "client leaves")
    assert server_sees == [(4000, "client leaves")]


def test_many_clients_with_large_messages_and_pings() -> None:
    blob = os.urandom(512 * 1024)

    async def client(url: str, number: int) -> int:
        async with connect(url, max_size=None, compression=None) as ws:
            for n in range(10):
                await ws.send(f"{number}-{n}")
                assert await ws.recv() == f"{number}-{n}"
            pong = await ws.ping()
            await pong
            await ws.send(blob)
            assert await ws.recv() == blob
        return number

    async def work(server: Server, url: str) -> list[int]:
        return list(await asyncio.gather(*(client(url, n) for n in range(20))))

    assert serve_and_run(work) == (list(range(20)), [(1000, "")] * 20)


def test_closing_the_server_sends_going_away_to_its_clients() -> None:
    async def work(server: Server, url: str) -> tuple[int, str]:
        async with connect(url) as ws:
            await ws.send("hello")
            await ws.recv()
            server.close()
            with pytest.raises(ConnectionClosedOK) as closed:
                await ws.recv()
            await server.wait_closed()
        assert closed.value.rcvd is not None
        return closed.value.rcvd.code, closed.value.rcvd.reason

    assert serve_and_run(work) == ((1001, ""), [(1001, "")])
