"""asyncio's own objects on spindle's loop, as the task dump shows them.

A program run with ``python -m spindle`` uses asyncio's own gather, TaskGroup, Queue, Lock and
streams on spindle's loop, and may make its tasks with asyncio's own Task class (a task
factory).  The dump reads them through public introspection only
(``spindle.diagnostics.asyncio_objects``); each test here builds the real thing, suspends it,
and checks what the dump says the task waits on and which tasks it waits for.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import pytest

import spindle
from spindle.diagnostics import snapshot

Body = Callable[[], Coroutine[Any, Any, Any]]


def observe(make_body: Callable[[], Body], factory: bool = False) -> dict[str, tuple[Any, ...]]:
    """Run the body a test builds as the task ``body`` on spindle's loop, let everything
    suspend, and return ``{task name: (waits_on, names of the tasks it awaits)}``."""

    async def main() -> dict[str, tuple[Any, ...]]:
        loop = asyncio.get_running_loop()
        if factory:
            loop.set_task_factory(asyncio_tasks)
        body = loop.create_task(make_body()(), name="body")
        for _ in range(10):
            await asyncio.sleep(0)
        info = snapshot.take(loop)
        names = {task.id: task.name for task in info.tasks}
        seen = {
            task.name: (task.waits_on, tuple(names[i] for i in task.awaits)) for task in info.tasks
        }
        loop.set_task_factory(None)
        rest = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in rest:
            task.cancel()
        await asyncio.gather(*rest, return_exceptions=True)
        assert body.done()
        return seen

    return spindle.run(main())


def asyncio_tasks(loop: Any, coro: Any, **kwargs: Any) -> asyncio.Task[Any]:
    """The README's task factory: tasks of asyncio's own Task class."""
    return asyncio.Task(coro, loop=loop, **kwargs)


async def sleeper() -> None:
    await asyncio.sleep(3600)


def child() -> asyncio.Task[None]:
    return asyncio.get_running_loop().create_task(sleeper(), name="child")


def with_gather() -> Body:
    async def body() -> None:
        other = asyncio.get_running_loop().create_task(sleeper(), name="other")
        await asyncio.gather(child(), other)

    return body


def with_taskgroup_exit() -> Body:
    async def body() -> None:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(sleeper(), name="child")

    return body


def with_taskgroup_body() -> Body:
    async def body() -> None:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(sleeper(), name="child")
            await asyncio.sleep(3600)

    return body


def awaiting(wrap: Callable[[asyncio.Task[None]], Awaitable[Any]]) -> Callable[[], Body]:
    def make() -> Body:
        async def body() -> None:
            await wrap(child())

        return body

    return make


def with_as_completed() -> Body:
    async def body() -> None:
        for next_done in asyncio.as_completed([child()]):
            await next_done

    return body


def with_timeout() -> Body:
    async def body() -> None:
        task = child()
        async with asyncio.timeout(3600):
            await task

    return body


@pytest.mark.parametrize(
    ("make_body", "waits_on", "awaits"),
    [
        (
            with_gather,
            "gather() of 2 awaitables, 0 done; waiting for child, other",
            ("child", "other"),
        ),
        (with_taskgroup_exit, "the end of its TaskGroup's 1 task", ("child",)),
        (with_taskgroup_body, "sleep, 3600.0 s left", ("child",)),
        (awaiting(asyncio.shield), "shield(task child)", ("child",)),
        (awaiting(lambda t: asyncio.wait_for(t, 3600)), "task child", ("child",)),
        (awaiting(lambda t: asyncio.wait([t])), "wait() for 1 future", ("child",)),
        (with_as_completed, "as_completed(): 1 not done", ("child",)),
        (with_timeout, "task child", ("child",)),
    ],
    ids=[
        "gather",
        "TaskGroup-exit",
        "TaskGroup-body",
        "shield",
        "wait_for",
        "wait",
        "as_completed",
        "timeout",
    ],
)
def test_asyncios_functions_show_what_the_task_waits_for(
    make_body: Callable[[], Body], waits_on: str, awaits: tuple[str, ...]
) -> None:
    seen = observe(make_body)
    assert seen["body"] == (waits_on, awaits)
    assert seen["child"] == ("sleep, 3600.0 s left", ())


def with_primitive(kind: str) -> Body:
    async def body() -> None:
        if kind == "Lock":
            lock = asyncio.Lock()
            await lock.acquire()
            await lock.acquire()
        elif kind == "Event":
            event = asyncio.Event()
            await event.wait()
        elif kind == "Condition":
            condition = asyncio.Condition()
            async with condition:
                await condition.wait()
        elif kind == "Semaphore":
            semaphore = asyncio.Semaphore(0)
            await semaphore.acquire()
        elif kind == "Queue.get":
            queue: asyncio.Queue[int] = asyncio.Queue()
            await queue.get()
        elif kind == "Queue.put":
            queue = asyncio.Queue(maxsize=1)
            queue.put_nowait(1)
            await queue.put(2)

    return body


@pytest.mark.parametrize(
    ("kind", "waits_on"),
    [
        ("Lock", "Lock lock (locked, waiting: 1)"),
        ("Event", "Event event (unset, waiting: 1)"),
        ("Condition", "Condition condition (unlocked, waiting: 1): a notify()"),
        ("Semaphore", "Semaphore semaphore (locked, waiting: 1)"),
        ("Queue.get", "get() on Queue queue (empty)"),
        ("Queue.put", "put() on Queue queue (full, 1 items)"),
    ],
)
def test_asyncios_primitives_are_named_as_the_program_names_them(kind: str, waits_on: str) -> None:
    assert observe(lambda: with_primitive(kind))["body"] == (waits_on, ())


def test_an_asyncio_stream_reader_is_shown_without_its_socket() -> None:
    """The one detail dropped: asyncio's StreamReader keeps its transport private, so the
    peer's address (shown for spindle's own readers) is not read; the reader is named."""

    async def main() -> str | None:
        accepted: list[asyncio.StreamWriter] = []
        server = await asyncio.start_server(lambda r, w: accepted.append(w), "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)

        async def body() -> None:
            await reader.read(1)

        task = asyncio.get_running_loop().create_task(body(), name="body")
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        info = next(t for t in snapshot.take(asyncio.get_running_loop()).tasks if t.name == "body")
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        for end in [writer, *accepted]:
            end.close()
            await end.wait_closed()
        server.close()
        await server.wait_closed()
        return info.waits_on

    assert spindle.run(main()) == "data from StreamReader reader"


def with_awaited_task() -> Body:
    async def body() -> None:
        await child()

    return body


def with_lock() -> Body:
    return with_primitive("Lock")


@pytest.mark.parametrize(
    ("make_body", "waits_on", "awaits"),
    [
        (with_awaited_task, "task child", ("child",)),
        (with_lock, "Lock lock (locked, waiting: 1)", ()),
        (awaiting(asyncio.shield), "shield(task child)", ("child",)),
        (
            with_taskgroup_exit,
            "the end of its TaskGroup's tasks (asyncio Tasks, not listed: asyncio keeps them "
            "private)",
            (),
        ),
    ],
    ids=["await", "Lock", "shield", "TaskGroup"],
)
def test_tasks_of_asyncios_task_class_are_read_from_their_coroutine(
    make_body: Callable[[], Body], waits_on: str, awaits: tuple[str, ...]
) -> None:
    """Under a task factory every task is asyncio's own: what each awaits is read down its
    coroutine chain; what asyncio keeps in its tasks' private callbacks (a TaskGroup's
    members) is said to be hidden rather than shown as nothing."""
    seen = observe(make_body, factory=True)
    assert seen["body"] == (waits_on, awaits)
    assert seen.get("child", ("sleep, 3600.0 s left", ())) == ("sleep, 3600.0 s left", ())


def test_a_task_of_asyncios_class_that_only_yields_is_ready() -> None:
    async def main() -> tuple[str, str | None]:
        loop = asyncio.get_running_loop()
        loop.set_task_factory(asyncio_tasks)

        async def spin() -> None:
            while True:
                await asyncio.sleep(0)

        task = loop.create_task(spin(), name="spin")
        loop.set_task_factory(None)
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        info = next(t for t in snapshot.take(loop).tasks if t.name == "spin")
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return info.state, info.waits_on

    assert spindle.run(main()) == ("ready", None)
