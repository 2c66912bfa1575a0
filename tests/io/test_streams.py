"""Streams: StreamReader on its own, the flow-control handshake, and stream pairs over sockets.

The first half feeds a ``StreamReader`` by hand (no sockets), including Hypothesis properties
and a differential test against asyncio's own ``StreamReader``.  The second half runs real
loopback TCP and Unix connections through ``open_connection``/``start_server`` on both loops
(``any_loop``): echo and line protocols, half-close, backpressure in both directions, resets,
TLS.  Backpressure is asserted through the transports' own counters (the write-buffer size,
``is_reading()``), never through timing.
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import socket
import ssl
import struct
import sys
import sysconfig
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import spindle
from spindle.streams import (
    FlowControlMixin,
    StreamReader,
    StreamReaderProtocol,
    StreamWriter,
    open_connection,
    open_unix_connection,
    start_server,
    start_unix_server,
)
from spindle.streams.flow_control import WritingState
from tests.conftest import LOOP_FACTORIES, ExceptionHandlerRecorder

T = TypeVar("T")
Loop = asyncio.AbstractEventLoop


# The module fails if it leaves a file descriptor open (tests/io/conftest.py).
pytestmark = pytest.mark.usefixtures("fd_guard")


def run(loop: Loop, coro: Coroutine[Any, Any, T]) -> T:
    return loop.run_until_complete(coro)


def feed_soon(loop: Loop, reader: StreamReader, chunks: list[bytes], eof: bool = True) -> None:
    """Feed one chunk per loop iteration (then EOF), so reads really wait between chunks."""

    def step(index: int) -> None:
        if index < len(chunks):
            reader.feed_data(chunks[index])
            loop.call_soon(step, index + 1)
        elif eof:
            reader.feed_eof()

    loop.call_soon(step, 0)


async def read_lines(reader: StreamReader) -> list[bytes]:
    return [line async for line in reader]


def split_lines(data: bytes) -> list[bytes]:
    """``data`` cut after each ``\\n`` (the last piece unterminated, if any)."""
    pieces = data.split(b"\n")
    lines = [piece + b"\n" for piece in pieces[:-1]]
    return [*lines, pieces[-1]] if pieces[-1] else lines


# -- StreamReader, fed by hand ----------------------------------------------------------------


def test_readline_returns_each_line_with_its_newline(any_loop: Loop) -> None:
    reader = StreamReader(loop=any_loop)
    reader.feed_data(b"one\ntwo\nthree")
    reader.feed_eof()
    assert run(any_loop, read_lines(reader)) == [b"one\n", b"two\n", b"three"]
    assert run(any_loop, reader.readline()) == b""


def test_readline_joins_a_line_split_across_chunks(any_loop: Loop) -> None:
    reader = StreamReader(loop=any_loop)
    feed_soon(any_loop, reader, [b"he", b"ll", b"o", b"\nwor", b"ld\n"])
    assert run(any_loop, read_lines(reader)) == [b"hello\n", b"world\n"]


def test_read_returns_available_bytes_without_waiting_for_n(any_loop: Loop) -> None:
    reader = StreamReader(loop=any_loop)
    feed_soon(any_loop, reader, [b"abc", b"def"], eof=False)
    assert run(any_loop, reader.read(100)) == b"abc"
    assert run(any_loop, reader.read(2)) == b"de"
    assert run(any_loop, reader.read(0)) == b""
    reader.feed_eof()
    assert run(any_loop, reader.read(100)) == b"f"
    assert run(any_loop, reader.read(100)) == b""


def test_read_without_size_returns_everything_until_eof(any_loop: Loop) -> None:
    reader = StreamReader(limit=3, loop=any_loop)
    chunks = [bytes([i]) * (i + 1) for i in range(20)]
    feed_soon(any_loop, reader, chunks)
    assert run(any_loop, reader.read()) == b"".join(chunks)
    assert reader.at_eof()


def test_readexactly_returns_exactly_n_bytes_across_chunks(any_loop: Loop) -> None:
    reader = StreamReader(loop=any_loop)
    feed_soon(any_loop, reader, [b"ab", b"cde", b"f", b"ghij"])
    assert run(any_loop, reader.readexactly(5)) == b"abcde"
    assert run(any_loop, reader.readexactly(0)) == b""
    assert run(any_loop, reader.readexactly(5)) == b"fghij"


def test_readexactly_is_woken_only_once_enough_bytes_arrived(any_loop: Loop) -> None:
    async def main() -> bytes:
        reader = StreamReader(loop=any_loop)
        task = any_loop.create_task(reader.readexactly(6))
        await asyncio.sleep(0)
        waiter = reader._waiter
        assert waiter is not None
        for chunk in (b"ab", b"cd"):
            reader.feed_data(chunk)
            await asyncio.sleep(0)
            assert reader._waiter is waiter and not waiter.done()  # still the first wait
        reader.feed_data(b"ef")
        return await task

    assert run(any_loop, main()) == b"abcdef"


def test_readuntil_is_woken_only_once_its_separator_or_an_overrun_arrived(
    any_loop: Loop,
) -> None:
    async def wait_for(reader: StreamReader, chunks: list[bytes], last: bytes) -> bytes:
        task = any_loop.create_task(reader.readuntil(b"\r\n"))
        await asyncio.sleep(0)
        waiter = reader._waiter
        assert waiter is not None
        for chunk in chunks:
            reader.feed_data(chunk)
            await asyncio.sleep(0)
            assert reader._waiter is waiter and not waiter.done()
        reader.feed_data(last)
        return await task

    reader = StreamReader(limit=10, loop=any_loop)
    line = run(any_loop, wait_for(reader, [b"ab", b"cd\r", b"\r"], b"\n"))
    assert line == b"abcd\r\r\n"
    with pytest.raises(asyncio.LimitOverrunError) as caught:
        run(any_loop, wait_for(reader, [b"0123", b"4567"], b"89AB"))
    assert caught.value.consumed == 11


def test_readexactly_at_eof_raises_incomplete_read_error_with_the_partial_bytes(
    any_loop: Loop,
) -> None:
    reader = StreamReader(loop=any_loop)
    feed_soon(any_loop, reader, [b"ab", b"c"])
    with pytest.raises(asyncio.IncompleteReadError) as caught:
        run(any_loop, reader.readexactly(5))
    assert (caught.value.partial, caught.value.expected) == (b"abc", 5)
    assert reader.at_eof()


def test_readexactly_rejects_a_negative_size(any_loop: Loop) -> None:
    reader = StreamReader(loop=any_loop)
    with pytest.raises(ValueError, match="less than zero"):
        run(any_loop, reader.readexactly(-1))


@pytest.mark.parametrize(
    ("chunks", "separator", "expected"),
    [
        ([b"GET / HTTP/1.1\r", b"\nHost"], b"\r\n", b"GET / HTTP/1.1\r\n"),
        ([b"dataSEP", b"ARA", b"T", b"ORrest"], b"SEPARATOR", b"dataSEPARATOR"),
        ([b"aSE", b"SEPARATOR"], b"SEPARATOR", b"aSESEPARATOR"),
        ([b"x", b"|", b"y"], b"|", b"x|"),
    ],
)
def test_readuntil_finds_a_separator_split_across_chunks(
    any_loop: Loop, chunks: list[bytes], separator: bytes, expected: bytes
) -> None:
    reader = StreamReader(loop=any_loop)
    feed_soon(any_loop, reader, chunks)
    assert run(any_loop, reader.readuntil(separator)) == expected


def test_readuntil_with_several_separators_returns_the_shortest_match(any_loop: Loop) -> None:
    reader = StreamReader(loop=any_loop)
    reader.feed_data(b"ab\r\ncd\nef;")
    assert run(any_loop, reader.readuntil((b"\n", b"\r\n"))) == b"ab\r\n"
    assert run(any_loop, reader.readuntil((b";", b"\n"))) == b"cd\n"
    assert run(any_loop, reader.readuntil((b"ef;", b";"))) == b"ef;"


@pytest.mark.parametrize(
    ("separator", "message"), [(b"", "at least one-byte"), ((), "at least one element")]
)
def test_readuntil_rejects_empty_separators(any_loop: Loop, separator: Any, message: str) -> None:
    reader = StreamReader(loop=any_loop)
    with pytest.raises(ValueError, match=message):
        run(any_loop, reader.readuntil(separator))


def test_readuntil_at_eof_raises_incomplete_read_error_and_empties_the_buffer(
    any_loop: Loop,
) -> None:
    reader = StreamReader(loop=any_loop)
    feed_soon(any_loop, reader, [b"no sepa", b"rator here\r"])
    with pytest.raises(asyncio.IncompleteReadError) as caught:
        run(any_loop, reader.readuntil(b"\r\n"))
    assert (caught.value.partial, caught.value.expected) == (b"no separator here\r", None)
    assert reader._buffer == b""


def test_readuntil_past_the_limit_reports_the_bytes_known_not_to_match(any_loop: Loop) -> None:
    reader = StreamReader(limit=8, loop=any_loop)
    reader.feed_data(b"0123456789ABC")
    with pytest.raises(asyncio.LimitOverrunError) as caught:
        run(any_loop, reader.readuntil(b"XYZ"))
    # The last two bytes could still start "XYZ"; everything before them cannot.
    assert caught.value.consumed == 11
    assert reader._buffer == b"0123456789ABC"  # left for the caller to deal with
    assert run(any_loop, reader.read(11)) == b"0123456789A"  # recovery: skip what cannot match
    reader.feed_data(b"XYZ")
    assert run(any_loop, reader.readuntil(b"XYZ")) == b"BCXYZ"


def test_readuntil_with_a_separator_beyond_the_limit_reports_where_it_starts(
    any_loop: Loop,
) -> None:
    reader = StreamReader(limit=4, loop=any_loop)
    reader.feed_data(b"0123456;rest")
    with pytest.raises(asyncio.LimitOverrunError) as caught:
        run(any_loop, reader.readuntil(b";"))
    assert caught.value.consumed == 7
    assert reader._buffer == b"0123456;rest"


def test_readline_past_the_limit_drops_the_long_line_and_recovers(any_loop: Loop) -> None:
    reader = StreamReader(limit=4, loop=any_loop)
    reader.feed_data(b"much too long\nok\n")
    with pytest.raises(ValueError, match="Separator is found, but chunk is longer than limit"):
        run(any_loop, reader.readline())
    assert run(any_loop, reader.readline()) == b"ok\n"


def test_readline_past_the_limit_without_a_newline_clears_the_buffer(any_loop: Loop) -> None:
    reader = StreamReader(limit=4, loop=any_loop)
    feed_soon(any_loop, reader, [b"abc", b"defgh"], eof=False)
    with pytest.raises(ValueError, match="Separator is not found"):
        run(any_loop, reader.readline())
    assert reader._buffer == b""
    reader.feed_data(b"xy\n")
    assert run(any_loop, reader.readline()) == b"xy\n"


def test_set_exception_fails_the_waiting_read_and_every_later_one(any_loop: Loop) -> None:
    reader = StreamReader(loop=any_loop)
    error = ConnectionResetError("gone")

    async def main() -> None:
        task = any_loop.create_task(reader.readline())
        await asyncio.sleep(0)
        reader.set_exception(error)
        with pytest.raises(ConnectionResetError):
            await task

    run(any_loop, main())
    assert reader.exception() is error
    reader.feed_data(b"late\n")
    for read in (reader.read(), reader.readline(), reader.readexactly(1), reader.readuntil()):
        with pytest.raises(ConnectionResetError):
            run(any_loop, read)


def test_a_second_concurrent_read_is_refused(any_loop: Loop) -> None:
    async def main() -> None:
        reader = StreamReader(loop=any_loop)
        first = any_loop.create_task(reader.read(1))
        await asyncio.sleep(0)
        with pytest.raises(RuntimeError, match="already waiting for incoming data"):
            await reader.readline()
        reader.feed_data(b"x")
        assert await first == b"x"

    run(any_loop, main())


def test_a_cancelled_read_leaves_no_waiter_behind(any_loop: Loop) -> None:
    async def main() -> None:
        reader = StreamReader(loop=any_loop)
        task = any_loop.create_task(reader.readline())
        await asyncio.sleep(0)
        task.cancel()
        await asyncio.sleep(0)
        reader.set_exception(RuntimeError("after the cancellation"))  # must not raise
        assert task.cancelled() and reader._waiter is None

    run(any_loop, main())


def test_at_eof_waits_for_the_buffer_to_be_drained(any_loop: Loop) -> None:
    reader = StreamReader(loop=any_loop)
    reader.feed_data(b"x")
    reader.feed_eof()
    assert not reader.at_eof()
    assert run(any_loop, reader.read()) == b"x"
    assert reader.at_eof()


def test_misuse_is_refused_with_a_message(any_loop: Loop) -> None:
    with pytest.raises(ValueError, match="Limit cannot be <= 0"):
        StreamReader(limit=0, loop=any_loop)
    reader = StreamReader(loop=any_loop)
    reader.feed_eof()
    with pytest.raises(RuntimeError, match="cannot feed data: feed_eof"):
        reader.feed_data(b"x")


def test_repr_shows_the_readers_state_as_asyncio_does(any_loop: Loop) -> None:
    reader = StreamReader(limit=10, loop=any_loop)
    assert repr(reader) == "<StreamReader limit=10>"
    reader.feed_data(b"data")
    reader.feed_eof()
    assert repr(reader) == "<StreamReader 4 bytes eof limit=10>"


# -- the reader's flow control ----------------------------------------------------------------


class RecordingTransport(asyncio.ReadTransport):
    """A read transport that only records pause/resume (what a reader asks of it)."""

    def __init__(self, events: list[str], can_pause: bool = True) -> None:
        super().__init__()
        self.events = events
        self.can_pause = can_pause

    def pause_reading(self) -> None:
        if not self.can_pause:
            raise NotImplementedError
        self.events.append("pause")

    def resume_reading(self) -> None:
        self.events.append("resume")


def test_reader_pauses_past_twice_the_limit_and_resumes_at_the_limit(any_loop: Loop) -> None:
    events: list[str] = []
    reader = StreamReader(limit=4, loop=any_loop)
    reader.set_transport(RecordingTransport(events))
    reader.feed_data(b"12345678")  # exactly 2 * limit: not yet
    assert events == []
    reader.feed_data(b"9")
    assert events == ["pause"]
    assert run(any_loop, reader.read(4)) == b"1234"  # 5 left: still above the limit
    assert events == ["pause"]
    assert run(any_loop, reader.read(1)) == b"5"
    assert events == ["pause", "resume"]


def test_reader_does_not_pause_while_a_read_still_needs_more_bytes(any_loop: Loop) -> None:
    events: list[str] = []
    reader = StreamReader(limit=2, loop=any_loop)
    reader.set_transport(RecordingTransport(events))

    async def main() -> bytes:
        task = any_loop.create_task(reader.readexactly(9))
        await asyncio.sleep(0)
        reader.feed_data(b"abcdef")  # past 2 * limit, but the read is still 3 bytes short
        assert events == []
        reader.feed_data(b"ghi")  # the read is satisfied: now the buffer counts as full
        assert events == ["pause"]
        return await task

    assert run(any_loop, main()) == b"abcdefghi"
    assert events == ["pause", "resume"]


def test_a_waiting_read_resumes_a_paused_transport(any_loop: Loop) -> None:
    events: list[str] = []
    reader = StreamReader(limit=2, loop=any_loop)
    reader.set_transport(RecordingTransport(events))
    reader.feed_data(b"abcde")
    feed_soon(any_loop, reader, [b"fghij"], eof=False)
    assert run(any_loop, reader.readexactly(10)) == b"abcdefghij"
    assert events == ["pause", "resume"]


def test_a_transport_that_cannot_pause_is_left_alone(any_loop: Loop) -> None:
    reader = StreamReader(limit=1, loop=any_loop)
    reader.set_transport(RecordingTransport([], can_pause=False))
    reader.feed_data(b"abc")
    assert reader._transport is None and not reader._paused
    reader.feed_data(b"def")
    assert run(any_loop, reader.readexactly(6)) == b"abcdef"


# -- properties ---------------------------------------------------------------------------------

LINE_BYTES = st.lists(st.sampled_from([b"a", b"b", b"\n", b"\r"]), max_size=120).map(b"".join)


def chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(cut, len(data)) for cut in cuts} | {0, len(data)})
    return [data[a:b] for a, b in itertools.pairwise(points)]


@pytest.mark.parametrize("loop_name", sorted(LOOP_FACTORIES))
def test_any_chunking_yields_the_same_lines(loop_name: str) -> None:
    loop = LOOP_FACTORIES[loop_name]()

    @settings(max_examples=150, deadline=None)
    @given(data=LINE_BYTES, cuts=st.lists(st.integers(0, 120), max_size=20))
    def check(data: bytes, cuts: list[int]) -> None:
        reader = StreamReader(loop=loop)
        feed_soon(loop, reader, chunked(data, cuts))
        assert run(loop, read_lines(reader)) == split_lines(data)

    try:
        check()
    finally:
        loop.close()


@pytest.mark.parametrize("loop_name", sorted(LOOP_FACTORIES))
def test_any_chunking_and_read_sizes_give_the_bytes_in_order(loop_name: str) -> None:
    loop = LOOP_FACTORIES[loop_name]()

    @settings(max_examples=150, deadline=None)
    @given(
        data=st.binary(max_size=200),
        cuts=st.lists(st.integers(0, 200), max_size=20),
        sizes=st.lists(st.integers(1, 50), max_size=20),
    )
    def check(data: bytes, cuts: list[int], sizes: list[int]) -> None:
        reader = StreamReader(limit=8, loop=loop)
        feed_soon(loop, reader, chunked(data, cuts))

        async def consume() -> bytes:
            parts = []
            for size in sizes:
                try:
                    parts.append(await reader.readexactly(size))
                except asyncio.IncompleteReadError as error:
                    parts.append(error.partial)
            parts.append(await reader.read())
            return b"".join(parts)

        assert run(loop, consume()) == data

    try:
        check()
    finally:
        loop.close()


# asyncio's readuntil takes a tuple of separators from 3.13 on.
SEPARATORS = [b"\n", b"ab", b"aab"] + ([(b"b", b"\na")] if sys.version_info >= (3, 13) else [])
READ_OPS = st.one_of(
    st.tuples(st.just("readline"), st.none()),
    st.tuples(st.just("readuntil"), st.sampled_from(SEPARATORS)),
    st.tuples(st.just("readexactly"), st.integers(0, 12)),
    st.tuples(st.just("read"), st.integers(1, 12)),
)


async def outcomes(reader: Any, ops: list[tuple[str, Any]]) -> list[object]:
    """What each read returned or raised, and what it left in the buffer."""
    seen: list[object] = []
    for name, arg in ops:
        read = getattr(reader, name)
        try:
            result: object = await (read() if arg is None else read(arg))
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as error:
            result = (type(error).__name__, str(error), *vars(error).items())
        seen.append((result, bytes(reader._buffer)))
    return seen


@pytest.mark.parametrize("loop_name", sorted(LOOP_FACTORIES))
def test_reads_behave_exactly_like_asyncios_reader(loop_name: str) -> None:
    loop = LOOP_FACTORIES[loop_name]()

    @settings(max_examples=200, deadline=None)
    @given(
        data=st.lists(st.sampled_from([b"a", b"b", b"\n"]), max_size=60).map(b"".join),
        cuts=st.lists(st.integers(0, 60), max_size=12),
        ops=st.lists(READ_OPS, max_size=12),
        limit=st.integers(1, 6),
    )
    def check(data: bytes, cuts: list[int], ops: list[tuple[str, Any]], limit: int) -> None:
        results = []
        for cls in (StreamReader, asyncio.StreamReader):
            reader = cls(limit=limit, loop=loop)
            feed_soon(loop, reader, chunked(data, cuts))  # type: ignore[arg-type]
            results.append(run(loop, outcomes(reader, ops)))
        assert results[0] == results[1]

    try:
        check()
    finally:
        loop.close()


# -- FlowControlMixin ---------------------------------------------------------------------------


def test_resume_writing_wakes_every_drainer(any_loop: Loop) -> None:
    async def main() -> None:
        flow = FlowControlMixin(loop=any_loop)
        flow.pause_writing()
        drainers = [any_loop.create_task(flow._drain_helper()) for _ in range(3)]
        await asyncio.sleep(0)
        assert not any(d.done() for d in drainers)
        flow.resume_writing()
        await asyncio.gather(*drainers)
        assert not flow._drain_waiters

    run(any_loop, main())


def test_lost_connection_fails_paused_drainers_and_every_later_drain(any_loop: Loop) -> None:
    async def main() -> None:
        flow = FlowControlMixin(loop=any_loop)
        flow.pause_writing()
        drainer = any_loop.create_task(flow._drain_helper())
        await asyncio.sleep(0)
        flow.connection_lost(BrokenPipeError("peer went away"))
        with pytest.raises(BrokenPipeError):
            await drainer
        with pytest.raises(ConnectionResetError, match="Connection lost"):
            await flow._drain_helper()
        assert flow._writing is WritingState.LOST

    run(any_loop, main())


def test_drain_waits_as_the_drain_helper_does_in_every_writing_state(any_loop: Loop) -> None:
    # StreamWriter.drain() skips awaiting _drain_helper while writing flows (a FAST PATH);
    # in every writing state it must end as awaiting _drain_helper itself does.
    here, there = socket.socketpair()

    async def outcome(wait: Callable[[], Awaitable[None]], flow: FlowControlMixin) -> str:
        task = asyncio.ensure_future(wait())
        await asyncio.sleep(0)
        if not task.done():
            flow.resume_writing()
            await task
            return "waited until resumed"
        return "raised" if task.exception() is not None else "returned"

    async def main() -> list[tuple[str, str]]:
        _, writer = await open_connection(sock=here)
        flow = writer._protocol
        seen = []
        for state, enter in (
            ("flowing", lambda: None),
            ("paused", flow.pause_writing),
            ("lost", lambda: flow.connection_lost(None)),
        ):
            enter()
            through_drain = await outcome(writer.drain, flow)
            enter()  # (a pause was resumed to end the wait)
            assert await outcome(flow._drain_helper, flow) == through_drain
            seen.append((state, through_drain))
        writer.close()
        return seen

    try:
        assert run(any_loop, main()) == [
            ("flowing", "returned"),
            ("paused", "waited until resumed"),
            ("lost", "raised"),
        ]
    finally:
        there.close()


def test_a_transport_misusing_pause_and_resume_is_told_so(any_loop: Loop) -> None:
    flow = FlowControlMixin(loop=any_loop)
    with pytest.raises(RuntimeError, match="cannot resume writing: it is not paused"):
        flow.resume_writing()
    flow.pause_writing()
    with pytest.raises(RuntimeError, match="cannot pause writing: it is already paused"):
        flow.pause_writing()


def test_a_lost_connection_error_needs_no_one_to_wait_for_it(any_loop: Loop) -> None:
    async def main() -> None:
        reader = StreamReader(loop=any_loop)
        protocol = StreamReaderProtocol(reader, loop=any_loop)
        protocol.connection_lost(ConnectionResetError("reset"))
        assert isinstance(reader.exception(), ConnectionResetError)
        with pytest.raises(ConnectionResetError):
            await protocol._get_close_waiter(None)

    run(any_loop, main())
    # Unawaited, the close waiter's error is not reported ("exception was never retrieved"):
    # the any_loop fixture fails the test if the exception handler is called.
    protocol = StreamReaderProtocol(StreamReader(loop=any_loop), loop=any_loop)
    protocol.connection_lost(ConnectionResetError("reset"))
    del protocol
    gc.collect()


# -- stream pairs over real sockets ---------------------------------------------------------


def implements(name: str) -> bool:
    return getattr(spindle.EventLoop, name) is not getattr(asyncio.AbstractEventLoop, name)


@pytest.fixture
def net_loop(any_loop: Loop) -> Loop:
    """``any_loop``, skipping spindle's while its transports have not landed."""
    if isinstance(any_loop, spindle.EventLoop) and not implements("create_server"):
        pytest.skip("spindle's create_server/create_connection have not landed yet")
    return any_loop


Handler = Callable[[StreamReader, StreamWriter], Awaitable[None]]


class Served:
    """A server callback that the test can wait on: every call has finished."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.calls: list[asyncio.Future[None]] = []

    async def __call__(self, reader: StreamReader, writer: StreamWriter) -> None:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.calls.append(done)
        try:
            await self.handler(reader, writer)
        finally:
            done.set_result(None)

    async def finished(self) -> None:
        for call in self.calls:
            await call


async def echo_lines(reader: StreamReader, writer: StreamWriter) -> None:
    async for line in reader:
        writer.write(line)
        await writer.drain()
    writer.close()
    await writer.wait_closed()


def address(server: asyncio.Server) -> tuple[str, int]:
    host, port = server.sockets[0].getsockname()[:2]
    return host, port


async def close_server(server: asyncio.Server, served: Served) -> None:
    await served.finished()
    server.close()
    await server.wait_closed()


def test_echo_server_round_trips_lines_over_tcp(net_loop: Loop) -> None:
    async def main() -> None:
        served = Served(echo_lines)
        server = await start_server(served, "127.0.0.1", 0)
        reader, writer = await open_connection(*address(server))
        lines = [b"hello\n", b"x" * 60_000 + b"\n", b"\n", b"bye\n"]
        for line in lines:
            writer.write(line)
            await writer.drain()
            assert await reader.readline() == line
        writer.close()
        await writer.wait_closed()
        await close_server(server, served)

    run(net_loop, main())


def test_line_protocol_over_a_unix_socket(net_loop: Loop, tmp_path: Path) -> None:
    if isinstance(net_loop, spindle.EventLoop) and not implements("create_unix_server"):
        pytest.skip("spindle's Unix transports have not landed yet")
    path = str(tmp_path / "streams.sock")

    async def shout(reader: StreamReader, writer: StreamWriter) -> None:
        while line := await reader.readuntil((b"\n", b";")):
            if line == b"quit;":
                break
            writer.write(line.upper())
        writer.close()
        await writer.wait_closed()

    async def main() -> None:
        served = Served(shout)
        server = await start_unix_server(served, path)
        reader, writer = await open_unix_connection(path)
        writer.writelines([b"one\ntw", b"o;", b"quit;"])
        assert await reader.read() == b"ONE\nTWO;"
        assert reader.at_eof()
        writer.close()
        await writer.wait_closed()
        await close_server(server, served)

    run(net_loop, main())


def test_half_close_lets_the_server_answer_after_eof(net_loop: Loop) -> None:
    async def answer(reader: StreamReader, writer: StreamWriter) -> None:
        request = await reader.read()
        writer.write(request.upper())
        await writer.drain()
        writer.close()
        await writer.wait_closed()

    async def main() -> None:
        served = Served(answer)
        server = await start_server(served, "127.0.0.1", 0)
        reader, writer = await open_connection(*address(server))
        assert writer.can_write_eof()
        writer.write(b"request")
        writer.write_eof()
        assert await reader.read() == b"REQUEST"
        writer.close()
        await writer.wait_closed()
        await close_server(server, served)

    run(net_loop, main())


def test_limit_and_loop_keywords_pass_through(net_loop: Loop) -> None:
    async def limited(reader: StreamReader, writer: StreamWriter) -> None:
        assert reader._limit == 8
        with pytest.raises(ValueError, match="chunk is longer than limit"):
            await reader.readline()
        writer.write(b"recovered: " + await reader.readline())
        writer.close()
        await writer.wait_closed()

    async def main() -> None:
        listener = socket.create_server(("127.0.0.1", 0))
        served = Served(limited)
        server = await start_server(served, sock=listener, limit=8, backlog=5)
        client = socket.create_connection(listener.getsockname())
        reader, writer = await open_connection(sock=client, limit=3)
        assert reader._limit == 3
        assert writer.get_extra_info("peername") == listener.getsockname()
        assert writer.transport.get_extra_info("socket") is not None
        writer.write(b"a line far too long\nok\n")
        assert await reader.read() == b"recovered: ok\n"
        writer.close()
        await writer.wait_closed()
        await close_server(server, served)

    run(net_loop, main())


def test_an_error_in_the_client_callback_is_reported_and_closes_the_connection(
    net_loop: Loop,
) -> None:
    recorder = ExceptionHandlerRecorder()
    net_loop.set_exception_handler(recorder)
    writers: list[StreamWriter] = []

    async def broken(reader: StreamReader, writer: StreamWriter) -> None:
        writers.append(writer)
        raise ZeroDivisionError("handler bug")

    async def main() -> None:
        server = await start_server(broken, "127.0.0.1", 0)
        reader, writer = await open_connection(*address(server))
        assert await reader.read() == b""  # the server closed the connection
        writer.close()
        await writer.wait_closed()
        server.close()
        await server.wait_closed()

    run(net_loop, main())
    assert [c["message"] for c in recorder.contexts] == [
        "Unhandled exception in client_connected_cb"
    ]
    assert isinstance(recorder.contexts[0]["exception"], ZeroDivisionError)
    assert writers[0].is_closing()


def test_a_cancelled_client_callback_closes_the_connection_quietly(net_loop: Loop) -> None:
    writers: list[StreamWriter] = []

    async def cancelled(reader: StreamReader, writer: StreamWriter) -> None:
        writers.append(writer)
        task = asyncio.current_task()
        assert task is not None
        task.cancel()
        await asyncio.sleep(0)

    async def main() -> None:
        server = await start_server(cancelled, "127.0.0.1", 0)
        reader, writer = await open_connection(*address(server))
        assert await reader.read() == b""
        writer.close()
        await writer.wait_closed()
        server.close()
        await server.wait_closed()

    run(net_loop, main())
    assert writers[0].is_closing()


def test_a_plain_function_callback_gets_the_stream_pair(net_loop: Loop) -> None:
    pairs: list[tuple[StreamReader, StreamWriter]] = []

    def keep(reader: StreamReader, writer: StreamWriter) -> None:
        pairs.append((reader, writer))
        writer.write(b"welcome\n")

    async def main() -> None:
        server = await start_server(keep, "127.0.0.1", 0)
        reader, writer = await open_connection(*address(server))
        assert await reader.readline() == b"welcome\n"
        writer.close()
        await writer.wait_closed()
        server_reader, server_writer = pairs[0]
        assert await server_reader.read() == b""
        server_writer.close()
        await server_writer.wait_closed()
        server.close()
        await server.wait_closed()

    run(net_loop, main())


def test_a_slow_reader_blocks_drain_and_bounds_the_write_buffer(net_loop: Loop) -> None:
    chunk, count, high = b"x" * 65536, 128, 65536

    async def main() -> None:
        loop = asyncio.get_running_loop()
        release: asyncio.Future[None] = loop.create_future()
        received: asyncio.Future[int] = loop.create_future()

        async def slow(reader: StreamReader, writer: StreamWriter) -> None:
            await release
            received.set_result(len(await reader.read()))
            writer.close()
            await writer.wait_closed()

        listener = socket.create_server(("127.0.0.1", 0))
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        served = Served(slow)
        server = await start_server(served, sock=listener)
        _, writer = await open_connection(*address(server))
        writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)
        writer.transport.set_write_buffer_limits(high=high)
        largest = 0

        async def produce() -> None:
            nonlocal largest
            for _ in range(count):
                writer.write(chunk)
                largest = max(largest, writer.transport.get_write_buffer_size())
                await writer.drain()
            writer.write_eof()

        producer = loop.create_task(produce())
        protocol = writer._protocol
        while protocol._writing is not WritingState.PAUSED and not producer.done():
            await asyncio.sleep(0)
        # The producer is parked in drain() while the peer reads nothing.
        assert not producer.done() and len(protocol._drain_waiters) == 1
        assert writer.transport.get_write_buffer_size() > high
        release.set_result(None)
        await producer
        assert await received == count * len(chunk)
        assert largest <= high + len(chunk)
        writer.close()
        await writer.wait_closed()
        await close_server(server, served)

    run(net_loop, main())


def test_a_fast_sender_pauses_the_reading_transport_until_the_reader_catches_up(
    net_loop: Loop,
) -> None:
    limit = 4096
    payload = bytes(range(256)) * 4096  # 1 MiB

    async def send(reader: StreamReader, writer: StreamWriter) -> None:
        writer.write(payload)
        await writer.drain()
        writer.close()
        await writer.wait_closed()

    async def main() -> None:
        served = Served(send)
        server = await start_server(served, "127.0.0.1", 0)
        reader, writer = await open_connection(*address(server), limit=limit)
        while not reader._paused and not reader._eof:
            await asyncio.sleep(0)
        transport = writer.transport
        assert isinstance(transport, asyncio.ReadTransport)
        assert not transport.is_reading()
        buffered = len(reader._buffer)
        assert buffered > 2 * limit
        head = await reader.readexactly(buffered - limit)  # down to the limit: resumes
        assert not reader._paused and transport.is_reading()
        assert head + await reader.read() == payload
        writer.close()
        await writer.wait_closed()
        await close_server(server, served)

    run(net_loop, main())


async def reset_connection(reader: StreamReader, writer: StreamWriter) -> None:
    """Close with SO_LINGER 0: the kernel sends RST instead of FIN."""
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


def test_a_reset_connection_surfaces_in_read_drain_and_wait_closed(net_loop: Loop) -> None:
    async def main() -> None:
        served = Served(reset_connection)
        server = await start_server(served, "127.0.0.1", 0)
        reader, writer = await open_connection(*address(server))
        with pytest.raises(ConnectionResetError):
            await reader.read()
        with pytest.raises(ConnectionResetError):
            await writer.drain()
        with pytest.raises(ConnectionResetError):
            await writer.wait_closed()
        assert writer.is_closing()
        await close_server(server, served)

    run(net_loop, main())


def test_writing_to_a_peer_that_hung_up_ends_in_an_error_from_drain(net_loop: Loop) -> None:
    async def hang_up(reader: StreamReader, writer: StreamWriter) -> None:
        writer.close()
        await writer.wait_closed()

    async def main() -> None:
        served = Served(hang_up)
        server = await start_server(served, "127.0.0.1", 0)
        reader, writer = await open_connection(*address(server))
        assert await reader.read() == b""  # a FIN: the connection stays open for writing
        # The first write reaches the peer's kernel, which answers with RST; a later send
        # fails, the transport closes, and drain() must yield for connection_lost to run.
        with pytest.raises((ConnectionResetError, BrokenPipeError)):
            while True:  # a drain() that never yielded would spin here forever
                writer.write(b"data\n")
                await writer.drain()
        writer.close()
        await close_server(server, served)

    run(net_loop, main())


def test_drain_after_close_raises_connection_reset(net_loop: Loop) -> None:
    async def main() -> None:
        served = Served(echo_lines)
        server = await start_server(served, "127.0.0.1", 0)
        reader, writer = await open_connection(*address(server))
        writer.close()
        assert writer.is_closing()
        with pytest.raises(ConnectionResetError):
            await writer.drain()
        await writer.wait_closed()
        assert reader.at_eof()  # connection_lost fed EOF
        await close_server(server, served)

    run(net_loop, main())


def test_an_unclosed_writer_warns_and_closes_its_transport(net_loop: Loop) -> None:
    async def main() -> None:
        served = Served(echo_lines)
        server = await start_server(served, "127.0.0.1", 0)
        reader, writer = await open_connection(*address(server))
        transport = writer.transport
        with pytest.warns(ResourceWarning, match=r"^unclosed <StreamWriter transport="):
            del writer
            gc.collect()
        assert transport.is_closing()
        assert await reader.read() == b""
        await close_server(server, served)

    run(net_loop, main())


# -- TLS ------------------------------------------------------------------------------------


def cert_file(name: str) -> Path:
    folder = Path(sysconfig.get_paths()["stdlib"]) / "test"
    for candidate in (folder / "certdata" / name, folder / name):
        if candidate.exists():
            return candidate
    pytest.skip(f"CPython's test certificate {name} is not installed")


def tls_contexts() -> tuple[ssl.SSLContext, ssl.SSLContext]:
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert_file("keycert3.pem"))  # signed for "localhost"
    client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client.load_verify_locations(cert_file("pycacert.pem"))
    return server, client


@pytest.fixture
def tls_loop(net_loop: Loop) -> Loop:
    if isinstance(net_loop, spindle.EventLoop) and not implements("start_tls"):
        pytest.skip("spindle's TLS has not landed yet")
    return net_loop


def test_open_connection_passes_ssl_through_to_the_loop(tls_loop: Loop) -> None:
    server_context, client_context = tls_contexts()

    async def main() -> None:
        served = Served(echo_lines)
        server = await start_server(served, "127.0.0.1", 0, ssl=server_context)
        reader, writer = await open_connection(
            *address(server), ssl=client_context, server_hostname="localhost"
        )
        assert writer.get_extra_info("ssl_object") is not None
        writer.write(b"over tls\n")
        assert await reader.readline() == b"over tls\n"
        writer.close()
        await writer.wait_closed()
        await close_server(server, served)

    run(tls_loop, main())


def test_start_tls_upgrades_both_ends_in_place(tls_loop: Loop) -> None:
    server_context, client_context = tls_contexts()

    async def starttls(reader: StreamReader, writer: StreamWriter) -> None:
        assert await reader.readline() == b"STARTTLS\n"
        writer.write(b"OK\n")
        await writer.start_tls(server_context)
        assert writer.get_extra_info("ssl_object") is not None
        writer.write((await reader.readline()).upper())
        await writer.drain()
        writer.close()
        await writer.wait_closed()

    async def main() -> None:
        served = Served(starttls)
        server = await start_server(served, "127.0.0.1", 0)
        reader, writer = await open_connection(*address(server))
        assert writer.get_extra_info("ssl_object") is None
        writer.write(b"STARTTLS\n")
        assert await reader.readline() == b"OK\n"
        await writer.start_tls(client_context, server_hostname="localhost")
        assert writer.get_extra_info("ssl_object") is not None
        writer.write(b"secret\n")
        assert await reader.readline() == b"SECRET\n"
        assert await reader.read() == b""
        writer.close()
        await writer.wait_closed()
        await close_server(server, served)

    run(tls_loop, main())


def test_buffer_is_a_bytearray_that_others_may_read(any_loop: Loop) -> None:
    # redis-py and others look at StreamReader._buffer directly.
    reader = StreamReader(loop=any_loop)
    reader.feed_data(b"abc")
    assert isinstance(reader._buffer, bytearray) and reader._buffer == b"abc"
    assert run(any_loop, reader.read(2)) == b"ab"
    assert reader._buffer == bytearray(b"c")


def test_data_received_feeds_the_reader_the_property_names() -> None:
    # StreamReaderProtocol.data_received reads the reader through its weak reference
    # directly (a FAST PATH); it must feed exactly the reader ``_stream_reader`` gives.
    loop = spindle.new_event_loop()
    try:
        reader = StreamReader(loop=loop)
        protocol = StreamReaderProtocol(reader, loop=loop)
        assert protocol._stream_reader is reader
        protocol.data_received(b"abc")
        assert bytes(reader._buffer) == b"abc"
        del reader
        gc.collect()
        assert protocol._stream_reader is None
        protocol.data_received(b"nobody reads this")  # dropped, as through the property
    finally:
        loop.close()
