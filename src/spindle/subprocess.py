"""Child processes with streams: ``create_subprocess_exec``, ``create_subprocess_shell``.

Written against the public loop interface (``loop.subprocess_exec`` and the transport it
returns), so it runs on any conforming loop; the tests run it on spindle's and asyncio's.

``Process.wait()`` keeps asyncio's semantics exactly, because code relies on them: if the
child has exited it returns the return code at once; otherwise it returns when the
transport has finished, that is once the child has exited *and* its pipes are closed.
"""

from __future__ import annotations

import asyncio
import subprocess
from typing import Any, cast

from spindle import events, tasks
from spindle._core.futures import note_owner
from spindle.streams.flow_control import FlowControlMixin
from spindle.streams.reader import DEFAULT_LIMIT, StreamReader
from spindle.streams.writer import StreamWriter

__all__ = [
    "DEVNULL",
    "PIPE",
    "STDOUT",
    "Process",
    "SubprocessStreamProtocol",
    "create_subprocess_exec",
    "create_subprocess_shell",
]

PIPE = subprocess.PIPE
STDOUT = subprocess.STDOUT
DEVNULL = subprocess.DEVNULL


class SubprocessStreamProtocol(FlowControlMixin, asyncio.SubprocessProtocol):
    """Feeds the child's stdout and stderr to stream readers; stdin gets a stream writer.

    ``FlowControlMixin`` is stdin's flow control (what ``StreamWriter.drain()`` waits on);
    it learns of stdin's loss from ``pipe_connection_lost(0, exc)``.
    """

    def __init__(self, limit: int, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(loop=loop)
        self._limit = limit
        self.stdin: StreamWriter | None = None
        self.stdout: StreamReader | None = None
        self.stderr: StreamReader | None = None
        self._transport: asyncio.SubprocessTransport | None = None
        self._open_readers: set[int] = set()  # fds of stdout/stderr not at EOF yet
        self._exited = False
        self._finished = False
        self._finish_waiters: list[asyncio.Future[None]] = []
        self._stdin_closed: asyncio.Future[None] = loop.create_future()

    def __repr__(self) -> str:
        named = (("stdin", self.stdin), ("stdout", self.stdout), ("stderr", self.stderr))
        streams = [f"{name}={stream!r}" for name, stream in named if stream is not None]
        return f"<{type(self).__name__} {' '.join(streams)}>"

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's subprocess transport does not derive from asyncio.SubprocessTransport.
        transport = cast(asyncio.SubprocessTransport, transport)
        self._transport = transport
        self.stdout = self._reader_for(transport, 1)
        self.stderr = self._reader_for(transport, 2)
        stdin = transport.get_pipe_transport(0)
        if stdin is not None:
            self.stdin = StreamWriter(stdin, self, None, self._loop)  # type: ignore[arg-type]

    def _reader_for(self, transport: asyncio.SubprocessTransport, fd: int) -> StreamReader | None:
        pipe = transport.get_pipe_transport(fd)
        if pipe is None:
            return None
        reader = StreamReader(limit=self._limit, loop=self._loop)
        reader.set_transport(pipe)
        self._open_readers.add(fd)
        return reader

    def pipe_data_received(self, fd: int, data: bytes | str) -> None:
        reader = self.stdout if fd == 1 else self.stderr if fd == 2 else None
        if reader is not None:
            reader.feed_data(data)  # type: ignore[arg-type]

    def pipe_connection_lost(self, fd: int, exc: Exception | None) -> None:
        if fd == 0:
            self._stdin_lost(exc)
            return
        reader = self.stdout if fd == 1 else self.stderr if fd == 2 else None
        if reader is not None:
            if exc is None:
                reader.feed_eof()
            else:
                reader.set_exception(exc)
        self._open_readers.discard(fd)
        self._close_transport_when_done()

    def _stdin_lost(self, exc: Exception | None) -> None:
        if self.stdin is not None:
            self.stdin.close()
        FlowControlMixin.connection_lost(self, exc)  # drain() now raises
        if exc is None:
            self._stdin_closed.set_result(None)
        else:
            self._stdin_closed.set_exception(exc)
            self._stdin_closed.exception()  # awaiting wait_closed() is optional: no log

    def _get_close_waiter(self, stream: object) -> asyncio.Future[None]:
        if stream is not self.stdin:
            raise RuntimeError(f"cannot wait for {stream!r} to close: it is not this stdin")
        return self._stdin_closed

    def process_exited(self) -> None:
        self._exited = True
        self._close_transport_when_done()

    def _close_transport_when_done(self) -> None:
        # Once the child has exited and stdout/stderr are at EOF, nothing more can come.
        if self._exited and not self._open_readers and self._transport is not None:
            self._transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        self._finished = True
        for waiter in self._finish_waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._finish_waiters.clear()

    async def _wait_finished(self) -> None:
        if self._finished:
            return
        waiter: asyncio.Future[None] = self._loop.create_future()
        note_owner(waiter, self)
        self._finish_waiters.append(waiter)
        await waiter


class Process:
    """A running child process and its streams."""

    def __init__(
        self,
        transport: asyncio.SubprocessTransport,
        protocol: SubprocessStreamProtocol,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self._transport = transport
        self._protocol = protocol
        self._loop = loop
        self.stdin = protocol.stdin
        self.stdout = protocol.stdout
        self.stderr = protocol.stderr
        self.pid: int = transport.get_pid()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.pid}>"

    @property
    def returncode(self) -> int | None:
        return self._transport.get_returncode()

    async def wait(self) -> int:
        """Wait for the child to exit; its return code (see the module docstring)."""
        returncode = self._transport.get_returncode()
        if returncode is None:
            await self._protocol._wait_finished()
            returncode = self._transport.get_returncode()
        assert returncode is not None
        return returncode

    def send_signal(self, signal: int) -> None:
        self._transport.send_signal(signal)

    def terminate(self) -> None:
        self._transport.terminate()

    def kill(self) -> None:
        self._transport.kill()

    async def communicate(self, input: bytes | None = None) -> tuple[bytes | None, bytes | None]:
        """Send ``input``, close stdin, read stdout and stderr to EOF, wait for the exit."""
        results = await tasks.gather(self._feed_stdin(input), self._read(1), self._read(2))
        await self.wait()
        return results[1], results[2]

    async def _feed_stdin(self, input: bytes | None) -> None:
        if self.stdin is None:
            return
        try:
            if input is not None:
                self.stdin.write(input)
            await self.stdin.drain()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the child stopped reading: what it did read is all it gets
        self.stdin.close()

    async def _read(self, fd: int) -> bytes | None:
        stream = self.stdout if fd == 1 else self.stderr
        if stream is None:
            return None
        output = await stream.read()
        pipe = self._transport.get_pipe_transport(fd)
        if pipe is not None:
            pipe.close()
        return output


async def create_subprocess_shell(
    cmd: str | bytes,
    stdin: Any = None,
    stdout: Any = None,
    stderr: Any = None,
    limit: int = DEFAULT_LIMIT,
    **kwds: Any,
) -> Process:
    """Run ``cmd`` with the shell; a ``Process``."""
    loop = events.get_running_loop()
    transport, protocol = await loop.subprocess_shell(
        lambda: SubprocessStreamProtocol(limit, loop),
        cmd, stdin=stdin, stdout=stdout, stderr=stderr, **kwds,
    )  # fmt: skip
    return Process(transport, protocol, loop)


async def create_subprocess_exec(
    program: Any,
    *args: Any,
    stdin: Any = None,
    stdout: Any = None,
    stderr: Any = None,
    limit: int = DEFAULT_LIMIT,
    **kwds: Any,
) -> Process:
    """Run ``program`` with ``args``; a ``Process``."""
    loop = events.get_running_loop()
    transport, protocol = await loop.subprocess_exec(
        lambda: SubprocessStreamProtocol(limit, loop),
        program, *args, stdin=stdin, stdout=stdout, stderr=stderr, **kwds,
    )  # fmt: skip
    return Process(transport, protocol, loop)
