"""The write path every stream transport shares (sockets and pipes alike).

``write()`` first tries to send at once; only what the kernel does not take is buffered, and
only then is a writer registered with the poller.  So the invariant is: *the writer is
registered exactly while the buffer is not empty*.  Each writable event flushes the buffer
with one scatter/gather call (``os.writev`` of up to IOV_MAX pieces), and
``writelines`` hands its whole list to one such call.

Immutable ``bytes`` are buffered as zero-copy views; anything mutable (``bytearray``,
``memoryview``) is copied, since the caller may reuse it as soon as ``write`` returns.

Sockets and pipes alike are written with ``os.write`` and ``os.writev`` on the descriptor
(a socket's ``send`` with no flags is a ``write``; ``os.write`` takes its arguments without
the socket method's format parsing, some 550 instructions less a write, counted by valgrind),
except a socket of a subclass of ``socket.socket``, written through its own ``send`` and
``sendmsg`` as asyncio writes every socket (``_via_socket``, ``reading``).
A concrete transport supplies, as hooks, whether writes can still be delivered
(``_accepts_writes``) and what happens once the buffer is empty (``_buffer_flushed``: close,
or ``_shutdown_write``: shut the write side down).
"""

from __future__ import annotations

import asyncio
import itertools
import os
from collections import deque
from collections.abc import Iterable
from typing import Any, Final

from spindle._core.native import mypyc_attr
from spindle._io.contract import IOLoop
from spindle._io.poller import WRITE
from spindle._io.transports.base import TransportState
from spindle._io.transports.writable import WritableCore

__all__ = ["IOV_MAX", "BufferedWrites", "as_bytes", "retained"]


def _iov_max() -> int:
    """How many pieces one scatter/gather call takes."""
    try:
        return os.sysconf("SC_IOV_MAX")
    except (AttributeError, OSError, ValueError):  # pragma: no cover - non-POSIX
        return 16


IOV_MAX: Final = _iov_max()
_write: Final = os.write
_writev: Final = os.writev
Data = bytes | memoryview
_OPEN: Final = TransportState.OPEN
_GONE: Final = (TransportState.LOST, TransportState.CLOSED)


def as_bytes(data: Any) -> Data:
    """``data`` as bytes or a flat byte view; TypeError for anything not bytes-like."""
    if type(data) is bytes:
        return data
    if not isinstance(data, (bytearray, memoryview)):
        raise TypeError(f"data argument must be a bytes-like object, not {type(data).__name__!r}")
    return memoryview(data).cast("B")


def retained(data: Data, start: int) -> Data:
    """What the buffer keeps of ``data[start:]``: a view of immutable bytes, else a copy."""
    if type(data) is bytes:
        return memoryview(data)[start:] if start else data
    return bytes(data[start:])


@mypyc_attr(allow_interpreted_subclasses=True)
class BufferedWrites(WritableCore):
    """``write``/``writelines`` and the flushing of their buffer (see the module docstring)."""

    _fd: int
    _buffer: deque[Data]

    def __init__(
        self,
        face: asyncio.BaseTransport,
        loop: IOLoop,
        protocol: asyncio.BaseProtocol,
        extra: dict[str, Any],
    ) -> None:
        super().__init__(face, loop, protocol, extra)
        self._eof = False  # write_eof() was called (a socket's: its write side is shut down)
        self._sendfile_active = False  # the kernel owns the descriptor (sendfile_native)

    def _write_error(self) -> str:
        return "Fatal write error on transport"

    # -- hooks ---------------------------------------------------------------------------

    def _check_writable(self, method: str) -> None:
        """Raise if ``method`` may not be called now: after ``write_eof``, during sendfile."""
        if self._eof:
            raise RuntimeError(f"Cannot call {method}() after write_eof()")
        if self._sendfile_active:
            raise RuntimeError(f"unable to {method}; sendfile is in progress")

    def _accepts_writes(self) -> bool:
        """False once writes can no longer be delivered (they are then dropped and counted)."""
        return self._state not in _GONE

    def _buffer_flushed(self) -> None:
        """The buffer has just emptied (and the writer is unregistered)."""

    def _shutdown_write(self) -> None:
        """End the stream, the buffer being empty (a socket shuts its write side down)."""

    # -- the end of the stream -------------------------------------------------------------

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        """End the stream once the buffer has been sent (``_buffer_flushed`` sees ``_eof``)."""
        if self._state is not _OPEN or self._eof:
            return
        self._eof = True
        if not self._buffer:
            self._shutdown_write()

    # -- writing -------------------------------------------------------------------------

    def write(self, data: Any) -> None:
        data = as_bytes(data)
        self._check_writable("write")
        if not data:
            return
        if not self._accepts_writes():
            self._drop_write(len(data))
            return
        start = 0
        if not self._buffer:
            try:
                sock = self._via_socket
                start = _write(self._fd, data) if sock is None else sock.send(data)
            except (BlockingIOError, InterruptedError):
                pass
            except (SystemExit, KeyboardInterrupt):
                raise
            except BaseException as exc:
                self._fatal_error(exc, self._write_error())
                return
            if start == len(data):
                return
            self._loop._add_handler(self._fd, WRITE, self._on_writable, ())
        kept = retained(data, start)
        self._buffer.append(kept)
        self._buffer_size += len(kept)
        self._maybe_pause_protocol()

    def writelines(self, list_of_data: Iterable[Any]) -> None:
        pieces = [piece for piece in map(as_bytes, list_of_data) if piece]
        self._check_writable("writelines")
        if not pieces:
            return
        if not self._accepts_writes():
            self._drop_write(sum(map(len, pieces)))
            return
        was_empty = not self._buffer
        for piece in pieces:
            kept = retained(piece, 0)
            self._buffer.append(kept)
            self._buffer_size += len(kept)
        if was_empty:
            self._flush()  # one scatter/gather call for the whole list
            if self._buffer:
                self._loop._add_handler(self._fd, WRITE, self._on_writable, ())
        self._maybe_pause_protocol()

    def _flush(self) -> bool:
        """Send what the kernel takes of the buffer; False after a fatal error."""
        buffer = self._buffer
        if not buffer:
            return True
        try:
            sock = self._via_socket
            if len(buffer) == 1:
                head = buffer[0]
                sent = _write(self._fd, head) if sock is None else sock.send(head)
            else:
                pieces = list(itertools.islice(buffer, IOV_MAX))
                sent = _writev(self._fd, pieces) if sock is None else sock.sendmsg(pieces)
        except (BlockingIOError, InterruptedError):
            return True
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._fatal_error(exc, self._write_error())
            return False
        self._buffer_size -= sent
        while sent:
            head = buffer[0]
            if len(head) <= sent:
                sent -= len(head)
                buffer.popleft()
            else:
                buffer[0] = memoryview(head)[sent:]
                break
        return True

    def _on_writable(self) -> None:
        if not self._flush():
            return
        self._maybe_resume_protocol()  # the protocol may write more from here
        if self._buffer or self._state in _GONE:
            return
        self._loop._remove_handler(self._fd, WRITE)
        self._buffer_flushed()
