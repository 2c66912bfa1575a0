"""``open_connection`` and ``start_server`` (and their Unix variants): streams over the loop.

asyncio's high-level networking API.  Each helper below is a few lines of assembly on the
*running* loop's transport methods (``create_connection``, ``create_server``, and the Unix
variants): a ``StreamReader`` for incoming bytes, a ``StreamReaderProtocol`` that feeds it,
and a ``StreamWriter`` over the transport.  They are written against the public
``AbstractEventLoop`` surface only, so they behave the same on spindle's loop and on any
other; every extra keyword (``ssl=``, ``family=``, ``reuse_port=``, ``keep_alive=``, ...) goes
straight to the loop method.
"""

from __future__ import annotations

import asyncio
import os
import socket
from typing import Any

from spindle import events
from spindle.streams.protocol import ClientConnectedCallback, StreamReaderProtocol
from spindle.streams.reader import DEFAULT_LIMIT, StreamReader
from spindle.streams.writer import StreamWriter

__all__ = ["open_connection", "open_unix_connection", "start_server", "start_unix_server"]

StrPath = str | os.PathLike[str]


async def open_connection(
    host: str | None = None,
    port: int | str | None = None,
    *,
    limit: int = DEFAULT_LIMIT,
    **kwds: Any,
) -> tuple[StreamReader, StreamWriter]:
    """Connect (``loop.create_connection(host, port, **kwds)``) and return ``(reader, writer)``."""
    loop = events.get_running_loop()
    reader = StreamReader(limit=limit, loop=loop)
    protocol = StreamReaderProtocol(reader, loop=loop)
    # typeshed's overloads tell `host, port` from `sock=` calls; kwds may carry either.
    transport, _ = await loop.create_connection(lambda: protocol, host, port, **kwds)  # type: ignore[arg-type]
    return reader, StreamWriter(transport, protocol, reader, loop)


async def start_server(
    client_connected_cb: ClientConnectedCallback,
    host: str | list[str] | None = None,
    port: int | str | None = None,
    *,
    limit: int = DEFAULT_LIMIT,
    **kwds: Any,
) -> asyncio.Server:
    """Serve (``loop.create_server(...)``), calling ``client_connected_cb(reader, writer)``
    for each connection; a coroutine function is run as a task."""
    loop = events.get_running_loop()

    def factory() -> StreamReaderProtocol:
        reader = StreamReader(limit=limit, loop=loop)
        return StreamReaderProtocol(reader, client_connected_cb, loop=loop)

    return await loop.create_server(factory, host, port, **kwds)  # type: ignore[arg-type]


if hasattr(socket, "AF_UNIX"):

    async def open_unix_connection(
        path: StrPath | None = None, *, limit: int = DEFAULT_LIMIT, **kwds: Any
    ) -> tuple[StreamReader, StreamWriter]:
        """``open_connection`` over a Unix socket (``loop.create_unix_connection``)."""
        loop = events.get_running_loop()
        reader = StreamReader(limit=limit, loop=loop)
        protocol = StreamReaderProtocol(reader, loop=loop)
        # asyncio accepts any path-like here; typeshed says str.
        transport, _ = await loop.create_unix_connection(
            lambda: protocol,
            path,  # type: ignore[arg-type]
            **kwds,
        )
        return reader, StreamWriter(transport, protocol, reader, loop)

    async def start_unix_server(
        client_connected_cb: ClientConnectedCallback,
        path: StrPath | None = None,
        *,
        limit: int = DEFAULT_LIMIT,
        **kwds: Any,
    ) -> asyncio.Server:
        """``start_server`` on a Unix socket (``loop.create_unix_server``)."""
        loop = events.get_running_loop()

        def factory() -> StreamReaderProtocol:
            reader = StreamReader(limit=limit, loop=loop)
            return StreamReaderProtocol(reader, client_connected_cb, loop=loop)

        return await loop.create_unix_server(factory, path, **kwds)
