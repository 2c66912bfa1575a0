"""spindle.tasks on spindle's loop and on asyncio's, with the same expectations.

Interleavings are asserted as exact lists of events; exact times with spindle's virtual
clock (the ``vloop`` fixture), which asyncio's loop cannot use.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import gc
import sys
import threading
from collections.abc import Awaitable, Coroutine, Iterator
from typing import Any, TypeVar

import pytest

import spindle
from spindle import tasks
from spindle._core.faces import Future
from spindle.exceptions import CancelledError
from spindle.tasks import (
    ALL_COMPLETED,
    FIRST_COMPLETED,
    FIRST_EXCEPTION,
    as_completed,
    create_task,
    gather,
    run_coroutine_threadsafe,
    shield,
    sleep,
    wait,
    wait_for,
)
from spindle.testing import VirtualClock

T = TypeVar("T")
Loop = asyncio.AbstractEventLoop


def run(loop: Loop, coro: Coroutine[Any, Any, T]) -> T:
    return loop.run_until_complete(coro)


async def turns(n: int = 1) -> None:
    for _ in range(n):
        await sleep(0)


async def await_it(aw: Awaitable[T]) -> T:
    return await aw


async def stamp(events: list[Any], label: str, delay: float) -> str:
    await sleep(delay)
    events.append(label)
    return label


@pytest.fixture
def vloop() -> Iterator[Loop]:
    """spindle's loop on a virtual clock: timers fire at exact times, instantly."""
    loop = spindle.EventLoop(clock=VirtualClock())
    contexts: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, context: contexts.append(context))
    yield loop
    loop.run_until_complete(loop.shutdown_default_executor())
    loop.close()
    gc.collect()
    assert contexts == []


# -- sleep ---------------------------------------------------------------------------------


def test_sleep_zero_is_a_bare_yield_with_no_timer() -> None:
    coro = sleep(0, "r")
    assert coro.send(None) is None  # needs no loop: nothing is scheduled
    with pytest.raises(StopIteration) as stop:
        coro.send(None)
    assert stop.value.value == "r"


def test_sleep_zero_gives_each_ready_task_one_turn(any_loop: Loop) -> None:
    events: list[str] = []

    async def worker(name: str) -> None:
        for i in range(3):
            events.append(f"{name}{i}")
            await sleep(0)

    async def main() -> None:
        await gather(worker("a"), worker("b"))

    run(any_loop, main())
    assert events == ["a0", "b0", "a1", "b1", "a2", "b2"]


def test_sleep_returns_its_result(any_loop: Loop) -> None:
    assert run(any_loop, sleep(0.001, "done")) == "done"
    assert run(any_loop, sleep(-1, "negative")) == "negative"


def test_shorter_sleep_finishes_first(any_loop: Loop) -> None:
    events: list[str] = []

    async def main() -> None:
        await gather(stamp(events, "long", 0.02), stamp(events, "short", 0.01))

    run(any_loop, main())
    assert events == ["short", "long"]


def test_sleep_wakes_at_exactly_its_delay(vloop: Loop) -> None:
    async def main() -> list[float]:
        start = vloop.time()
        await sleep(1.5)
        middle = vloop.time()
        await sleep(0.5)
        return [start, middle, vloop.time()]

    assert run(vloop, main()) == [0.0, 1.5, 2.0]


def test_sleep_nan_raises_value_error(any_loop: Loop) -> None:
    with pytest.raises(ValueError, match="NaN"):
        run(any_loop, sleep(float("nan")))


def test_cancelled_sleep_removes_its_timer(any_loop: Loop, monkeypatch: pytest.MonkeyPatch) -> None:
    handles: list[asyncio.TimerHandle] = []
    call_later = any_loop.call_later

    def recording_call_later(*args: Any, **kwargs: Any) -> asyncio.TimerHandle:
        handle = call_later(*args, **kwargs)
        handles.append(handle)
        return handle

    monkeypatch.setattr(any_loop, "call_later", recording_call_later)

    async def main() -> None:
        sleeper = create_task(sleep(3600))
        await turns()
        assert not handles[0].cancelled()
        sleeper.cancel()
        with pytest.raises(CancelledError):
            await sleeper

    run(any_loop, main())
    assert len(handles) == 1 and handles[0].cancelled()


# -- create_task, current_task, all_tasks ----------------------------------------------------


def test_create_task_names_the_task_and_runs_it_in_the_given_context(any_loop: Loop) -> None:
    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="unset")
    context = contextvars.copy_context()
    context.run(var.set, "in context")

    async def read() -> str:
        return var.get()

    async def main() -> tuple[str, str]:
        task = create_task(read(), name="reader", context=context)
        return task.get_name(), await task

    assert run(any_loop, main()) == ("reader", "in context")


def test_create_task_without_a_running_loop_raises_and_closes_the_coroutine() -> None:
    coro = sleep(1)
    with pytest.raises(RuntimeError, match="no running event loop"):
        create_task(coro)
    assert coro.cr_frame is None  # closed: no "never awaited" warning


def test_current_task_and_all_tasks_see_the_running_tasks(any_loop: Loop) -> None:
    async def main() -> None:
        me = tasks.current_task()
        other = create_task(sleep(1))
        assert me is not None and tasks.all_tasks() == {me, other}
        other.cancel()
        await wait([other])

    run(any_loop, main())


# -- gather -------------------------------------------------------------------------------


def test_gather_returns_results_in_argument_order(any_loop: Loop) -> None:
    events: list[str] = []

    async def main() -> list[Any]:
        return await gather(
            stamp(events, "a", 0.03), stamp(events, "b", 0.01), stamp(events, "c", 0.02)
        )

    results = run(any_loop, main())
    assert events == ["b", "c", "a"]
    assert results == ["a", "b", "c"]


def test_gather_runs_a_repeated_awaitable_once(any_loop: Loop) -> None:
    events: list[str] = []

    async def main() -> list[Any]:
        coro = stamp(events, "once", 0)
        return await gather(coro, coro)

    assert run(any_loop, main()) == ["once", "once"]
    assert events == ["once"]


def test_gather_of_tasks_sharing_one_context_or_already_awaited(any_loop: Loop) -> None:
    # gather registers its bookkeeping callback on each child: children run in one shared
    # context, and children that already have a done-callback, are gathered all the same.
    shared = contextvars.copy_context()
    var: contextvars.ContextVar[int] = contextvars.ContextVar("var", default=0)
    seen: list[int] = []

    async def bump() -> int:
        var.set(var.get() + 1)
        await tasks.sleep(0)
        return var.get()

    async def main() -> list[Any]:
        children = [any_loop.create_task(bump(), context=shared) for _ in range(3)]
        children[0].add_done_callback(lambda child: seen.append(child.result()))
        return await gather(*children, bump())

    assert run(any_loop, main()) == [3, 3, 3, 1]
    assert shared.run(var.get) == 3
    assert seen == [3]


def test_gather_of_nothing_is_an_empty_list(any_loop: Loop) -> None:
    async def main() -> list[Any]:
        return await gather()

    assert run(any_loop, main()) == []


def test_gather_of_finished_children_is_finished_as_the_running_python_says(
    any_loop: Loop,
) -> None:
    # 3.12+ reports children already done at once; 3.11 schedules their callbacks.
    async def main() -> None:
        first, second = any_loop.create_future(), any_loop.create_future()
        first.set_result(1)
        second.set_result(2)
        outer = gather(first, second)
        assert isinstance(outer, Future)
        assert outer.done() is (sys.version_info >= (3, 12))
        await asyncio.sleep(0)
        assert outer.done() and outer.result() == [1, 2]

    run(any_loop, main())


def test_gather_raises_the_first_exception_and_leaves_the_others_running(
    any_loop: Loop,
) -> None:
    events: list[str] = []

    async def fail() -> None:
        await sleep(0.01)
        raise ValueError("boom")

    async def main() -> None:
        slow = create_task(stamp(events, "slow finished", 0.02))
        with pytest.raises(ValueError, match="boom"):
            await gather(fail(), slow)
        assert not slow.done()
        await slow

    run(any_loop, main())
    assert events == ["slow finished"]


def test_gather_with_return_exceptions_lists_them_as_results(any_loop: Loop) -> None:
    async def fail() -> None:
        raise KeyError("k")

    async def main() -> None:
        cancelled = any_loop.create_future()
        cancelled.cancel("why")
        results = await gather(sleep(0, 1), fail(), cancelled, return_exceptions=True)
        assert results[0] == 1
        assert isinstance(results[1], KeyError)
        assert isinstance(results[2], CancelledError) and results[2].args == ("why",)

    run(any_loop, main())


def test_cancelling_gather_cancels_the_children_and_raises_cancelled_error(
    any_loop: Loop,
) -> None:
    async def main() -> None:
        children = [create_task(sleep(10)), create_task(sleep(10))]
        outer = gather(*children)
        await turns()
        assert outer.cancel("stop")
        assert not outer.cancelled()  # like a Task: it waits for the children
        with pytest.raises(CancelledError) as raised:
            await outer
        assert raised.value.args == ("stop",)
        assert all(child.cancelled() for child in children)

    run(any_loop, main())


def test_cancelling_gather_propagates_even_with_return_exceptions(any_loop: Loop) -> None:
    async def main() -> None:
        outer = gather(sleep(10), sleep(10), return_exceptions=True)
        await turns()
        outer.cancel()
        with pytest.raises(CancelledError):
            await outer

    run(any_loop, main())


def test_cancelling_the_awaiting_task_cancels_gather_children(any_loop: Loop) -> None:
    async def main() -> None:
        child = create_task(sleep(10))
        waiter = create_task(await_it(gather(child)))
        await turns()
        waiter.cancel()
        with pytest.raises(CancelledError):
            await waiter
        assert child.cancelled()

    run(any_loop, main())


def test_a_cancelled_child_cancels_gather_for_the_caller(any_loop: Loop) -> None:
    async def main() -> None:
        child = create_task(sleep(10))
        sibling = create_task(sleep(0.01, "ok"))
        outer = gather(child, sibling)
        await turns()
        child.cancel("child")
        with pytest.raises(CancelledError) as raised:
            await outer
        assert raised.value.args == ("child",)
        assert not outer.cancelled()
        assert await sibling == "ok"  # the sibling was not cancelled

    run(any_loop, main())


def test_cancelling_a_finished_gather_returns_false(any_loop: Loop) -> None:
    async def main() -> None:
        outer = gather(sleep(0, 1))
        assert await outer == [1]
        assert not outer.cancel()

    run(any_loop, main())


def test_gather_of_a_non_awaitable_raises_type_error_naming_it_and_starts_nothing(
    any_loop: Loop,
) -> None:
    async def main() -> None:
        before = tasks.all_tasks()
        coro = sleep(1)
        with pytest.raises(TypeError, match="'int'"):
            gather(coro, 42)  # type: ignore[arg-type]
        assert tasks.all_tasks() == before
        assert coro.cr_frame is None  # closed, not left to warn

    run(any_loop, main())


# -- wait ---------------------------------------------------------------------------------


def test_wait_all_completed_returns_every_future_done(any_loop: Loop) -> None:
    async def main() -> None:
        a, b = create_task(sleep(0.01, "a")), create_task(sleep(0.02, "b"))
        done, pending = await wait([a, b], return_when=ALL_COMPLETED)
        assert done == {a, b} and pending == set()

    run(any_loop, main())


def test_wait_first_completed_returns_as_soon_as_one_is_done(any_loop: Loop) -> None:
    async def main() -> None:
        fast, slow = create_task(sleep(0.01)), create_task(sleep(10))
        done, pending = await wait(iter([fast, slow]), return_when=FIRST_COMPLETED)
        assert done == {fast} and pending == {slow}
        assert not slow.cancelled()  # wait never cancels
        slow.cancel()
        await wait([slow])

    run(any_loop, main())


def test_wait_first_exception_returns_at_the_first_failure(any_loop: Loop) -> None:
    async def fail() -> None:
        await sleep(0.02)
        raise ValueError

    async def main() -> None:
        ok = create_task(sleep(0.01))
        failing = create_task(fail())
        slow = create_task(sleep(10))
        done, pending = await wait({ok, failing, slow}, return_when=FIRST_EXCEPTION)
        assert done == {ok, failing} and pending == {slow}
        assert isinstance(failing.exception(), ValueError)
        slow.cancel()
        await wait([slow])

    run(any_loop, main())


def test_wait_first_exception_without_failures_waits_for_all(any_loop: Loop) -> None:
    async def main() -> None:
        a, b = create_task(sleep(0.01)), create_task(sleep(0.02))
        done, pending = await wait([a, b], return_when=FIRST_EXCEPTION)
        assert done == {a, b} and not pending

    run(any_loop, main())


def test_wait_timeout_returns_the_pending_without_raising(vloop: Loop) -> None:
    async def main() -> None:
        fast, slow = create_task(sleep(1)), create_task(sleep(10))
        done, pending = await wait([fast, slow], timeout=5)
        assert vloop.time() == 5
        assert done == {fast} and pending == {slow}
        assert not slow.cancelled()
        await slow

    run(vloop, main())


def test_wait_rejects_bad_input(any_loop: Loop) -> None:
    async def main() -> None:
        with pytest.raises(ValueError, match="empty"):
            await wait([])
        with pytest.raises(ValueError, match="return_when"):
            await wait([any_loop.create_future()], return_when="SOMETIMES")
        fut = any_loop.create_future()
        with pytest.raises(TypeError, match="list of futures"):
            await wait(fut)  # type: ignore[arg-type]
        coro = sleep(1)
        with pytest.raises(TypeError, match="coroutine"):
            await wait([coro])  # type: ignore[list-item]
        coro.close()

    run(any_loop, main())


# -- wait_for -----------------------------------------------------------------------------


def test_wait_for_returns_the_result_in_time(any_loop: Loop) -> None:
    assert run(any_loop, wait_for(sleep(0.01, "r"), 10)) == "r"
    assert run(any_loop, wait_for(sleep(0.01, "none"), None)) == "none"


def test_wait_for_runs_a_coroutine_where_the_running_python_does(any_loop: Loop) -> None:
    # 3.12+: in the calling task; 3.11: in a task of its own.
    async def which_task() -> asyncio.Task[Any] | None:
        return tasks.current_task()

    async def main() -> bool:
        return await wait_for(which_task(), 10) is tasks.current_task()

    assert run(any_loop, main()) is (sys.version_info >= (3, 12))


def test_wait_for_timeout_cancels_the_work_and_raises_timeout_error(vloop: Loop) -> None:
    events: list[str] = []

    async def work() -> None:
        try:
            await sleep(10)
        except CancelledError:
            events.append(f"cancelled at {vloop.time()}")
            raise

    async def main() -> None:
        with pytest.raises(TimeoutError):
            await wait_for(work(), 2)
        events.append(f"timeout at {vloop.time()}")

    run(vloop, main())
    assert events == ["cancelled at 2.0", "timeout at 2.0"]


def test_wait_for_with_a_past_deadline_does_not_start_the_coroutine(any_loop: Loop) -> None:
    started: list[bool] = []

    async def work() -> None:
        started.append(True)

    async def main() -> None:
        for delay in (0, -1):
            with pytest.raises(TimeoutError):
                await wait_for(work(), delay)
        done = any_loop.create_future()
        done.set_result("ready")
        assert await wait_for(done, -1) == "ready"

    run(any_loop, main())
    assert started == []


def test_wait_for_returns_the_value_of_a_task_that_refuses_to_be_cancelled(
    any_loop: Loop,
) -> None:
    async def stubborn() -> str:
        try:
            await sleep(10)
        except CancelledError:
            return "kept"
        return "finished"

    async def main() -> str:
        task = create_task(stubborn())
        return await wait_for(task, 0.01)

    assert run(any_loop, main()) == "kept"


def test_wait_for_past_deadline_returns_what_the_cancelled_task_returns(any_loop: Loop) -> None:
    async def stubborn() -> str:
        try:
            await sleep(10)
        except CancelledError:
            return "kept"
        return "finished"

    async def main() -> str:
        task = create_task(stubborn())
        await turns()
        return await wait_for(task, 0)

    assert run(any_loop, main()) == "kept"


def test_cancelling_wait_for_cancels_the_work_and_raises_cancelled_error(
    any_loop: Loop,
) -> None:
    async def main() -> None:
        inner = create_task(sleep(10))
        outer = create_task(wait_for(inner, 10))
        await turns()
        outer.cancel()
        with pytest.raises(CancelledError):
            await outer
        assert inner.cancelled()

    run(any_loop, main())


def test_wait_for_does_not_lose_a_cancellation_that_races_the_deadline(vloop: Loop) -> None:
    async def main() -> None:
        inner = vloop.create_future()
        outer = create_task(wait_for(inner, 1))
        await turns()
        # The deadline and an outside cancel() land in the same pass.
        vloop.call_at(1, outer.cancel)
        await sleep(2)
        assert outer.cancelled()  # a CancelledError, not a TimeoutError
        assert inner.cancelled()

    run(vloop, main())


# -- as_completed -------------------------------------------------------------------------


def test_as_completed_yields_results_in_completion_order(any_loop: Loop) -> None:
    async def main() -> list[str]:
        aws = [sleep(0.03, "c"), sleep(0.01, "a"), sleep(0.02, "b")]
        return [await next_done for next_done in as_completed(aws)]

    assert run(any_loop, main()) == ["a", "b", "c"]


def test_as_completed_as_async_iterator_yields_the_original_tasks(any_loop: Loop) -> None:
    async def main() -> None:
        slow, fast = create_task(sleep(0.02, "slow")), create_task(sleep(0.01, "fast"))
        seen = [fut async for fut in as_completed([slow, fast])]
        assert seen == [fast, slow]

    run(any_loop, main())


def test_as_completed_raises_timeout_error_for_those_not_done_in_time(vloop: Loop) -> None:
    async def main() -> list[Any]:
        outcomes: list[Any] = []
        slow = create_task(sleep(10, "slow"))
        for next_done in as_completed([sleep(1, "fast"), slow], timeout=5):
            try:
                outcomes.append(await next_done)
            except TimeoutError:
                outcomes.append(f"timeout at {vloop.time()}")
        assert not slow.done()  # as_completed never cancels
        slow.cancel()
        return outcomes

    assert run(vloop, main()) == ["fast", "timeout at 5.0"]


def test_as_completed_reports_exceptions_when_awaited(any_loop: Loop) -> None:
    async def fail() -> None:
        raise ValueError("bad")

    async def main() -> None:
        (only,) = list(as_completed([fail()]))
        with pytest.raises(ValueError, match="bad"):
            await only

    run(any_loop, main())


def test_as_completed_rejects_a_single_awaitable(any_loop: Loop) -> None:
    async def main() -> None:
        fut = any_loop.create_future()
        if sys.version_info >= (3, 13):  # the check runs in the call ...
            with pytest.raises(TypeError, match="iterable of awaitables"):
                as_completed(fut)
            return
        iterator = as_completed(fut)  # ... or, up to 3.12, at the first iteration
        with pytest.raises(TypeError, match="iterable of awaitables"):
            next(iterator)
        with pytest.raises(TypeError, match="iterable of awaitables"):
            await anext(as_completed(fut))

    run(any_loop, main())


def test_a_cancelled_as_completed_consumer_passes_the_result_on(any_loop: Loop) -> None:
    async def main() -> None:
        first = any_loop.create_future()
        iterator = as_completed([first])
        (next_done,) = list(iterator)
        consumer = create_task(next_done)
        await turns()
        consumer.cancel()
        with pytest.raises(CancelledError):
            await consumer
        first.set_result("kept")
        await turns()

    run(any_loop, main())


# -- shield -------------------------------------------------------------------------------


def test_shield_keeps_the_inner_task_running_when_the_caller_is_cancelled(
    any_loop: Loop,
) -> None:
    async def main() -> None:
        inner = create_task(sleep(0.01, "inner result"))
        caller = create_task(await_it(shield(inner)))
        await turns()
        caller.cancel()
        with pytest.raises(CancelledError):
            await caller
        assert await inner == "inner result"

    run(any_loop, main())


def test_shield_passes_on_the_result_and_the_exception(any_loop: Loop) -> None:
    async def fail() -> None:
        raise KeyError("k")

    async def main() -> None:
        assert await shield(sleep(0, "r")) == "r"
        with pytest.raises(KeyError):
            await shield(fail())

    run(any_loop, main())


def test_shield_is_cancelled_when_the_inner_future_is(any_loop: Loop) -> None:
    async def main() -> None:
        inner = any_loop.create_future()
        outer = shield(inner)
        inner.cancel()
        await turns()
        assert outer.cancelled()

    run(any_loop, main())


def test_shield_of_a_done_future_is_that_future(any_loop: Loop) -> None:
    async def main() -> None:
        done = any_loop.create_future()
        done.set_result(1)
        assert shield(done) is done

    run(any_loop, main())


# -- run_coroutine_threadsafe -------------------------------------------------------------


@pytest.fixture
def loop_in_thread(any_loop: Loop) -> Iterator[Loop]:
    """``any_loop`` running forever in a thread of its own."""
    thread = threading.Thread(target=any_loop.run_forever)
    thread.start()
    try:
        yield any_loop
    finally:
        any_loop.call_soon_threadsafe(any_loop.stop)
        thread.join()


def test_run_coroutine_threadsafe_returns_the_result_to_the_thread(loop_in_thread: Loop) -> None:
    async def where() -> bool:
        return asyncio.get_running_loop() is loop_in_thread

    future = run_coroutine_threadsafe(where(), loop_in_thread)
    assert isinstance(future, concurrent.futures.Future)
    assert future.result(timeout=10) is True


def test_run_coroutine_threadsafe_passes_on_the_exception(loop_in_thread: Loop) -> None:
    async def fail() -> None:
        raise ValueError("in loop")

    future = run_coroutine_threadsafe(fail(), loop_in_thread)
    with pytest.raises(ValueError, match="in loop"):
        future.result(timeout=10)


def test_cancelling_the_concurrent_future_cancels_the_task(loop_in_thread: Loop) -> None:
    started = threading.Event()
    cancelled = threading.Event()

    async def forever() -> None:
        started.set()
        try:
            await sleep(3600)
        except CancelledError:
            cancelled.set()
            raise

    future = run_coroutine_threadsafe(forever(), loop_in_thread)
    assert started.wait(10)
    assert future.cancel()
    assert cancelled.wait(10)


def test_run_coroutine_threadsafe_requires_a_coroutine(any_loop: Loop) -> None:
    with pytest.raises(TypeError, match="coroutine"):
        run_coroutine_threadsafe(42, any_loop)  # type: ignore[arg-type]
