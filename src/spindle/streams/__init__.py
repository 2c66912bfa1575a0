"""Streams: asyncio's ``asyncio.streams``, under the same names.

    reader.py        StreamReader: buffered bytes, read as lines, exact sizes or up to a separator
    writer.py        StreamWriter: a transport's write side, and drain() for backpressure
    flow_control.py  FlowControlMixin: the pause/resume/drain handshake behind drain()
    protocol.py      StreamReaderProtocol: a transport's callbacks feeding a reader/writer pair
    connections.py   open_connection, start_server and their Unix variants
"""

import socket

from spindle.streams.connections import open_connection, start_server
from spindle.streams.flow_control import FlowControlMixin
from spindle.streams.protocol import ClientConnectedCallback as ClientConnectedCallback
from spindle.streams.protocol import StreamReaderProtocol
from spindle.streams.reader import DEFAULT_LIMIT as DEFAULT_LIMIT
from spindle.streams.reader import StreamReader
from spindle.streams.writer import StreamWriter

if hasattr(socket, "AF_UNIX"):
    from spindle.streams.connections import open_unix_connection, start_unix_server

_DEFAULT_LIMIT = DEFAULT_LIMIT  # asyncio's name, which some libraries import

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
