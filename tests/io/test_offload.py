"""``Offload``: the loop's own blocking system calls on worker threads (``_io/offload.py``)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Iterator
from typing import Any

import pytest

import spindle
from spindle._io.offload import Offload


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    new_loop = spindle.new_event_loop()
    yield new_loop
    new_loop.close()


@pytest.fixture
def offload(loop: asyncio.AbstractEventLoop) -> Iterator[Offload]:
    worker = Offload(loop)
    yield worker
    worker.close()


def test_a_call_runs_on_a_worker_thread_and_returns_its_result(
    loop: asyncio.AbstractEventLoop, offload: Offload
) -> None:
    async def main() -> tuple[str, str]:
        name = await offload.run(lambda: threading.current_thread().name)
        return name, threading.current_thread().name

    worker, loop_thread = loop.run_until_complete(main())
    assert worker.startswith("spindle-offload") and worker != loop_thread


def test_a_call_raises_its_exception_in_the_caller(
    loop: asyncio.AbstractEventLoop, offload: Offload
) -> None:
    def fail() -> None:
        raise BlockingIOError("try again")

    with pytest.raises(BlockingIOError, match="try again"):
        loop.run_until_complete(offload.run(fail))


def test_a_cancelled_caller_waits_for_the_call_and_hears_what_it_did(
    loop: asyncio.AbstractEventLoop, offload: Offload
) -> None:
    # A call cannot be stopped half-way: the cancellation is raised once it has finished,
    # after on_cancel has been told its result (a child started, bytes sent).
    started, release = threading.Event(), threading.Event()
    events: list[str] = []

    def slow() -> int:
        started.set()
        release.wait(10)
        events.append("call finished")
        return 42

    async def main() -> None:
        task = asyncio.ensure_future(offload.run(slow, on_cancel=lambda n: events.append(f"{n}")))
        await loop.run_in_executor(None, started.wait, 10)
        task.cancel()
        for _ in range(3):
            await asyncio.sleep(0)
        assert not task.done()  # still waiting for the call (blocked on release)
        release.set()
        with pytest.raises(asyncio.CancelledError):
            await task
        events.append("cancelled")

    loop.run_until_complete(main())
    assert events == ["call finished", "42", "cancelled"]


class CallsAtOnce(concurrent.futures.Executor):
    """Runs each call when it is submitted: its outcome is in before the caller first waits,
    so the order of what follows on the loop is fixed."""

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> concurrent.futures.Future[Any]:
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        future.set_result(fn(*args, **kwargs))
        return future


def test_a_caller_cancelled_once_the_call_has_finished_still_hears_the_cancellation() -> None:
    # aiohttp's test_static_file_huge_cancel: the cancellation came after the os.sendfile
    # call had finished but before the sending task resumed, and was dropped; the task then
    # sent the rest of a 20 MB file.  Here: the task starts the call (finished at once), the
    # loop copies its outcome over, and only then does the cancellation arrive.
    loop = spindle.new_event_loop()
    offload = Offload(loop)
    offload._executor = CallsAtOnce()  # type: ignore[assignment]
    told: list[int] = []

    async def main() -> None:
        task = loop.create_task(offload.run(int, "7", on_cancel=told.append))
        # Pass 1: the task starts the call; pass 2: the outcome is copied, then this cancels.
        loop.call_soon(loop.call_soon, task.cancel)
        with pytest.raises(asyncio.CancelledError):
            await task

    try:
        loop.run_until_complete(main())
    finally:
        offload.close()
        loop.close()
    assert told == [7]
def test_a_cancellation_that_arrives_as_the_call_finishes_is_not_lost(
    loop: asyncio.AbstractEventLoop, offload: Offload
) -> None:
    # The call's result reaches the loop before the cancelled caller's next step: the
    # cancellation must still be raised (and on_cancel told), not swallowed because the call
    # is done by then.  asyncio.create_subprocess_exec cancelled at once (CPython's
    # test_cancel_make_subprocess_transport_exec) met this on a loaded machine, and returned a
    # child that nobody would close.
    events: list[str] = []

    async def main() -> None:
        task: asyncio.Future[int] | None = None

        def cancel_then_return() -> int:
            # Queued on the loop before the executor reports the call's result.
            assert task is not None
            loop.call_soon_threadsafe(task.cancel)
            return 42

        task = asyncio.ensure_future(
            offload.run(cancel_then_return, on_cancel=lambda n: events.append(f"{n}"))
        )
        with pytest.raises(asyncio.CancelledError):
            await task
        events.append("cancelled")

    loop.run_until_complete(main())
    assert events == ["42", "cancelled"]
