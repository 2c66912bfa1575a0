"""redis-py's asyncio client (``redis.asyncio``), unmodified, on spindle's loop, against a real
redis-server started by the tests.

redis.asyncio opens its connections with ``asyncio.open_connection`` (asyncio's own streams
over spindle's transports) and bounds its pool with asyncio primitives, so it checks that
asyncio's stream layer and spindle's loop fit together.  Tests here drive a
``spindle.new_event_loop()`` loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import redis.asyncio as aioredis

from tests.integration.services import Redis

pytestmark = pytest.mark.usefixtures("fd_guard")

Loop = asyncio.AbstractEventLoop


@asynccontextmanager
async def client(server: Redis, **kwargs: Any) -> AsyncIterator[aioredis.Redis]:
    """A client on a fresh database 0 (the server is shared by the session's tests)."""
    redis = aioredis.Redis(host=server.host, port=server.port, **kwargs)
    try:
        await redis.flushdb()
        yield redis
    finally:
        await redis.aclose()


def test_set_get_and_expiry(redis_server: Redis, spindle_loop: Loop) -> None:
    async def main() -> list[object]:
        async with client(redis_server) as redis:
            await redis.set("greeting", "hello")
            await redis.set("short-lived", "x", px=60_000)
            return [
                await redis.get("greeting"),
                await redis.get("missing"),
                0 < await redis.pttl("short-lived") <= 60_000,
                await redis.delete("greeting", "short-lived"),
            ]

    assert spindle_loop.run_until_complete(main()) == [b"hello", None, True, 2]


def test_pipeline_in_a_transaction(redis_server: Redis, spindle_loop: Loop) -> None:
    async def main() -> list[object]:
        async with (
            client(redis_server, decode_responses=True) as redis,
            redis.pipeline(transaction=True) as pipe,
        ):
            pipe.set("counter", 10)
            pipe.incrby("counter", 5)
            pipe.rpush("log", "a", "b")
            pipe.lrange("log", 0, -1)
            return list(await pipe.execute())

    assert spindle_loop.run_until_complete(main()) == [True, 15, 2, ["a", "b"]]


def test_pubsub_round_trip(redis_server: Redis, spindle_loop: Loop) -> None:
    async def main() -> tuple[list[tuple[str, str]], list[int]]:
        async with client(redis_server, decode_responses=True) as redis:
            pubsub = redis.pubsub()
            try:
                await pubsub.subscribe("news")
                # The subscription is in place once its confirmation has been read.
                confirmed = await pubsub.get_message(timeout=5)
                assert confirmed is not None and confirmed["type"] == "subscribe"
                receivers = [await redis.publish("news", f"item {n}") for n in range(3)]
                received = []
                async for message in pubsub.listen():
                    received.append((message["channel"], message["data"]))
                    if len(received) == 3:
                        break
                await pubsub.unsubscribe("news")
            finally:
                await pubsub.aclose()
            return received, receivers

    received, receivers = spindle_loop.run_until_complete(main())
    assert received == [("news", f"item {n}") for n in range(3)]
    assert receivers == [1, 1, 1]


def test_many_concurrent_commands_share_a_bounded_pool(
    redis_server: Redis, spindle_loop: Loop
) -> None:
    async def main() -> tuple[list[int], int]:
        pool = aioredis.BlockingConnectionPool(
            host=redis_server.host, port=redis_server.port, max_connections=8, timeout=10,
            client_name="bounded-pool",
        )  # fmt: skip
        redis = aioredis.Redis(connection_pool=pool)
        try:
            await redis.delete("hits")
            counts = await asyncio.gather(*(redis.incr("hits") for _ in range(500)))
            clients = await redis.client_list()
            ours = [c for c in clients if c["name"] == "bounded-pool"]
            return sorted(counts), len(ours)
        finally:
            await redis.aclose()
            await pool.aclose()

    counts, connections = spindle_loop.run_until_complete(main())
    assert counts == list(range(1, 501))
    assert connections == 8  # the commands ran side by side, on no more than the bound


def test_unix_socket_connection(redis_server: Redis, spindle_loop: Loop) -> None:
    async def main() -> tuple[object, object]:
        redis = aioredis.Redis(unix_socket_path=redis_server.unix_path)
        try:
            await redis.set("via", "unix")
            return await redis.get("via"), (await redis.client_info())["addr"]
        finally:
            await redis.aclose()

    assert spindle_loop.run_until_complete(main()) == (b"unix", f"{redis_server.unix_path}:0")
