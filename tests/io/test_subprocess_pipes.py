"""The pipe transports behind a child's stdin, stdout and stderr, and their buffer policy.

The policy pieces (``PendingWrites``, ``write_buffer_limits``) are tested as plain data; the
transports over real pipes between two ends of this process, on spindle's loop.
"""

from __future__ import annotations

import asyncio
import gc
import os
from collections.abc import Iterator
from typing import IO, Any

import pytest

import spindle
from spindle._io.readiness import ReadinessLoop
from spindle._io.subprocess_pipes import ReadPipeTransport
from spindle._io.subprocess_stdin import PendingWrites, WritePipeTransport, write_buffer_limits


@pytest.fixture(scope="module", autouse=True)
def no_leaks() -> Iterator[None]:
    before = len(os.listdir("/proc/self/fd"))
    yield
    gc.collect()
    assert len(os.listdir("/proc/self/fd")) == before


@pytest.mark.parametrize(
    ("high", "low", "expected"),
    [
        (None, None, (65536, 16384)),
        (1000, None, (1000, 250)),
        (None, 100, (400, 100)),
        (10, 10, (10, 10)),
        (0, 0, (0, 0)),
    ],
)
def test_write_buffer_limits(high: int | None, low: int | None, expected: tuple[int, int]) -> None:
    assert write_buffer_limits(high, low) == expected


@pytest.mark.parametrize(("high", "low"), [(1, 2), (-1, None), (None, -4)])
def test_write_buffer_limits_refuses_inverted_or_negative_marks(
    high: int | None, low: int | None
) -> None:
    with pytest.raises(ValueError, match="must be >="):
        write_buffer_limits(high, low)


def test_pending_writes_keep_bytes_without_copying_and_consume_across_chunks() -> None:
    pending = PendingWrites()
    data = b"abcdef"
    pending.append(memoryview(data))
    pending.append(memoryview(b"gh"))
    assert pending.head()[0].obj is data  # the caller's own object, not a copy
    pending.consume(4)
    assert len(pending) == 4
    assert b"".join(pending.head()) == b"efgh"
    pending.consume(3)
    assert b"".join(pending.head()) == b"h"
    pending.clear()
    assert len(pending) == 0 and pending.head() == []


def test_pending_writes_copy_what_the_caller_could_change() -> None:
    pending = PendingWrites()
    data = bytearray(b"before")
    pending.append(memoryview(data))
    data[:] = b"after!"
    assert b"".join(pending.head()) == b"before"


class Sink(asyncio.Protocol):
    def __init__(self) -> None:
        self.events: list[Any] = []
        self.data = bytearray()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.events.append("connection_made")

    def data_received(self, data: bytes) -> None:
        self.data += data

    def eof_received(self) -> bool | None:
        self.events.append("eof_received")
        return None

    def pause_writing(self) -> None:
        self.events.append("pause_writing")

    def resume_writing(self) -> None:
        self.events.append("resume_writing")

    def connection_lost(self, exc: Exception | None) -> None:
        self.events.append(("connection_lost", exc))


@pytest.fixture
def loop() -> Iterator[ReadinessLoop]:
    the_loop = spindle.new_event_loop()
    assert isinstance(the_loop, ReadinessLoop)
    yield the_loop
    the_loop.close()


def pipe_file(fd: int, mode: str) -> IO[bytes]:
    # The transport owns the file and closes it: no context manager can.
    return open(fd, mode, buffering=0)


def pipe_pair(loop: ReadinessLoop) -> tuple[WritePipeTransport, Sink, ReadPipeTransport, Sink]:
    read_fd, write_fd = os.pipe()
    writer_sink, reader_sink = Sink(), Sink()
    writer = WritePipeTransport(loop, pipe_file(write_fd, "wb"), writer_sink)
    reader = ReadPipeTransport(loop, pipe_file(read_fd, "rb"), reader_sink)
    writer.start()
    reader.start()
    return writer, writer_sink, reader, reader_sink


async def turns(count: int) -> None:
    for _ in range(count):
        await asyncio.sleep(0)


def test_bytes_flow_through_with_backpressure_and_eof(loop: ReadinessLoop) -> None:
    writer, writer_sink, reader, reader_sink = pipe_pair(loop)
    writer.set_write_buffer_limits(high=4096)
    payload = os.urandom(1024 * 1024)

    async def main() -> None:
        reader.pause_reading()
        writer.write(payload)  # the pipe takes 64 KiB; the rest waits in the buffer
        assert writer.get_write_buffer_size() > 4096
        assert writer_sink.events == ["connection_made", "pause_writing"]
        reader.resume_reading()
        writer.close()
        while ("connection_lost", None) not in reader_sink.events:
            await asyncio.sleep(0)

    loop.run_until_complete(main())
    assert bytes(reader_sink.data) == payload
    assert writer_sink.events == [
        "connection_made",
        "pause_writing",
        "resume_writing",
        ("connection_lost", None),
    ]
    assert reader_sink.events == ["connection_made", "eof_received", ("connection_lost", None)]


def test_writing_after_close_is_an_error_not_a_silent_loss(loop: ReadinessLoop) -> None:
    writer, _, reader, _ = pipe_pair(loop)
    writer.close()
    with pytest.raises(RuntimeError, match="cannot write: the pipe transport is"):
        writer.write(b"lost?")
    with pytest.raises(TypeError, match="bytes-like"):
        writer.write("text")  # type: ignore[arg-type]
    reader.close()
    loop.run_until_complete(turns(2))


def test_the_reader_going_away_is_noticed_without_writing(loop: ReadinessLoop) -> None:
    writer, writer_sink, reader, _ = pipe_pair(loop)
    reader.close()
    loop.run_until_complete(turns(3))
    assert writer_sink.events == ["connection_made", ("connection_lost", None)]
    writer.write(b"dropped: the reader is gone, and connection_lost said so")
    assert writer.is_closing()


def test_a_buffer_the_reader_abandons_is_reported_as_a_broken_pipe(loop: ReadinessLoop) -> None:
    writer, writer_sink, reader, _ = pipe_pair(loop)
    reader.pause_reading()
    writer.write(b"x" * (256 * 1024))
    reader.close()
    loop.run_until_complete(turns(3))
    assert writer_sink.events[-1][0] == "connection_lost"
    assert isinstance(writer_sink.events[-1][1], BrokenPipeError)


def test_an_unclosed_pipe_transport_warns() -> None:
    loop = spindle.new_event_loop()
    assert isinstance(loop, ReadinessLoop)
    read_fd, write_fd = os.pipe()
    os.close(write_fd)
    transport = ReadPipeTransport(loop, pipe_file(read_fd, "rb"), Sink())
    with pytest.warns(ResourceWarning, match="unclosed transport <ReadPipeTransport"):
        del transport
        gc.collect()
    loop.close()
