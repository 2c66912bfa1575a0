"""A small HTTP/1.1 server on spindle's streams (``spindle.start_server``), for HTTP clients.

It is written against the streams API alone, so a client library talking to it exercises
spindle on both ends.  It understands just what the tests send: keep-alive connections,
``Content-Length`` and chunked request bodies.  Routes:

* ``GET /info``: JSON naming the loop it runs on and the number of its connection;
* ``GET /stream``: a chunked response of ``CHUNKS``, each flushed before the next is written;
* ``POST /digest``: JSON with the request body's size and SHA-256;
* ``GET /silent``: never answers; the connection stays open until the client gives up.
  ``Responder.silences`` gets "waiting" when such a request arrives and "abandoned" when its
  client closes the connection.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from dataclasses import dataclass, field
from ssl import SSLContext

import spindle

CHUNKS = [f"line {n}\n".encode() for n in range(5)]


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]


@dataclass
class Responder:
    """Counts the connections it has accepted; each request learns its connection's number."""

    connections: int = 0
    silences: spindle.Queue[str] = field(default_factory=spindle.Queue)

    async def serve(self, reader: spindle.StreamReader, writer: spindle.StreamWriter) -> None:
        self.connections += 1
        number = self.connections
        try:
            while (request := await read_request(reader)) is not None:
                if request.path == "/silent":
                    self.silences.put_nowait("waiting")
                    await reader.read()  # until the client closes its end
                    self.silences.put_nowait("abandoned")
                    break
                await self.respond(request, reader, writer, number)
        finally:
            writer.close()
            await writer.wait_closed()

    async def respond(
        self,
        request: Request,
        reader: spindle.StreamReader,
        writer: spindle.StreamWriter,
        number: int,
    ) -> None:
        if request.path == "/stream":
            writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            for chunk in CHUNKS:
                writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                await writer.drain()
            writer.write(b"0\r\n\r\n")
        else:
            body = await read_body(reader, request.headers)
            if request.path == "/digest":
                reply = {"size": len(body), "sha256": hashlib.sha256(body).hexdigest()}
            else:
                loop = type(asyncio.get_running_loop()).__module__
                reply = {"loop": loop, "connection": number}
            write_json(writer, reply)
        await writer.drain()


async def read_request(reader: spindle.StreamReader) -> Request | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None  # the client closed the connection between requests
    request_line, *header_lines = head.decode("latin-1").split("\r\n")[:-2]
    method, path, _ = request_line.split(" ")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return Request(method, path, headers)


async def read_body(reader: spindle.StreamReader, headers: dict[str, str]) -> bytes:
    if headers.get("transfer-encoding") == "chunked":
        body = bytearray()
        while size := int((await reader.readuntil(b"\r\n"))[:-2], 16):
            body += (await reader.readexactly(size + 2))[:-2]
        await reader.readuntil(b"\r\n")  # the empty trailer
        return bytes(body)
    return await reader.readexactly(int(headers.get("content-length", "0")))


def write_json(writer: spindle.StreamWriter, reply: object) -> None:
    body = json.dumps(reply).encode()
    head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}"
    writer.write(head.encode() + b"\r\n\r\n" + body)


async def start(
    responder: Responder, ssl: SSLContext | None = None
) -> tuple[asyncio.AbstractServer, int]:
    """Starts serving on an ephemeral loopback port (over TLS when given ``ssl``)."""
    server = await spindle.start_server(responder.serve, "127.0.0.1", 0, ssl=ssl)
    port: int = server.sockets[0].getsockname()[1]
    return server, port
