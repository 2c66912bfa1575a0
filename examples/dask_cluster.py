"""Spreading CPU work beyond one process, and beyond one machine: Dask's distributed, on spindle.

    python examples/dask_cluster.py                      a cluster of 2 worker processes here
    python examples/dask_cluster.py tcp://host:8786      the workers of a running scheduler

spindle runs one loop in one thread, like asyncio, so CPU work belongs in other processes.
Dask's ``distributed`` gives a program a cluster of worker processes, on this machine or on
many (``dask scheduler`` on one, ``dask worker tcp://host:8786`` on each of the others).  This
program runs on spindle's loop, and with no address it also runs the cluster's scheduler on that
same loop (``LocalCluster(asynchronous=True)``), with two worker processes beside it.  Then:

- a graph of 421 tasks (400 squares, 20 partial sums of them, their total) run by the workers;
- ``loop.run_in_executor(client.get_executor(), fn, ...)``: the asyncio way to hand a function
  to other threads or processes, here sending each call to a worker of the cluster.

Dask's scheduler and client are built on tornado, which accepts only instances of asyncio's own
Task class from ``loop.create_task()``; spindle's Task is its own class (it speaks asyncio's
protocol, but is not a subclass).  So the program gives its loop a task factory that makes
asyncio's Tasks before it starts Dask: the tasks still run on spindle's loop.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Coroutine
from typing import Any

from distributed import Client, LocalCluster

import spindle

N = 400
PRIME_LIMIT = 100_000
CHUNKS = 8


def asyncio_tasks(
    loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, Any], **kwargs: Any
) -> asyncio.Task[Any]:
    """A task factory for tornado-based libraries: asyncio's Task, on the loop it is given."""
    return asyncio.Task(coro, loop=loop, **kwargs)


def square(x: int) -> int:
    return x * x


def add(a: int, b: int) -> int:
    return a + b


def count_primes(start: int, stop: int) -> tuple[int, int]:
    """Primes in [start, stop) by trial division (CPU work, on purpose), and who counted them."""
    count = sum(
        1 for n in range(max(start, 2), stop) if all(n % d for d in range(2, int(n**0.5) + 1))
    )
    return count, os.getpid()


def primes_below(limit: int) -> int:
    """The same count by a sieve: quick enough to check the cluster's answer on the loop."""
    sieve = bytearray([1]) * limit
    sieve[:2] = b"\0\0"
    for n in range(2, int(limit**0.5) + 1):
        if sieve[n]:
            sieve[n * n :: n] = bytes(len(range(n * n, limit, n)))
    return sum(sieve)


async def where_the_scheduler_runs() -> str:
    """Run by the scheduler (``client.run_on_scheduler``): the class of the loop it runs on."""
    loop = asyncio.get_running_loop()
    return f"{type(loop).__module__}.{type(loop).__qualname__}"


async def sum_of_squares(client: Client) -> int:
    """N squares, added up in partial sums, then the total: a graph of N + N // 20 + 1 tasks."""
    squares = client.map(square, range(N))
    partials = [client.submit(sum, squares[i : i + 20]) for i in range(0, N, 20)]
    total: int = await client.submit(sum, partials)
    return total


async def count_primes_on_the_cluster(client: Client) -> tuple[int, set[int]]:
    loop = asyncio.get_running_loop()
    executor = client.get_executor()
    step = PRIME_LIMIT // CHUNKS
    calls = [
        loop.run_in_executor(executor, count_primes, start, start + step)
        for start in range(0, PRIME_LIMIT, step)
    ]
    results = await asyncio.gather(*calls)
    return sum(count for count, _ in results), {pid for _, pid in results}


async def use(client: Client) -> None:
    workers = await client.run(os.getpid)
    print(f"workers: {len(workers)} processes, pids {sorted(workers.values())}")

    total = await sum_of_squares(client)
    assert total == sum(n * n for n in range(N)), total
    print(f"sum of the squares below {N}, by {N + N // 20 + 1} tasks: {total} (checked)")

    primes, pids = await count_primes_on_the_cluster(client)
    assert primes == primes_below(PRIME_LIMIT), primes
    print(
        f"primes below {PRIME_LIMIT}, counted in {CHUNKS} chunks by run_in_executor: "
        f"{primes} (checked)"
    )
    print(f"those chunks ran in processes {sorted(pids)} (this one is {os.getpid()})")


async def main(address: str | None) -> None:
    loop = asyncio.get_running_loop()
    loop.set_task_factory(asyncio_tasks)  # before anything of Dask's starts: see above
    print(f"this program runs on {type(loop).__module__}.{type(loop).__qualname__}")
    if address is not None:
        async with Client(address, asynchronous=True) as client:
            await use(client)
        return
    # The scheduler's HTTP server (its dashboard) on a port the kernel picks: Dask's default,
    # 8787, may be taken by another cluster on the machine (it then warns, and moves).
    cluster = LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True,
        host="127.0.0.1", dashboard_address="127.0.0.1:0", asynchronous=True,
    )  # fmt: skip
    async with cluster, Client(cluster, asynchronous=True) as client:
        scheduler_loop = await client.run_on_scheduler(where_the_scheduler_runs)
        same = cluster.scheduler.loop.asyncio_loop is loop
        print(f"scheduler: {cluster.scheduler_address}, on {scheduler_loop}, this loop: {same}")
        await use(client)


if __name__ == "__main__":
    spindle.run(main(sys.argv[1] if len(sys.argv) > 1 else None))
