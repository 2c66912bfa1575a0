"""The write path every stream transport shares (sockets and pipes alike).

``write()`` first tries to send at once; only what the kernel does not take is buffered, and
only then is a writer registered with the poller.  So the invariant is: *the writer is
registered exactly while the buffer is not empty*.  Each writable event flushes the buffer
with one scatter/gather call (``sendmsg`` / ``os.writev`` of up to IOV_MAX pieces), and
``writelines`` hands its whole list to one such call.

Immutable ``bytes`` are buffered as zero-copy views; anything mutable (``bytearray``,
``memoryview``) is copied, since the caller may reuse it as soon as ``write`` returns.

A concrete transport supplies the two system calls (``_send_one``, ``_send_many``) and, as
hooks, what may be written when (``_check_writable``, ``_accepts_writes``) and what happens
once the buffer is empty (``_buffer_flushed``: close, or shut the write side down).
"""

from __future__ import annotations

import itertools
import os
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from spindle._io.poller import WRITE
from spindle._io.transports.base import TransportState
from spindle._io.transports.writable import WritableCore

__all__ = ["IOV_MAX", "BufferedWrites", "as_bytes", "retained"]

try:
    IOV_MAX = os.sysconf("SC_IOV_MAX")
except (AttributeError, OSError, ValueError):  # pragma: no cover - non-POSIX
    IOV_MAX = 16
Data = bytes | memoryview
_GONE = (TransportState.LOST, TransportState.CLOSED)


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


class BufferedWrites(WritableCore):
    """``write``/``writelines`` and the flushing of their buffer (see the module docstring)."""

    _fd: int
    _buffer: deque[Data]
    _send_one: Callable[[Data], int]  # one piece: send() / os.write()
    _send_many: Callable[[Iterable[Data]], int]  # scatter/gather: sendmsg() / os.writev()
    _write_error = "Fatal write error on transport"

    # -- hooks ---------------------------------------------------------------------------

    def _check_writable(self, method: str) -> None:
        """Raise if ``method`` may not be called now (after write_eof, during sendfile...)."""

    def _accepts_writes(self) -> bool:
        """False once writes can no longer be delivered (they are then dropped and counted)."""
        return self._state not in _GONE

    def _buffer_flushed(self) -> None:
        """The buffer has just emptied (and the writer is unregistered)."""

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
                start = self._send_one(data)
            except (BlockingIOError, InterruptedError):
                pass
            except (SystemExit, KeyboardInterrupt):
                raise
            except BaseException as exc:
                self._fatal_error(exc, self._write_error)
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
            if len(buffer) == 1:
                sent = self._send_one(buffer[0])
            else:
                sent = self._send_many(itertools.islice(buffer, IOV_MAX))
        except (BlockingIOError, InterruptedError):
            return True
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._fatal_error(exc, self._write_error)
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
