"""``StreamReader``: bytes from a transport, read as lines, exact sizes or up to a separator.

A protocol pushes bytes in (``feed_data``, ``feed_eof``, ``set_exception``) and one task at a
time pulls them out with the ``read*`` coroutines.  The unread bytes live in ``_buffer``, a
``bytearray``, under asyncio's name and with asyncio's meaning, because real libraries
(redis-py among them) look at ``StreamReader._buffer`` directly.

Three decisions keep it linear-time however the bytes are chunked:

* **A bytearray is already the right queue.**  CPython appends to a bytearray in amortised
  O(1) and deletes from its front by moving a start offset, so ``extend`` + ``del buf[:n]``
  never copies the whole buffer per read.  Nothing fancier (a deque of chunks) is needed, and
  ``_buffer`` stays a plain bytearray.
* **A waiter says what it needs.**  ``readexactly(n)`` waits for ``n`` bytes, ``readuntil``
  for one of its separators (or for the limit to be overrun), and ``feed_data`` wakes it only
  when that has arrived (or at EOF or error).  asyncio wakes the reader on every chunk; a
  1 MiB read, or a long line, arriving in 4 KiB chunks costs it 256 task steps, spindle one.
* **A search remembers where it stopped.**  Both ``feed_data`` (deciding whether to wake
  ``readuntil``) and ``readuntil`` itself scan only the bytes that arrived since the last look,
  keeping back ``len(separator) - 1`` bytes where a separator may be split across chunks, so
  every byte is searched at most twice however it is chunked.

Flow control: past ``2 * limit`` buffered bytes the reader pauses its transport, and resumes it
once a read brings the buffer down to ``limit``.  It never pauses while a waiter is still short
of what it asked for: that reader needs more bytes, and pausing would deadlock it (asyncio
resumes the transport in that case; spindle does not pause in the first place).

The reading end's state is asyncio's pair of attributes (``_eof``, ``_exception``) rather than
an enum: they are independent (an error may arrive after EOF, and buffered data stays readable
after EOF), and code in the wild reads them under these names.
"""

from __future__ import annotations

import asyncio
import sys
import traceback
from collections.abc import Sequence
from typing import cast

from spindle import events
from spindle._core.futures import note_owner
from spindle._core.timers import refuse_nan
from spindle.exceptions import IncompleteReadError, LimitOverrunError

__all__ = ["DEFAULT_LIMIT", "StreamReader", "find_separator", "sorted_separators"]

# asyncio's default: the longest line (or readuntil chunk) a reader accepts, and half the
# buffer size at which it pauses its transport.
DEFAULT_LIMIT = 2**16

Bytes = bytes | bytearray | memoryview


def sorted_separators(separator: Bytes | tuple[Bytes, ...]) -> list[Bytes]:
    """The separators of ``readuntil``, shortest first; ValueError for an empty one (asyncio's)."""
    separators = sorted(separator, key=len) if isinstance(separator, tuple) else [separator]
    if not separators:
        raise ValueError("Separator should contain at least one element")
    if len(separators[0]) == 0:
        raise ValueError("Separator should be at least one-byte string")
    return separators


def find_separator(
    buffer: bytearray, separators: Sequence[Bytes], start: int
) -> tuple[int, int] | None:
    """``(match start, match end)`` of the match ending first at or after ``start``, or None.

    With several separators the shortest result wins (asyncio 3.13's rule): ``b"\\r\\n"`` and
    ``b"\\n"`` on ``b"ab\\r\\n"`` match ``b"ab\\r\\n"``, the ``b"\\r\\n"`` one ending at 4.
    """
    best: tuple[int, int] | None = None
    for separator in separators:
        index = buffer.find(separator, start)
        if index != -1 and (best is None or index + len(separator) < best[1]):
            best = (index, index + len(separator))
    return best


class StreamReader:
    """Buffered bytes from a transport, read by one task at a time."""

    _source_traceback: traceback.StackSummary | None = None

    def __init__(
        self, limit: int = DEFAULT_LIMIT, loop: asyncio.AbstractEventLoop | None = None
    ) -> None:
        if limit <= 0:
            raise ValueError("Limit cannot be <= 0")
        refuse_nan(limit, "StreamReader limit")
        self._limit = limit
        self._loop = events.get_event_loop() if loop is None else loop
        self._buffer = bytearray()
        self._eof = False
        self._waiter: asyncio.Future[None] | None = None
        # What the waiter needs before waking it is worthwhile: this many buffered bytes and,
        # for readuntil, one of these separators at or after _scan_from (or a limit overrun).
        self._wanted = 0
        self._awaited_separators: Sequence[Bytes] = ()
        self._scan_from = 0
        self._exception: BaseException | None = None
        self._transport: asyncio.BaseTransport | None = None
        self._paused = False
        if self._loop.get_debug():
            self._source_traceback = traceback.extract_stack(sys._getframe(1))

    def __repr__(self) -> str:
        info = ["StreamReader"]
        if self._buffer:
            info.append(f"{len(self._buffer)} bytes")
        if self._eof:
            info.append("eof")
        if self._limit != DEFAULT_LIMIT:
            info.append(f"limit={self._limit}")
        if self._waiter:
            info.append(f"waiter={self._waiter!r}")
        if self._exception:
            info.append(f"exception={self._exception!r}")
        if self._transport:
            info.append(f"transport={self._transport!r}")
        if self._paused:
            info.append("paused")
        return f"<{' '.join(info)}>"

    # -- the protocol's side ------------------------------------------------------------

    def set_transport(self, transport: asyncio.BaseTransport) -> None:
        """Remember the transport to pause and resume for flow control."""
        if self._transport is not None:
            raise RuntimeError("cannot set the transport: this reader already has one")
        self._transport = transport

    def feed_data(self, data: Bytes) -> None:
        """Append bytes that arrived; wake the reader if it now has what it waits for."""
        if self._eof:
            raise RuntimeError("cannot feed data: feed_eof() was already called")
        if not data:
            return
        self._buffer.extend(data)
        waiter = self._waiter
        if waiter is not None:
            if not waiter.done():
                enough = len(self._buffer) >= self._wanted
                if not enough or (self._awaited_separators and not self._separator_seen()):
                    return  # the reader needs more: neither wake it nor pause the transport
                waiter.set_result(None)
            self._waiter = None
        if self._transport is not None and not self._paused and len(self._buffer) > 2 * self._limit:
            self._pause_transport()

    def feed_eof(self) -> None:
        """No more data will come; pending and future reads see the end."""
        self._eof = True
        self._wake_waiter()

    def set_exception(self, exc: BaseException) -> None:
        """Fail the pending read and every later one with ``exc``."""
        self._exception = exc
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_exception(exc)

    def exception(self) -> BaseException | None:
        """The error set by ``set_exception``, or None."""
        return self._exception

    def at_eof(self) -> bool:
        """True once EOF was fed and every buffered byte has been read."""
        return self._eof and not self._buffer

    # -- reading ------------------------------------------------------------------------

    async def read(self, n: int = -1) -> bytes:
        """Up to ``n`` bytes as soon as any are there; everything up to EOF when ``n < 0``."""
        if self._exception is not None:
            raise self._exception
        if n == 0:
            return b""
        if n < 0:
            return await self._read_to_eof()
        if not self._buffer and not self._eof:
            await self._wait_for_data("read", 1)
        return self._take(n)

    async def readexactly(self, n: int) -> bytes:
        """Exactly ``n`` bytes; IncompleteReadError (with what there was) if EOF comes first."""
        if n < 0:
            raise ValueError("readexactly size can not be less than zero")
        if self._exception is not None:
            raise self._exception
        if n == 0:
            return b""
        while len(self._buffer) < n:
            if self._eof:
                partial = bytes(self._buffer)
                self._buffer.clear()
                raise IncompleteReadError(partial, n)
            await self._wait_for_data("readexactly", n)
        return self._take(n)

    async def readline(self) -> bytes:
        """One line with its ``\\n``; the unterminated rest at EOF; ValueError past the limit.

        Past the limit, a line whose end is already buffered is dropped whole; otherwise the
        whole buffer is (asyncio's behaviour).
        """
        try:
            return await self.readuntil(b"\n")
        except IncompleteReadError as error:
            return error.partial
        except LimitOverrunError as error:
            if self._buffer.startswith(b"\n", error.consumed):
                del self._buffer[: error.consumed + 1]
            else:
                self._buffer.clear()
            self._maybe_resume_transport()
            raise ValueError(error.args[0]) from error

    async def readuntil(self, separator: Bytes | tuple[Bytes, ...] = b"\n") -> bytes:
        """Bytes up to and including the first separator (any of a tuple's, shortest result).

        EOF first: IncompleteReadError, with the buffer handed over in ``partial``.  No
        separator within ``limit`` bytes: LimitOverrunError, leaving the buffer as it was, with
        ``consumed`` saying how many bytes are known not to start a separator (or where the
        separator that came too late starts).
        """
        separators = sorted_separators(separator)
        shortest, longest = len(separators[0]), len(separators[-1])
        if self._exception is not None:
            raise self._exception
        offset = 0  # no separator starts before this index
        while True:
            if len(self._buffer) - offset >= shortest:
                match = find_separator(self._buffer, separators, offset)
                if match is not None:
                    break
                # Keep back the last longest-1 bytes: they may begin a split separator.
                offset = max(0, len(self._buffer) + 1 - longest)
                if offset > self._limit:
                    raise LimitOverrunError(
                        "Separator is not found, and chunk exceed the limit", offset
                    )
            # A chunk may complete a separator and bring EOF together: look before giving up.
            if self._eof:
                partial = bytes(self._buffer)
                self._buffer.clear()
                raise IncompleteReadError(partial, None)
            await self._wait_for_data("readuntil", len(self._buffer) + 1, separators, offset)
        start, end = match
        if start > self._limit:
            raise LimitOverrunError("Separator is found, but chunk is longer than limit", start)
        return self._take(end)

    def __aiter__(self) -> StreamReader:
        return self

    async def __anext__(self) -> bytes:
        line = await self.readline()
        if not line:
            raise StopAsyncIteration
        return line

    # -- internals ----------------------------------------------------------------------

    async def _read_to_eof(self) -> bytes:
        # Take whatever is buffered on each wake-up and wait for about a limit's worth more,
        # so the buffer stays near `limit` and the transport is never paused on our account.
        blocks: list[bytes] = []
        while True:
            if self._exception is not None:
                raise self._exception
            if self._buffer:
                blocks.append(self._take(len(self._buffer)))
            if self._eof:
                return b"".join(blocks)
            await self._wait_for_data("read", self._limit)

    def _take(self, n: int) -> bytes:
        """Remove and return the first ``n`` buffered bytes (fewer if fewer are there)."""
        buffer = self._buffer
        if n >= len(buffer):
            data = bytes(buffer)
            buffer.clear()
        else:
            data = bytes(memoryview(buffer)[:n])
            del buffer[:n]  # O(1): CPython moves the bytearray's start
        self._maybe_resume_transport()
        return data

    async def _wait_for_data(
        self,
        func_name: str,
        wanted: int,
        separators: Sequence[Bytes] = (),
        scan_from: int = 0,
    ) -> None:
        """Wait until ``wanted`` bytes are buffered (and one of ``separators``, if given, may
        be complete), or EOF, or an error."""
        if self._waiter is not None:
            raise RuntimeError(
                f"{func_name}() called while another coroutine is already waiting for incoming data"
            )
        if self._eof:
            raise RuntimeError(f"cannot wait for data in {func_name}(): EOF was already fed")
        if self._paused:
            # A paused transport would never bring the bytes this read needs.
            self._paused = False
            self._reading_transport().resume_reading()
        self._wanted = wanted
        self._awaited_separators = separators
        self._scan_from = scan_from
        self._waiter = self._loop.create_future()
        note_owner(self._waiter, self)
        try:
            await self._waiter
        finally:
            self._waiter = None

    def _separator_seen(self) -> bool:
        """Whether the waiting ``readuntil``, holding the bytes it asked for, may now find
        what it waits for: one of its separators, or an overrun of the limit."""
        separators = self._awaited_separators
        if find_separator(self._buffer, separators, self._scan_from) is not None:
            return True
        # The same arithmetic as readuntil's: wake it exactly when it would see an overrun.
        self._scan_from = max(self._scan_from, len(self._buffer) + 1 - len(separators[-1]))
        return self._scan_from > self._limit

    def _wake_waiter(self) -> None:
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():  # a cancelled reader has nothing to wake
                waiter.set_result(None)

    def _pause_transport(self) -> None:
        try:
            self._reading_transport().pause_reading()
        except NotImplementedError:
            # This transport cannot pause: buffer everything, and stop asking.
            self._transport = None
        else:
            self._paused = True

    def _maybe_resume_transport(self) -> None:
        if self._paused and len(self._buffer) <= self._limit:
            self._paused = False
            self._reading_transport().resume_reading()

    def _reading_transport(self) -> asyncio.ReadTransport:
        # The reader is fed by whatever transport its protocol was given; every transport that
        # can feed one has ReadTransport's pause_reading/resume_reading (typeshed types the
        # protocol's transport as BaseTransport, hence the cast).
        return cast(asyncio.ReadTransport, self._transport)
