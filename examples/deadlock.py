"""Two tasks waiting for each other: a deadlock, and what spindle shows of it.

``ping`` waits for ``pong_ready`` before it sets ``ping_ready``; ``pong`` waits for
``ping_ready`` before it sets ``pong_ready``.  Neither ever runs again, and ``main`` waits for
both in ``gather``: the program hangs, printing nothing.

Run it with ``python examples/deadlock.py`` (or unmodified asyncio code with ``python -m
spindle``), then, from another terminal, ``python -m spindle ps PID`` or ``pstree PID``; or
press Ctrl-C, which prints the same dump before the program stops.
"""

import os
import sys

import spindle as asyncio


async def ping(ping_ready: asyncio.Event, pong_ready: asyncio.Event) -> None:
    await pong_ready.wait()
    ping_ready.set()


async def pong(ping_ready: asyncio.Event, pong_ready: asyncio.Event) -> None:
    await ping_ready.wait()
    pong_ready.set()


async def main() -> None:
    ping_ready = asyncio.Event()
    pong_ready = asyncio.Event()
    print(f"pid {os.getpid()}", flush=True)
    await asyncio.gather(
        asyncio.create_task(ping(ping_ready, pong_ready), name="ping"),
        asyncio.create_task(pong(ping_ready, pong_ready), name="pong"),
    )


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
