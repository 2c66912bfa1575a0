"""Task: driving coroutines, cancellation semantics, eager start, and the task registry."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import gc
import io
import types
import weakref
from typing import Any

import pytest

import spindle
from tests.core.impls import Impl
from tests.core.test_futures import drop_while_raising


def test_task_requires_a_coroutine(impl: Impl) -> None:
    with pytest.raises(TypeError, match="coroutine was expected"):
        impl.Task(lambda: None, loop=impl.loop)


def test_task_returns_the_coroutines_value(impl: Impl) -> None:
    async def compute() -> int:
        await asyncio.sleep(0)
        return 6 * 7

    task = impl.Task(compute(), loop=impl.loop)
    assert impl.run(task) == 42
    assert task.done()
    assert task.result() == 42


def test_task_names(impl: Impl) -> None:
    async def noop() -> None:
        pass

    task = impl.Task(noop(), loop=impl.loop)
    assert task.get_name().startswith("Task-")
    task.set_name(123)
    assert task.get_name() == "123"
    named = impl.loop.create_task(noop(), name="worker")
    assert named.get_name() == "worker"
    impl.run(asyncio.gather(task, named))


def test_a_task_takes_attributes_of_the_callers_own(impl: Impl) -> None:
    # aiohttp's proxy tests run proxy.py, which tags every task it creates (task._work_id):
    # asyncio's C Task has an instance dictionary, and so does spindle's.
    async def noop() -> None:
        pass

    task = impl.loop.create_task(noop())
    task._work_id = 7  # type: ignore[attr-defined]
    impl.run(task)
    assert task._work_id == 7  # type: ignore[attr-defined]


def test_task_refuses_set_result_and_set_exception(impl: Impl) -> None:
    async def noop() -> None:
        pass

    task = impl.Task(noop(), loop=impl.loop)
    with pytest.raises(RuntimeError, match="does not support set_result"):
        task.set_result(1)
    with pytest.raises(RuntimeError, match="does not support set_exception"):
        task.set_exception(ValueError())
    impl.run(task)


def test_get_coro_and_context(impl: Impl) -> None:
    async def noop() -> None:
        pass

    coro = noop()
    ctx = contextvars.copy_context()
    task = impl.Task(coro, loop=impl.loop, context=ctx)
    assert task.get_coro() is coro
    if hasattr(task, "get_context"):  # asyncio's Task has it from 3.12 on; spindle's always
        assert task.get_context() is ctx
    impl.run(task)


def test_task_runs_in_its_context(impl: Impl) -> None:
    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="default")

    async def read() -> str:
        await asyncio.sleep(0)
        return var.get()

    ctx = contextvars.copy_context()
    ctx.run(var.set, "chosen")
    assert impl.run(impl.Task(read(), loop=impl.loop, context=ctx)) == "chosen"


def test_interleaving_with_sleep_zero_is_exact(impl: Impl) -> None:
    events: list[str] = []

    async def worker(name: str) -> None:
        for i in range(3):
            events.append(f"{name}{i}")
            await asyncio.sleep(0)

    async def main() -> None:
        a = impl.loop.create_task(worker("a"))
        b = impl.loop.create_task(worker("b"))
        await a
        await b

    impl.run(main())
    assert events == ["a0", "b0", "a1", "b1", "a2", "b2"]


# -- cancellation ----------------------------------------------------------------------------


def test_cancel_before_the_first_step_never_runs_the_body(impl: Impl) -> None:
    ran: list[str] = []

    async def body() -> None:
        ran.append("ran")

    task = impl.Task(body(), loop=impl.loop)
    assert task.cancel()
    with pytest.raises(asyncio.CancelledError):
        impl.run(task)
    assert task.cancelled()
    assert ran == []


def test_cancel_reaches_the_awaited_future_with_its_message(impl: Impl) -> None:
    seen: list[Any] = []
    inner = impl.Future(loop=impl.loop)

    async def waiter() -> None:
        try:
            await inner
        except asyncio.CancelledError as exc:
            seen.append(exc.args)
            raise

    async def main() -> None:
        task = impl.loop.create_task(waiter())
        await asyncio.sleep(0)
        assert task.cancel("stop now")
        with pytest.raises(asyncio.CancelledError):
            await task

    impl.run(main())
    assert inner.cancelled()
    assert seen == [("stop now",)]


def test_a_task_may_refuse_cancellation(impl: Impl) -> None:
    async def stubborn() -> str:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            return "refused"
        return "slept"

    async def main() -> tuple[str, bool, int]:
        task = impl.loop.create_task(stubborn())
        await asyncio.sleep(0)
        task.cancel()
        result = await task
        return result, task.cancelled(), task.cancelling()

    assert impl.run(main()) == ("refused", False, 1)


def test_cancelling_and_uncancel_count_requests(impl: Impl) -> None:
    async def main() -> list[int]:
        task = impl.loop.create_task(asyncio.sleep(10))
        counts = [task.cancelling()]
        task.cancel()
        task.cancel()
        counts.append(task.cancelling())
        counts.append(task.uncancel())
        counts.append(task.uncancel())
        counts.append(task.uncancel())  # never below zero
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return counts

    assert impl.run(main()) == [0, 2, 1, 0, 0]


def test_uncancel_of_the_last_request_withdraws_an_undelivered_cancel_from_3_13(
    impl: Impl,
) -> None:
    """The task's waiter is done (its wake-up queued) when cancel() arrives, so the request
    waits for the next step; uncancel() takes it back on 3.13 (the task finishes), not before.
    ``_must_cancel`` is what anyio reads to see such a pending request."""
    import sys

    loop = impl.loop
    fut = impl.Future(loop=loop)

    async def waits() -> int:
        await fut
        return 42

    task = impl.Task(waits(), loop=loop)
    loop.run_until_complete(asyncio.sleep(0))
    fut.set_result(None)
    task.cancel()
    assert task._must_cancel
    assert task.uncancel() == 0
    withdrawn = sys.version_info >= (3, 13)
    assert task._must_cancel is not withdrawn
    if withdrawn:
        assert loop.run_until_complete(task) == 42
    else:
        with pytest.raises(asyncio.CancelledError):
            loop.run_until_complete(task)


def test_cancel_of_a_done_task_returns_false(impl: Impl) -> None:
    async def noop() -> None:
        pass

    task = impl.Task(noop(), loop=impl.loop)
    impl.run(task)
    assert not task.cancel()


def test_cancel_during_the_last_step_wins_over_the_result(impl: Impl) -> None:
    async def main() -> None:
        async def cancels_itself() -> str:
            current = asyncio.current_task()
            assert current is not None
            current.cancel()
            return "finished anyway"

        task = impl.loop.create_task(cancels_itself())
        with pytest.raises(asyncio.CancelledError):
            await task
        assert task.cancelled()

    impl.run(main())


# -- errors ----------------------------------------------------------------------------------


def test_task_cannot_await_itself(impl: Impl) -> None:
    async def main() -> None:
        task = asyncio.current_task()
        assert task is not None
        await task

    with pytest.raises(RuntimeError, match="cannot await on itself"):
        impl.run(main())


def test_bad_yield_is_thrown_back_into_the_coroutine(impl: Impl) -> None:
    @types.coroutine
    def yields_junk() -> Any:
        yield "junk"

    async def main() -> None:
        await yields_junk()

    with pytest.raises(RuntimeError, match="bad yield"):
        impl.run(main())


def test_keyboard_interrupt_propagates_out_of_the_loop(impl: Impl) -> None:
    async def interrupt() -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        impl.run(interrupt())


def test_unretrieved_task_exception_is_reported(impl: Impl) -> None:
    async def fail() -> None:
        raise ValueError("nobody looked")

    async def main() -> None:
        impl.loop.create_task(fail())
        await asyncio.sleep(0)
        await asyncio.sleep(0)

    impl.run(main())
    gc.collect()
    assert [c["message"] for c in impl.handler_calls] == ["Task exception was never retrieved"]
    assert isinstance(impl.handler_calls[0]["exception"], ValueError)


def test_task_destroyed_while_pending_is_reported() -> None:
    loop = spindle.new_event_loop()
    calls: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda loop, ctx: calls.append(ctx))

    async def forever() -> None:
        await loop.create_future()

    async def main() -> None:
        loop.create_task(forever())
        await asyncio.sleep(0)

    loop.run_until_complete(main())
    loop.close()  # forgets the pending task: nothing keeps it alive now
    gc.collect()
    assert [c["message"] for c in calls] == ["Task was destroyed but it is pending!"]


def test_tasks_dropped_while_an_exception_is_raised_report_and_the_exception_goes_on() -> None:
    # As for futures (test_futures.py): a task's finalizer runs while the exception that
    # unwinds the frame holding its last reference is set.
    loop = spindle.new_event_loop()
    calls: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda loop, ctx: calls.append(ctx))

    async def fail() -> None:
        raise ValueError("nobody looked")

    async def forever() -> None:
        await loop.create_future()

    async def main() -> list[Any]:
        tasks = [loop.create_task(fail()), loop.create_task(forever())]
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        return tasks

    failed, pending = loop.run_until_complete(main())
    loop.close()  # forgets the pending task: only our names keep the two alive now
    last_reference = [failed]
    del failed
    with pytest.raises(KeyError, match="on its way up"):
        drop_while_raising(last_reference)
    assert [c["message"] for c in calls] == ["Task exception was never retrieved"]
    # A pending task refers to itself (compiled, through the runner of its coroutine; and
    # through the future it waits on, whose callback it is): only the garbage collector
    # frees it, and it never runs with an exception on its way up.
    del pending
    gc.collect()
    assert [c["message"] for c in calls] == [
        "Task exception was never retrieved",
        "Task was destroyed but it is pending!",
    ]


def test_an_uninitialized_task_dropped_while_an_exception_is_raised_reports_nothing() -> None:
    # Task() and Task(42) die as __init__'s checks raise, before it set anything; so does a
    # task made with __new__ alone, dropped as an exception goes up.
    loop = spindle.new_event_loop()
    calls: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda loop, ctx: calls.append(ctx))
    with pytest.raises(TypeError):
        spindle.Task()  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="coroutine was expected"):
        spindle.Task(42, loop=loop)  # type: ignore[arg-type]
    last_reference = [spindle.Task.__new__(spindle.Task)]
    with pytest.raises(KeyError, match="on its way up"):
        drop_while_raising(last_reference)
    loop.close()
    gc.collect()
    assert calls == []


class _Marker:
    """Something only a coroutine's frame refers to."""


@pytest.mark.parametrize("outcome", ["failed", "cancelled", "cancelled, then failed"])
def test_an_outcome_thrown_into_a_task_leaves_no_cycle_behind(impl: Impl, outcome: str) -> None:
    # The exception that ends the awaited task keeps the frames it passed through in its
    # traceback.  None of the runtime's own frames may hold that exception (or the task
    # that holds it) in turn: the two would make a cycle that keeps every frame's locals
    # alive until the garbage collector runs (CPython's test_handshake_timeout_handler_leak:
    # an SSL context kept so).
    async def inner(marker: _Marker) -> None:
        if outcome == "failed":
            await asyncio.sleep(0)
            raise ValueError("boom")
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            if outcome == "cancelled, then failed":
                raise ValueError("boom") from None
            raise

    async def outer() -> weakref.ref[_Marker]:
        marker = _Marker()
        ref = weakref.ref(marker)
        task = impl.loop.create_task(inner(marker))
        del marker
        await asyncio.sleep(0)
        if outcome != "failed":
            task.cancel()
        with contextlib.suppress(ValueError, asyncio.CancelledError):
            await task
        del task
        return ref

    gc.collect()
    gc.disable()
    try:
        assert impl.run(outer())() is None
    finally:
        gc.enable()


# -- registry and references -----------------------------------------------------------------


def test_asyncio_sees_spindle_tasks() -> None:
    loop = spindle.new_event_loop()

    async def main() -> None:
        me = asyncio.current_task()
        assert isinstance(me, spindle.Task)
        assert spindle.current_task() is me
        other = loop.create_task(asyncio.sleep(1))
        assert asyncio.all_tasks() == {me, other}
        assert spindle.all_tasks() == {me, other}
        other.cancel()
        with pytest.raises(asyncio.CancelledError):
            await other
        assert asyncio.all_tasks() == {me}

    loop.run_until_complete(main())
    loop.close()


def test_fire_and_forget_task_is_not_garbage_collected() -> None:
    loop = spindle.new_event_loop()
    finished: list[str] = []

    async def background() -> None:
        await asyncio.sleep(0.001)
        finished.append("done")

    async def main() -> None:
        loop.create_task(background())  # no reference kept
        gc.collect()
        await asyncio.sleep(0.01)

    loop.run_until_complete(main())
    loop.close()
    assert finished == ["done"]


# -- eager start -----------------------------------------------------------------------------


def test_eager_task_runs_its_first_step_inside_create_task() -> None:
    loop = spindle.new_event_loop()
    loop.set_task_factory(spindle.eager_task_factory)
    events: list[str] = []

    async def child() -> str:
        events.append("child started")
        current = asyncio.current_task()
        events.append("child is current" if current is not None else "no current")
        await asyncio.sleep(0)
        events.append("child resumed")
        return "ok"

    async def main() -> None:
        me = asyncio.current_task()
        task = loop.create_task(child())
        events.append("create_task returned")
        assert asyncio.current_task() is me
        assert await task == "ok"

    loop.run_until_complete(main())
    loop.close()
    assert events == [
        "child started",
        "child is current",
        "create_task returned",
        "child resumed",
    ]


def test_eager_task_that_never_suspends_is_done_at_once() -> None:
    loop = spindle.new_event_loop()

    async def immediate() -> int:
        return 5

    async def main() -> None:
        task = spindle.Task(immediate(), loop=loop, eager_start=True)
        assert task.done()
        assert task.result() == 5

    loop.run_until_complete(main())
    loop.close()


def test_custom_eager_task_factory() -> None:
    loop = spindle.new_event_loop()
    loop.set_task_factory(spindle.create_eager_task_factory(spindle.Task))

    async def immediate() -> int:
        return 9

    async def main() -> None:
        task = loop.create_task(immediate(), name="eager")
        assert task.done()
        assert task.get_name() == "eager"

    loop.run_until_complete(main())
    loop.close()


# -- introspection ---------------------------------------------------------------------------


def test_get_stack_and_print_stack_of_a_suspended_task(impl: Impl) -> None:
    async def sleeper() -> None:
        await asyncio.sleep(10)

    async def main() -> None:
        task = impl.loop.create_task(sleeper())
        await asyncio.sleep(0)
        frames = task.get_stack()
        assert [f.f_code.co_name for f in frames] == ["sleeper"]
        out = io.StringIO()
        task.print_stack(file=out)
        assert "sleeper" in out.getvalue()
        assert "await asyncio.sleep(10)" in out.getvalue()
        task.cancel()

    impl.run(main())


def test_repr_names_the_task_and_its_coroutine() -> None:
    loop = spindle.new_event_loop()

    async def worker() -> None:
        await asyncio.sleep(0)

    task = loop.create_task(worker(), name="w1")
    text = repr(task)
    assert "name='w1'" in text
    assert "worker()" in text
    assert text.startswith("<Task pending")
    loop.run_until_complete(task)
    assert repr(task).startswith("<Task finished name='w1'")
    loop.close()



# anyio's two questions about a task, asked in anyio's own words (its asyncio backend reads
# these private attributes): spindle must answer them as asyncio does.


def _anyio_pending_cancellation(task: Any) -> bool:
    waiter = task._fut_waiter
    return bool(task._must_cancel or (isinstance(waiter, asyncio.Future) and waiter.cancelled()))


def _anyio_leaves_alone(task: Any) -> bool:
    """CancelScope._deliver_cancellation does not cancel such a task (yet)."""
    if task._must_cancel:
        return True
    waiter = task._fut_waiter
    return isinstance(waiter, asyncio.Future) and waiter.done()


def test_anyio_sees_a_cancellation_pending_on_a_task_waiting_on_a_future(impl: Impl) -> None:
    seen: dict[str, bool] = {}

    async def wait_on(awaitable: Any) -> None:
        await awaitable

    async def main() -> None:
        waiter = impl.loop.create_task(wait_on(impl.loop.create_future()))
        inner = impl.loop.create_task(asyncio.sleep(10))
        on_task = impl.loop.create_task(wait_on(inner))  # a task waited on may refuse to stop
        await asyncio.sleep(0)
        seen["before"] = _anyio_pending_cancellation(waiter)
        waiter.cancel()
        on_task.cancel()
        seen["waiting on a future"] = _anyio_pending_cancellation(waiter)
        seen["waiting on a task"] = _anyio_pending_cancellation(on_task)
        for task in (waiter, on_task):
            with pytest.raises(asyncio.CancelledError):
                await task
        seen["after"] = _anyio_pending_cancellation(waiter)

    impl.run(main())
    assert seen == {
        "before": False,
        "waiting on a future": True,
        "waiting on a task": False,
        "after": False,
    }


def test_anyio_leaves_alone_a_task_whose_waiter_is_done_and_the_result_is_delivered(
    impl: Impl,
) -> None:
    # anyio's cancel scope must not cancel a task whose future has its result already: the
    # result (an item taken from a stream) would be lost.
    seen: dict[str, bool] = {}

    async def receive(fut: asyncio.Future[str]) -> str:
        return await fut

    async def main() -> str:
        fut = impl.loop.create_future()
        task = impl.loop.create_task(receive(fut))
        await asyncio.sleep(0)
        seen["waiting"] = _anyio_leaves_alone(task)
        fut.set_result("item")
        seen["woken, not yet run"] = _anyio_leaves_alone(task)
        return await task

    assert impl.run(main()) == "item"
    assert seen == {"waiting": False, "woken, not yet run": True}
