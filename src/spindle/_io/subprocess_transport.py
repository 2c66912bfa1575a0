"""``SubprocessTransport``: one child process, its three pipes, and the order of events.

The protocol sees, in this order:

1. ``connection_made(transport)``, before any other event;
2. ``pipe_data_received`` / ``pipe_connection_lost`` for each pipe, and ``process_exited``
   once the child has been reaped, interleaved as they happen (a child may exit before or
   after its pipes close: a grandchild can hold them open);
3. ``connection_lost(None)``, exactly once, after ``process_exited`` *and* after every pipe
   is closed.

The first guarantee comes from the start-up order (``_begin``): the pipes start reading
in a callback queued *after* ``connection_made``, and the child watcher can only report
later still.  The third is the ``ProcessState`` machine below.

``close()`` is the user's: it closes the pipes and kills the child if it is still
running; the transport then finishes as usual once the child is reaped.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import os
import signal
import subprocess
import warnings
from collections.abc import Callable
from typing import Any

from spindle._io.child_watcher import ChildWatcher, reap
from spindle._io.readiness import ReadinessLoop
from spindle._io.subprocess_pipes import ReadPipeTransport
from spindle._io.subprocess_stdin import WritePipeTransport

__all__ = ["ProcessState", "SubprocessTransport"]


class ProcessState(enum.Enum):
    STARTING = "starting"  # spawned; connection_made not delivered yet
    RUNNING = "running"  # connection_made delivered; the child has not been reaped
    EXITED = "exited"  # reaped (returncode known); some pipe is still open
    FINISHED = "finished"  # connection_lost delivered: nothing more will happen


class _PipeProtocol(asyncio.Protocol):
    """Forwards one pipe's events to the subprocess transport, tagged with the fd."""

    def __init__(self, owner: SubprocessTransport, fd: int) -> None:
        self._owner = owner
        self._fd = fd
        self.disconnected = False

    def data_received(self, data: bytes) -> None:
        self._owner._pipe_data(self._fd, data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.disconnected = True
        self._owner._pipe_lost(self._fd, exc)

    def pause_writing(self) -> None:
        self._owner._deliver(self._owner._protocol.pause_writing)

    def resume_writing(self) -> None:
        self._owner._deliver(self._owner._protocol.resume_writing)


# The moves ProcessState allows.
_NEXT_STATE = {
    ProcessState.STARTING: ProcessState.RUNNING,
    ProcessState.RUNNING: ProcessState.EXITED,
    ProcessState.EXITED: ProcessState.FINISHED,
}


class SubprocessTransport(asyncio.SubprocessTransport):
    def __init__(
        self,
        loop: ReadinessLoop,
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
        self._exit_waiters: list[asyncio.Future[int]] = []
        self._pipes: dict[int, ReadPipeTransport | WritePipeTransport] = {}
        self._pipe_protocols: list[_PipeProtocol] = []
        if popen.stdin is not None:
            self._pipes[0] = WritePipeTransport(loop, popen.stdin, self._pipe_protocol(0))
        for fd, pipe in ((1, popen.stdout), (2, popen.stderr)):
            if pipe is not None:
                self._pipes[fd] = ReadPipeTransport(loop, pipe, self._pipe_protocol(fd))

    def _pipe_protocol(self, fd: int) -> _PipeProtocol:
        protocol = _PipeProtocol(self, fd)
        self._pipe_protocols.append(protocol)
        return protocol

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

    def _begin(self, waiter: asyncio.Future[None]) -> None:
        """Queue connection_made, then the start of the pipes, then watch the child.

        The watcher reports on a later callback than both (a pidfd is polled in a later
        pass; a waiter thread queues behind them), so connection_made comes first.
        """
        queued = [
            self._loop.call_soon(self._protocol.connection_made, self),
            self._loop.call_soon(self._start_pipes, waiter),
        ]
        try:
            self._watcher.watch(self._popen, self._process_exited)
        except BaseException:
            for handle in queued:
                handle.cancel()
            self._abandon()
            raise

    def _start_pipes(self, waiter: asyncio.Future[None]) -> None:
        self._move_to(ProcessState.RUNNING)
        for pipe in self._pipes.values():
            pipe.start()
        if not waiter.cancelled():
            waiter.set_result(None)

    def _abandon(self) -> None:
        """The child cannot be watched: kill it, reap it here, and drop the pipes unseen."""
        self._closed = True
        self._state = ProcessState.FINISHED
        for pipe in self._pipes.values():
            pipe.discard()
        os.kill(self._pid, signal.SIGKILL)  # not reaped yet, so the pid is still this child
        self._returncode = reap(self._popen, block=True)
        self._protocol = None

    # -- events from the pipes and the watcher -------------------------------------------

    def _deliver(self, callback: Callable[..., object], *args: Any) -> None:
        """Call a protocol method now; what it raises goes to the exception handler."""
        try:
            callback(*args)
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._loop.call_exception_handler(
                {
                    "message": f"subprocess protocol callback {callback!r} failed",
                    "exception": exc,
                    "transport": self,
                    "protocol": self._protocol,
                }
            )

    def _pipe_data(self, fd: int, data: bytes) -> None:
        self._deliver(self._protocol.pipe_data_received, fd, data)

    def _pipe_lost(self, fd: int, exc: Exception | None) -> None:
        self._deliver(self._protocol.pipe_connection_lost, fd, exc)
        self._finish_if_done()

    def _process_exited(self, returncode: int) -> None:
        self._returncode = returncode
        self._move_to(ProcessState.EXITED)
        self._deliver(self._protocol.process_exited)
        self._finish_if_done()

    def _finish_if_done(self) -> None:
        if self._state is not ProcessState.EXITED:
            return
        if all(protocol.disconnected for protocol in self._pipe_protocols):
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
