"""The load generator: ``python -m bench.echo.client [IMPL]`` (default uvloop).

Every implementation's server is loaded by the same client, on one fixed implementation
(uvloop, the fastest loop at hand, so the client is rarely what limits the rate), in a process of
its own.  It keeps one loop for its whole life and answers JSON lines:

* ``{"connect": port, "conns": n}``: open ``n`` connections to ``port``;
* ``{"run": {"size": bytes, "per_conn": k}}``: on every connection at once, ``k`` round trips
  of a ``size``-byte message (send it, wait until ``size`` bytes have come back, repeat);
  answers ``{"seconds": wall time, "requests": n * k}``;
* ``{"close": true}``: close the connections.

The client is written with protocols rather than streams so that its own cost per request is as
small as the loop allows.  A connection lost in the middle of a run fails that run.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
import traceback
from typing import Any

from bench.api import TransportLike
from bench.lines import load_or_report, send

__all__ = ["DEFAULT_IMPL", "EchoClient", "main"]

DEFAULT_IMPL = "uvloop"


class EchoClient(asyncio.Protocol):
    """One connection, doing round trips one after the other."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._transport: TransportLike | None = None
        self._expected = 0
        self._received = 0
        self._waiter: asyncio.Future[None] | None = None
        self._lost: BaseException | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, TransportLike)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        self._received += len(data)
        waiter = self._waiter
        if self._received >= self._expected and waiter is not None and not waiter.done():
            waiter.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = exc or ConnectionResetError("the server closed the connection")
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(self._lost)

    async def round_trips(self, message: bytes, count: int) -> None:
        assert self._transport is not None
        for _ in range(count):
            if self._lost is not None:
                raise self._lost
            self._received = 0
            self._expected = len(message)
            self._waiter = self._loop.create_future()
            self._transport.write(message)
            await self._waiter

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


class Load:
    """The client's connections, and the requests that drive them."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._clients: list[EchoClient] = []

    async def connect(self, port: int, conns: int) -> dict[str, Any]:
        for _ in range(conns):
            _, client = await self._loop.create_connection(
                lambda: EchoClient(self._loop), "127.0.0.1", port
            )
            self._clients.append(client)
        return {"ok": True}

    async def run(self, size: int, per_conn: int) -> dict[str, Any]:
        message = b"x" * size
        start = time.perf_counter()
        await asyncio.gather(*(c.round_trips(message, per_conn) for c in self._clients))
        seconds = time.perf_counter() - start
        return {"seconds": seconds, "requests": per_conn * len(self._clients)}

    async def close(self) -> dict[str, Any]:
        for client in self._clients:
            client.close()
        self._clients.clear()
        await asyncio.sleep(0)  # let the transports finish closing before the next connect
        return {"ok": True}


async def _answer(load_: Load, request: dict[str, Any]) -> dict[str, Any]:
    try:
        if "connect" in request:
            return await load_.connect(int(request["connect"]), int(request["conns"]))
        if "run" in request:
            return await load_.run(int(request["run"]["size"]), int(request["run"]["per_conn"]))
        if request.get("close"):
            return await load_.close()
        return {"error": f"unknown request {request!r}"}
    except Exception:
        return {"error": traceback.format_exc()}


def main(argv: list[str]) -> int:
    if len(argv) > 1:
        print("usage: python -m bench.echo.client [IMPL]", file=sys.stderr)
        return 2
    impl = load_or_report(argv[0] if argv else DEFAULT_IMPL)
    if impl is None:
        return 0
    with impl.open_loop() as running:
        load_ = Load(running.loop)
        send({"ready": impl.version, "build": impl.build})
        for line in sys.stdin:
            send(running.run(_answer(load_, json.loads(line))))
        running.run(load_.close())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
