# Seed 5: the tasks created in a TaskGroup, which awaits them when the block exits: 2 s.
# ruff: noqa: F841  (task1 and task2 are kept as the seed named them)
import time

import spindle as asyncio


async def say_after(delay, what):
    await asyncio.sleep(delay)
    print(what)

async def main():
    async with asyncio.TaskGroup() as tg:
        task1 = tg.create_task(
            say_after(1, 'hello'))

        task2 = tg.create_task(
            say_after(2, 'world'))

        print(f"started at {time.strftime('%X')}")

    # The await is implicit when the context manager exits.

    print(f"finished at {time.strftime('%X')}")


if __name__ == "__main__":
    asyncio.run(main())
