"""The wake-up channel: how another thread interrupts a loop blocked in its poll.

``call_soon_threadsafe`` appends to the ready queue (a thread-safe deque) and then makes the
loop's poll return by making a descriptor readable.  On Linux that is one ``eventfd`` (a
counter in the kernel: one descriptor, 8 bytes, never fills up); elsewhere it is a socket
pair.  The loop drains it when the poll reports it.
"""

from __future__ import annotations

import os
import socket

__all__ = ["Waker"]


class Waker:
    def __init__(self) -> None:
        self._closed = False
        self._sockets: tuple[socket.socket, socket.socket] | None = None
        if hasattr(os, "eventfd"):
            self.fd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        else:
            ours, theirs = socket.socketpair()
            ours.setblocking(False)
            theirs.setblocking(False)
            self._sockets = (ours, theirs)
            self.fd = ours.fileno()

    def wake(self) -> None:
        """Make ``fd`` readable.  Safe from any thread; harmless after close."""
        try:
            if self._sockets is None:
                os.eventfd_write(self.fd, 1)
            else:
                self._sockets[1].send(b"\0")
        except OSError:
            pass  # full (already awake) or closed by a racing close(): nothing to do

    def drain(self) -> None:
        try:
            if self._sockets is None:
                os.eventfd_read(self.fd)
            else:
                while self._sockets[0].recv(4096):
                    pass
        except OSError:
            pass  # nothing (more) to read

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._sockets is None:
            os.close(self.fd)
        else:
            for sock in self._sockets:
                sock.close()
