"""Streams: asyncio's ``asyncio.streams`` names (``open_connection``, ``StreamReader``, ...)."""

import socket

from spindle.streams.connections import _DEFAULT_LIMIT as _DEFAULT_LIMIT
from spindle.streams.connections import (
    FlowControlMixin,
    StreamReader,
    StreamReaderProtocol,
    StreamWriter,
    open_connection,
    start_server,
)
from spindle.streams.protocol import ClientConnectedCallback as ClientConnectedCallback
from spindle.streams.reader import DEFAULT_LIMIT as DEFAULT_LIMIT

if hasattr(socket, "AF_UNIX"):
    from spindle.streams.connections import open_unix_connection, start_unix_server

__all__ = [
    "FlowControlMixin",
    "StreamReader",
    "StreamReaderProtocol",
    "StreamWriter",
    "open_connection",
    "open_unix_connection",
    "start_server",
    "start_unix_server",
]
