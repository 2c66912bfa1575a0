"""The transports' faces: what a protocol and a program hold (see ``base`` for the split).

A face is a class of asyncio's (``asyncio.Transport``, ``ReadTransport``,
``DatagramTransport``), so ``isinstance`` checks hold, it can be weakly referenced (a server
keeps a ``WeakSet`` of its connections, libraries key weak dictionaries by transport) and
subclassed.  It holds its core (``_core``) and every method hands over to it; the core holds
the face until it is CLOSED, and passes the face, never itself, to the protocol and to
reports.  ``get_extra_info`` is asyncio's own, reading ``_extra``: the face and its core share
that dict.

The state is the core's: reading a private attribute the face does not have (``_protocol``,
``_loop``, ``_fd``...) reads the core's, for the code and tests that look at asyncio's
transport internals by name.  ``_sock`` and ``_pipe``, which asyncio's tests read and set, are
the face's own, and so is a private name set on the face.  In the compiled build each of the
core's names is a descriptor on the face's class (``_CoreName``, made from the native class's
fields and methods, which ``dir()`` lists); in the pure build the core's attributes live in
its instance dict, and the face reads them through ``__getattr__``.  Not ``__getattr__`` in
both: a class that defines it has every attribute read go through CPython's slower hook, and
the interpreter's specialised reads give up on it, which cost each ``transport.write`` from a
protocol or a stream writer some 500 instructions (a 1 KiB echo round trip through asyncio's
streams, 42.1 thousand instructions, 40.6 without).

A face that the program drops without closing its transport warns (``ResourceWarning``) and
releases the descriptor (``_collected``), as a transport of asyncio's does.

Writing is the one call a protocol makes on every message (and ``is_closing`` a stream
writer's on every ``drain``), so a stream's face binds ``write`` and ``is_closing`` to its
core's as attributes of the instance: the call goes straight to the core (in the compiled
build, a native method) instead of through one more Python call.  ``tests/io/test_faces.py``
holds them to the class's.

The coroutines of the transports live here, in an interpreted module (``until_started``, which
whoever makes a transport awaits, and ``sendfile_native``): a compiled coroutine passes a
cancellation on to what it awaits with ``throw(type, value, traceback)``, the form Python 3.12
deprecates (``tests/test_compiled.py`` keeps coroutines out of the compiled modules).

The mixins below give the methods by kind (every transport, reading, a write buffer, a stream
of bytes); a concrete face lists the ones its core has.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from typing import IO, Any

from spindle._core.build import COMPILED
from spindle._io.contract import IOLoop
from spindle._io.sock_sendfile import native_sendfile
from spindle._io.transports.base import TransportCore
from spindle._io.transports.datagram_socket import DatagramCore
from spindle._io.transports.pipes import ReadPipeCore, WritePipeCore, pipe_fd
from spindle._io.transports.policy import Limit
from spindle._io.transports.reading import ReadingCore
from spindle._io.transports.stream_socket import ConnectionOwner, SocketCore
from spindle._io.transports.writable import WritableCore
from spindle._io.transports.write_buffer import BufferedWrites

__all__ = [
    "DatagramSocketTransport",
    "ReadPipeTransport",
    "SocketTransport",
    "WritePipeTransport",
    "until_started",
]


async def until_started(waiter: asyncio.Future[None], undo: Callable[[], object]) -> None:
    """Wait for a new transport to start; if it fails or the wait is cancelled, ``undo()``
    (the transport's close or abort) before the exception propagates.  (Interpreted, as
    every coroutine of the transports is: see the module docstring.)"""
    try:
        await waiter
    except BaseException:
        undo()
        raise


class _Face(asyncio.BaseTransport):
    """What every transport has: closing, its protocol, its repr, and the end of a face
    that was dropped open."""

    __slots__ = ()
    _core: TransportCore
    _extra: dict[str, Any]  # asyncio.BaseTransport's slot, shared with the core

    def close(self) -> None:
        self._core.close()

    def is_closing(self) -> bool:
        return self._core.is_closing()

    # None once the connection is lost, as asyncio's; typeshed's stub leaves that case out.
    def get_protocol(self) -> asyncio.BaseProtocol | None:  # type: ignore[override]
        return self._core.get_protocol()

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._core.set_protocol(protocol)

    def __repr__(self) -> str:
        core: TransportCore | None = getattr(self, "_core", None)
        if core is None:  # (its __init__ failed)
            return f"<{type(self).__name__} not started>"
        return core._repr_as(type(self).__name__)

    def __del__(self) -> None:
        core: TransportCore | None = getattr(self, "_core", None)
        if core is not None:
            core._collected()


def _reads_through(name: str) -> bool:
    """Whether a face reads ``name`` from its core when it lacks it: a private name, not a
    dunder, and not ``_core`` itself."""
    return name.startswith("_") and not name.startswith("__") and name != "_core"


def _core_name(face: _Face, name: str) -> Any:
    """The pure build's ``__getattr__`` of a face: a private name it lacks is its core's."""
    if not _reads_through(name):
        raise AttributeError(f"{type(face).__name__!r} object has no attribute {name!r}")
    return getattr(face._core, name)


class _CoreName:
    """One private name of the core, read through the face: ``face._fd`` is ``face._core._fd``.

    A non-data descriptor (no ``__set__``): what is set on the face itself comes first.
    """

    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        self._name = name

    def __get__(self, face: _Face | None, owner: type | None = None) -> Any:
        if face is None:
            return self
        return getattr(face._core, self._name)


def _read_through(face_class: type[_Face], core_class: type[TransportCore]) -> None:
    """Give ``face_class`` the private names of ``core_class`` it does not have itself."""
    if not COMPILED:
        return  # __getattr__ does it (see the module docstring)
    for name in dir(core_class):
        if _reads_through(name) and not hasattr(face_class, name):
            setattr(face_class, name, _CoreName(name))


if not COMPILED:
    _Face.__getattr__ = _core_name  # type: ignore[attr-defined]


class _ReadingFace(_Face, asyncio.ReadTransport):
    """A transport that reads, and whose reading the protocol may pause."""

    __slots__ = ()
    _core: ReadingCore

    def is_reading(self) -> bool:
        return self._core.is_reading()

    def pause_reading(self) -> None:
        self._core.pause_reading()

    def resume_reading(self) -> None:
        self._core.resume_reading()


class _BufferFace(_Face, asyncio.WriteTransport):
    """A transport with a write buffer and its flow control."""

    __slots__ = ()
    _core: WritableCore

    def abort(self) -> None:
        self._core.abort()

    def get_write_buffer_size(self) -> int:
        return self._core.get_write_buffer_size()

    # A limit may be math.inf, as asyncio's may; typeshed's stub says int.
    def get_write_buffer_limits(self) -> tuple[Limit, Limit]:  # type: ignore[override]
        return self._core.get_write_buffer_limits()

    def set_write_buffer_limits(self, high: Limit | None = None, low: Limit | None = None) -> None:
        self._core.set_write_buffer_limits(high, low)


class _StreamFace(_BufferFace):
    """A transport that writes a stream of bytes."""

    __slots__ = ()
    _core: BufferedWrites

    def _bind_core_methods(self) -> None:
        # FAST PATH: write() is the protocol's call on every message, is_closing() a stream
        # writer's on every drain(); the instance's own attributes are the core's methods, so
        # the calls skip this class's (see the module docstring).  tests/io/test_faces.py
        # holds them to the class's.
        self.write = self._core.write  # type: ignore[method-assign]
        self.is_closing = self._core.is_closing  # type: ignore[method-assign]

    def write(self, data: Any) -> None:
        self._core.write(data)

    def writelines(self, list_of_data: Any) -> None:
        self._core.writelines(list_of_data)

    def can_write_eof(self) -> bool:
        return self._core.can_write_eof()

    def write_eof(self) -> None:
        self._core.write_eof()


class SocketTransport(_ReadingFace, _StreamFace, asyncio.Transport):
    """A stream transport over a connected, non-blocking socket (TCP or Unix)."""

    _core: SocketCore

    def __init__(
        self,
        loop: IOLoop,
        sock: socket.socket,
        protocol: asyncio.BaseProtocol,
        waiter: asyncio.Future[None] | None = None,
        extra: dict[str, Any] | None = None,
        server: ConnectionOwner | None = None,
    ) -> None:
        super().__init__(extra)
        self._sock = sock  # asyncio's name
        self._core = SocketCore(self, loop, sock, protocol, waiter, self._extra, server)
        self._bind_core_methods()

    async def sendfile_native(self, file: IO[bytes], offset: int, count: int | None) -> int:
        """Send ``file`` with ``os.sendfile`` once everything written before has gone out."""
        core = self._core
        resume = core.is_reading()
        flushed = core._begin_sendfile()
        try:
            if flushed is not None:
                await flushed
            return await native_sendfile(core._loop, self._sock, file, offset, count)
        finally:
            core._end_sendfile(resume)


class ReadPipeTransport(_ReadingFace):
    """The read end of a pipe (``connect_read_pipe``, a child process's stdout or stderr)."""

    _core: ReadPipeCore

    def __init__(
        self,
        loop: IOLoop,
        pipe: Any,
        protocol: asyncio.BaseProtocol,
        waiter: asyncio.Future[None] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        fd, _ = pipe_fd(pipe, "read")
        super().__init__(extra)
        self._pipe = pipe  # asyncio's name (see pipes._still_holds)
        self._core = ReadPipeCore(self, loop, pipe, fd, protocol, waiter, self._extra)


class WritePipeTransport(_StreamFace, asyncio.Transport):
    """The write end of a pipe (``connect_write_pipe``, a child process's stdin).

    A ``Transport`` (read and write), not only a ``WriteTransport``, as asyncio's is: its
    ``pause_reading``/``resume_reading``/``is_reading`` raise ``NotImplementedError`` (as
    ``ReadTransport``'s do), and code that checks for ``ReadTransport`` sees what it sees on
    asyncio.  Its read side watches for the hang-up only; it is not the caller's to pause.
    """

    _core: WritePipeCore

    def __init__(
        self,
        loop: IOLoop,
        pipe: Any,
        protocol: asyncio.BaseProtocol,
        waiter: asyncio.Future[None] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        fd, mode = pipe_fd(pipe, "write")
        super().__init__(extra)
        self._pipe = pipe  # asyncio's name (see pipes._still_holds)
        self._core = WritePipeCore(self, loop, pipe, fd, mode, protocol, waiter, self._extra)
        self._bind_core_methods()

    def is_reading(self) -> bool:
        raise NotImplementedError("a write pipe does not read")

    def pause_reading(self) -> None:
        raise NotImplementedError("a write pipe does not read")

    def resume_reading(self) -> None:
        raise NotImplementedError("a write pipe does not read")


class DatagramSocketTransport(
    _ReadingFace, _BufferFace, asyncio.DatagramTransport, asyncio.Transport
):
    """A datagram transport.  Like asyncio's, it also passes for an ``asyncio.Transport``
    (code and tests check that), and reading can be paused."""

    _core: DatagramCore

    def __init__(
        self,
        loop: IOLoop,
        sock: socket.socket,
        protocol: asyncio.BaseProtocol,
        address: Any = None,
        waiter: asyncio.Future[None] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(extra)
        self._sock = sock  # asyncio's name
        self._core = DatagramCore(self, loop, sock, protocol, address, waiter, self._extra)

    def sendto(self, data: Any, addr: Any = None) -> None:
        self._core.sendto(data, addr)


_read_through(SocketTransport, SocketCore)
_read_through(ReadPipeTransport, ReadPipeCore)
_read_through(WritePipeTransport, WritePipeCore)
_read_through(DatagramSocketTransport, DatagramCore)
