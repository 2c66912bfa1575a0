"""spindle.timeouts on spindle's loop and on asyncio's; exact times on the virtual clock."""

from __future__ import annotations

import asyncio
import gc
import re
import sys
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

import pytest

import spindle
from spindle.exceptions import CancelledError
from spindle.tasks import create_task, current_task, sleep
from spindle.testing import VirtualClock
from spindle.timeouts import Timeout, TimeoutState, timeout, timeout_at

T = TypeVar("T")
Loop = asyncio.AbstractEventLoop


def run(loop: Loop, coro: Coroutine[Any, Any, T]) -> T:
    return loop.run_until_complete(coro)


@pytest.fixture
def vloop() -> Iterator[Loop]:
    """spindle's loop on a virtual clock: timers fire at exact times, instantly."""
    loop = spindle.EventLoop(clock=VirtualClock())
    contexts: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, context: contexts.append(context))
    yield loop
    loop.close()
    gc.collect()
    assert contexts == []


def test_timeout_cancels_the_block_and_raises_timeout_error_at_the_deadline(vloop: Loop) -> None:
    events: list[str] = []

    async def main() -> None:
        with pytest.raises(TimeoutError) as raised:
            async with timeout(2) as cm:
                try:
                    await sleep(10)
                except CancelledError:
                    events.append(f"block cancelled at {vloop.time()}")
                    raise
        assert isinstance(raised.value.__cause__, CancelledError)
        assert cm.expired()
        assert repr(cm) == "<Timeout [expired]>"
        task = current_task()
        assert task is not None and task.cancelling() == 0

    run(vloop, main())
    assert events == ["block cancelled at 2.0"]


def test_timeout_not_reached_exits_normally(any_loop: Loop) -> None:
    async def main() -> None:
        async with timeout(10) as cm:
            assert re.fullmatch(r"<Timeout \[active\] when=\d+\.\d*>", repr(cm))
            await sleep(0)
        assert not cm.expired()
        assert repr(cm) == "<Timeout [finished]>"

    run(any_loop, main())


def test_timeout_none_never_expires(any_loop: Loop) -> None:
    async def main() -> None:
        async with timeout(None) as cm:
            assert cm.when() is None
            assert repr(cm) == "<Timeout [active] when=None>"
            await sleep(0.01)
        assert not cm.expired()

    run(any_loop, main())


def test_timeout_at_a_past_time_expires_at_the_first_await(any_loop: Loop) -> None:
    events: list[str] = []

    async def main() -> None:
        with pytest.raises(TimeoutError):
            async with timeout_at(any_loop.time() - 1):
                events.append("body runs")
                await sleep(10)
        events.append("timed out")

    run(any_loop, main())
    assert events == ["body runs", "timed out"]


def test_reschedule_moves_the_deadline(vloop: Loop) -> None:
    async def main() -> float:
        with pytest.raises(TimeoutError):
            async with timeout(1) as cm:
                assert cm.when() == 1.0
                cm.reschedule(5)
                assert cm.when() == 5
                await sleep(10)
        return vloop.time()

    assert run(vloop, main()) == 5.0


def test_reschedule_to_none_removes_the_deadline(vloop: Loop) -> None:
    async def main() -> None:
        async with timeout(1) as cm:
            cm.reschedule(None)
            await sleep(3)
        assert not cm.expired()

    run(vloop, main())


def test_nested_timeouts_the_inner_one_fires_first(vloop: Loop) -> None:
    async def main() -> list[str]:
        events = []
        async with timeout(5) as outer:
            with pytest.raises(TimeoutError):
                async with timeout(1):
                    await sleep(10)
            events.append(f"inner expired at {vloop.time()}")
            await sleep(1)
        events.append(f"outer expired: {outer.expired()}")
        return events

    assert run(vloop, main()) == ["inner expired at 1.0", "outer expired: False"]


def test_nested_timeouts_the_outer_one_fires_first(vloop: Loop) -> None:
    async def main() -> list[str]:
        events = []
        with pytest.raises(TimeoutError):
            async with timeout(1):
                try:
                    async with timeout(5) as inner:
                        await sleep(10)
                except CancelledError:
                    # The inner timeout did not expire: the cancellation is not its own.
                    events.append(f"inner saw CancelledError, expired={inner.expired()}")
                    raise
        events.append(f"outer TimeoutError at {vloop.time()}")
        return events

    assert run(vloop, main()) == [
        "inner saw CancelledError, expired=False",
        "outer TimeoutError at 1.0",
    ]


def test_an_outside_cancellation_is_not_turned_into_timeout_error(any_loop: Loop) -> None:
    async def body(entered: asyncio.Future[None]) -> None:
        async with timeout(10):
            entered.set_result(None)
            await sleep(10)

    async def main() -> None:
        entered = any_loop.create_future()
        task = create_task(body(entered))
        await entered
        task.cancel()
        with pytest.raises(CancelledError):
            await task

    run(any_loop, main())


def test_a_cancellation_racing_the_deadline_wins(vloop: Loop) -> None:
    async def body() -> None:
        async with timeout(1) as cm:
            await sleep(10)
        raise AssertionError(f"not cancelled: {cm!r}")

    async def main() -> None:
        task = create_task(body())
        # Fires in the same pass as the deadline (scheduled first, so it runs first).
        vloop.call_at(1, task.cancel)
        with pytest.raises(CancelledError):
            await task

    run(vloop, main())


def test_a_crash_during_expiry_keeps_the_timeout_in_its_context_chain(vloop: Loop) -> None:
    # 3.13 puts a TimeoutError between the crash and the cancellation; 3.11 and 3.12 do not.
    async def main() -> None:
        with pytest.raises(ZeroDivisionError) as raised:
            async with timeout(1):
                try:
                    await sleep(10)
                finally:
                    1 / 0  # noqa: B018
        context = raised.value.__context__
        if sys.version_info < (3, 13):
            assert isinstance(context, CancelledError)
            return
        assert isinstance(context, TimeoutError)
        assert isinstance(context.__cause__, CancelledError)

    run(vloop, main())


def test_timeout_used_twice_raises_runtime_error(any_loop: Loop) -> None:
    async def main() -> None:
        cm = timeout(10)
        async with cm:
            with pytest.raises(RuntimeError, match="has already been entered"):
                async with cm:
                    pass
        with pytest.raises(RuntimeError, match="has already been entered"):
            async with cm:
                pass

    run(any_loop, main())


def test_reschedule_outside_the_active_state_raises_naming_the_state(any_loop: Loop) -> None:
    async def main() -> None:
        cm = timeout(10)
        with pytest.raises(RuntimeError, match="has not been entered"):
            cm.reschedule(1)
        async with cm:
            pass
        with pytest.raises(RuntimeError, match="finished"):
            cm.reschedule(1)
        async with timeout(0) as expired:
            with pytest.raises(CancelledError):
                await sleep(1)
            with pytest.raises(RuntimeError, match="expiring"):
                expired.reschedule(1)
        # The block swallowed the CancelledError: nothing to turn into TimeoutError.
        with pytest.raises(RuntimeError, match="expired"):
            expired.reschedule(1)

    run(any_loop, main())


def test_timeout_outside_a_task_raises_and_stays_unentered(any_loop: Loop) -> None:
    entered: list[Timeout] = []
    errors: list[BaseException] = []

    def callback() -> None:
        # A plain callback of the running loop: there is no current task.
        cm = timeout(10)
        entered.append(cm)
        try:
            cm.__aenter__().send(None)
        except BaseException as exc:
            errors.append(exc)
        any_loop.stop()

    any_loop.call_soon(callback)
    any_loop.run_forever()
    assert len(errors) == 1 and isinstance(errors[0], RuntimeError)
    assert "inside a task" in str(errors[0])
    assert repr(entered[0]) == "<Timeout [created]>"
    with pytest.raises(RuntimeError, match="has not been entered"):
        entered[0].reschedule(1)


def test_timeout_states_are_named_as_asyncios() -> None:
    assert [state.value for state in TimeoutState] == [
        "created",
        "active",
        "expiring",
        "expired",
        "finished",
    ]
    assert repr(Timeout(None)) == "<Timeout [created]>"
