"""Unix stream sockets: create_unix_server / create_unix_connection, on both loops."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.io.conftest import Echo, Recorder, run

pytestmark = pytest.mark.usefixtures("fd_guard")
Loop = asyncio.AbstractEventLoop


@pytest.fixture
def path(tmp_path: Path) -> str:
    return str(tmp_path / "server.sock")


def test_echo_over_a_unix_socket(any_loop: Loop, path: str) -> None:
    async def main() -> None:
        server = await any_loop.create_unix_server(Echo, path)
        transport, client = await any_loop.create_unix_connection(lambda: Recorder(any_loop), path)
        assert transport.get_extra_info("peername") == path
        transport.writelines([b"over ", b"unix"])
        assert await client.received(9) == b"over unix"
        transport.close()
        await client.lost
        server.close()
        await server.wait_closed()

    run(any_loop, main())


def test_half_close_over_a_unix_socket(any_loop: Loop, path: str) -> None:
    class Answer(asyncio.Protocol):
        def connection_made(self, transport: Any) -> None:
            self.transport = transport

        def eof_received(self) -> bool:
            self.transport.write(b"bye")
            self.transport.close()
            return True

    async def main() -> None:
        server = await any_loop.create_unix_server(Answer, path)
        transport, client = await any_loop.create_unix_connection(lambda: Recorder(any_loop), path)
        assert transport.can_write_eof()
        transport.write_eof()
        await client.lost
        assert (client.data, client.events) == (b"bye", ["made", "data", "eof", "lost"])
        server.close()
        await server.wait_closed()

    run(any_loop, main())


def test_stale_socket_file_is_replaced(any_loop: Loop, path: str) -> None:
    with socket.socket(socket.AF_UNIX) as stale:
        stale.bind(path)  # left behind by a previous run
    assert os.path.exists(path)

    async def main() -> None:
        server = await any_loop.create_unix_server(Echo, path)
        transport, client = await any_loop.create_unix_connection(lambda: Recorder(any_loop), path)
        transport.write(b"x")
        assert await client.received(1) == b"x"
        transport.close()
        server.close()
        await server.wait_closed()

    run(any_loop, main())


def test_closing_the_server_removes_its_socket_file_from_python_3_13(
    any_loop: Loop, path: str
) -> None:
    # asyncio added the removal (and the cleanup_socket option) in 3.13; spindle follows the
    # running Python.
    async def main() -> None:
        server = await any_loop.create_unix_server(Echo, path)
        assert os.path.exists(path)
        server.close()
        await server.wait_closed()

    run(any_loop, main())
    assert os.path.exists(path) is (sys.version_info < (3, 13))


def test_server_removes_its_socket_file_when_asked_on_any_python(
    spindle_loop: Loop, path: str
) -> None:
    async def main() -> None:
        server = await spindle_loop.create_unix_server(Echo, path, cleanup_socket=True)
        server.close()
        await server.wait_closed()

    run(spindle_loop, main())
    assert not os.path.exists(path)


def test_server_keeps_its_socket_file_when_asked(spindle_loop: Loop, path: str) -> None:
    async def main() -> None:
        server = await spindle_loop.create_unix_server(Echo, path, cleanup_socket=False)
        server.close()
        await server.wait_closed()

    run(spindle_loop, main())
    assert os.path.exists(path)


def test_server_leaves_a_socket_file_that_is_not_its_own(spindle_loop: Loop, path: str) -> None:
    async def main() -> None:
        server = await spindle_loop.create_unix_server(Echo, path, cleanup_socket=True)
        os.unlink(path)
        with socket.socket(socket.AF_UNIX) as other:
            other.bind(path)  # someone else's socket now lives at that path
            server.close()
            await server.wait_closed()
            assert os.path.exists(path)

    run(spindle_loop, main())


def test_connection_over_a_given_unix_socket(any_loop: Loop, path: str) -> None:
    async def main() -> None:
        server = await any_loop.create_unix_server(Echo, path)
        sock = socket.socket(socket.AF_UNIX)
        sock.connect(path)
        transport, client = await any_loop.create_unix_connection(
            lambda: Recorder(any_loop), sock=sock
        )
        transport.write(b"sock=")
        assert await client.received(5) == b"sock="
        transport.close()
        server.close()
        await server.wait_closed()

    run(any_loop, main())


def test_unix_server_over_a_given_socket(any_loop: Loop, path: str) -> None:
    async def main() -> None:
        listener = socket.socket(socket.AF_UNIX)
        listener.bind(path)
        server = await any_loop.create_unix_server(Echo, sock=listener)
        transport, client = await any_loop.create_unix_connection(lambda: Recorder(any_loop), path)
        transport.write(b"given")
        assert await client.received(5) == b"given"
        transport.close()
        server.close()
        await server.wait_closed()

    run(any_loop, main())


def test_unix_calls_refuse_sockets_of_the_wrong_kind(any_loop: Loop) -> None:
    with socket.socket(socket.AF_INET) as tcp:
        with pytest.raises(ValueError, match="UNIX Domain Stream Socket"):
            run(any_loop, any_loop.create_unix_connection(asyncio.Protocol, sock=tcp))
        with pytest.raises(ValueError, match="UNIX Domain Stream Socket"):
            run(any_loop, any_loop.create_unix_server(asyncio.Protocol, sock=tcp))


def test_unix_calls_need_a_path_or_a_socket(any_loop: Loop) -> None:
    with pytest.raises(ValueError, match="no path and sock were specified"):
        run(any_loop, any_loop.create_unix_connection(asyncio.Protocol))
    with pytest.raises(ValueError, match="path was not specified"):
        run(any_loop, any_loop.create_unix_server(asyncio.Protocol))


def test_connecting_to_a_missing_path_fails_clearly(any_loop: Loop, path: str) -> None:
    with pytest.raises(FileNotFoundError):
        run(any_loop, any_loop.create_unix_connection(asyncio.Protocol, path))


def test_abstract_namespace_socket(any_loop: Loop) -> None:
    name = f"\0spindle-test-{os.getpid()}-{id(any_loop)}"

    async def main() -> None:
        server = await any_loop.create_unix_server(Echo, name)
        transport, client = await any_loop.create_unix_connection(lambda: Recorder(any_loop), name)
        transport.write(b"abstract")
        assert await client.received(8) == b"abstract"
        transport.close()
        server.close()
        await server.wait_closed()

    run(any_loop, main())
