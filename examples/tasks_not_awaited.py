# Seed 4: the tasks are never awaited and main() calls time.sleep(10): "hello" and "world" are
# never printed.  time.sleep() blocks the event loop, so the tasks cannot run during those ten
# seconds; then main() returns and the runner cancels them.  spindle explains this on stderr.
# ruff: noqa: F841  (task1 and task2 are left unawaited on purpose: that is the point)
import time

import spindle as asyncio


async def say_after(delay, what):
    await asyncio.sleep(delay)
    print(what)

async def main():
    task1 = asyncio.create_task(
        say_after(1, 'hello'))

    task2 = asyncio.create_task(
        say_after(2, 'world'))

    print(f"started at {time.strftime('%X')}")

    # Wait until both tasks are completed (should take
    # around 2 seconds.)
    #await task1
    #await task2

    #print(f"finished at {time.strftime('%X')}")
    print(f"call at {time.strftime('%X')}")
    time.sleep(10)


if __name__ == "__main__":
    asyncio.run(main())
