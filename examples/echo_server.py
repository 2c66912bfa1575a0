"""An echo server with streams: every line a client sends comes back to it.

    python examples/echo_server.py            listens on 127.0.0.1:8888
    python examples/echo_server.py 0          on a free port (it prints which)

It serves until Ctrl-C.  ``spindle.run()`` turns the first Ctrl-C into a cancellation of
``main()``, so ``serve_forever()`` stops, the ``async with`` block closes the server, and the
program says goodbye and exits instead of dying with a traceback.  On stderr, spindle first
lists what the tasks were doing when Ctrl-C came (here: ``main()`` in ``serve_forever()``), as
it does for every program it runs; ``SPINDLE_DIAGNOSTICS=0`` leaves that out.
"""

import sys

import spindle


async def echo(reader: spindle.StreamReader, writer: spindle.StreamWriter) -> None:
    peer = writer.get_extra_info("peername")
    print(f"{peer[0]}:{peer[1]} connected", flush=True)
    try:
        while line := await reader.readline():  # b"" once the client has closed its side
            writer.write(line)
            await writer.drain()  # waits while the client reads slower than it writes
    finally:
        writer.close()
        await writer.wait_closed()
        print(f"{peer[0]}:{peer[1]} disconnected", flush=True)


async def main(port: int) -> None:
    server = await spindle.start_server(echo, "127.0.0.1", port)
    host, port = server.sockets[0].getsockname()[:2]
    print(f"serving on {host}:{port}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        spindle.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 8888))
    except KeyboardInterrupt:
        print("server stopped", flush=True)
