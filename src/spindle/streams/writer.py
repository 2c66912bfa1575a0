"""``StreamWriter``: a transport's write side, plus ``drain()`` for backpressure.

``write()`` never blocks and never refuses: the transport sends what it can and buffers the
rest.  Backpressure is ``drain()``: it waits while the transport has told the protocol to pause
writing (see ``flow_control``), so ``write(); await drain()`` in a loop keeps the buffer
bounded however fast the producer is.  ``drain()`` is also where a broken connection surfaces:
it raises the reader's error if there is one, and when the transport is already closing it
first gives the loop one turn, so that ``connection_lost`` runs and the next ``drain()``
raises, instead of spinning forever on a dead socket.

A writer owns its connection: dropping one that was never closed closes the transport and
warns (``ResourceWarning: unclosed <StreamWriter ...>``), as recent asyncio releases do.
"""

from __future__ import annotations

import asyncio
import ssl
import warnings
from collections.abc import Iterable
from typing import Any

from spindle.streams.flow_control import FlowControlMixin, WritingState
from spindle.streams.reader import StreamReader
from spindle.tasks import sleep

__all__ = ["StreamWriter"]

Bytes = bytes | bytearray | memoryview


class StreamWriter:
    """Writes to a transport; ``drain()`` waits for the transport to catch up."""

    def __init__(
        self,
        transport: asyncio.WriteTransport,
        protocol: FlowControlMixin,
        reader: StreamReader | None,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        if reader is not None and not isinstance(reader, StreamReader):
            # drain() asks the reader for its error; anything else would fail there, later.
            raise TypeError(
                f"a StreamWriter's reader must be a StreamReader or None, not {type(reader)!r}"
            )
        self._transport = transport
        self._protocol = protocol
        self._reader = reader
        self._loop = loop

    def __repr__(self) -> str:
        info = [type(self).__name__, f"transport={self._transport!r}"]
        if self._reader is not None:
            info.append(f"reader={self._reader!r}")
        return f"<{' '.join(info)}>"

    @property
    def transport(self) -> asyncio.WriteTransport:
        return self._transport

    def write(self, data: Bytes) -> None:
        self._transport.write(data)

    def writelines(self, data: Iterable[Bytes]) -> None:
        self._transport.writelines(data)

    def write_eof(self) -> None:
        self._transport.write_eof()

    def can_write_eof(self) -> bool:
        return self._transport.can_write_eof()

    def close(self) -> None:
        self._transport.close()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    async def wait_closed(self) -> None:
        """Wait until the connection is closed; raise the error it was lost with, if any."""
        await self._protocol._get_close_waiter(self)

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._transport.get_extra_info(name, default)

    async def drain(self) -> None:
        """Wait until the transport's buffer is below its high-water mark.

        Raises the reader's error, or ``ConnectionResetError`` once the connection is lost.
        """
        reader = self._reader
        if reader is not None and reader._exception is not None:
            raise reader._exception
        if self._transport.is_closing():
            # Let connection_lost() run: without this turn, a `write(); await drain()` loop on
            # a closing transport would never yield, never see the error, and spin forever.
            await sleep(0)
        protocol = self._protocol
        # FAST PATH: _drain_helper returns at once while writing flows; checked here, a drain
        # that has nothing to wait for makes no coroutine.  tests/io/test_streams.py holds it
        # to awaiting _drain_helper in every writing state.
        if protocol._writing is not WritingState.FLOWING:
            await protocol._drain_helper()

    async def start_tls(
        self,
        sslcontext: ssl.SSLContext,
        *,
        server_hostname: str | None = None,
        ssl_handshake_timeout: float | None = None,
        ssl_shutdown_timeout: float | None = None,
    ) -> None:
        """Upgrade this connection to TLS in place (the reader and writer carry on over it)."""
        protocol = self._protocol
        await self.drain()
        transport = await self._loop.start_tls(
            self._transport,
            protocol,
            sslcontext,
            server_side=protocol._is_server_side(),
            server_hostname=server_hostname,
            ssl_handshake_timeout=ssl_handshake_timeout,
            ssl_shutdown_timeout=ssl_shutdown_timeout,
        )
        if transport is None:
            raise RuntimeError("cannot start TLS: the loop's start_tls() returned no transport")
        self._transport = transport
        protocol._replace_transport(transport)

    def __del__(self) -> None:
        try:
            transport = self._transport
        except AttributeError:
            return  # the constructor failed: there is nothing to close
        if transport.is_closing():
            return
        if self._loop.is_closed():
            warnings.warn("loop is closed", ResourceWarning, stacklevel=1)
        else:
            self.close()
            warnings.warn(f"unclosed {self!r}", ResourceWarning, source=self, stacklevel=1)
