"""A small pipeline whose timeline is worth looking at.

    SPINDLE_TIMELINE=timeline.html python examples/timeline.py    # then open timeline.html
    SPINDLE_TIMELINE=timeline.json python examples/timeline.py    # for Perfetto

Four fetchers send lines to a loopback echo server and wait for the answers (I/O), hand them
over a small queue (they wait when it is full), and two writers store them one at a time under a
lock (they wait for it).  Every task has a name, so the timeline's rows say who is who.
"""

import time

import spindle as asyncio

FETCHERS = 4
LINES_EACH = 3


async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while line := await reader.readline():
        await asyncio.sleep(0.01)  # the server takes a moment to answer
        writer.write(line)
        await writer.drain()
    writer.close()


async def fetcher(number: int, port: int, queue: asyncio.Queue[str]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    for index in range(LINES_EACH):
        writer.write(f"item {number}.{index}\n".encode())
        await writer.drain()
        answer = await reader.readline()  # waits for the server: I/O
        await queue.put(answer.decode().strip())  # waits while the queue is full
    writer.close()
    await writer.wait_closed()


async def store(queue: asyncio.Queue[str], lock: asyncio.Lock, stored: list[str]) -> None:
    while True:
        item = await queue.get()
        async with lock:  # one writer at a time
            await asyncio.sleep(0.005)
            stored.append(item)
        queue.task_done()


def summarise(stored: list[str]) -> str:
    deadline = time.perf_counter() + 0.02  # some work done in the loop: the longest step
    while time.perf_counter() < deadline:
        pass
    return f"{len(stored)} items stored"


async def main() -> None:
    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    queue: asyncio.Queue[str] = asyncio.Queue(maxsize=2)
    lock = asyncio.Lock()
    stored: list[str] = []
    writers = [
        asyncio.create_task(store(queue, lock, stored), name=f"writer-{n}") for n in range(2)
    ]
    async with asyncio.TaskGroup() as group:
        for number in range(FETCHERS):
            group.create_task(fetcher(number, port, queue), name=f"fetcher-{number}")
    await queue.join()
    for writer in writers:
        writer.cancel()
    server.close()
    await server.wait_closed()
    print(summarise(stored))


if __name__ == "__main__":
    asyncio.run(main())
