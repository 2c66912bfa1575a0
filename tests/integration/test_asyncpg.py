"""asyncpg, unmodified, on spindle's loop, against a real PostgreSQL started by the tests.

asyncpg is a demanding client of the loop: its protocol is a Cython ``asyncio.Protocol`` that
reads through ``get_buffer``-less ``data_received`` and flow control, it upgrades connections
to TLS with ``loop.start_tls``, cancels queries by opening a second connection, and its pool
shares connections between tasks.  Tests here drive a ``spindle.new_event_loop()`` loop.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import asyncpg
import pytest

from tests.integration.services import Postgres
from tests.io.tls_support import PKI

pytestmark = pytest.mark.usefixtures("fd_guard")

T = TypeVar("T")
Loop = asyncio.AbstractEventLoop


@pytest.fixture
def run(spindle_loop: Loop) -> Any:
    def run(coro: Coroutine[Any, Any, T]) -> T:
        return spindle_loop.run_until_complete(coro)

    return run


@asynccontextmanager
async def connection(postgres: Postgres, **kwargs: Any) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(**{**postgres.connect_kwargs(), **kwargs})
    try:
        yield conn
    finally:
        await conn.close()


def test_executemany_then_fetch(postgres: Postgres, run: Any) -> None:
    async def main() -> tuple[int, list[tuple[int, str]]]:
        async with connection(postgres) as conn:
            await conn.execute("CREATE TEMP TABLE items (id int PRIMARY KEY, name text)")
            rows = [(n, f"item {n}") for n in range(2000)]
            await conn.executemany("INSERT INTO items VALUES ($1, $2)", rows)
            count = await conn.fetchval("SELECT count(*) FROM items")
            some = await conn.fetch("SELECT id, name FROM items WHERE id % 500 = 0 ORDER BY id")
            return count, [tuple(record) for record in some]

    count, some = run(main())
    assert count == 2000
    assert some == [(n, f"item {n}") for n in (0, 500, 1000, 1500)]


def test_transactions_commit_and_roll_back(postgres: Postgres, run: Any) -> None:
    async def main() -> list[int]:
        async with connection(postgres) as conn:
            await conn.execute("CREATE TEMP TABLE ledger (n int)")
            async with conn.transaction():
                await conn.execute("INSERT INTO ledger VALUES (1)")
            with pytest.raises(ZeroDivisionError):
                async with conn.transaction():
                    await conn.execute("INSERT INTO ledger VALUES (2)")
                    raise ZeroDivisionError
            async with conn.transaction():
                await conn.execute("INSERT INTO ledger VALUES (3)")
                savepoint = conn.transaction()  # nested: a savepoint, rolled back alone
                await savepoint.start()
                await conn.execute("INSERT INTO ledger VALUES (4)")
                await savepoint.rollback()
            return [n for (n,) in await conn.fetch("SELECT n FROM ledger ORDER BY n")]

    assert run(main()) == [1, 3]


def test_prepared_statement_is_reused(postgres: Postgres, run: Any) -> None:
    async def main() -> tuple[list[int], list[str]]:
        async with connection(postgres) as conn:
            square = await conn.prepare("SELECT $1::int * $1::int")
            results = [await square.fetchval(n) for n in range(5)]
            return results, [attribute.name for attribute in square.get_attributes()]

    assert run(main()) == ([0, 1, 4, 9, 16], ["?column?"])


def test_copy_records_in_and_read_them_back_through_a_cursor(postgres: Postgres, run: Any) -> None:
    async def main() -> tuple[str, list[int]]:
        async with connection(postgres) as conn:
            await conn.execute("CREATE TEMP TABLE copied (id int, payload bytea)")
            records = [(n, os.urandom(100)) for n in range(5000)]
            status = await conn.copy_records_to_table("copied", records=records)
            seen = []
            async with conn.transaction():  # cursors live in a transaction
                cursor = conn.cursor("SELECT id, payload FROM copied ORDER BY id", prefetch=300)
                async for record in cursor:
                    assert record["payload"] == records[record["id"]][1]
                    seen.append(record["id"])
            return status, seen

    assert run(main()) == ("COPY 5000", list(range(5000)))


def test_listen_notify_reaches_the_listener(postgres: Postgres, run: Any) -> None:
    async def main() -> list[tuple[str, str]]:
        notes: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        async with connection(postgres) as listener, connection(postgres) as notifier:
            await listener.add_listener(
                "events", lambda conn, pid, channel, payload: notes.put_nowait((channel, payload))
            )
            for n in range(3):
                await notifier.execute(f"NOTIFY events, 'note {n}'")
            return [await notes.get() for _ in range(3)]

    assert run(main()) == [("events", f"note {n}") for n in range(3)]


def test_pool_runs_concurrent_queries_on_several_connections(postgres: Postgres, run: Any) -> None:
    async def main() -> tuple[list[int], int]:
        kwargs = postgres.connect_kwargs()
        async with asyncpg.create_pool(**kwargs, min_size=2, max_size=5) as pool:
            query = "SELECT $1::int * 2 FROM pg_sleep(0.01)"
            doubled = await asyncio.gather(*(pool.fetchval(query, n) for n in range(40)))
            return list(doubled), pool.get_size()

    doubled, size = run(main())
    assert doubled == [2 * n for n in range(40)]
    assert size == 5  # the pool grew to its maximum to run the queries side by side


def test_timed_out_and_cancelled_queries_leave_the_connection_usable(
    postgres: Postgres, run: Any
) -> None:
    async def main() -> list[object]:
        async with connection(postgres) as conn:
            with pytest.raises(asyncio.TimeoutError):
                await conn.fetchval("SELECT pg_sleep(60)", timeout=0.05)
            after_timeout = await conn.fetchval("SELECT 1")
            query = asyncio.ensure_future(conn.fetchval("SELECT pg_sleep(60)"))
            await asyncio.sleep(0.05)
            query.cancel()
            with pytest.raises(asyncio.CancelledError):
                await query
            return [after_timeout, await conn.fetchval("SELECT 2")]

    assert run(main()) == [1, 2]


def test_tls_and_unix_socket_connections(postgres: Postgres, pki: PKI, run: Any) -> None:
    async def main() -> tuple[object, object]:
        async with connection(postgres, ssl=pki.client_context()) as conn:
            big = os.urandom(2 * 1024 * 1024)
            echoed = await conn.fetchval("SELECT $1::bytea", big)
            assert echoed == big
            tls = await conn.fetchval("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        async with connection(postgres, host=postgres.socket_dir) as conn:
            over_unix = await conn.fetchval("SELECT inet_server_addr() IS NULL")
        return tls, over_unix

    assert run(main()) == (True, True)
