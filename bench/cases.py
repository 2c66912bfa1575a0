"""The benchmark bodies: each exercises one hot path of an event loop, ``n`` times.

A case is a coroutine function ``body(loop, api, n)`` run to completion by
``loop.run_until_complete`` in a fresh loop; its work is ``n`` operations of the kind named by
``unit``, so ops/s is ``n`` over the wall time of that call.  The bodies touch only the public
``AbstractEventLoop`` surface and the primitives in ``Api``, so the very same code runs on
every implementation.

A case that calls one of those primitives (``uses_api``) gives two rows: with the
implementation's own primitives (``gather``), and with asyncio's on the implementation's loop
(``gather[asyncio-api]``), which is what an unmodified program runs under ``spindle.install()``.
On asyncio, uvloop and rloop the two rows run the same code; both are measured, so every row
has its ratio to asyncio from the same rounds.

The bodies are deliberately bare: the less Python a case runs around the operation it measures,
the more the numbers say about the loop rather than about the benchmark.  ``size`` is chosen so
one measurement takes roughly 50-150 ms on stock asyncio on a small machine: long enough to
dwarf timer resolution and loop start-up, short enough for many interleaved rounds.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from bench.api import Api

__all__ = ["API_MODES", "CASES", "Case", "Row", "by_name", "rows"]

Body = Callable[[asyncio.AbstractEventLoop, Api, int], Coroutine[Any, Any, None]]

# Whose primitives a row calls: the implementation's own, or asyncio's (see the docstring).
API_MODES = ("own", "asyncio")
ASYNCIO_API_SUFFIX = "[asyncio-api]"

# gather and TaskGroup run their children in batches of this many, as the brief specifies.
BATCH = 10_000
# The bounded queue makes producer and consumer hand over control instead of one running ahead.
QUEUE_MAXSIZE = 10


@dataclass(frozen=True)
class Case:
    """A named benchmark: its body, its default size and the unit it counts."""

    name: str
    body: Body
    size: int
    unit: str
    summary: str
    uses_api: bool = False  # calls sleep/gather/TaskGroup/Queue: has an [asyncio-api] row


@dataclass(frozen=True)
class Row:
    """One row of the table: a case, run with one implementation's primitives or asyncio's."""

    case: Case
    api: str  # "own" or "asyncio"

    @property
    def label(self) -> str:
        return self.case.name + (ASYNCIO_API_SUFFIX if self.api == "asyncio" else "")

    @property
    def modes(self) -> tuple[str, ...]:
        """The API modes whose geometric mean counts this row: both, for a case without API."""
        return (self.api,) if self.case.uses_api else API_MODES


def rows(cases: list[Case], api: str) -> list[Row]:
    """The rows of ``cases`` for ``api`` ("own", "asyncio" or "both"): own rows first."""
    if api not in (*API_MODES, "both"):
        raise ValueError(f"no API mode {api!r}: choose from own, asyncio, both")
    out = [Row(c, "own") for c in cases if api != "asyncio" or not c.uses_api]
    if api != "own":
        out += [Row(c, "asyncio") for c in cases if c.uses_api]
    return out


def _noop() -> None:
    pass


async def _return() -> None:
    pass


async def call_soon(loop: asyncio.AbstractEventLoop, api: Api, n: int) -> None:
    done = loop.create_future()
    for _ in range(n - 1):
        loop.call_soon(_noop)
    # call_soon callbacks run in FIFO order, so this one runs after all the others.
    loop.call_soon(done.set_result, None)
    await done


async def call_soon_chain(loop: asyncio.AbstractEventLoop, api: Api, n: int) -> None:
    done = loop.create_future()
    left = n

    def step() -> None:
        nonlocal left
        left -= 1
        if left:
            loop.call_soon(step)
        else:
            done.set_result(None)

    loop.call_soon(step)
    await done


async def call_later(loop: asyncio.AbstractEventLoop, api: Api, n: int) -> None:
    done = loop.create_future()
    left = n

    def fired() -> None:
        nonlocal left
        left -= 1
        if not left:
            done.set_result(None)

    # Delays spread over 0-1 ms: the timer queue sees many distinct deadlines out of order.
    for i in range(n):
        loop.call_later((i * 7919 % 1000) * 1e-6, fired)
    await done


async def create_task(loop: asyncio.AbstractEventLoop, api: Api, n: int) -> None:
    for _ in range(n):
        await loop.create_task(_return())


async def sleep_ping_pong(loop: asyncio.AbstractEventLoop, api: Api, n: int) -> None:
    async def player(turns: int) -> None:
        for _ in range(turns):
            await api.sleep(0)

    # Two tasks yielding in turn: n switches in all.
    ping = loop.create_task(player(n // 2))
    pong = loop.create_task(player(n - n // 2))
    await ping
    await pong


async def future_set_await(loop: asyncio.AbstractEventLoop, api: Api, n: int) -> None:
    for i in range(n):
        fut: asyncio.Future[int] = loop.create_future()
        loop.call_soon(fut.set_result, i)
        await fut


async def _child(api: Api) -> None:
    # One suspension, so every child is still pending when the parent starts waiting.
    await api.sleep(0)


async def gather(loop: asyncio.AbstractEventLoop, api: Api, n: int) -> None:
    for batch in _batches(n):
        await api.gather(*[_child(api) for _ in range(batch)])


async def task_group(loop: asyncio.AbstractEventLoop, api: Api, n: int) -> None:
    for batch in _batches(n):
        async with api.task_group() as tg:
            for _ in range(batch):
                tg.create_task(_child(api))


async def queue(loop: asyncio.AbstractEventLoop, api: Api, n: int) -> None:
    q = api.queue(QUEUE_MAXSIZE)

    async def produce() -> None:
        for i in range(n):
            await q.put(i)

    async def consume() -> None:
        for _ in range(n):
            await q.get()

    producer = loop.create_task(produce())
    consumer = loop.create_task(consume())
    await producer
    await consumer


def _batches(n: int) -> list[int]:
    """``n`` split into full batches of BATCH and one smaller remainder."""
    full, rest = divmod(n, BATCH)
    return [BATCH] * full + ([rest] if rest else [])


CASES: tuple[Case, ...] = (
    Case("call_soon", call_soon, 150_000, "callbacks", "n callbacks scheduled, then run"),
    Case(
        "call_soon_chain", call_soon_chain, 100_000, "callbacks", "each callback schedules the next"
    ),
    Case("call_later", call_later, 50_000, "timers", "n timers due within 1 ms, all run"),
    Case("create_task", create_task, 30_000, "tasks", "create a task, await it; repeat"),
    Case(
        "sleep_ping_pong",
        sleep_ping_pong,
        100_000,
        "switches",
        "two tasks alternate on sleep(0)",
        uses_api=True,
    ),
    Case("future", future_set_await, 50_000, "futures", "create, set via call_soon, await"),
    Case("gather", gather, 30_000, "tasks", f"gather of {BATCH} tasks, repeated", uses_api=True),
    Case(
        "task_group",
        task_group,
        30_000,
        "tasks",
        f"TaskGroup of {BATCH} tasks, repeated",
        uses_api=True,
    ),
    Case(
        "queue",
        queue,
        100_000,
        "items",
        f"producer/consumer, Queue(maxsize={QUEUE_MAXSIZE})",
        uses_api=True,
    ),
)


def by_name(name: str) -> Case:
    """The case called ``name``; ValueError naming the known cases otherwise."""
    for case in CASES:
        if case.name == name:
            return case
    known = ", ".join(c.name for c in CASES)
    raise ValueError(f"no benchmark case {name!r}: choose from {known}")
