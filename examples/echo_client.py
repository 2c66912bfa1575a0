"""A client of the echo server: sends each argument as a line and prints what comes back.

    python examples/echo_client.py 8888 hello world
"""

import sys

import spindle


async def main(port: int, messages: list[str]) -> None:
    reader, writer = await spindle.open_connection("127.0.0.1", port)
    try:
        for message in messages:
            writer.write(message.encode() + b"\n")
            await writer.drain()
            reply = await reader.readline()
            print(f"sent {message!r}, got back {reply.decode().rstrip()!r}")
    finally:
        writer.close()
        await writer.wait_closed()


if __name__ == "__main__":
    spindle.run(main(int(sys.argv[1]), sys.argv[2:]))
