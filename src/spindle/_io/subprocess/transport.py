"""``SubprocessTransport``: one child process, its three pipes, and the order of events.

A child's standard streams are ordinary pipes, so they get the loop's ordinary pipe
transports: the transport connects them through the public ``loop.connect_write_pipe``
(stdin) and ``loop.connect_read_pipe`` (stdout, stderr), exactly as a user would, each with
a small ``_PipeProtocol`` that passes the pipe's events on to the subprocess protocol,
tagged with the fd (``pipe_data_received(fd, data)``, ``pipe_connection_lost(fd, exc)``).
Flow control, end of file, the unclosed-transport warning: all are the pipe transports' own.

The protocol sees, in this order:

1. ``connection_made(transport)``, before any other event, with the pipe transports in
   place (``get_pipe_transport``);
2. ``pipe_data_received`` / ``pipe_connection_lost`` for each pipe, and ``process_exited``
   once the child has been reaped, interleaved as they happen (a child may exit before or
   after its pipes close: a grandchild can hold them open);
3. ``connection_lost(None)``, exactly once, after ``process_exited`` *and* after every pipe
   is closed.

Connecting the pipes takes a few passes of the loop, and meanwhile a pipe may already have
data and the child may already have exited.  While the transport is ``STARTING``, such events
are held, in order, and replayed right after ``connection_made``: that is the first
guarantee.  The third is the ``ProcessState`` machine below.

The pipes are connected in a task of their own, so cancelling ``subprocess_exec()`` cannot
stop it half-way: the caller closes the transport and waits for it to finish, and the
protocol still sees its whole life, from ``connection_made`` to ``connection_lost``.

``close()`` is the user's: it closes the pipes and kills the child if it is still
running; the transport then finishes as usual once the child is reaped.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import functools
import signal
import subprocess
import warnings
from collections.abc import Callable, Iterator
from typing import IO, Any

from spindle._io.subprocess.child_watcher import ChildWatcher
from spindle._io.transports.policy import call_protocol

__all__ = ["ProcessState", "SubprocessTransport"]


class ProcessState(enum.Enum):
    STARTING = "starting"  # spawned, pipes connecting: events are held until connection_made
    RUNNING = "running"  # connection_made delivered; the child has not been reaped
    EXITED = "exited"  # reaped (returncode known); some pipe is still open
    FINISHED = "finished"  # connection_lost delivered: nothing more will happen


# The moves ProcessState allows.
_NEXT_STATE = {
    ProcessState.STARTING: ProcessState.RUNNING,
    ProcessState.RUNNING: ProcessState.EXITED,
    ProcessState.EXITED: ProcessState.FINISHED,
}


class _PipeProtocol(asyncio.Protocol):
    """The protocol of one of the child's pipe transports: tells the subprocess transport."""

    def __init__(self, owner: SubprocessTransport, fd: int) -> None:
        self.owner = owner
        self.fd = fd
        self.disconnected = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.owner._pipe_connected(self, transport)

    def data_received(self, data: bytes) -> None:
        self.owner._event(self.owner._pipe_data, self.fd, data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.owner._event(self.owner._pipe_lost, self, exc)

    # stdin's flow control is the subprocess protocol's (what StreamWriter.drain() waits on).
    def pause_writing(self) -> None:
        self.owner._deliver(self.owner._protocol.pause_writing)

    def resume_writing(self) -> None:
        self.owner._deliver(self.owner._protocol.resume_writing)


class SubprocessTransport(asyncio.SubprocessTransport):
    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        protocol: asyncio.SubprocessProtocol,
        popen: subprocess.Popen[bytes],
        watcher: ChildWatcher,
    ) -> None:
        super().__init__({"subprocess": popen})
        self._loop = loop
        self._protocol: Any = protocol
        self._popen = popen
        self._watcher = watcher
        self._pid = popen.pid
        self._returncode: int | None = None
        self._state = ProcessState.STARTING
        self._closed = False
        self._held: list[tuple[Callable[..., None], tuple[Any, ...]]] = []
        self._exit_waiters: list[asyncio.Future[int]] = []
        self._pipes: dict[int, asyncio.BaseTransport] = {}
        self._pipe_protocols: list[_PipeProtocol] = []
        self._connecting: asyncio.Task[None] | None = None
        try:
            watcher.watch(popen, self._on_exit)
        except BaseException:
            self._closed = True  # never handed out: the caller kills and reaps the child
            raise

    def __repr__(self) -> str:
        parts = [type(self).__name__, f"pid={self._pid}", self._state.value]
        if self._closed:
            parts.append("closed")
        if self._returncode is not None:
            parts.append(f"returncode={self._returncode}")
        return f"<{' '.join(parts)}>"

    def _move_to(self, state: ProcessState) -> None:
        if _NEXT_STATE.get(self._state) is not state:
            raise asyncio.InvalidStateError(
                f"cannot move {self!r} to {state.value}: it is {self._state.value}"
            )
        self._state = state

    # -- start-up ------------------------------------------------------------------------

    def _connect(self, waiter: asyncio.Future[None]) -> None:
        """Connect the pipes; ``waiter`` completes once connection_made has been delivered."""
        self._connecting = self._loop.create_task(self._connect_pipes(waiter))

    def _stdio(self) -> Iterator[tuple[int, IO[bytes]]]:
        popen = self._popen
        for fd, pipe in enumerate((popen.stdin, popen.stdout, popen.stderr)):
            if pipe is not None:
                yield fd, pipe

    async def _connect_pipes(self, waiter: asyncio.Future[None]) -> None:
        loop = self._loop
        try:
            for fd, pipe in self._stdio():
                connect = loop.connect_write_pipe if fd == 0 else loop.connect_read_pipe
                await connect(functools.partial(_PipeProtocol, self, fd), pipe)
        except BaseException as exc:
            for fd, pipe in self._stdio():
                if fd not in self._pipes:
                    pipe.close()  # no transport holds it
            self._start()
            if not waiter.done():
                if isinstance(exc, asyncio.CancelledError):
                    waiter.cancel()
                else:
                    waiter.set_exception(exc)
            if not isinstance(exc, Exception):
                raise  # cancellation, KeyboardInterrupt...: this task ends the same way
            return
        self._start()
        if not waiter.done():
            waiter.set_result(None)

    def _start(self) -> None:
        """Deliver connection_made, then the events held meanwhile, in their order."""
        self._move_to(ProcessState.RUNNING)
        self._deliver(self._protocol.connection_made, self)
        held, self._held = self._held, []
        for handler, args in held:
            handler(*args)

    # -- events from the pipes and the watcher -------------------------------------------

    def _event(self, handler: Callable[..., None], *args: Any) -> None:
        """Handle an event now, or hold it while connection_made is still to come."""
        if self._state is ProcessState.STARTING:
            self._held.append((handler, args))
        else:
            handler(*args)

    def _deliver(self, method: Callable[..., object], *args: Any) -> None:
        """Call a protocol method now; what it raises goes to the exception handler."""
        call_protocol(self._loop, self, self._protocol, method, *args)

    def _pipe_connected(self, pipe: _PipeProtocol, transport: asyncio.BaseTransport) -> None:
        self._pipes[pipe.fd] = transport
        self._pipe_protocols.append(pipe)
        if self._closed:
            transport.close()  # close() came while this pipe was being connected

    def _pipe_data(self, fd: int, data: bytes) -> None:
        self._deliver(self._protocol.pipe_data_received, fd, data)

    def _pipe_lost(self, pipe: _PipeProtocol, exc: Exception | None) -> None:
        pipe.disconnected = True
        self._deliver(self._protocol.pipe_connection_lost, pipe.fd, exc)
        self._finish_if_done()

    def _on_exit(self, returncode: int) -> None:
        self._event(self._process_exited, returncode)

    def _process_exited(self, returncode: int) -> None:
        self._returncode = returncode
        self._move_to(ProcessState.EXITED)
        self._deliver(self._protocol.process_exited)
        self._finish_if_done()

    def _finish_if_done(self) -> None:
        if self._state is not ProcessState.EXITED:
            return
        if all(pipe.disconnected for pipe in self._pipe_protocols):
            self._move_to(ProcessState.FINISHED)
            self._loop.call_soon(self._call_connection_lost)

    def _call_connection_lost(self) -> None:
        try:
            self._protocol.connection_lost(None)
        finally:
            for waiter in self._exit_waiters:
                if not waiter.done():
                    waiter.set_result(self._returncode)  # type: ignore[arg-type]
            self._exit_waiters.clear()
            self._protocol = None

    async def _wait(self) -> int:
        """The return code: at once if the child has exited, else when the transport finishes.

        asyncio's ``Process.wait()`` on spindle's loop calls this; its semantics are asyncio's.
        """
        if self._returncode is not None:
            return self._returncode
        waiter: asyncio.Future[int] = self._loop.create_future()
        self._exit_waiters.append(waiter)
        return await waiter

    # -- the public interface ------------------------------------------------------------

    def get_pid(self) -> int:
        return self._pid

    def get_returncode(self) -> int | None:
        return self._returncode

    def get_pipe_transport(self, fd: int) -> Any:
        return self._pipes.get(fd)

    def get_protocol(self) -> Any:
        return self._protocol

    def set_protocol(self, protocol: Any) -> None:
        self._protocol = protocol

    def send_signal(self, signal: int) -> None:
        if self._state is ProcessState.FINISHED:
            raise ProcessLookupError(f"cannot send a signal: process {self._pid} is finished")
        if self._returncode is not None:
            return  # exited: like asyncio, signalling a dead child is not an error
        with contextlib.suppress(ProcessLookupError):  # exited, not reaped yet: the same
            self._watcher.send_signal(self._pid, signal)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def is_closing(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Close the pipes and kill the child if it is still running."""
        if self._closed:
            return
        self._closed = True
        for pipe in self._pipes.values():
            pipe.close()
        if self._returncode is None:
            # ProcessLookupError: exited already; PermissionError: setuid, out of our reach.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                self._watcher.send_signal(self._pid, signal.SIGKILL)

    def __del__(self, _warn: Any = warnings.warn) -> None:
        if not self._closed:
            _warn(f"unclosed transport {self!r}", ResourceWarning, source=self)
            self.close()
