"""Child processes: the loop's ``subprocess_exec`` and ``subprocess_shell``.

A child is started with ``subprocess.Popen``, which already knows every option people pass
(``cwd``, ``env``, ``start_new_session``, ``pass_fds``, ...), on a worker thread (``offload``):
``Popen`` waits on a pipe until the child has called ``exec``, which must not stall the loop.
The child is handed to the loop's child watcher (``child_watcher.py``), which reaps it without
races, and its pipes become the loop's own pipe transports (``transports/pipes.py``, through
``connect_read_pipe`` / ``connect_write_pipe``).  ``transport.py`` puts the pieces together
and orders the protocol's events.  (Signal handlers are ``signals.py``'s, a facility of
their own.)

The options that would make ``Popen`` buffer or decode are refused, as asyncio refuses
them: the protocol receives the raw bytes, and decoding is the stream's business.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
from collections.abc import Callable
from typing import IO, TYPE_CHECKING, Any, Literal, TypeVar, cast

from spindle._io.readiness import ReadinessLoop
from spindle._io.subprocess.child_watcher import (
    ChildWatcher,
    new_child_watcher,
    reap_in_background,
)
from spindle._io.subprocess.transport import SubprocessTransport

if TYPE_CHECKING:
    from spindle._io.contract import IOLoop

__all__ = ["SubprocessMethods", "check_popen_options", "discard_child"]

_ProtocolT = TypeVar("_ProtocolT", bound=asyncio.BaseProtocol)

Stdio = int | IO[Any] | None


def check_popen_options(
    *,
    shell: bool,
    want_shell: bool,
    universal_newlines: object,
    bufsize: object,
    encoding: object,
    errors: object,
    text: object,
) -> None:
    """Refuse what would make the child's pipes anything but raw bytes (ValueError)."""
    if universal_newlines:
        raise ValueError("universal_newlines must be False")
    if bool(shell) != want_shell:
        raise ValueError(f"shell must be {want_shell}")
    if bufsize != 0:
        raise ValueError("bufsize must be 0")
    if text:
        raise ValueError("text must be False")
    if encoding is not None:
        raise ValueError("encoding must be None")
    if errors is not None:
        raise ValueError("errors must be None")


class SubprocessMethods(ReadinessLoop):
    """``subprocess_exec`` / ``subprocess_shell`` (see the module docstring)."""

    _child_watcher: ChildWatcher | None

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._child_watcher = None  # made on first use: most loops never spawn a child

    async def subprocess_exec(
        self,
        protocol_factory: Callable[[], _ProtocolT],
        program: Any,
        *args: Any,
        stdin: Stdio = subprocess.PIPE,
        stdout: Stdio = subprocess.PIPE,
        stderr: Stdio = subprocess.PIPE,
        universal_newlines: Literal[False] = False,
        shell: Literal[False] = False,
        bufsize: Literal[0] = 0,
        encoding: None = None,
        errors: None = None,
        text: Literal[False] | None = None,
        **kwargs: Any,
    ) -> tuple[asyncio.SubprocessTransport, _ProtocolT]:
        """Run ``program`` with ``args``; the transport and ``protocol_factory()``."""
        check_popen_options(
            shell=shell, want_shell=False, universal_newlines=universal_newlines,
            bufsize=bufsize, encoding=encoding, errors=errors, text=text,
        )  # fmt: skip
        protocol = protocol_factory()
        argv = [program, *args]
        transport = await self._spawn(protocol, argv, False, stdin, stdout, stderr, kwargs)
        return transport, protocol

    async def subprocess_shell(
        self,
        protocol_factory: Callable[[], _ProtocolT],
        cmd: bytes | str,
        *,
        stdin: Stdio = subprocess.PIPE,
        stdout: Stdio = subprocess.PIPE,
        stderr: Stdio = subprocess.PIPE,
        universal_newlines: Literal[False] = False,
        shell: Literal[True] = True,
        bufsize: Literal[0] = 0,
        encoding: None = None,
        errors: None = None,
        text: Literal[False] | None = None,
        **kwargs: Any,
    ) -> tuple[asyncio.SubprocessTransport, _ProtocolT]:
        """Run ``cmd`` with the shell; the transport and ``protocol_factory()``."""
        if not isinstance(cmd, (bytes, str)):
            raise ValueError("cmd must be a string")
        check_popen_options(
            shell=shell, want_shell=True, universal_newlines=universal_newlines,
            bufsize=bufsize, encoding=encoding, errors=errors, text=text,
        )  # fmt: skip
        protocol = protocol_factory()
        transport = await self._spawn(protocol, cmd, True, stdin, stdout, stderr, kwargs)
        return transport, protocol

    async def _spawn(
        self,
        protocol: Any,
        args: Any,
        shell: bool,
        stdin: Stdio,
        stdout: Stdio,
        stderr: Stdio,
        kwargs: dict[str, Any],
    ) -> SubprocessTransport:
        self._check_closed("start a subprocess")
        watcher = self._child_watcher
        if watcher is None:
            # At run time self is the whole EventLoop, which keeps the IOLoop contract; this
            # facility alone does not (the socket operations come from SocketMethods).
            watcher = self._child_watcher = new_child_watcher(cast("IOLoop", self))
        # Popen waits for the child's exec on a pipe: on a worker thread, not the loop's.
        popen = await self._offload.run(
            _popen, args, shell, stdin, stdout, stderr, kwargs, on_cancel=discard_child
        )
        try:
            transport = SubprocessTransport(self._as_asyncio_loop(), protocol, popen, watcher)
        except BaseException:
            discard_child(popen)
            raise
        waiter: asyncio.Future[None] = self.create_future()
        transport._connect(waiter)
        try:
            await waiter
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException:
            # Cancelled while the pipes were connecting: do not leave the child running.
            transport.close()
            await transport._wait()
            raise
        return transport

    def _close_io(self) -> None:
        super()._close_io()
        if self._child_watcher is not None:
            self._child_watcher.close()
            self._child_watcher = None


def _popen(
    args: Any, shell: bool, stdin: Stdio, stdout: Stdio, stderr: Stdio, kwargs: dict[str, Any]
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        args, shell=shell, stdin=stdin, stdout=stdout, stderr=stderr, bufsize=0, **kwargs
    )


def discard_child(popen: subprocess.Popen[bytes]) -> None:
    """Kill a child nobody will use, close its pipes, and reap it without waiting for it."""
    with contextlib.suppress(ProcessLookupError):
        popen.kill()
    for pipe in (popen.stdin, popen.stdout, popen.stderr):
        if pipe is not None:
            pipe.close()
    reap_in_background(popen)
