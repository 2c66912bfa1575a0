"""Behaviour of spindle.queues on spindle's loop and on asyncio's (same expectations).

Interleavings are asserted as exact lists of events; ``turns(n)`` gives the loop n passes.
The property tests at the end drive random schedules of producers and consumers.
"""

from __future__ import annotations

import asyncio
import collections
import types
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spindle.exceptions import QueueEmpty, QueueFull, QueueShutDown
from spindle.queues import LifoQueue, PriorityQueue, Queue

T = TypeVar("T")
Loop = asyncio.AbstractEventLoop

ALL_KINDS = [Queue, LifoQueue, PriorityQueue]


def run(loop: Loop, coro: Coroutine[Any, Any, T]) -> T:
    return loop.run_until_complete(coro)


async def turns(n: int = 1) -> None:
    """Let the loop run n passes (a bare yield each, as asyncio.sleep(0) does)."""
    for _ in range(n):
        await asyncio.sleep(0)


def spawn(coro: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
    return asyncio.get_running_loop().create_task(coro)


def outcome(task: asyncio.Task[Any]) -> object:
    """A task's result, or the name of its exception."""
    if task.cancelled():
        return "cancelled"
    exc = task.exception()
    return type(exc).__name__ if exc is not None else task.result()


# Order and size


@pytest.mark.parametrize(
    ("cls", "expected"),
    [(Queue, [3, 1, 2]), (LifoQueue, [2, 1, 3]), (PriorityQueue, [1, 2, 3])],
)
def test_each_kind_returns_items_in_its_order(
    any_loop: Loop, cls: type[Queue[int]], expected: list[int]
) -> None:
    async def main() -> list[int]:
        queue = cls()
        for item in (3, 1, 2):
            await queue.put(item)
        return [await queue.get() for _ in range(3)]

    assert run(any_loop, main()) == expected


def test_size_queries_follow_puts_and_gets() -> None:
    queue: Queue[str] = Queue(maxsize=2)
    seen = [(queue.qsize(), queue.empty(), queue.full())]
    queue.put_nowait("a")
    seen.append((queue.qsize(), queue.empty(), queue.full()))
    queue.put_nowait("b")
    seen.append((queue.qsize(), queue.empty(), queue.full()))
    queue.get_nowait()
    seen.append((queue.qsize(), queue.empty(), queue.full()))
    assert seen == [(0, True, False), (1, False, False), (2, False, True), (1, False, False)]
    assert queue.maxsize == 2


@pytest.mark.parametrize("maxsize", [0, -1])
def test_queue_with_maxsize_of_zero_or_less_is_never_full(maxsize: int) -> None:
    queue: Queue[int] = Queue(maxsize)
    for item in range(100):
        queue.put_nowait(item)
    assert not queue.full()
    assert queue.qsize() == 100


@pytest.mark.parametrize("cls", ALL_KINDS)
def test_get_nowait_on_empty_queue_raises_queue_empty(cls: type[Queue[int]]) -> None:
    with pytest.raises(QueueEmpty) as raised:
        cls().get_nowait()
    assert raised.value.args == ()  # as asyncio's: no message


@pytest.mark.parametrize("cls", ALL_KINDS)
def test_put_nowait_on_full_queue_raises_queue_full(cls: type[Queue[int]]) -> None:
    queue = cls(maxsize=1)
    queue.put_nowait(1)
    with pytest.raises(QueueFull) as raised:
        queue.put_nowait(2)
    assert raised.value.args == ()  # as asyncio's: no message


def test_queue_exceptions_are_asyncios() -> None:
    assert QueueEmpty is asyncio.QueueEmpty
    assert QueueFull is asyncio.QueueFull


# Blocking and wake-ups


def test_blocked_getters_are_served_in_arrival_order(any_loop: Loop) -> None:
    async def main() -> list[str]:
        events: list[str] = []
        queue: Queue[int] = Queue()

        async def get(name: str) -> None:
            events.append(f"{name} got {await queue.get()}")

        tasks = [spawn(get(name)) for name in "abc"]
        await turns()
        for item in range(3):
            events.append(f"put {item}")
            queue.put_nowait(item)
        await asyncio.gather(*tasks)
        return events

    assert run(any_loop, main()) == [
        "put 0", "put 1", "put 2", "a got 0", "b got 1", "c got 2",
    ]  # fmt: skip


def test_put_on_full_queue_waits_for_a_get(any_loop: Loop) -> None:
    async def main() -> list[str]:
        events: list[str] = []
        queue: Queue[str] = Queue(maxsize=1)
        await queue.put("a")

        async def put(item: str) -> None:
            events.append(f"putting {item}")
            await queue.put(item)
            events.append(f"put {item}")

        tasks = [spawn(put("b")), spawn(put("c"))]
        await turns()
        events.append(f"got {await queue.get()}")
        await turns()
        events.append(f"got {await queue.get()}")
        await turns()
        events.append(f"got {await queue.get()}")
        await asyncio.gather(*tasks)
        return events

    assert run(any_loop, main()) == [
        "putting b", "putting c", "got a", "put b", "got b", "put c", "got c",
    ]  # fmt: skip


def test_getter_cancelled_after_wake_up_passes_the_item_on(any_loop: Loop) -> None:
    async def main() -> tuple[object, object, int]:
        queue: Queue[str] = Queue()
        a, b = spawn(queue.get()), spawn(queue.get())
        await turns()
        queue.put_nowait("item")  # wakes a ...
        a.cancel()  # ... which is cancelled before it runs
        await asyncio.gather(a, b, return_exceptions=True)
        return outcome(a), outcome(b), queue.qsize()

    assert run(any_loop, main()) == ("cancelled", "item", 0)


def test_putter_cancelled_after_wake_up_passes_the_slot_on(any_loop: Loop) -> None:
    async def main() -> tuple[object, list[str]]:
        queue: Queue[str] = Queue(maxsize=1)
        queue.put_nowait("first")
        a, b = spawn(queue.put("a")), spawn(queue.put("b"))
        await turns()
        queue.get_nowait()  # wakes a ...
        a.cancel()  # ... which is cancelled before it runs
        await asyncio.gather(a, b, return_exceptions=True)
        return outcome(a), [queue.get_nowait() for _ in range(queue.qsize())]

    assert run(any_loop, main()) == ("cancelled", ["b"])


def test_cancelled_waiters_leave_no_trace(any_loop: Loop) -> None:
    async def main() -> tuple[int, int, str]:
        empty: Queue[int] = Queue()
        full: Queue[int] = Queue(maxsize=1)
        full.put_nowait(0)
        tasks = [spawn(empty.get()), spawn(full.put(1))]
        await turns()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        return len(empty._getters), len(full._putters), str(full)

    assert run(any_loop, main()) == (0, 0, "<Queue maxsize=1 _queue=[0] tasks=1>")


def test_cancelled_getter_does_not_take_the_next_item(any_loop: Loop) -> None:
    async def main() -> object:
        queue: Queue[str] = Queue()
        first, second = spawn(queue.get()), spawn(queue.get())
        await turns()
        first.cancel()
        await turns()
        await queue.put("item")
        return await second

    assert run(any_loop, main()) == "item"


# task_done and join


def test_task_done_more_often_than_puts_raises() -> None:
    queue: Queue[int] = Queue()
    queue.put_nowait(1)
    queue.task_done()
    with pytest.raises(ValueError, match=r"task_done\(\) called too many times"):
        queue.task_done()


def test_join_waits_until_every_item_is_marked_done(any_loop: Loop) -> None:
    async def main() -> list[str]:
        events: list[str] = []
        queue: Queue[int] = Queue()
        await queue.join()  # nothing was put: returns at once
        for item in range(2):
            queue.put_nowait(item)

        async def join() -> None:
            await queue.join()
            events.append("joined")

        joiner = spawn(join())
        for _ in range(2):
            await queue.get()
            await turns()
            events.append("task done")
            queue.task_done()
        await joiner
        return events

    assert run(any_loop, main()) == ["task done", "task done", "joined"]


# shutdown (Python 3.13 semantics)


def test_shutdown_refuses_puts_and_drains_before_refusing_gets(any_loop: Loop) -> None:
    async def main() -> list[object]:
        queue: Queue[int] = Queue()
        queue.put_nowait(1)
        queue.shutdown()
        seen: list[object] = []
        for attempt in (lambda: queue.put_nowait(2), lambda: queue.get_nowait()):
            try:
                seen.append(attempt())
            except QueueShutDown as exc:
                seen.append(repr(exc))
        with pytest.raises(QueueShutDown):
            await queue.put(3)
        with pytest.raises(QueueShutDown):
            await queue.get()
        seen.append(queue._format())
        return seen

    assert run(any_loop, main()) == [
        "QueueShutDown()",
        1,
        "maxsize=0 tasks=1 shutdown",
    ]


def test_shutdown_wakes_blocked_getters_and_putters(any_loop: Loop) -> None:
    async def main() -> list[object]:
        empty: Queue[int] = Queue()
        full: Queue[int] = Queue(maxsize=1)
        full.put_nowait(0)
        tasks = [spawn(empty.get()), spawn(empty.get()), spawn(full.put(1))]
        await turns()
        empty.shutdown()
        full.shutdown()
        await asyncio.gather(*tasks, return_exceptions=True)
        return [outcome(task) for task in tasks] + [full.get_nowait()]

    assert run(any_loop, main()) == ["QueueShutDown", "QueueShutDown", "QueueShutDown", 0]


def test_immediate_shutdown_discards_items_and_releases_join(any_loop: Loop) -> None:
    async def main() -> list[object]:
        queue: Queue[int] = Queue()
        for item in range(3):
            queue.put_nowait(item)
        await queue.get()  # taken but not marked done: join() still waits for it
        joiner = spawn(queue.join())
        await turns()
        queue.shutdown(immediate=True)
        await turns()
        seen: list[object] = [queue.qsize(), joiner.done()]
        queue.task_done()
        await joiner
        with pytest.raises(QueueShutDown):
            queue.get_nowait()
        seen.append(joiner.done())
        return seen

    assert run(any_loop, main()) == [0, False, True]


def test_immediate_shutdown_wakes_a_putter_to_see_the_shutdown(any_loop: Loop) -> None:
    async def main() -> object:
        queue: Queue[int] = Queue(maxsize=1)
        queue.put_nowait(0)
        putter = spawn(queue.put(1))
        await turns()
        queue.shutdown(immediate=True)  # frees the slot, but the putter must still fail
        await asyncio.gather(putter, return_exceptions=True)
        return outcome(putter)

    assert run(any_loop, main()) == "QueueShutDown"


# Representation, typing, loops


def test_repr_and_str_show_contents_and_waiters(any_loop: Loop) -> None:
    async def main() -> tuple[str, str]:
        queue: Queue[int] = Queue(maxsize=1)
        getter = spawn(queue.get())
        await turns()
        waiting = str(queue)
        queue.put_nowait(7)
        await getter
        await queue.put(9)
        putter = spawn(queue.put(10))
        await turns()
        text = repr(queue)
        queue.get_nowait()
        await putter
        return waiting, text

    waiting, text = run(any_loop, main())
    assert waiting == "<Queue maxsize=1 _getters[1]>"
    assert text.startswith("<Queue at 0x")
    assert text.endswith(" maxsize=1 _queue=[9] _putters[1] tasks=2>")


def test_queue_subscription_gives_a_generic_alias() -> None:
    for cls in ALL_KINDS:
        alias = cls[int]
        assert isinstance(alias, types.GenericAlias)
        assert alias.__origin__ is cls
        assert alias.__args__ == (int,)
    assert isinstance(PriorityQueue[int](), Queue)


def test_queue_that_waited_on_one_loop_refuses_another(loop_factory: Callable[[], Loop]) -> None:
    queue: Queue[int] = Queue()

    async def wait_for_item() -> int:
        getter = spawn(queue.get())
        await turns()
        queue.put_nowait(1)
        return await getter

    first, second = loop_factory(), loop_factory()
    try:
        assert run(first, wait_for_item()) == 1
        with pytest.raises(RuntimeError, match="is bound to a different event loop"):
            run(second, wait_for_item())
    finally:
        first.close()
        second.close()


# Properties


def _run_fresh(loop_factory: Callable[[], Loop], coro: Coroutine[Any, Any, T]) -> T:
    loop = loop_factory()
    try:
        return loop.run_until_complete(coro)
    finally:
        loop.close()


_loop_settings = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@_loop_settings
@given(items=st.lists(st.integers()))
def test_priority_queue_returns_items_in_sorted_order(
    loop_factory: Callable[[], Loop], items: list[int]
) -> None:
    async def main() -> list[int]:
        queue: PriorityQueue[int] = PriorityQueue()
        for item in items:
            await queue.put(item)
        return [await queue.get() for _ in items]

    assert _run_fresh(loop_factory, main()) == sorted(items)


@_loop_settings
@given(
    maxsize=st.integers(min_value=1, max_value=4),
    producers=st.lists(st.integers(min_value=0, max_value=6), min_size=1, max_size=4),
    consumer_pauses=st.lists(st.integers(min_value=0, max_value=3), min_size=1, max_size=4),
)
def test_bounded_queue_never_exceeds_maxsize_and_loses_nothing(
    loop_factory: Callable[[], Loop],
    maxsize: int,
    producers: list[int],
    consumer_pauses: list[int],
) -> None:
    total = sum(producers)

    async def main() -> tuple[int, list[tuple[int, int]]]:
        queue: Queue[tuple[int, int]] = Queue(maxsize)
        largest = 0
        got: list[tuple[int, int]] = []

        async def produce(who: int, count: int) -> None:
            nonlocal largest
            for seq in range(count):
                await queue.put((who, seq))
                largest = max(largest, queue.qsize())

        async def consume(pause: int) -> None:
            while len(got) < total:
                try:
                    got.append(await queue.get())
                except QueueShutDown:
                    return
                await turns(pause)

        consumers = [spawn(consume(pause)) for pause in consumer_pauses]
        await asyncio.gather(*(spawn(produce(w, n)) for w, n in enumerate(producers)))
        while len(got) < total:
            await turns()
        queue.shutdown()  # releases consumers still waiting for an item
        await asyncio.gather(*consumers)
        return largest, got

    largest, got = _run_fresh(loop_factory, main())
    assert largest <= maxsize
    assert sorted(got) == sorted((w, s) for w, n in enumerate(producers) for s in range(n))
    for who in range(len(producers)):  # each producer's items arrive in the order put
        assert [s for w, s in got if w == who] == list(range(producers[who]))


@given(ops=st.lists(st.one_of(st.integers(min_value=0, max_value=99), st.none()), max_size=40))
def test_fifo_queue_agrees_with_a_bounded_deque(ops: list[int | None]) -> None:
    """Random put_nowait (an int) / get_nowait (None) sequences behave like a bounded deque."""
    queue: Queue[int] = Queue(maxsize=5)
    model: collections.deque[int] = collections.deque()
    for op in ops:
        if op is None:
            if model:
                assert queue.get_nowait() == model.popleft()
            else:
                with pytest.raises(QueueEmpty):
                    queue.get_nowait()
        elif len(model) < 5:
            queue.put_nowait(op)
            model.append(op)
        else:
            with pytest.raises(QueueFull):
                queue.put_nowait(op)
        assert (queue.qsize(), queue.full(), queue.empty()) == (
            len(model), len(model) == 5, not model,
        )  # fmt: skip
