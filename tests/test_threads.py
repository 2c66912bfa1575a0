"""spindle.threads on spindle's loop and on asyncio's, with real threads."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

import pytest

from spindle.exceptions import CancelledError
from spindle.tasks import create_task, sleep
from spindle.threads import to_thread, wrap_future

T = TypeVar("T")
Loop = asyncio.AbstractEventLoop

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="none")


def run(loop: Loop, coro: Coroutine[Any, Any, T]) -> T:
    return loop.run_until_complete(coro)


def test_to_thread_runs_the_function_in_another_thread(any_loop: Loop) -> None:
    def where(tag: str, *, suffix: str) -> tuple[int, str]:
        return threading.get_ident(), tag + suffix

    async def main() -> tuple[int, str]:
        return await to_thread(where, "a", suffix="b")

    ident, value = run(any_loop, main())
    assert ident != threading.get_ident()
    assert value == "ab"


def test_to_thread_passes_on_the_exception(any_loop: Loop) -> None:
    def fail() -> None:
        raise ValueError("in thread")

    async def main() -> None:
        with pytest.raises(ValueError, match="in thread"):
            await to_thread(fail)

    run(any_loop, main())


def test_to_thread_sees_the_callers_context_and_does_not_leak_changes(any_loop: Loop) -> None:
    def read_and_change() -> str:
        seen = request_id.get()
        request_id.set("changed in thread")
        return seen

    async def main() -> tuple[str, str]:
        request_id.set("req-42")
        seen = await to_thread(read_and_change)
        return seen, request_id.get()

    assert run(any_loop, main()) == ("req-42", "req-42")


def test_wrap_future_follows_a_concurrent_future_completed_by_a_thread(any_loop: Loop) -> None:
    async def main() -> None:
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            wrapped = wrap_future(pool.submit(sum, [1, 2, 3]))
            assert wrapped.get_loop() is any_loop
            assert await wrapped == 6
            failing = wrap_future(pool.submit(int, "x"))
            with pytest.raises(ValueError):
                await failing

    run(any_loop, main())


def test_cancelling_the_wrapper_cancels_the_concurrent_future(any_loop: Loop) -> None:
    async def main() -> None:
        source: concurrent.futures.Future[int] = concurrent.futures.Future()
        wrapped = wrap_future(source)
        waiter = create_task(_await(wrapped))
        await sleep(0)
        waiter.cancel()
        with pytest.raises(CancelledError):
            await waiter
        assert source.cancelled()

    run(any_loop, main())


def test_a_cancelled_concurrent_future_cancels_the_wrapper(any_loop: Loop) -> None:
    async def main() -> None:
        source: concurrent.futures.Future[int] = concurrent.futures.Future()
        wrapped = wrap_future(source)
        source.cancel()
        with pytest.raises(CancelledError):
            await wrapped

    run(any_loop, main())


def test_wrap_future_returns_a_loop_future_unchanged(any_loop: Loop) -> None:
    async def main() -> None:
        fut = any_loop.create_future()
        assert wrap_future(fut) is fut
        fut.cancel()

    run(any_loop, main())


def test_wrap_future_rejects_other_objects(any_loop: Loop) -> None:
    with pytest.raises(TypeError, match=r"concurrent\.futures\.Future"):
        wrap_future(42, loop=any_loop)  # type: ignore[arg-type]


def test_wrap_future_uses_the_given_loop(any_loop: Loop) -> None:
    source: concurrent.futures.Future[str] = concurrent.futures.Future()
    wrapped = wrap_future(source, loop=any_loop)
    thread = threading.Thread(target=source.set_result, args=("from thread",))
    thread.start()
    assert any_loop.run_until_complete(wrapped) == "from thread"
    thread.join()


async def _await(aw: Any) -> Any:
    return await aw
