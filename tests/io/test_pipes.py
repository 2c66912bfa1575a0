"""Pipe transports (connect_read_pipe / connect_write_pipe), on both loops, and spindle's
reusable pipe transports over bare descriptors."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import tempfile
from collections.abc import Callable
from typing import Any

import pytest

import spindle
from spindle._io.transports.faces import ReadPipeTransport, WritePipeTransport
from tests.io.conftest import Chunks, Recorder, run

pytestmark = pytest.mark.usefixtures("fd_guard")
Loop = asyncio.AbstractEventLoop
KiB = 1024


class Pausable(Recorder):
    def __init__(self, loop: Loop) -> None:
        super().__init__(loop)
        self.resumed = loop.create_future()

    def resume_writing(self) -> None:
        super().resume_writing()
        self.resumed.set_result(None)


def test_read_pipe_delivers_data_then_eof_then_lost(any_loop: Loop) -> None:
    r, w = os.pipe()

    async def main() -> None:
        transport, protocol = await any_loop.connect_read_pipe(
            lambda: Recorder(any_loop), os.fdopen(r, "rb", 0)
        )
        assert transport.get_extra_info("pipe").fileno() == r
        os.write(w, b"through the pipe")
        assert await protocol.received(16) == b"through the pipe"
        os.close(w)
        assert await protocol.lost is None
        assert protocol.events == ["made", "data", "eof", "lost"]
        assert transport.is_closing()

    run(any_loop, main())


def test_read_pipe_delivers_large_and_small_reads_whole_and_in_order(any_loop: Loop) -> None:
    r, w = os.pipe()
    pieces = [os.urandom(size) for size in (64 * 1024, 7, 64 * 1024, 64 * 1024, 3)]

    async def main() -> list[bytes]:
        _, protocol = await any_loop.connect_read_pipe(
            lambda: Chunks(any_loop), os.fdopen(r, "rb", 0)
        )
        received = 0
        for piece in pieces:
            os.write(w, piece)  # a pipe holds 64 KiB: each piece goes in whole
            received += len(piece)
            await protocol.received(received)
        os.close(w)
        assert await protocol.lost is None
        return protocol.chunks

    chunks = run(any_loop, main())
    assert all(type(chunk) is bytes for chunk in chunks)
    assert b"".join(chunks) == b"".join(pieces)


def test_write_pipe_is_a_transport_whose_reading_calls_are_not_implemented(any_loop: Loop) -> None:
    r, w = os.pipe()

    async def main() -> None:
        transport, _ = await any_loop.connect_write_pipe(
            lambda: Recorder(any_loop), os.fdopen(w, "wb", 0)
        )
        assert isinstance(transport, asyncio.ReadTransport)
        for call in (transport.pause_reading, transport.resume_reading, transport.is_reading):
            with pytest.raises(NotImplementedError):
                call()
        transport.close()

    run(any_loop, main())
    os.close(r)


def test_paused_read_pipe_delivers_nothing_until_resumed(any_loop: Loop) -> None:
    r, w = os.pipe()

    async def main() -> None:
        transport, protocol = await any_loop.connect_read_pipe(
            lambda: Recorder(any_loop), os.fdopen(r, "rb", 0)
        )
        transport.pause_reading()
        assert not transport.is_reading()
        os.write(w, b"held")
        for _ in range(5):
            await asyncio.sleep(0)
        assert protocol.data == b""
        transport.resume_reading()
        assert await protocol.received(4) == b"held"
        os.close(w)
        await protocol.lost

    run(any_loop, main())


def test_write_pipe_writes_and_close_is_the_readers_eof(any_loop: Loop) -> None:
    r, w = os.pipe()

    async def main() -> bytes:
        transport, protocol = await any_loop.connect_write_pipe(
            lambda: Recorder(any_loop), os.fdopen(w, "wb", 0)
        )
        assert transport.can_write_eof()
        transport.write(b"to ")
        transport.write(bytearray(b"the reader"))
        transport.close()
        assert await protocol.lost is None
        return os.read(r, 100)

    try:
        assert run(any_loop, main()) == b"to the reader"
        assert os.read(r, 100) == b""  # end of file: the write end is closed
    finally:
        os.close(r)


def test_write_pipe_notices_the_reader_going_away(any_loop: Loop) -> None:
    r, w = os.pipe()

    async def main() -> None:
        transport, protocol = await any_loop.connect_write_pipe(
            lambda: Recorder(any_loop), os.fdopen(w, "wb", 0)
        )
        os.close(r)  # while idle: nothing is written, yet the transport learns of it
        assert await protocol.lost is None
        assert transport.is_closing()

    run(any_loop, main())


def test_write_pipe_with_data_left_when_the_reader_goes_reports_a_broken_pipe(
    any_loop: Loop,
) -> None:
    r, w = os.pipe()

    async def main() -> None:
        transport, protocol = await any_loop.connect_write_pipe(
            lambda: Recorder(any_loop), os.fdopen(w, "wb", 0)
        )
        transport.write(b"\0" * (1024 * KiB))  # more than a pipe holds
        assert transport.get_write_buffer_size() > 0
        os.close(r)
        assert isinstance(await protocol.lost, BrokenPipeError)

    run(any_loop, main())


def test_write_pipe_pauses_its_protocol_until_the_reader_catches_up(any_loop: Loop) -> None:
    r, w = os.pipe()
    os.set_blocking(r, False)

    async def main() -> None:
        transport, protocol = await any_loop.connect_write_pipe(
            lambda: Pausable(any_loop), os.fdopen(w, "wb", 0)
        )
        transport.set_write_buffer_limits(high=16 * KiB)
        written = 0
        while "pause" not in protocol.events:
            transport.write(b"p" * (4 * KiB))
            written += 4 * KiB
        received = 0
        while not protocol.resumed.done():
            await asyncio.sleep(0)
            with contextlib.suppress(BlockingIOError):  # nothing to read yet
                received += len(os.read(r, 64 * KiB))
        assert transport.get_write_buffer_size() <= 4 * KiB  # the low-water mark
        transport.close()
        await protocol.lost
        while received < written:
            received += len(os.read(r, 64 * KiB))
        assert received == written

    try:
        run(any_loop, main())
    finally:
        os.close(r)


def test_pipe_transports_refuse_regular_files(any_loop: Loop) -> None:
    with tempfile.TemporaryFile() as file:
        with pytest.raises(ValueError, match=r"(?i)pipe"):
            run(any_loop, any_loop.connect_read_pipe(asyncio.Protocol, file))
        with pytest.raises(ValueError, match=r"(?i)pipe"):
            run(any_loop, any_loop.connect_write_pipe(asyncio.Protocol, file))


def test_pipe_transports_over_bare_descriptors(spindle_loop: Any) -> None:
    r, w = os.pipe()

    async def main() -> None:
        reader = Recorder(spindle_loop)
        writer = Recorder(spindle_loop)
        read_transport = ReadPipeTransport(spindle_loop, r, reader)
        write_transport = WritePipeTransport(spindle_loop, w, writer)
        await reader.made
        await writer.made
        write_transport.write(b"fd to fd")
        write_transport.close()  # closes w: the reader sees EOF after the data
        assert await reader.lost is None
        assert reader.data == b"fd to fd"
        assert read_transport.is_closing()

    run(spindle_loop, main())
    for fd in (r, w):
        with pytest.raises(OSError):
            os.fstat(fd)  # the transports closed their descriptors


def test_read_pipe_serves_a_buffered_protocol(spindle_loop: Any) -> None:
    r, w = os.pipe()

    class Buffered(asyncio.BufferedProtocol):
        def __init__(self) -> None:
            self.buffer = bytearray(3)
            self.received = bytearray()
            self.lost = spindle_loop.create_future()

        def get_buffer(self, sizehint: int) -> bytearray:
            return self.buffer

        def buffer_updated(self, nbytes: int) -> None:
            self.received += self.buffer[:nbytes]

        def connection_lost(self, exc: Exception | None) -> None:
            self.lost.set_result(exc)

    async def main() -> bytes:
        _, protocol = await spindle_loop.connect_read_pipe(Buffered, os.fdopen(r, "rb", 0))
        os.write(w, b"in threes")
        os.close(w)
        await protocol.lost
        return bytes(protocol.received)

    assert run(spindle_loop, main()) == b"in threes"


def outliving_its_loop(make: Callable[[Any], Any]) -> Any:
    """The pipe transport ``make(loop)`` makes, started, once its loop has closed."""
    loop = spindle.new_event_loop()
    transport = make(loop)
    loop.run_until_complete(asyncio.sleep(0))  # connection_made: it watches its descriptor
    loop.close()  # drops the loop's references to it
    return transport


def test_an_unclosed_pipe_transport_warns() -> None:
    r, w = os.pipe()
    try:
        transport = outliving_its_loop(lambda loop: ReadPipeTransport(loop, r, Recorder(loop)))
        with pytest.warns(ResourceWarning, match="unclosed transport <ReadPipeTransport"):
            del transport
            gc.collect()
        with pytest.raises(OSError):
            os.fstat(r)  # the descriptor went with the transport
    finally:
        os.close(w)


def test_closing_a_pipe_after_its_loop_closed_is_the_readers_eof_at_once() -> None:
    r, w = os.pipe()
    try:
        transport = outliving_its_loop(lambda loop: WritePipeTransport(loop, w, Recorder(loop)))
        transport.close()  # no loop to run connection_lost: the descriptor goes now
        assert transport.is_closing()
        assert os.read(r, 10) == b""  # EOF, not a reader blocked until garbage collection
    finally:
        os.close(r)
