"""``ReadinessLoop``: the scheduling core plus a poller for file descriptors.

Readers and writers are kept per descriptor as a pair of handles.  When the poller reports a
descriptor ready, its handle (the same object every time: no allocation per event) is
appended to the ready queue and runs in the same pass.  The wake-up descriptor is registered
like any reader.

When a pass has callbacks ready and no descriptor is watched but the wake-up, the poll is
skipped entirely: there is nothing it could report that changes what runs next (callbacks
queued by other threads are already in the ready queue).  That saves a system call per pass
on purely computational workloads, and the call of ``_poll`` itself: the loop keeps the
scheduler's ``_poll_when_busy`` off while only the wake-up is watched (``_watch_count_changed``).

Waiting once for a descriptor (``_wait_ready``) is not here but with the socket operations
(``sockets.py``), which stay interpreted: compiled, a coroutine passes a throw (a cancellation)
on to what it awaits as ``throw(type, value, traceback)``, a form Python 3.12 deprecates, and
every cancelled ``sock_recv`` would warn.

A descriptor that a transport owns is refused by the public ``add_reader``/``add_writer``/
``remove_reader``/``remove_writer`` while the transport is open (asyncio's rule): a reader
registered from outside would silently replace the transport's own, and the transport would
stop hearing its socket.  Transports enter themselves in a weak map when they are made
(``_claim_fd``); the loop's internal ``_add_handler``/``_remove_handler`` do not look at it.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable
from typing import Any, TypeVarTuple, Unpack

from spindle._core.clock import Clock
from spindle._core.handles import Handle
from spindle._core.loop import BaseLoop
from spindle._core.native import from_none, mypyc_attr
from spindle._core.scheduler import IOWaiter, ReadyEntry
from spindle._io.offload import Offload
from spindle._io.poller import (
    EPOLL_READABLE,
    EPOLL_WRITABLE,
    READ,
    WRITE,
    EpollPoller,
    Poller,
    new_poller,
)
from spindle._io.waker import Waker

__all__ = ["ReadinessLoop", "ReadyDescriptors", "fileobj_to_fd"]

Ts = TypeVarTuple("Ts")

# The size of the loop's shared buffer: the largest datagram a datagram transport receives.
READ_BUFFER_SIZE = 256 * 1024


def fileobj_to_fd(fileobj: int | Any) -> int:
    """The descriptor number of an int or of an object with ``fileno()``."""
    if isinstance(fileobj, int):
        fd = fileobj
    else:
        try:
            fd = int(fileobj.fileno())
        except (AttributeError, TypeError, ValueError):
            error = ValueError(f"Invalid file object: {fileobj!r}")
            raise from_none(error)  # noqa: B904 (mypyc drops "from": see _core/native.py)
    if fd < 0:
        raise ValueError(f"Invalid file descriptor: {fd}")
    return fd


class ReadyDescriptors(IOWaiter):
    """Phase 3 of a pass: wait for the poller, queue the handlers of the ready descriptors.

    The handle of each descriptor is the same object every time (``_add_handler``); one the
    loop no longer watches, or cancelled, is not queued.  With epoll, the pairs epoll itself
    returns are read here (``EpollPoller.poll_masks``), and no list of translated pairs is
    made for each poll.
    """

    def __init__(
        self,
        poller: Poller,
        handlers: dict[int, list[Handle | None]],
        put: Callable[[ReadyEntry], None],
    ) -> None:
        self._epoll: EpollPoller | None = poller if isinstance(poller, EpollPoller) else None
        # Bound once: compiled, a call through the Protocol type looks the method up by name.
        self._poll_events: Callable[[float | None], list[tuple[int, int]]] = poller.poll
        self._handlers = handlers
        self._put = put

    def wait(self, timeout: float | None) -> None:
        epoll = self._epoll
        if epoll is not None:
            events = epoll.poll_masks(timeout)
            readable, writable = EPOLL_READABLE, EPOLL_WRITABLE
        else:
            events = self._poll_events(timeout)
            readable, writable = READ, WRITE
        put = self._put
        handlers = self._handlers
        for fd, mask in events:
            pair = handlers.get(fd)
            if pair is None:
                continue
            reader, writer = pair
            if mask & readable and reader is not None and not reader._cancelled:
                put(reader)
            if mask & writable and writer is not None and not writer._cancelled:
                put(writer)


@mypyc_attr(allow_interpreted_subclasses=True)
class ReadinessLoop(BaseLoop):
    """The loop with readers and writers: what every I/O facility is built on."""

    def __init__(self, *, clock: Clock | None = None, poller: Poller | None = None) -> None:
        super().__init__(clock=clock)
        self._poller: Poller = new_poller() if poller is None else poller
        # fd -> the object (a socket, a file) a public add_reader/add_writer was given for it:
        # remove_reader/remove_writer find it by identity once it is closed (fileno() == -1).
        self._fd_objects: dict[int, Any] = {}
        # Worker threads for the loop's own blocking system calls (offload.py).
        self._offload = Offload(self)
        # fd -> [reader handle or None, writer handle or None]
        self._fd_handlers: dict[int, list[Handle | None]] = {}
        # fd -> the transport that owns it (weak: a dropped transport owns nothing)
        self._fd_owners: weakref.WeakValueDictionary[int, asyncio.BaseTransport] = (
            weakref.WeakValueDictionary()
        )
        self._ready_descriptors = ReadyDescriptors(self._poller, self._fd_handlers, self._put_ready)
        # A plain pass waits with it directly, unless a subclass has a _poll of its own.
        if type(self)._poll is ReadinessLoop._poll:
            self._io_waiter = self._ready_descriptors
        self._waker = Waker()
        self._add_handler(self._waker.fd, READ, self._waker.drain, ())
        self._read_buffer: bytearray | None = None

    # -- the hooks BaseLoop calls --------------------------------------------------------

    def _poll(self, timeout: float | None) -> None:
        self._ready_descriptors.wait(timeout)

    def _watch_count_changed(self) -> None:
        """A descriptor is watched, or no longer: busy passes poll unless only the waker is."""
        self._poll_when_busy = len(self._fd_handlers) > 1

    def _wakeup(self) -> None:
        self._waker.wake()

    def _close_io(self) -> None:
        self._fd_objects.clear()
        for fd in list(self._fd_handlers):
            pair = self._fd_handlers.pop(fd)
            for handle in pair:
                if handle is not None:
                    handle.cancel()
        self._poller.close()
        self._waker.close()
        self._offload.close()

    # -- readers and writers -------------------------------------------------------------

    def _add_handler(
        self, fd: int, which: int, callback: Callable[..., object], args: tuple[Any, ...]
    ) -> Handle:
        handle = Handle(callback, args, self, None)
        pair = self._fd_handlers.get(fd)
        if pair is None:
            pair = [None, None]
            self._poller.set_interest(fd, 0, which)
            self._fd_handlers[fd] = pair
            self._watch_count_changed()
        else:
            old = _interest(pair)
            self._poller.set_interest(fd, old, old | which)
        slot = 0 if which == READ else 1
        previous = pair[slot]
        pair[slot] = handle
        if previous is not None:
            previous.cancel()
        return handle

    def _remove_handler(self, fd: int, which: int) -> bool:
        if self.is_closed():
            return False
        pair = self._fd_handlers.get(fd)
        slot = 0 if which == READ else 1
        if pair is None or pair[slot] is None:
            return False
        old = _interest(pair)
        handle = pair[slot]
        pair[slot] = None
        new = _interest(pair)
        if new:
            self._poller.set_interest(fd, old, new)
        else:
            del self._fd_handlers[fd]
            self._watch_count_changed()
            self._fd_objects.pop(fd, None)
            self._poller.set_interest(fd, old, 0)
        assert handle is not None
        handle.cancel()
        return True

    def _shared_read_buffer(self) -> bytearray:
        """One receive buffer per loop, shared by its datagram transports.

        A datagram transport receives into it and copies out only the bytes that arrived, so
        a small datagram costs a small allocation; sharing is safe because the loop runs one
        callback at a time and the copy is made before any protocol code runs.  (Stream
        transports read into new bytes of their own: ``transports/reading.py``.)
        """
        if self._read_buffer is None:
            self._read_buffer = bytearray(READ_BUFFER_SIZE)
        return self._read_buffer

    # -- transports' descriptors ---------------------------------------------------------

    def _claim_fd(self, fd: int, transport: asyncio.BaseTransport) -> None:
        """Record that ``transport`` owns ``fd``: the public reader/writer API refuses it."""
        self._fd_owners[fd] = transport

    def _checked_fd(self, fd: int | Any, operation: str) -> int:
        self._check_closed(operation)
        number = self._unowned_fd(fd)
        if number == self._waker.fd:
            raise ValueError(f"cannot {operation}: fd {number} is the loop's own wake-up channel")
        return number

    def _unowned_fd(self, fd: int | Any) -> int:
        """The number of ``fd``, unless an open transport owns it (see the module docstring)."""
        number = fileobj_to_fd(fd)
        owner = self._fd_owners.get(number)
        if owner is not None and not owner.is_closing():
            # asyncio's exact words: code and tests match on them.
            raise RuntimeError(f"File descriptor {fd!r} is used by transport {owner!r}")
        return number

    def add_reader(
        self, fd: Any, callback: Callable[[Unpack[Ts]], object], *args: *Ts
    ) -> None:
        """Call ``callback(*args)`` whenever ``fd`` is readable."""
        number = self._checked_fd(fd, "add a reader")
        self._check_callback(callback, "add_reader")
        self._add_handler(number, READ, callback, args)
        self._remember_object(number, fd)

    def add_writer(
        self, fd: Any, callback: Callable[[Unpack[Ts]], object], *args: *Ts
    ) -> None:
        """Call ``callback(*args)`` whenever ``fd`` is writable."""
        number = self._checked_fd(fd, "add a writer")
        self._check_callback(callback, "add_writer")
        self._add_handler(number, WRITE, callback, args)
        self._remember_object(number, fd)

    def remove_reader(self, fd: Any) -> bool:
        """Stop watching ``fd`` for reading; False when it was not watched."""
        return self._remove_handler(self._registered_fd(fd), READ)

    def remove_writer(self, fd: Any) -> bool:
        """Stop watching ``fd`` for writing; False when it was not watched."""
        return self._remove_handler(self._registered_fd(fd), WRITE)

    def _remember_object(self, number: int, fileobj: Any) -> None:
        if not isinstance(fileobj, int):
            self._fd_objects[number] = fileobj

    def _registered_fd(self, fileobj: Any) -> int:
        """``_unowned_fd``, or, for an object closed since it was registered, its old number.

        Closing a socket while a reader waits on it is common (another task closes the
        connection); the reader's owner then removes its reader with the closed socket, whose
        ``fileno()`` is -1.  asyncio's selector finds such an object by identity among those
        it registered, and so does spindle.
        """
        try:
            return self._unowned_fd(fileobj)
        except ValueError:
            for number, registered in self._fd_objects.items():
                if registered is fileobj:
                    return number
            raise


def _interest(pair: list[Handle | None]) -> int:
    return (READ if pair[0] is not None else 0) | (WRITE if pair[1] is not None else 0)


