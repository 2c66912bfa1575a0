"""Socket operations as coroutines: ``sock_recv``, ``sock_sendall``, ``sock_connect``, ...

Every operation follows one pattern: *try it now; only if the socket would block, wait for
readiness and try again.*  A socket that already has data (the common case on a busy
connection) costs one system call and no poller traffic at all.  When it would block,
``_wait_ready`` registers a one-shot reader or writer, waits for the poller to report the
socket, and removes the registration again in a ``finally`` clause, so a cancelled operation
leaves nothing behind in the poller.

Sockets must be non-blocking: a blocking socket would stall the whole loop inside the "try it
now" step.  asyncio checks this only in debug mode; the check is one C call, so spindle
always makes it.

Name resolution (``getaddrinfo``, ``getnameinfo``) runs in the default executor: the C
library's resolver blocks, and there is no portable non-blocking one.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable
from typing import IO, Any, TypeVar

from spindle._io import resolve, sock_sendfile
from spindle._io.poller import READ, WRITE
from spindle._io.readiness import ReadinessLoop

try:
    import ssl as _ssl
except ImportError:  # pragma: no cover - Python built without OpenSSL
    _ssl = None  # type: ignore[assignment]

__all__ = ["SocketMethods", "check_socket"]

T = TypeVar("T")


def _set_ready(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


def check_socket(sock: socket.socket, operation: str) -> None:
    """Refuse sockets the loop cannot drive: blocking ones, and TLS-wrapped ones."""
    if _ssl is not None and isinstance(sock, _ssl.SSLSocket):
        raise TypeError(f"cannot {operation}: Socket cannot be of type SSLSocket")
    if sock.gettimeout() != 0:
        raise ValueError("the socket must be non-blocking")


class SocketMethods(ReadinessLoop):
    """Socket operations: sock_recv, sock_sendall, sock_connect, sock_accept, ..., getaddrinfo."""

    async def _wait_ready(self, fd: int, which: int) -> None:
        """Wait once for ``fd`` to be readable (READ) or writable (WRITE).

        Here, interpreted, and not in the compiled ``ReadinessLoop``: see readiness.py.
        """
        fut = self.create_future()
        handle = self._add_handler(fd, which, _set_ready, (fut,))
        try:
            await fut
        finally:
            # Remove our registration, unless another operation has replaced it meanwhile.
            pair = self._fd_handlers.get(fd)
            if pair is not None and pair[0 if which == READ else 1] is handle:
                # OSError: the socket was closed meanwhile, and the kernel has forgotten
                # the descriptor already (the poller's bookkeeping is updated regardless).
                with contextlib.suppress(OSError):
                    self._remove_handler(fd, which)

    async def _wait_for_socket(self, sock: socket.socket, which: int) -> None:
        """``_wait_ready`` for a public ``sock_*`` call: a transport's socket is refused.

        The transport reads and writes that socket itself; a second party waiting on it
        would steal its data or its wake-ups.  As asyncio does, the check is made when the
        operation would block, i.e. when it would register with the poller.
        """
        await self._wait_ready(self._unowned_fd(sock.fileno()), which)

    async def _retry(self, sock: socket.socket, which: int, attempt: Callable[[], T]) -> T:
        """``attempt()`` now, and again each time ``sock`` is ready, until it does not block.

        Each attempt looks the socket's method up afresh (a lambda, not a bound method), as
        asyncio does: socket-like wrappers may swap their methods between attempts.
        """
        while True:
            try:
                return attempt()
            except (BlockingIOError, InterruptedError):
                await self._wait_for_socket(sock, which)

    # -- receiving -----------------------------------------------------------------------

    async def sock_recv(self, sock: socket.socket, nbytes: int) -> bytes:
        """Receive up to ``nbytes`` bytes (b"" at end of stream)."""
        check_socket(sock, "receive")
        return await self._retry(sock, READ, lambda: sock.recv(nbytes))

    async def sock_recv_into(self, sock: socket.socket, buf: Any) -> int:
        """Receive into ``buf``; the number of bytes received."""
        check_socket(sock, "receive")
        return await self._retry(sock, READ, lambda: sock.recv_into(buf))

    async def sock_recvfrom(self, sock: socket.socket, bufsize: int) -> tuple[bytes, Any]:
        """Receive a datagram of up to ``bufsize`` bytes; ``(data, address)``."""
        check_socket(sock, "receive")
        return await self._retry(sock, READ, lambda: sock.recvfrom(bufsize))

    async def sock_recvfrom_into(
        self, sock: socket.socket, buf: Any, nbytes: int = 0
    ) -> tuple[int, Any]:
        """Receive a datagram into ``buf``; ``(nbytes, address)``."""
        check_socket(sock, "receive")
        nbytes = nbytes or len(buf)
        return await self._retry(sock, READ, lambda: sock.recvfrom_into(buf, nbytes))

    async def sock_accept(self, sock: socket.socket) -> tuple[socket.socket, Any]:
        """Accept a connection; ``(connection, address)``, the connection non-blocking."""
        check_socket(sock, "accept")
        conn, address = await self._retry(sock, READ, lambda: sock.accept())
        conn.setblocking(False)
        return conn, address

    # -- sending -------------------------------------------------------------------------

    async def sock_sendall(self, sock: socket.socket, data: Any) -> None:
        """Send all of ``data``, waiting for the socket to drain as often as needed."""
        check_socket(sock, "send")
        view = memoryview(data).cast("B")
        sent = 0
        total = len(view)
        while True:
            try:  # noqa: SIM105 (suppress() would cost a context manager per send)
                sent += sock.send(view[sent:])
            except (BlockingIOError, InterruptedError):
                pass  # the kernel took nothing this time: wait below
            if sent >= total:
                return
            await self._wait_for_socket(sock, WRITE)

    async def sock_sendto(self, sock: socket.socket, data: Any, address: Any) -> int:
        """Send one datagram to ``address``; the number of bytes sent."""
        check_socket(sock, "send")
        return await self._retry(sock, WRITE, lambda: sock.sendto(data, address))

    async def sock_sendfile(
        self,
        sock: socket.socket,
        file: IO[bytes],
        offset: int = 0,
        count: int | None = None,
        *,
        fallback: bool | None = True,
    ) -> int:
        """Send ``file`` (from ``offset``, ``count`` bytes or to its end) with os.sendfile."""
        check_socket(sock, "send a file")
        return await sock_sendfile.sock_sendfile(self, sock, file, offset, count, bool(fallback))

    # -- connecting ----------------------------------------------------------------------

    async def sock_connect(self, sock: socket.socket, address: Any) -> None:
        """Connect ``sock`` to ``address``, resolving a host name first if there is one."""
        check_socket(sock, "connect")
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            infos = await resolve.resolve(
                self, address, family=sock.family, type=sock.type, proto=sock.proto
            )
            if not infos:
                raise OSError(f"cannot connect: getaddrinfo({address!r}) returned no address")
            address = infos[0][4]
        try:
            sock.connect(address)
            return
        except (BlockingIOError, InterruptedError):
            pass  # in progress: the socket becomes writable when it is settled
        await self._wait_for_socket(sock, WRITE)
        error = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if error != 0:
            # OSError(errno, ...) builds the matching subclass (ConnectionRefusedError, ...).
            raise OSError(error, f"Connect call failed {address}")

    # -- name resolution -----------------------------------------------------------------

    async def getaddrinfo(
        self,
        host: bytes | str | None,
        port: bytes | str | int | None,
        *,
        family: int = 0,
        type: int = 0,
        proto: int = 0,
        flags: int = 0,
    ) -> list[tuple[Any, Any, int, str, Any]]:
        """``socket.getaddrinfo`` in the default executor (IPv6 scope ids are kept)."""
        return await self.run_in_executor(
            None, socket.getaddrinfo, host, port, family, type, proto, flags
        )

    async def getnameinfo(self, sockaddr: Any, flags: int = 0) -> tuple[str, str]:
        """``socket.getnameinfo`` in the default executor."""
        return await self.run_in_executor(None, socket.getnameinfo, sockaddr, flags)
