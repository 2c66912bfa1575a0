# Seed 1 (Python docs, "Coroutines"): prints "hello", waits 1 second, prints "world".
import spindle as asyncio


async def main():
    print('hello')
    await asyncio.sleep(1)
    print('world')


if __name__ == "__main__":
    asyncio.run(main())
