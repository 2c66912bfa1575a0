"""``IOLoop``: the loop as the transports and the connection helpers see it.

A transport, a server or a connection helper is handed the loop it runs on.  It may use
exactly what this ``typing.Protocol`` lists, and nothing else: the public methods it needs
(scheduling, futures and tasks, the exception handler, the executor, name resolution and a
few socket operations) and six of spindle's own, which make a transport cheap:

* ``_add_handler`` / ``_remove_handler``: watch a descriptor for reading or writing with a
  bound method and no argument checks (``add_reader`` checks its arguments and refuses a
  descriptor a transport owns: see ``readiness``);
* ``_claim_fd``: record that a transport owns a descriptor, so ``add_reader`` refuses it;
* ``_shared_read_buffer``: the one receive buffer the loop's datagram transports read into;
* ``_wait_ready``: wait once for a descriptor to be readable or writable (``sock_sendfile``);
* ``_offload``: worker threads for the system calls that may wait on a disk or a child
  (``offload``: ``os.sendfile``, starting a child, a Unix server's socket file);
* ``_as_asyncio_loop``: the loop itself, typed as the ``asyncio.AbstractEventLoop`` it is, for
  code written against asyncio's loop type (happy eyeballs, TLS, subprocesses).

``EventLoop`` provides it all: ``BaseLoop`` the public scheduling half, ``ReadinessLoop`` the
rest of spindle's own, ``SocketMethods`` the socket operations and ``_wait_ready`` (kept
interpreted: see ``readiness``).  The type checker holds the
loop to the contract wherever it passes itself to a helper.  Code that needs only the public
surface (TLS, the subprocess transport) is typed against ``asyncio.AbstractEventLoop`` instead,
and runs on any loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import socket
from collections.abc import Callable, Coroutine, Generator
from typing import Any, Protocol, TypeVar, TypeVarTuple, Unpack

from spindle._core.handles import Handle, TimerHandle

__all__ = ["AnyLoop", "Cancellable", "IOLoop", "Offloader"]

T = TypeVar("T")
Ts = TypeVarTuple("Ts")


class Offloader(Protocol):
    """``offload.Offload`` as a transport sees it: run a blocking call on a worker thread."""

    async def run(
        self,
        func: Callable[[*Ts], T],
        *args: *Ts,
        on_cancel: Callable[[T], object] | None = None,
    ) -> T: ...


class IOLoop(Protocol):
    """What a transport or a connection helper may ask of its loop (see the module docstring)."""

    # -- scheduling, futures, tasks --------------------------------------------------------

    def call_soon(
        self,
        callback: Callable[[Unpack[Ts]], object],
        *args: *Ts,
        context: contextvars.Context | None = None,
    ) -> Handle: ...

    def call_later(
        self,
        delay: float,
        callback: Callable[[Unpack[Ts]], object],
        *args: *Ts,
        context: contextvars.Context | None = None,
    ) -> TimerHandle: ...

    def call_soon_threadsafe(
        self,
        callback: Callable[[Unpack[Ts]], object],
        *args: *Ts,
        context: contextvars.Context | None = None,
    ) -> Handle: ...

    def create_future(self) -> asyncio.Future[Any]: ...

    def create_task(
        self,
        coro: Coroutine[Any, Any, T] | Generator[Any, None, T],
        *,
        name: str | None = None,
        context: contextvars.Context | None = None,
    ) -> asyncio.Task[T]: ...

    def run_in_executor(
        self,
        executor: concurrent.futures.Executor | None,
        func: Callable[[Unpack[Ts]], T],
        *args: *Ts,
    ) -> asyncio.Future[T]: ...

    # -- state and errors ------------------------------------------------------------------

    def is_closed(self) -> bool: ...

    def get_debug(self) -> bool: ...

    def call_exception_handler(self, context: dict[str, Any]) -> None: ...

    # -- names and sockets -----------------------------------------------------------------

    async def getaddrinfo(
        self,
        host: bytes | str | None,
        port: bytes | str | int | None,
        *,
        family: int = 0,
        type: int = 0,
        proto: int = 0,
        flags: int = 0,
    ) -> list[tuple[Any, Any, int, str, Any]]: ...

    async def sock_connect(self, sock: socket.socket, address: Any) -> None: ...

    async def sock_sendall(self, sock: socket.socket, data: Any) -> None: ...

    # -- spindle's own, for transports -----------------------------------------------------

    @property
    def _offload(self) -> Offloader: ...

    def _add_handler(
        self, fd: int, which: int, callback: Callable[..., object], args: tuple[Any, ...]
    ) -> Handle: ...

    def _remove_handler(self, fd: int, which: int) -> bool: ...

    def _claim_fd(self, fd: int, transport: asyncio.BaseTransport) -> None: ...

    def _shared_read_buffer(self) -> bytearray: ...

    async def _wait_ready(self, fd: int, which: int) -> None: ...

    def _as_asyncio_loop(self) -> asyncio.AbstractEventLoop: ...


class Cancellable(Protocol):
    """A handle or timer handle, of spindle's loop or asyncio's: what can be cancelled."""

    def cancel(self) -> None: ...


# What code that needs only the public surface they share accepts: spindle's loop as the
# transports see it, or any asyncio loop.
AnyLoop = asyncio.AbstractEventLoop | IOLoop
