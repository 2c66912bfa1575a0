"""Behaviour of spindle.locks on spindle's loop and on asyncio's (same expectations).

Interleavings are asserted as exact lists of events.  ``turns(n)`` gives the loop n passes,
which is how a test lets woken tasks run before it looks.
"""

from __future__ import annotations

import asyncio
import re
import sys
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import pytest

from spindle.exceptions import BrokenBarrierError, CancelledError
from spindle.locks import Barrier, BoundedSemaphore, Condition, Event, Lock, Semaphore

T = TypeVar("T")
Loop = asyncio.AbstractEventLoop

# asyncio's own test pattern for these reprs, with spindle's module path.
REPR = re.compile(
    r"^<spindle\.locks\.(?P<cls>\w+) object at 0x[0-9a-f]+ \[(?P<extra>"
    r"(set|unset|locked|unlocked|filling|draining|resetting|broken)"
    r"(, value:\d+)?(, waiters:\d+)?(, waiters:\d+/\d+)?)\]>\Z"
)


def run(loop: Loop, coro: Coroutine[Any, Any, T]) -> T:
    return loop.run_until_complete(coro)


async def turns(n: int = 1) -> None:
    """Let the loop run n passes (a bare yield each, as asyncio.sleep(0) does)."""
    for _ in range(n):
        await asyncio.sleep(0)


def spawn(coro: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
    return asyncio.get_running_loop().create_task(coro)


def extra(obj: object) -> str:
    match = REPR.match(repr(obj))
    assert match is not None, repr(obj)
    return match["extra"]


# Lock


def test_lock_repr_shows_state_and_waiters(any_loop: Loop) -> None:
    async def main() -> list[str]:
        lock = Lock()
        seen = [extra(lock)]
        await lock.acquire()
        seen.append(extra(lock))
        waiter = spawn(lock.acquire())
        await turns()
        seen.append(extra(lock))
        lock.release()
        await waiter
        lock.release()
        return seen

    assert run(any_loop, main()) == ["unlocked", "locked", "locked, waiters:1"]


def test_acquire_returns_true_and_locks(any_loop: Loop) -> None:
    async def main() -> tuple[bool, bool, bool]:
        lock = Lock()
        result = await lock.acquire()
        locked = lock.locked()
        lock.release()
        return result, locked, lock.locked()

    assert run(any_loop, main()) == (True, True, False)


def test_release_of_unlocked_lock_raises() -> None:
    with pytest.raises(RuntimeError, match=r"^Lock is not acquired\.$"):
        Lock().release()


def test_primitives_refuse_a_loop_argument() -> None:
    for cls in (Lock, Event, Condition, Semaphore, BoundedSemaphore):
        with pytest.raises(TypeError, match="unexpected keyword argument 'loop'"):
            cls(loop=None)  # type: ignore[call-arg]


def test_lock_is_not_awaitable(any_loop: Loop) -> None:
    async def main() -> None:
        with pytest.raises(TypeError, match="can't be used in 'await' expression"):
            await Lock()  # type: ignore[misc]

    run(any_loop, main())


def test_waiters_acquire_the_lock_in_fifo_order(any_loop: Loop) -> None:
    events: list[str] = []

    async def worker(lock: Lock, name: str) -> None:
        async with lock:
            events.append(f"{name} in")
            await turns()
            events.append(f"{name} out")

    async def main() -> None:
        lock = Lock()
        tasks = [spawn(worker(lock, name)) for name in "abc"]
        await asyncio.gather(*tasks)

    run(any_loop, main())
    assert events == ["a in", "a out", "b in", "b out", "c in", "c out"]


def test_newcomer_cannot_barge_past_a_woken_waiter(any_loop: Loop) -> None:
    async def main() -> list[str]:
        events: list[str] = []
        lock = Lock()
        await lock.acquire()

        async def acquire(name: str) -> None:
            await lock.acquire()
            events.append(name)
            lock.release()

        first = spawn(acquire("waiter"))
        await turns()
        lock.release()  # the waiter is woken but has not run yet
        assert not lock.locked()
        newcomer = spawn(acquire("newcomer"))
        await asyncio.gather(first, newcomer)
        return events

    assert run(any_loop, main()) == ["waiter", "newcomer"]


def test_cancelled_waiter_is_skipped_and_removed(any_loop: Loop) -> None:
    async def main() -> tuple[list[str], str]:
        events: list[str] = []
        lock = Lock()
        await lock.acquire()

        async def acquire(name: str) -> None:
            await lock.acquire()
            events.append(name)
            lock.release()

        a, b = spawn(acquire("a")), spawn(acquire("b"))
        await turns()
        a.cancel()
        await turns()
        state = extra(lock)
        lock.release()
        await b
        assert a.cancelled()
        return events, state

    assert run(any_loop, main()) == (["b"], "locked, waiters:1")


def test_waiter_cancelled_after_wake_up_passes_the_lock_on(any_loop: Loop) -> None:
    async def main() -> list[str]:
        events: list[str] = []
        lock = Lock()
        await lock.acquire()

        async def acquire(name: str) -> None:
            await lock.acquire()
            events.append(name)
            lock.release()

        a, b = spawn(acquire("a")), spawn(acquire("b"))
        await turns()
        lock.release()  # wakes a ...
        a.cancel()  # ... which is cancelled before it can take the lock
        await asyncio.gather(a, b, return_exceptions=True)
        assert a.cancelled()
        assert not lock.locked()
        return events

    assert run(any_loop, main()) == ["b"]


def test_newcomer_takes_lock_at_once_when_every_waiter_is_cancelled(any_loop: Loop) -> None:
    async def main() -> tuple[bool, bool, int]:
        lock = Lock()
        await lock.acquire()
        waiter = spawn(lock.acquire())
        await turns()
        waiter.cancel()  # its future is cancelled; the task has not run since
        lock.release()
        await lock.acquire()
        # Taken without yielding: the cancelled task has not run yet.
        barged = not waiter.done()
        await asyncio.gather(waiter, return_exceptions=True)
        lock.release()
        return barged, waiter.cancelled(), len(lock._waiters)

    assert run(any_loop, main()) == (True, True, 0)


def test_async_with_releases_the_lock_on_error(any_loop: Loop) -> None:
    async def main() -> bool:
        lock = Lock()
        with pytest.raises(KeyError):
            async with lock as bound:
                assert bound is None
                raise KeyError
        return lock.locked()

    assert run(any_loop, main()) is False


def test_uncontended_lock_can_be_used_from_two_loops(
    loop_factory: Callable[[], Loop],
) -> None:
    lock = Lock()

    async def use() -> None:
        async with lock:
            pass

    for _ in range(2):
        loop = loop_factory()
        try:
            run(loop, use())
        finally:
            loop.close()


def test_lock_that_waited_on_one_loop_refuses_another(loop_factory: Callable[[], Loop]) -> None:
    lock = Lock()

    async def contend() -> None:
        await lock.acquire()
        waiter = spawn(lock.acquire())
        await turns()
        lock.release()
        await waiter
        lock.release()

    first, second = loop_factory(), loop_factory()
    try:
        run(first, contend())
        with pytest.raises(RuntimeError, match="is bound to a different event loop"):
            run(second, contend())
    finally:
        first.close()
        second.close()


# Event


def test_event_repr_shows_flag_and_waiters(any_loop: Loop) -> None:
    async def main() -> list[str]:
        event = Event()
        seen = [extra(event)]
        waiter = spawn(event.wait())
        await turns()
        seen.append(extra(event))
        event.set()
        await waiter
        seen.append(extra(event))
        return seen

    assert run(any_loop, main()) == ["unset", "unset, waiters:1", "set"]


def test_set_wakes_every_waiter_in_arrival_order(any_loop: Loop) -> None:
    async def main() -> list[str]:
        events: list[str] = []
        event = Event()

        async def wait(name: str) -> None:
            assert await event.wait() is True
            events.append(name)

        tasks = [spawn(wait(name)) for name in "abc"]
        await turns()
        events.append("set")
        event.set()
        await asyncio.gather(*tasks)
        return events

    assert run(any_loop, main()) == ["set", "a", "b", "c"]


def test_wait_on_a_set_event_returns_without_yielding(any_loop: Loop) -> None:
    async def main() -> list[str]:
        events: list[str] = []
        event = Event()
        event.set()

        async def other() -> None:
            events.append("other")

        task = spawn(other())
        await event.wait()
        events.append("waited")
        await task
        return events

    assert run(any_loop, main()) == ["waited", "other"]


def test_clear_after_set_does_not_stop_woken_waiters(any_loop: Loop) -> None:
    async def main() -> tuple[list[bool], int]:
        event = Event()
        tasks = [spawn(event.wait()) for _ in range(2)]
        await turns()
        event.set()
        event.clear()
        results = await asyncio.gather(*tasks)
        return results, len(event._waiters)

    assert run(any_loop, main()) == ([True, True], 0)


def test_cancelled_event_wait_removes_its_waiter(any_loop: Loop) -> None:
    async def main() -> str:
        event = Event()
        waiter = spawn(event.wait())
        await turns()
        waiter.cancel()
        await asyncio.gather(waiter, return_exceptions=True)
        return extra(event)

    assert run(any_loop, main()) == "unset"


# Condition


def test_condition_wait_and_notify_need_the_lock(any_loop: Loop) -> None:
    async def main() -> None:
        cond = Condition()
        with pytest.raises(RuntimeError, match="cannot wait on un-acquired lock"):
            await cond.wait()
        with pytest.raises(RuntimeError, match="cannot notify on un-acquired lock"):
            cond.notify()
        with pytest.raises(RuntimeError, match="cannot notify on un-acquired lock"):
            cond.notify_all()

    run(any_loop, main())


def test_notify_wakes_waiters_in_fifo_order_n_at_a_time(any_loop: Loop) -> None:
    async def main() -> list[str]:
        events: list[str] = []
        cond = Condition()

        async def wait(name: str) -> None:
            async with cond:
                assert await cond.wait() is True
                events.append(name)

        tasks = [spawn(wait(name)) for name in "abcd"]
        await turns()
        async with cond:
            events.append("notify 1")
            cond.notify()
        await turns(3)
        async with cond:
            events.append("notify 2")
            cond.notify(2)
        await turns(3)
        async with cond:
            events.append("notify all")
            cond.notify_all()
        await asyncio.gather(*tasks)
        return events

    assert run(any_loop, main()) == [
        "notify 1", "a", "notify 2", "b", "c", "notify all", "d",
    ]  # fmt: skip


def test_wait_for_returns_the_true_predicate_value(any_loop: Loop) -> None:
    async def main() -> tuple[object, int]:
        cond = Condition()
        state = {"value": 0, "checks": 0}

        def ready() -> object:
            state["checks"] += 1
            return state["value"] >= 2 and "ready"

        async def waiter() -> object:
            async with cond:
                return await cond.wait_for(ready)

        task = spawn(waiter())
        for _ in range(2):
            await turns()
            async with cond:
                state["value"] += 1
                cond.notify_all()
        return await task, state["checks"]

    assert run(any_loop, main()) == ("ready", 3)


def test_cancelled_condition_wait_reacquires_the_lock_before_raising(any_loop: Loop) -> None:
    async def main() -> list[object]:
        events: list[object] = []
        cond = Condition()

        async def wait() -> None:
            async with cond:
                try:
                    await cond.wait()
                except CancelledError:
                    events.append(("cancelled, holding lock", cond.locked()))
                    raise

        task = spawn(wait())
        await turns()  # the task waits, having released the lock
        async with cond:
            task.cancel()
            await turns(2)  # it cannot leave wait() while we hold the lock
            events.append("main releases")
        await asyncio.gather(task, return_exceptions=True)
        events.append(("after", cond.locked()))
        return events

    assert run(any_loop, main()) == [
        "main releases",
        ("cancelled, holding lock", True),
        ("after", False),
    ]


def test_cancellation_during_reacquire_still_reacquires(any_loop: Loop) -> None:
    async def main() -> tuple[bool, tuple[object, ...]]:
        cond = Condition()
        held: list[bool] = []

        async def wait() -> None:
            async with cond:
                try:
                    await cond.wait()
                finally:
                    held.append(cond.locked())

        task = spawn(wait())
        await turns()
        await cond.acquire()
        cond.notify()
        await turns()  # the waiter now waits to re-acquire
        task.cancel("first")
        await turns()
        task.cancel("second")
        await turns()
        cond.release()
        with pytest.raises(CancelledError) as info:
            await task
        return held == [True], info.value.args

    # 3.13 raises the last cancellation received; 3.11 and 3.12 a new, bare one.
    expected = ("second",) if sys.version_info >= (3, 13) else ()
    assert run(any_loop, main()) == (True, expected)


def test_cancelled_condition_wait_reraises_the_same_cancellation(any_loop: Loop) -> None:
    async def main() -> bool:
        cond = Condition()
        raised: list[BaseException] = []

        async def wait() -> None:
            async with cond:
                try:
                    await cond.wait()
                except CancelledError as exc:
                    raised.append(exc)
                    raise

        task = spawn(wait())
        await turns()
        task.cancel("stop")
        with pytest.raises(CancelledError) as info:
            await task
        return info.value is raised[0] and info.value.args == ("stop",)

    assert run(any_loop, main()) is True


def test_waiter_cancelled_after_notify_passes_the_notification_on_from_313(
    any_loop: Loop,
) -> None:
    async def main() -> list[str]:
        events: list[str] = []
        cond = Condition()

        async def wait(name: str) -> None:
            async with cond:
                await cond.wait()
                events.append(name)

        a, b = spawn(wait("a")), spawn(wait("b"))
        await turns()
        async with cond:
            cond.notify(1)  # picks a ...
            a.cancel()  # ... which is then cancelled
        await turns(3)
        b.cancel()  # (a no-op if b was woken and has finished)
        await asyncio.gather(a, b, return_exceptions=True)
        return events

    # 3.13 hands a's notification on to b; 3.11 and 3.12 lose it (CPython gh-112202).
    assert run(any_loop, main()) == (["b"] if sys.version_info >= (3, 13) else [])


def test_condition_with_explicit_lock_shares_its_state(any_loop: Loop) -> None:
    async def main() -> list[bool]:
        lock = Lock()
        cond = Condition(lock)
        seen = []
        async with lock:
            seen.append(cond.locked())
        async with cond:
            seen.append(lock.locked())
        seen.append(cond.locked())
        return seen

    assert run(any_loop, main()) == [True, True, False]


def test_condition_repr_shows_lock_state_and_waiters(any_loop: Loop) -> None:
    async def main() -> list[str]:
        cond = Condition()
        seen = [extra(cond)]

        async def wait() -> None:
            async with cond:
                await cond.wait()

        task = spawn(wait())
        await turns()
        await cond.acquire()
        seen.append(extra(cond))
        cond.notify()
        cond.release()
        await task
        return seen

    assert run(any_loop, main()) == ["unlocked", "locked, waiters:1"]


def test_condition_wait_on_wrong_loop_keeps_the_lock(loop_factory: Callable[[], Loop]) -> None:
    other = loop_factory()
    try:

        async def main() -> bool:
            cond = Condition()
            cond._loop = other
            async with cond:
                with pytest.raises(RuntimeError, match="is bound to a different event loop"):
                    await cond.wait()
                return cond.locked()

        loop = loop_factory()
        try:
            assert run(loop, main()) is True
        finally:
            loop.close()
    finally:
        other.close()


# Semaphore


@pytest.mark.parametrize("cls", [Semaphore, BoundedSemaphore])
def test_negative_semaphore_value_is_refused(cls: type[Semaphore]) -> None:
    with pytest.raises(ValueError, match=r"Semaphore initial value must be >= 0, not -1"):
        cls(-1)


def test_semaphore_of_zero_starts_locked() -> None:
    assert Semaphore(0).locked()
    assert not Semaphore().locked()


def test_semaphore_repr_shows_value_and_waiters(any_loop: Loop) -> None:
    async def main() -> list[str]:
        sem = Semaphore(2)
        seen = [extra(sem)]
        await sem.acquire()
        seen.append(extra(sem))
        await sem.acquire()
        seen.append(extra(sem))
        waiter = spawn(sem.acquire())
        await turns()
        seen.append(extra(sem))
        sem.release()
        await waiter
        return seen

    assert run(any_loop, main()) == [
        "unlocked, value:2", "unlocked, value:1", "locked", "locked, waiters:1",
    ]  # fmt: skip


def test_semaphore_limits_concurrency_and_serves_in_fifo_order(any_loop: Loop) -> None:
    events: list[str] = []

    async def worker(sem: Semaphore, name: str) -> None:
        async with sem:
            events.append(f"{name} in")
            await turns()
            events.append(f"{name} out")

    async def main() -> None:
        sem = Semaphore(2)
        await asyncio.gather(*(spawn(worker(sem, name)) for name in "abcde"))

    run(any_loop, main())
    assert events == [
        "a in", "b in", "a out", "b out", "c in", "d in", "c out", "d out", "e in", "e out",
    ]  # fmt: skip


def test_newcomer_queues_behind_woken_semaphore_waiters(any_loop: Loop) -> None:
    async def main() -> list[str]:
        events: list[str] = []
        sem = Semaphore(0)

        async def acquire(name: str) -> None:
            await sem.acquire()
            events.append(name)

        waiter = spawn(acquire("waiter"))
        await turns()
        sem.release()
        sem.release()  # one unit reserved for the woken waiter, one left over ...
        assert sem.locked() is True  # ... yet the newcomer must queue behind the waiter
        newcomer = spawn(acquire("newcomer"))
        await asyncio.gather(waiter, newcomer)
        return events

    assert run(any_loop, main()) == ["waiter", "newcomer"]


def test_semaphore_waiter_cancelled_after_wake_up_gives_the_unit_back(any_loop: Loop) -> None:
    async def main() -> tuple[list[str], int]:
        events: list[str] = []
        sem = Semaphore(0)

        async def acquire(name: str) -> None:
            await sem.acquire()
            events.append(name)

        a, b = spawn(acquire("a")), spawn(acquire("b"))
        await turns()
        sem.release()  # reserves the unit for a ...
        a.cancel()  # ... which is cancelled before it runs
        await asyncio.gather(a, b, return_exceptions=True)
        return events, sem._value

    assert run(any_loop, main()) == (["b"], 0)


def test_cancelled_semaphore_waiters_do_not_keep_it_locked(any_loop: Loop) -> None:
    async def main() -> list[bool]:
        sem = Semaphore(1)
        await sem.acquire()
        waiter = spawn(sem.acquire())
        await turns()
        waiter.cancel()  # its future is cancelled; the task has not run since
        sem.release()
        seen = [sem.locked()]
        await asyncio.gather(waiter, return_exceptions=True)
        seen.append(sem.locked())
        return seen

    assert run(any_loop, main()) == [False, False]


def test_bounded_semaphore_refuses_release_beyond_its_initial_value(any_loop: Loop) -> None:
    async def main() -> None:
        sem = BoundedSemaphore(2)
        await sem.acquire()
        sem.release()
        with pytest.raises(ValueError, match=r"^BoundedSemaphore released too many times$"):
            sem.release()

    run(any_loop, main())


# Barrier


@pytest.mark.parametrize("parties", [0, -3])
def test_barrier_needs_at_least_one_party(parties: int) -> None:
    with pytest.raises(ValueError, match=rf"parties must be > 0, not {parties}"):
        Barrier(parties)


def test_barrier_releases_all_parties_together_with_distinct_indices(any_loop: Loop) -> None:
    async def main() -> tuple[list[str], list[int]]:
        events: list[str] = []
        barrier = Barrier(3)

        async def party(name: str) -> int:
            events.append(f"{name} arrives")
            index = await barrier.wait()
            events.append(f"{name} leaves")
            return index

        tasks = [spawn(party(name)) for name in "abc"]
        indices = await asyncio.gather(*tasks)
        return events, indices

    # The last to arrive leaves first (it never waits); the others follow in arrival order.
    assert run(any_loop, main()) == (
        ["a arrives", "b arrives", "c arrives", "c leaves", "a leaves", "b leaves"],
        [0, 1, 2],
    )


def test_barrier_repr_follows_its_cycle(any_loop: Loop) -> None:
    async def main() -> list[str]:
        barrier = Barrier(2)
        seen = [extra(barrier)]
        first = spawn(barrier.wait())
        await turns()
        seen.append(extra(barrier))
        second = spawn(barrier.wait())
        await turns()
        seen.append(extra(barrier))
        await asyncio.gather(first, second)
        seen.append(extra(barrier))
        await barrier.abort()
        seen.append(extra(barrier))
        return seen

    assert run(any_loop, main()) == [
        "filling, waiters:0/2",
        "filling, waiters:1/2",
        "draining, waiters:0/2",
        "filling, waiters:0/2",
        "broken",
    ]


def test_barrier_can_be_used_for_several_cycles(any_loop: Loop) -> None:
    async def main() -> list[list[int]]:
        barrier = Barrier(2)

        async def party() -> list[int]:
            return [await barrier.wait() for _ in range(3)]

        return await asyncio.gather(party(), party())

    assert run(any_loop, main()) == [[0, 0, 0], [1, 1, 1]]


def test_abort_breaks_current_and_future_waits(any_loop: Loop) -> None:
    async def main() -> list[object]:
        barrier = Barrier(3)
        waiters = [spawn(barrier.wait()) for _ in range(2)]
        await turns()
        await barrier.abort()
        results: list[object] = [
            type(r).__name__ for r in await asyncio.gather(*waiters, return_exceptions=True)
        ]
        with pytest.raises(BrokenBarrierError, match="Barrier aborted"):
            await barrier.wait()
        results.append(barrier.broken)
        return results

    assert run(any_loop, main()) == ["BrokenBarrierError", "BrokenBarrierError", True]


def test_reset_breaks_waiters_and_makes_the_barrier_usable_again(any_loop: Loop) -> None:
    async def main() -> tuple[list[str], list[int]]:
        barrier = Barrier(2)
        waiter = spawn(barrier.wait())
        await turns()
        await barrier.reset()
        broken = await asyncio.gather(waiter, return_exceptions=True)
        again = await asyncio.gather(barrier.wait(), barrier.wait())
        return [type(e).__name__ for e in broken], sorted(again)

    assert run(any_loop, main()) == (["BrokenBarrierError"], [0, 1])


def test_cancelled_barrier_waiter_leaves_the_count(any_loop: Loop) -> None:
    async def main() -> list[int]:
        barrier = Barrier(3)
        a, b = spawn(barrier.wait()), spawn(barrier.wait())
        await turns()
        seen = [barrier.n_waiting]
        a.cancel()
        await asyncio.gather(a, return_exceptions=True)
        seen.append(barrier.n_waiting)
        b.cancel()
        await asyncio.gather(b, return_exceptions=True)
        seen.append(barrier.n_waiting)
        return seen

    assert run(any_loop, main()) == [2, 1, 0]


def test_async_with_barrier_gives_the_index(any_loop: Loop) -> None:
    async def main() -> list[int]:
        barrier = Barrier(2)

        async def party() -> int:
            async with barrier as index:
                return index

        return sorted(await asyncio.gather(party(), party()))

    assert run(any_loop, main()) == [0, 1]
