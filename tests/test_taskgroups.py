"""spindle.taskgroups on spindle's loop and on asyncio's, with the same expectations."""

from __future__ import annotations

import asyncio
import contextvars
import sys
import weakref
from collections.abc import Coroutine
from typing import Any, TypeVar

import pytest

import spindle
from spindle._core.tasks import Task, eager_task_factory
from spindle.exceptions import CancelledError
from spindle.taskgroups import TaskGroup
from spindle.tasks import create_task, current_task, sleep
from spindle.timeouts import timeout

T = TypeVar("T")
Loop = asyncio.AbstractEventLoop


def run(loop: Loop, coro: Coroutine[Any, Any, T]) -> T:
    return loop.run_until_complete(coro)


async def turns(n: int = 1) -> None:
    for _ in range(n):
        await sleep(0)


async def crash(delay: float, exc: BaseException) -> None:
    await sleep(delay)
    raise exc


async def until_cancelled(events: list[str], name: str) -> None:
    try:
        await sleep(3600)
    except CancelledError:
        events.append(f"{name} cancelled")
        raise


def cancel_count() -> int:
    task = current_task()
    assert task is not None
    return task.cancelling()


def test_exit_waits_for_every_task(any_loop: Loop) -> None:
    events: list[str] = []

    async def job(name: str, delay: float) -> str:
        await sleep(delay)
        events.append(name)
        return name

    async def main() -> list[str]:
        async with TaskGroup() as tg:
            a = tg.create_task(job("slow", 0.02))
            b = tg.create_task(job("fast", 0.01))
            events.append("body done")
        events.append("group exited")
        return [a.result(), b.result()]

    assert run(any_loop, main()) == ["slow", "fast"]
    assert events == ["body done", "fast", "slow", "group exited"]


def test_first_failure_cancels_the_other_tasks_and_the_body(any_loop: Loop) -> None:
    events: list[str] = []

    async def main() -> None:
        with pytest.raises(ExceptionGroup) as raised:
            async with TaskGroup() as tg:
                tg.create_task(until_cancelled(events, "sibling"))
                tg.create_task(crash(0.01, ValueError("first")))
                await until_cancelled(events, "body")
        assert [type(e) for e in raised.value.exceptions] == [ValueError]
        assert str(raised.value) == "unhandled errors in a TaskGroup (1 sub-exception)"
        assert cancel_count() == 0  # the group took back its cancellation of the body

    run(any_loop, main())
    assert sorted(events) == ["body cancelled", "sibling cancelled"]


def test_failures_of_several_tasks_are_raised_together(any_loop: Loop) -> None:
    async def crash_in_cleanup() -> None:
        try:
            await sleep(3600)
        finally:
            raise KeyError("cleanup")

    async def main() -> None:
        with pytest.raises(ExceptionGroup) as raised:
            async with TaskGroup() as tg:
                tg.create_task(crash_in_cleanup())
                tg.create_task(crash(0.01, ValueError("first")))
        assert sorted(type(e).__name__ for e in raised.value.exceptions) == [
            "KeyError",
            "ValueError",
        ]

    run(any_loop, main())


def test_an_error_in_the_body_cancels_the_tasks_and_is_grouped(any_loop: Loop) -> None:
    events: list[str] = []

    async def main() -> None:
        with pytest.raises(ExceptionGroup) as raised:
            async with TaskGroup() as tg:
                tg.create_task(until_cancelled(events, "task"))
                await turns()
                raise ZeroDivisionError
        assert [type(e) for e in raised.value.exceptions] == [ZeroDivisionError]

    run(any_loop, main())
    assert events == ["task cancelled"]


def test_base_errors_propagate_as_themselves(any_loop: Loop) -> None:
    events: list[str] = []

    async def main() -> None:
        async with TaskGroup() as tg:
            tg.create_task(until_cancelled(events, "task"))
            await turns()
            raise SystemExit(3)

    with pytest.raises(SystemExit) as raised:
        run(any_loop, main())
    assert raised.value.code == 3
    assert events == ["task cancelled"]


def test_a_keyboard_interrupt_in_a_task_propagates(any_loop: Loop) -> None:
    async def main() -> None:
        async with TaskGroup() as tg:
            tg.create_task(crash(0, KeyboardInterrupt()))
            await sleep(3600)

    # The interrupt leaves the loop as soon as the task raises it (as in asyncio); the
    # group then ends with it as well once the loop runs again.
    coro_task = any_loop.create_task(main())
    with pytest.raises(KeyboardInterrupt):
        any_loop.run_until_complete(coro_task)
    with pytest.raises(KeyboardInterrupt):
        any_loop.run_until_complete(coro_task)


def test_an_outside_cancellation_cancels_the_tasks_and_propagates(any_loop: Loop) -> None:
    events: list[str] = []

    async def body(entered: asyncio.Future[None]) -> None:
        async with TaskGroup() as tg:
            tg.create_task(until_cancelled(events, "task"))
            entered.set_result(None)
            await until_cancelled(events, "body")
        events.append("not reached")

    async def main() -> None:
        entered = any_loop.create_future()
        parent = create_task(body(entered))
        await entered
        parent.cancel()
        with pytest.raises(CancelledError):
            await parent
        assert parent.cancelling() == 1

    run(any_loop, main())
    assert events == ["body cancelled", "task cancelled"]


def test_an_outside_cancellation_while_exiting_propagates(any_loop: Loop) -> None:
    events: list[str] = []

    async def body(entered: asyncio.Future[None]) -> None:
        async with TaskGroup() as tg:
            tg.create_task(until_cancelled(events, "task"))
            entered.set_result(None)
        events.append("not reached")

    async def main() -> None:
        entered = any_loop.create_future()
        parent = create_task(body(entered))
        await entered
        await turns()  # the parent is now waiting in __aexit__
        parent.cancel()
        with pytest.raises(CancelledError):
            await parent

    run(any_loop, main())
    assert events == ["task cancelled"]


def test_errors_win_over_an_outside_cancellation_which_stays_requested(
    any_loop: Loop,
) -> None:
    async def crash_when_cancelled() -> None:
        try:
            await sleep(3600)
        except CancelledError:
            raise ValueError("during cancellation") from None

    async def body(entered: asyncio.Future[None]) -> None:
        try:
            async with TaskGroup() as tg:
                tg.create_task(crash_when_cancelled())
                entered.set_result(None)
                await sleep(3600)
        except ExceptionGroup as group:
            assert [type(e) for e in group.exceptions] == [ValueError]
            assert cancel_count() == 1  # the outside request is still counted
            if sys.version_info < (3, 13):
                return  # ... but was consumed by the group's wait (3.11, 3.12)
            await sleep(0)  # ... and is delivered again at the next await (3.13)
            raise AssertionError("not cancelled") from None

    async def main() -> None:
        entered = any_loop.create_future()
        parent = create_task(body(entered))
        await entered
        parent.cancel()
        if sys.version_info < (3, 13):
            await parent
            return
        with pytest.raises(CancelledError):
            await parent

    run(any_loop, main())


def test_tasks_may_add_tasks_while_the_group_exits(any_loop: Loop) -> None:
    events: list[str] = []

    async def main() -> None:
        async with TaskGroup() as tg:

            async def spawner() -> None:
                await sleep(0.01)
                tg.create_task(child())

            async def child() -> None:
                await sleep(0.01)
                events.append("child done")

            tg.create_task(spawner())
        events.append("exited")

    run(any_loop, main())
    assert events == ["child done", "exited"]


def refused_and_closed(coro: Coroutine[Any, Any, Any]) -> None:
    """The group refused ``coro``: 3.13+ closes it, earlier Pythons leave it to the caller."""
    closed = coro.cr_frame is None
    coro.close()
    assert closed is (sys.version_info >= (3, 13))


def test_create_task_refuses_and_closes_the_coroutine_when_not_running(any_loop: Loop) -> None:
    async def main() -> None:
        tg = TaskGroup()
        coro = sleep(1)
        with pytest.raises(RuntimeError, match="has not been entered"):
            tg.create_task(coro)
        refused_and_closed(coro)
        async with tg:
            pass
        coro = sleep(1)
        with pytest.raises(RuntimeError, match="is finished"):
            tg.create_task(coro)
        refused_and_closed(coro)

    run(any_loop, main())


def test_create_task_while_shutting_down_closes_the_coroutine(any_loop: Loop) -> None:
    async def main() -> None:
        refused = sleep(1)
        with pytest.raises(ExceptionGroup):
            async with TaskGroup() as tg:
                tg.create_task(crash(0, ValueError()))
                try:
                    await sleep(3600)
                finally:
                    with pytest.raises(RuntimeError, match="is shutting down"):
                        tg.create_task(refused)
        refused_and_closed(refused)

    run(any_loop, main())


def test_a_group_cannot_be_entered_twice(any_loop: Loop) -> None:
    async def main() -> None:
        tg = TaskGroup()
        async with tg:
            with pytest.raises(RuntimeError, match="has already been entered"):
                async with tg:
                    pass
        with pytest.raises(RuntimeError, match="has already been entered"):
            async with tg:
                pass

    run(any_loop, main())


def test_a_group_outside_a_task_cannot_find_its_parent(any_loop: Loop) -> None:
    errors: list[BaseException] = []

    def callback() -> None:
        tg = TaskGroup()
        try:
            tg.__aenter__().send(None)
        except BaseException as exc:
            errors.append(exc)
        any_loop.stop()

    any_loop.call_soon(callback)
    any_loop.run_forever()
    assert len(errors) == 1 and "parent task" in str(errors[0])


def test_repr_shows_the_tasks_and_the_state(any_loop: Loop) -> None:
    async def main() -> list[str]:
        tg = TaskGroup()
        seen = [repr(tg)]
        async with tg:
            tg.create_task(sleep(0))
            seen.append(repr(tg))
            tg.cancel()
            seen.append(repr(tg))
            await turns()
        return seen

    assert run(any_loop, main()) == [
        "<TaskGroup>",
        "<TaskGroup tasks=1 entered>",
        "<TaskGroup tasks=1 cancelling>",
    ]


# cancel() (Python 3.15)


def test_cancel_stops_the_tasks_and_the_body_and_exits_normally(any_loop: Loop) -> None:
    events: list[str] = []

    async def main() -> None:
        async with TaskGroup() as tg:
            tg.create_task(until_cancelled(events, "task"))
            await turns()
            tg.cancel()
            await until_cancelled(events, "body")
        events.append(f"exited normally, cancelling={cancel_count()}")
        await sleep(0)  # no cancellation left pending
        events.append("still running")

    run(any_loop, main())
    assert events == [
        "task cancelled",
        "body cancelled",
        "exited normally, cancelling=0",
        "still running",
    ]


def test_cancel_from_a_child_task_stops_the_group(any_loop: Loop) -> None:
    events: list[str] = []

    async def main() -> None:
        async with TaskGroup() as tg:

            async def stopper() -> None:
                await sleep(0.01)
                tg.cancel()
                tg.cancel()  # idempotent
                events.append("stopper done")

            tg.create_task(stopper())
            tg.create_task(until_cancelled(events, "worker"))
        events.append("exited")

    run(any_loop, main())
    assert events == ["stopper done", "worker cancelled", "exited"]


def test_cancel_before_entering_cancels_on_entry(any_loop: Loop) -> None:
    events: list[str] = []

    async def main() -> None:
        tg = TaskGroup()
        tg.cancel()
        async with tg:
            await until_cancelled(events, "body")
        events.append("exited")
        tg.cancel()  # after exit: nothing happens

    run(any_loop, main())
    assert events == ["body cancelled", "exited"]


def test_cancel_does_not_swallow_an_outside_timeout(any_loop: Loop) -> None:
    events: list[str] = []

    async def slow_cleanup() -> None:
        try:
            await sleep(3600)
        finally:
            await sleep(0.05)
            events.append("cleanup done")

    async def main() -> None:
        with pytest.raises(TimeoutError):
            async with timeout(0.02), TaskGroup() as tg:
                tg.create_task(slow_cleanup())
                await turns()
                tg.cancel()
        events.append("timed out")

    run(any_loop, main())
    assert events == ["cleanup done", "timed out"]


def test_cancel_keeps_the_errors_of_the_tasks(any_loop: Loop) -> None:
    async def crash_when_cancelled() -> None:
        try:
            await sleep(3600)
        except CancelledError:
            raise ValueError("during cancellation") from None

    async def main() -> None:
        with pytest.raises(ExceptionGroup) as raised:
            async with TaskGroup() as tg:
                tg.create_task(crash_when_cancelled())
                await turns()
                tg.cancel()
        assert [type(e) for e in raised.value.exceptions] == [ValueError]
        assert cancel_count() == 0

    run(any_loop, main())


# eager tasks (a task factory that runs the first step inside create_task)


async def fail_at_once() -> None:
    raise ValueError("at once")


def test_an_eager_task_failing_at_once_lets_create_task_return_first(any_loop: Loop) -> None:
    events: list[str] = []

    async def main() -> None:
        with pytest.raises(ExceptionGroup) as raised:
            async with TaskGroup() as tg:
                task = tg.create_task(fail_at_once())
                events.append(f"create_task returned a task done={task.done()}")
                await until_cancelled(events, "body")
        assert [type(e) for e in raised.value.exceptions] == [ValueError]
        assert cancel_count() == 0

    any_loop.set_task_factory(eager_task_factory)
    run(any_loop, main())
    assert events == ["create_task returned a task done=True", "body cancelled"]


def test_an_eager_task_may_cancel_its_group_while_being_created(any_loop: Loop) -> None:
    events: list[str] = []

    async def main() -> None:
        async with TaskGroup() as tg:

            async def stopper() -> None:
                tg.cancel()
                events.append("stopper ran")

            tg.create_task(stopper())
            refused = sleep(1)
            with pytest.raises(RuntimeError, match="is shutting down"):
                tg.create_task(refused)
            refused_and_closed(refused)
            await until_cancelled(events, "body")
        events.append("exited normally")

    any_loop.set_task_factory(eager_task_factory)
    run(any_loop, main())
    assert events == ["stopper ran", "body cancelled", "exited normally"]


def test_tasks_sharing_one_context_or_with_a_callback_already_are_tracked(any_loop: Loop) -> None:
    # The group registers its bookkeeping callback on each task it creates.  Tasks run in
    # one context shared between them, and tasks that a task factory has already given a
    # done-callback, must be waited for and report their results all the same.
    shared = contextvars.copy_context()
    var: contextvars.ContextVar[int] = contextvars.ContextVar("var", default=0)
    factory_callbacks: list[str] = []

    def factory(loop: Loop, coro: Any, **kwargs: Any) -> Any:
        task_class = Task if isinstance(loop, spindle.EventLoop) else asyncio.Task
        task = task_class(coro, loop=loop, **kwargs)
        task.add_done_callback(lambda done: factory_callbacks.append(repr(done.result())))
        return task

    async def bump() -> int:
        var.set(var.get() + 1)
        await sleep(0)
        return var.get()

    async def main() -> list[int]:
        async with TaskGroup() as tg:
            tasks = [tg.create_task(bump(), context=shared) for _ in range(3)]
            tasks.append(tg.create_task(bump()))
        return [t.result() for t in tasks]

    assert run(any_loop, main()) == [3, 3, 3, 1]
    assert shared.run(var.get) == 3
    any_loop.set_task_factory(factory)
    assert run(any_loop, main()) == [6, 6, 6, 1]
    # The four tasks of the group, then main() itself (run_until_complete used the factory).
    assert sorted(factory_callbacks[:4]) == ["1", "6", "6", "6"]
    assert factory_callbacks[4:] == ["[6, 6, 6, 1]"]


def test_a_task_group_takes_weak_references_attributes_and_subclasses_as_asyncios_does() -> None:
    # TaskGroupCore is native in the compiled build; TaskGroup, its Python face, gives what an
    # ordinary Python class gives (asyncio's TaskGroup is one), in both builds.
    class Named(TaskGroup):
        def __init__(self, name: str) -> None:
            super().__init__()
            self.name = name

    async def main() -> list[int]:
        async with Named("workers") as group:
            assert group.name == "workers"
            group.note = "taken"  # type: ignore[attr-defined]
            tasks = [group.create_task(sleep(0, n)) for n in range(3)]
        return [task.result() for task in tasks]

    group = Named("x")
    ref = weakref.ref(group)
    del group
    assert ref() is None
    assert spindle.run(main()) == [0, 1, 2]
