"""A program that blocks its event loop, and the report spindle gives about it.

    python -m spindle examples/blocking_call.py

An ordinary asyncio program (run unmodified on spindle by ``python -m spindle``): a server-like
``main()`` handles two requests while a heartbeat task ticks.  The first request calls a
synchronous function (``lookup_price``: think of a blocking HTTP or database client) straight
from the coroutine, so the whole loop stops for half a second: no tick, no other request.
asyncio runs it without a word; spindle says on stderr, while the loop is blocked, which
coroutine blocks it, at which line and through which calls, and then for how long it blocked.
The second request runs the same function with ``asyncio.to_thread()``: the loop carries on,
and there is nothing to report.
"""

import asyncio
import time


def lookup_price(item):
    # Stands for a blocking call: a synchronous HTTP client, a database driver, a big hash.
    time.sleep(0.5)
    return {"tea": 3, "coffee": 4}[item]


async def handle_blocking(item):
    return lookup_price(item)


async def handle_in_thread(item):
    return await asyncio.to_thread(lookup_price, item)


async def heartbeat():
    while True:
        await asyncio.sleep(0.05)


async def main():
    beat = asyncio.create_task(heartbeat())
    print("tea costs", await handle_blocking("tea"))
    print("coffee costs", await handle_in_thread("coffee"))
    beat.cancel()


if __name__ == "__main__":
    asyncio.run(main())
