"""``StreamReaderProtocol``: the adapter between a transport's callbacks and a reader/writer pair.

The transport calls the protocol (``data_received``, ``eof_received``, ``connection_lost``); the
protocol feeds its ``StreamReader`` and, through ``FlowControlMixin``, lets the writer's
``drain()`` wait.  It is a separate object rather than making the reader a protocol, so that a
reader has no transport callbacks a user could call by mistake.

On a server (``start_server``) the protocol is made before the connection exists, with the
user's ``client_connected_cb``.  When the connection arrives it builds the ``StreamWriter`` and
calls the callback with the pair.  A coroutine callback becomes a task; if that task fails, its
error goes to the loop's exception handler and the connection is closed, and if it is
cancelled the connection is closed too (3.12 behaviour): no handler error is silently lost, and
no connection outlives the code that was serving it.

The protocol holds its reader weakly (asyncio does the same, so that a stream the user drops
can be collected while the transport still points at the protocol); until a server connection
is made a strong reference keeps the freshly made reader alive.
"""

from __future__ import annotations

import asyncio
import functools
import traceback
import weakref
from collections.abc import Awaitable, Callable, Coroutine
from typing import cast

from spindle.streams.flow_control import FlowControlMixin
from spindle.streams.reader import StreamReader
from spindle.streams.writer import StreamWriter

__all__ = ["ClientConnectedCallback", "StreamReaderProtocol"]

# start_server's callback: a plain function, or a coroutine function (run as a task).
ClientConnectedCallback = Callable[[StreamReader, StreamWriter], Awaitable[None] | None]


class StreamReaderProtocol(FlowControlMixin, asyncio.Protocol):
    """Feeds a StreamReader from a transport; on servers, also hands out the stream pair."""

    _source_traceback: traceback.StackSummary | None = None

    def __init__(
        self,
        stream_reader: StreamReader | None,
        client_connected_cb: ClientConnectedCallback | None = None,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(loop=loop)
        self._stream_reader_wr: weakref.ref[StreamReader] | None = None
        if stream_reader is not None:
            self._stream_reader_wr = weakref.ref(stream_reader)
            self._source_traceback = stream_reader._source_traceback
        # Only a server's protocol needs it: nothing else refers to its reader yet.
        self._strong_reader = stream_reader if client_connected_cb is not None else None
        self._client_connected_cb = client_connected_cb
        self._task: asyncio.Task[None] | None = None
        self._transport: asyncio.BaseTransport | None = None
        self._over_ssl = False
        self._closed: asyncio.Future[None] = self._loop.create_future()

    @property
    def _stream_reader(self) -> StreamReader | None:
        return None if self._stream_reader_wr is None else self._stream_reader_wr()

    # -- transport callbacks ------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport
        reader = self._stream_reader
        if reader is not None:
            reader.set_transport(transport)
        self._over_ssl = transport.get_extra_info("sslcontext") is not None
        if self._client_connected_cb is not None and reader is not None:
            self._serve(self._client_connected_cb, reader, transport)
        self._strong_reader = None

    def data_received(self, data: bytes) -> None:
        # FAST PATH: the _stream_reader property, written out (one call less per chunk
        # received).  tests/io/test_streams.py holds it to the property.
        reader_ref = self._stream_reader_wr
        reader = None if reader_ref is None else reader_ref()
        if reader is not None:
            reader.feed_data(data)

    def eof_received(self) -> bool:
        reader = self._stream_reader
        if reader is not None:
            reader.feed_eof()
        # True keeps the transport open, so the writer can still answer a half-closed peer.
        # TLS cannot half-close: there, returning True would only earn a warning.
        return not self._over_ssl

    def connection_lost(self, exc: Exception | None) -> None:
        reader = self._stream_reader
        if reader is not None:
            if exc is None:
                reader.feed_eof()
            else:
                reader.set_exception(exc)
        if not self._closed.done():
            if exc is None:
                self._closed.set_result(None)
            else:
                self._closed.set_exception(exc)
                # Nobody has to await wait_closed(); an unawaited close error is not a bug
                # worth a "never retrieved" report.  Awaiting it still raises.
                self._closed.exception()
        super().connection_lost(exc)
        self._stream_reader_wr = None
        self._task = None
        self._transport = None

    # -- server side ----------------------------------------------------------------------

    def _serve(
        self,
        callback: ClientConnectedCallback,
        reader: StreamReader,
        transport: asyncio.BaseTransport,
    ) -> None:
        """Hand the new connection's stream pair to the user's callback."""
        # Every transport a stream server accepts is a full (read and write) transport.
        writer = StreamWriter(cast(asyncio.WriteTransport, transport), self, reader, self._loop)
        result = callback(reader, writer)
        if isinstance(result, Coroutine):
            task = self._loop.create_task(result)
            task.add_done_callback(functools.partial(self._client_done, transport=transport))
            self._task = task

    def _client_done(self, task: asyncio.Task[None], transport: asyncio.BaseTransport) -> None:
        if task.cancelled():
            transport.close()
            return
        exc = task.exception()
        if exc is not None:
            self._loop.call_exception_handler(
                {
                    "message": "Unhandled exception in client_connected_cb",
                    "exception": exc,
                    "transport": transport,
                }
            )
            transport.close()

    # -- for StreamWriter ---------------------------------------------------------------

    def _get_close_waiter(self, stream: object) -> asyncio.Future[None]:
        return self._closed

    def _is_server_side(self) -> bool:
        return self._client_connected_cb is not None

    def _replace_transport(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport
        self._over_ssl = transport.get_extra_info("sslcontext") is not None
