"""A spindle transport is a face (a class of asyncio's) over a core (``transports/faces.py``).

What the split must not change: the protocol, the program, the loop and every report see the
face, of asyncio's types; it can be weakly referenced; once the connection is lost nothing
keeps it in a reference cycle; reading a private name reads the core's.  And the one written-out
path, ``write`` bound to the core's, does what the class's ``write`` does.
"""

from __future__ import annotations

import asyncio
import gc
import os
import socket
import weakref
from typing import Any

import pytest

from spindle._io.loop import EventLoop
from spindle._io.transports.faces import (
    DatagramSocketTransport,
    ReadPipeTransport,
    SocketTransport,
    WritePipeTransport,
)
from tests.conftest import ExceptionHandlerRecorder
from tests.io.conftest import Recorder, gc_disabled, nonblocking_pair, run

pytestmark = pytest.mark.usefixtures("fd_guard")


def test_each_face_is_of_asyncio_s_transport_types() -> None:
    assert issubclass(SocketTransport, asyncio.Transport)
    assert issubclass(WritePipeTransport, asyncio.Transport)  # as asyncio's write pipe
    assert issubclass(ReadPipeTransport, asyncio.ReadTransport)
    assert not issubclass(ReadPipeTransport, asyncio.WriteTransport)
    assert issubclass(DatagramSocketTransport, asyncio.DatagramTransport)
    assert issubclass(DatagramSocketTransport, asyncio.Transport)  # as asyncio's


def test_the_protocol_the_program_and_the_loop_see_the_face(spindle_loop: EventLoop) -> None:
    here, there = nonblocking_pair()

    async def main() -> None:
        transport, protocol = await spindle_loop.connect_accepted_socket(
            lambda: Recorder(spindle_loop), here
        )
        assert isinstance(transport, SocketTransport)
        assert protocol.transport is transport  # connection_made got the face
        assert transport.get_protocol() is protocol
        assert transport._protocol is protocol  # a private name reads the core's
        assert transport._sock is here  # asyncio's name, the face's own
        assert transport.get_extra_info("socket").fileno() == here.fileno()
        assert "SocketTransport" in repr(transport)
        with pytest.raises(RuntimeError, match="used by transport <SocketTransport open"):
            spindle_loop.add_reader(here.fileno(), lambda: None)  # owned: by the face
        transport.close()
        await protocol.lost

    try:
        run(spindle_loop, main())
    finally:
        there.close()


def test_a_report_names_the_face(spindle_loop: EventLoop) -> None:
    here, there = nonblocking_pair()
    handler = ExceptionHandlerRecorder()
    spindle_loop.set_exception_handler(handler)

    class Failing(Recorder):
        def data_received(self, data: bytes) -> None:
            raise ValueError("bad data")

    async def main() -> Any:
        transport, protocol = await spindle_loop.connect_accepted_socket(
            lambda: Failing(spindle_loop), here
        )
        there.send(b"x")
        await protocol.lost
        return transport

    try:
        transport = run(spindle_loop, main())
    finally:
        there.close()
    [context] = handler.contexts
    assert context["transport"] is transport
    assert isinstance(context["exception"], ValueError)


def test_a_lost_connection_leaves_no_cycle_between_face_and_core(
    spindle_loop: EventLoop,
) -> None:
    here, there = nonblocking_pair()

    async def main() -> weakref.ref[Any]:
        transport, protocol = await spindle_loop.connect_accepted_socket(
            lambda: Recorder(spindle_loop), here
        )
        transport.write(b"ping")  # (the face's write is bound to its core)
        transport.close()
        await protocol.lost
        protocol.transport = None
        return weakref.ref(transport)

    try:
        with gc_disabled():
            face = run(spindle_loop, main())
            assert face() is None  # freed by reference counting alone
    finally:
        there.close()


def test_a_face_dropped_open_warns_and_releases_its_socket(spindle_loop: EventLoop) -> None:
    here, there = nonblocking_pair()
    fd = here.fileno()

    async def main() -> None:
        transport, _ = await spindle_loop.connect_accepted_socket(asyncio.Protocol, here)
        transport.pause_reading()  # (the loop no longer holds it for reading)
        del transport

    try:
        with pytest.warns(ResourceWarning, match="unclosed transport <SocketTransport"):
            run(spindle_loop, main())
            gc.collect()
        with pytest.raises(OSError):
            os.fstat(fd)
    finally:
        there.close()


def test_every_private_name_of_the_core_reads_through_the_face(spindle_loop: EventLoop) -> None:
    # Compiled: a descriptor per name of the native core on the face's class, and no
    # __getattr__ (which would slow every read of the face); pure: __getattr__.  Either way
    # each private name of the core, fields and methods, reads the same through the face, a
    # name set on the face is the face's own, and a name neither has is an AttributeError.
    import spindle

    here, there = nonblocking_pair()

    async def main() -> None:
        transport, protocol = await spindle_loop.connect_accepted_socket(
            lambda: Recorder(spindle_loop), here
        )
        core = transport._core
        assert hasattr(type(transport), "__getattr__") is not spindle.COMPILED
        names = set(dir(core)) | set(getattr(core, "__dict__", {}))
        private = {n for n in names if n.startswith("_") and not n.startswith("__")}
        own = {n for n in private if n in vars(transport) or hasattr(asyncio.Transport, n)}
        assert {"_protocol", "_loop", "_fd", "_on_readable"} <= private - own
        for name in sorted(private - own - {"_core"}):
            assert getattr(transport, name) == getattr(core, name), name
        assert transport._sock is here  # the face's own, though the core has one too
        transport._fd = -1  # type: ignore[attr-defined]
        assert transport._fd == -1 and core._fd == here.fileno()  # the face's own now
        del transport._fd  # type: ignore[attr-defined]
        assert transport._fd == here.fileno()
        with pytest.raises(AttributeError, match="_no_such_name"):
            transport._no_such_name  # type: ignore[attr-defined]  # noqa: B018
        transport.close()
        await protocol.lost

    try:
        run(spindle_loop, main())
    finally:
        there.close()


def test_methods_bound_to_the_core_do_what_the_class_s_do(
    spindle_loop: EventLoop,
) -> None:
    here, there = nonblocking_pair()

    async def main() -> None:
        transport, protocol = await spindle_loop.connect_accepted_socket(
            lambda: Recorder(spindle_loop), here
        )
        assert transport.write == transport._core.write  # the written-out path
        assert transport.is_closing == transport._core.is_closing
        assert transport.is_closing() is type(transport).is_closing(transport) is False
        transport.write(b"bound ")
        type(transport).write(transport, b"plain ")  # the class's: through the face
        transport.write(bytearray(b"mutable"))
        transport.close()
        assert transport.is_closing() is type(transport).is_closing(transport) is True
        await protocol.lost
        with pytest.raises(TypeError, match="bytes-like"):
            type(transport).write(transport, "text")
        with pytest.raises(TypeError, match="bytes-like"):
            transport.write("text")

    try:
        run(spindle_loop, main())
        there.setblocking(True)
        assert there.recv(100) == b"bound plain mutable"
    finally:
        there.close()


def test_faces_take_weak_references_and_servers_keep_them_weakly(
    spindle_loop: EventLoop,
) -> None:
    async def main() -> None:
        server = await spindle_loop.create_server(asyncio.Protocol, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        transport, _ = await spindle_loop.create_connection(asyncio.Protocol, "127.0.0.1", port)
        assert weakref.ref(transport)() is transport
        while not server._clients:  # type: ignore[attr-defined]
            await asyncio.sleep(0)
        [accepted] = list(server._clients)  # type: ignore[attr-defined]
        assert isinstance(accepted, SocketTransport)
        transport.close()
        server.close()
        await server.wait_closed()

    run(spindle_loop, main())


def test_pipe_and_datagram_faces(spindle_loop: EventLoop) -> None:
    read_end, write_end = os.pipe()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))

    async def main() -> None:
        reader, rp = await spindle_loop.connect_read_pipe(
            lambda: Recorder(spindle_loop), os.fdopen(read_end, "rb", 0)
        )
        writer, _ = await spindle_loop.connect_write_pipe(
            asyncio.Protocol, os.fdopen(write_end, "wb", 0)
        )
        datagrams, _ = await spindle_loop.create_datagram_endpoint(
            asyncio.DatagramProtocol, sock=sock
        )
        assert isinstance(reader, ReadPipeTransport) and rp.transport is reader
        assert isinstance(writer, WritePipeTransport) and writer.can_write_eof()
        assert isinstance(datagrams, DatagramSocketTransport) and datagrams._sock is sock
        with pytest.raises(NotImplementedError, match="does not read"):
            writer.pause_reading()
        writer.write(b"through the pipe")
        assert await rp.received(16) == b"through the pipe"
        assert writer.get_write_buffer_limits() == (16 * 1024, 64 * 1024)
        writer.set_write_buffer_limits(high=float("inf"), low=0)
        assert writer.get_write_buffer_limits() == (0, float("inf"))
        writer.close()
        await rp.lost
        datagrams.close()
        reader.close()
        await asyncio.sleep(0)

    run(spindle_loop, main())


class TrackedSocket(socket.socket):
    """A socket of the program's own class, counting what goes through its methods."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.calls: set[str] = set()

    def recv(self, *args: Any) -> bytes:
        self.calls.add("recv")
        return super().recv(*args)

    def recv_into(self, *args: Any) -> int:
        self.calls.add("recv_into")
        return super().recv_into(*args)

    def send(self, *args: Any) -> int:
        self.calls.add("send")
        return super().send(*args)


@pytest.mark.parametrize("buffered", [False, True], ids=["protocol", "buffered protocol"])
def test_a_socket_of_a_subclass_is_read_and_written_through_its_methods(
    any_loop: asyncio.AbstractEventLoop, buffered: bool
) -> None:
    # As asyncio's transports do (websockets' tests count these calls); a plain socket.socket
    # is read and written with os.read/os.write on its descriptor instead (reading.py).
    here, there = socket.socketpair()
    tracked = TrackedSocket(fileno=here.detach())

    class Buffered(asyncio.BufferedProtocol):
        def __init__(self) -> None:
            self.buffer = bytearray(100)
            self.got = any_loop.create_future()

        def get_buffer(self, sizehint: int) -> bytearray:
            return self.buffer

        def buffer_updated(self, nbytes: int) -> None:
            self.got.set_result(bytes(self.buffer[:nbytes]))

    async def main() -> None:
        factory = Buffered if buffered else (lambda: Recorder(any_loop))
        transport, protocol = await any_loop.connect_accepted_socket(factory, tracked)
        transport.write(b"out")
        there.sendall(b"in")
        got = await (protocol.got if buffered else protocol.received(2))
        assert got == b"in"
        transport.close()
        await asyncio.sleep(0)  # (connection_lost runs)

    try:
        run(any_loop, main())
        assert there.recv(10) == b"out"
    finally:
        there.close()
    assert tracked.calls == {"send", "recv_into" if buffered else "recv"}
