"""A program that does, under blockbuster's default rules, what asyncio programs do with I/O.

    python blockbuster_program.py spindle|asyncio WORKDIR

It activates blockbuster (every module scanned: the strictest setting) and runs ``main`` on the
named loop: a child process through its pipes, a file sent with ``loop.sendfile`` over TCP, a
Unix server with a stale socket file in its way, a socket closed while a receive waits, TLS
over loopback.  Any blocking call that blockbuster catches inside the loop raises
``BlockingError`` there; the program then exits with status 1 and names it.  It prints ``ok``
and exits 0 when nothing blocked.

Files are made before the loop starts and removed after it stops: opening and writing them
would be blocking calls of this program's own.
"""

from __future__ import annotations

import asyncio
import os
import socket
import ssl
import subprocess
import sys
from pathlib import Path

from blockbuster import BlockingError, blockbuster_ctx

PAYLOAD = bytes(range(256)) * 4096  # 1 MiB


async def child_process() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", "import sys; sys.stdout.write(sys.stdin.read().upper())",
        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
    )  # fmt: skip
    out, _ = await proc.communicate(b"through a pipe")
    assert out == b"THROUGH A PIPE", out
    assert proc.returncode == 0


async def send_a_file(path: Path) -> None:
    loop = asyncio.get_running_loop()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with path.open("rb") as file:  # opening is not a call blockbuster watches
            await loop.sendfile(writer.transport, file)
        writer.close()
        await writer.wait_closed()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    received = await reader.read()
    assert received == PAYLOAD, len(received)
    writer.close()
    await writer.wait_closed()
    server.close()
    await server.wait_closed()


async def unix_server(path: Path) -> None:
    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(await reader.read(100))
        await writer.drain()
        writer.close()

    # A stale socket file from an earlier run may be in the way: the server removes it.
    server = await asyncio.start_unix_server(echo, str(path))
    reader, writer = await asyncio.open_unix_connection(str(path))
    writer.write(b"over a unix socket")
    assert await reader.read() == b"over a unix socket"
    writer.close()
    await writer.wait_closed()
    server.close()
    await server.wait_closed()


async def close_during_receive() -> None:
    loop = asyncio.get_running_loop()
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)
    receive = asyncio.ensure_future(loop.sock_recv(a, 10))
    await asyncio.sleep(0)
    b.close()
    assert await receive == b""
    a.close()


async def tls(context: ssl.SSLContext, client_context: ssl.SSLContext) -> None:
    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(await reader.readexactly(5))
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(echo, "127.0.0.1", 0, ssl=context)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", port, ssl=client_context, server_hostname="localhost"
    )
    writer.write(b"hello")
    assert await reader.readexactly(5) == b"hello"
    writer.close()
    await writer.wait_closed()
    server.close()
    await server.wait_closed()


async def main(work: Path, context: ssl.SSLContext, client_context: ssl.SSLContext) -> None:
    await child_process()
    await send_a_file(work / "payload.bin")
    await unix_server(work / "server.sock")
    await close_during_receive()
    await tls(context, client_context)


def prepare(work: Path, stale_socket: bool) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    (work / "payload.bin").write_bytes(PAYLOAD)
    if stale_socket:
        with socket.socket(socket.AF_UNIX) as stale:
            stale.bind(str(work / "server.sock"))
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(os.environ["BB_CERT"], os.environ["BB_KEY"])
    client = ssl.create_default_context(cafile=os.environ["BB_CA"])
    return server, client


def new_loop(kind: str) -> asyncio.AbstractEventLoop:
    if kind == "spindle":
        import spindle

        return spindle.new_event_loop()
    return asyncio.new_event_loop()


def run(kind: str, work: Path) -> int:
    # asyncio removes a stale socket file with os.remove inside create_unix_server, which
    # blockbuster's rules do not exempt (they exempt its os.stat there): the reference run
    # leaves that step out.  spindle does the removal on a worker thread.
    contexts = prepare(work, stale_socket=kind == "spindle")
    loop = new_loop(kind)
    # A blocking call inside a server's callback is reported to the handler, not raised here.
    reported: list[object] = []
    loop.set_exception_handler(lambda _, context: reported.append(context.get("exception")))
    try:
        with blockbuster_ctx() as blockbuster:
            if kind == "spindle" and sys.version_info >= (3, 13):
                # The one call spindle still makes on the loop's thread, as asyncio does: from
                # 3.13 a Unix server's close() removes its socket file, synchronously.
                # blockbuster exempts it in asyncio's _stop_serving; the same exemption for
                # spindle's equivalent is what a blockbuster fixture needs on 3.13 (README).
                for call in ("os.stat", "os.unlink"):
                    blockbuster.functions[call].can_block_in(
                        "spindle/_io/connect/listeners.py", "remove_files"
                    )
            loop.run_until_complete(main(work, *contexts))
    except BlockingError as error:
        print(f"blocked: {error}")
        return 1
    finally:
        loop.close()
    if reported:
        print(f"reported to the loop's exception handler: {reported}")
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(run(sys.argv[1], Path(sys.argv[2])))
