"""The echo server, on the implementation under test: ``python -m bench.echo.server IMPL``.

It serves three echo servers on loopback, on ports the kernel picks:

* ``protocol``: ``loop.create_server`` with a protocol whose ``data_received`` writes the data
  back: the transports alone, no task per connection;
* ``streams``: the implementation's own ``start_server`` (``spindle.start_server`` on spindle),
  a handler task per connection looping ``read`` / ``write`` / ``drain``;
* ``streams-asyncio``: the same handler under ``asyncio.start_server`` on the same loop, which
  is what an unmodified program runs under ``spindle.install()``.

The process speaks JSON lines like every bench worker: it first answers
``{"ready": version, "build": ..., "ports": {kind: port}}`` (or ``{"unavailable": reason}``),
then ``{"mark": true}`` with ``{"cpu": seconds}``: the CPU time (user + system, all threads, so a
diagnostics thread counts) the process has used so far.  The driver asks before and after a
measured phase, while the client is idle, so the difference is the CPU the serving cost.  The
control channel is read by the loop itself (``add_reader`` on stdin): no thread of ours competes
with the loop, and a mark is answered between two passes.  Stdin closing stops the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import resource
import socket
import sys
from typing import Any

from bench.api import ReaderLike, TransportLike, WriterLike
from bench.impls import Impl
from bench.lines import load_or_report, send

__all__ = ["HOST", "READ_SIZE", "EchoProtocol", "echo_stream", "main"]

HOST = "127.0.0.1"
# The streams handler reads at most this much at a time, as an echo server commonly does.
READ_SIZE = 64 * 1024


class EchoProtocol(asyncio.Protocol):
    """Writes back whatever it receives."""

    def __init__(self) -> None:
        self._transport: TransportLike | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, TransportLike)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        assert self._transport is not None
        self._transport.write(data)


async def echo_stream(reader: ReaderLike, writer: WriterLike) -> None:
    """The streams handler: read, write back, drain, until the client closes."""
    try:
        while data := await reader.read(READ_SIZE):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass  # the client went away mid-write: the end of this connection, not a failure
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


def cpu_seconds() -> float:
    """User plus system CPU time of this process so far, every thread included."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _answer(line: bytes) -> dict[str, Any]:
    request = json.loads(line)
    if request.get("mark"):
        return {"cpu": cpu_seconds()}
    return {"error": f"unknown request {request!r}"}


async def serve(impl: Impl, control: int) -> None:
    """Serve until ``control`` (the driver's pipe) reaches end of file."""
    loop = asyncio.get_running_loop()
    servers = {
        "protocol": await loop.create_server(EchoProtocol, HOST, 0),
        "streams": await impl.api.start_server(echo_stream, HOST, 0),
        "streams-asyncio": await asyncio.start_server(echo_stream, HOST, 0),
    }
    ports = {kind: _port(server) for kind, server in servers.items()}
    stopped: asyncio.Future[None] = loop.create_future()
    pending = bytearray()

    def on_control() -> None:
        chunk = os.read(control, 4096)
        if not chunk:
            if not stopped.done():
                stopped.set_result(None)
            return
        pending.extend(chunk)
        while (end := pending.find(b"\n")) >= 0:
            line = bytes(pending[:end])
            del pending[: end + 1]
            send(_answer(line))

    loop.add_reader(control, on_control)
    send({"ready": impl.version, "build": impl.build, "ports": ports})
    try:
        await stopped
    finally:
        loop.remove_reader(control)
        for server in servers.values():
            server.close()
        for server in servers.values():
            await server.wait_closed()


def _port(server: asyncio.AbstractServer) -> int:
    """The port ``server`` listens on (``sockets``: every implementation's servers have it)."""
    sockets: list[socket.socket] = list(getattr(server, "sockets", []))
    port: int = sockets[0].getsockname()[1]
    return port


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m bench.echo.server IMPL", file=sys.stderr)
        return 2
    impl = load_or_report(argv[0])
    if impl is None:
        return 0
    with impl.open_loop() as running:
        running.run(serve(impl, sys.stdin.fileno()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
