"""The loop's scheduling, lifecycle, exception handler, debug mode and executor.

Most tests run on spindle's loop and on asyncio's (the ``any_loop`` fixture) with the same
expectations; timing is checked on spindle's virtual clock.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import gc
import logging
import sys
import threading
import time
import weakref
from typing import Any
from unittest import mock

import pytest

import spindle
from spindle.testing import VirtualClock


def run(loop: asyncio.AbstractEventLoop, coro: Any) -> Any:
    return loop.run_until_complete(coro)


# -- call_soon and passes -------------------------------------------------------------------


def test_call_soon_runs_callbacks_in_fifo_order(any_loop: asyncio.AbstractEventLoop) -> None:
    events: list[int] = []
    for i in range(5):
        any_loop.call_soon(events.append, i)
    any_loop.call_soon(any_loop.stop)
    any_loop.run_forever()
    assert events == [0, 1, 2, 3, 4]


def test_a_pass_runs_only_what_was_ready_when_it_began(
    any_loop: asyncio.AbstractEventLoop,
) -> None:
    events: list[str] = []

    def first() -> None:
        events.append("first")
        any_loop.call_soon(events.append, "scheduled by first")
        any_loop.stop()  # stop after this pass: the new callback must not run in it

    any_loop.call_soon(first)
    any_loop.call_soon(events.append, "second")
    any_loop.run_forever()
    assert events == ["first", "second"]
    any_loop.call_soon(any_loop.stop)
    any_loop.run_forever()
    assert events == ["first", "second", "scheduled by first"]


def test_cancelled_handle_does_not_run(any_loop: asyncio.AbstractEventLoop) -> None:
    events: list[str] = []
    handle = any_loop.call_soon(events.append, "no")
    handle.cancel()
    handle.cancel()  # twice is harmless
    assert handle.cancelled()
    any_loop.call_soon(any_loop.stop)
    any_loop.run_forever()
    assert events == []


def test_handles_have_asyncio_s_handle_methods(any_loop: asyncio.AbstractEventLoop) -> None:
    handle = any_loop.call_soon(print)
    timer = any_loop.call_later(1, print)
    assert timer.when() == pytest.approx(any_loop.time() + 1, abs=0.5)
    assert not handle.cancelled() and not timer.cancelled()
    handle.cancel()
    timer.cancel()
    assert handle.cancelled() and timer.cancelled()
    # Timer handles order by deadline, as asyncio's do.
    early, late = any_loop.call_later(1, print), any_loop.call_later(2, print)
    assert early < late and late > early and early <= late and late >= early
    early.cancel()
    late.cancel()


def test_spindle_s_handles_are_not_asyncio_s_handle_class(
    spindle_loop: asyncio.AbstractEventLoop,
) -> None:
    # A deliberate difference (README): asyncio's Handle classes declare __slots__ in Python,
    # so spindle's handles could not be native classes in the compiled build if they derived
    # from them.  uvloop's and rloop's handles are not asyncio's either.
    context = contextvars.copy_context()
    handle = spindle_loop.call_soon(print, context=context)
    assert not isinstance(handle, asyncio.Handle)
    assert isinstance(handle, spindle.Handle)
    assert handle.get_context() is context  # asyncio's has it from 3.12
    handle.cancel()


def test_callback_runs_in_its_context(any_loop: asyncio.AbstractEventLoop) -> None:
    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="unset")
    seen: list[str] = []
    ctx = contextvars.copy_context()
    ctx.run(var.set, "in ctx")
    any_loop.call_soon(lambda: seen.append(var.get()), context=ctx)
    var.set("outer")
    any_loop.call_soon(lambda: seen.append(var.get()))  # a copy of the current context
    var.set("changed later")
    any_loop.call_soon(any_loop.stop)
    any_loop.run_forever()
    assert seen == ["in ctx", "outer"]


def test_call_soon_rejects_non_callables_even_outside_debug_mode(
    spindle_loop: asyncio.AbstractEventLoop,
) -> None:
    # Stricter than asyncio, which only checks in debug mode and fails later in the loop.
    with pytest.raises(TypeError, match="callable"):
        spindle_loop.call_soon(42)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="callable"):
        spindle_loop.call_later(1, 42)  # type: ignore[arg-type]


def test_failing_callback_goes_to_the_exception_handler(
    any_loop: asyncio.AbstractEventLoop,
) -> None:
    contexts: list[dict[str, Any]] = []
    any_loop.set_exception_handler(lambda loop, ctx: contexts.append(ctx))

    def boom() -> None:
        raise ZeroDivisionError("boom")

    any_loop.call_soon(boom)
    any_loop.call_soon(any_loop.stop)
    any_loop.run_forever()
    assert len(contexts) == 1
    assert isinstance(contexts[0]["exception"], ZeroDivisionError)
    assert "Exception in callback" in contexts[0]["message"]
    assert contexts[0]["handle"].cancelled() is False


def test_the_exception_handler_runs_in_the_context_asyncio_runs_it_in(
    any_loop: asyncio.AbstractEventLoop,
) -> None:
    # From Python 3.12 the handler runs in the context of the failing callback or task (it
    # sees what they set); on 3.11 in the loop's.  Both loops must agree on this Python.
    name: contextvars.ContextVar[str] = contextvars.ContextVar("name", default="loop")
    seen: list[str] = []
    any_loop.set_exception_handler(lambda loop, ctx: seen.append(name.get()))

    def failing_callback() -> None:
        name.set("callback")
        raise ZeroDivisionError

    async def failing_task() -> None:
        name.set("task")
        raise ZeroDivisionError

    async def main() -> None:
        any_loop.call_soon(failing_callback)
        task = any_loop.create_task(failing_task())
        await asyncio.sleep(0)
        del task  # never retrieved: reported when it is collected
        gc.collect()

    run(any_loop, main())
    expected = ["callback", "task"] if sys.version_info >= (3, 12) else ["loop", "loop"]
    assert seen == expected


# -- timers ---------------------------------------------------------------------------------


def test_timers_fire_in_deadline_order_on_the_virtual_clock() -> None:
    loop = spindle.EventLoop(clock=VirtualClock())
    fired: list[tuple[str, float]] = []
    loop.call_later(2, lambda: fired.append(("two", loop.time())))
    loop.call_later(1, lambda: fired.append(("one", loop.time())))
    loop.call_at(3, lambda: (fired.append(("three", loop.time())), loop.stop()))
    loop.run_forever()
    loop.close()
    assert fired == [("one", 1.0), ("two", 2.0), ("three", 3.0)]


def test_timers_with_equal_deadlines_fire_in_scheduling_order() -> None:
    loop = spindle.EventLoop(clock=VirtualClock())
    fired: list[int] = []
    for i in range(20):
        loop.call_at(5.0, fired.append, i)
    loop.call_at(5.0, loop.stop)
    loop.run_forever()
    loop.close()
    assert fired == list(range(20))


def test_cancelled_timer_does_not_fire(any_loop: asyncio.AbstractEventLoop) -> None:
    fired: list[str] = []
    timer = any_loop.call_later(0.001, fired.append, "no")
    timer.cancel()
    assert timer.cancelled()
    any_loop.call_later(0.002, any_loop.stop)
    any_loop.run_forever()
    assert fired == []


def test_call_at_keeps_the_deadline_as_given(any_loop: asyncio.AbstractEventLoop) -> None:
    # aiohttp's test_when_timeout_smaller_second_with_low_threshold: it rounds a deadline up
    # to a whole second and reads the timer's int back (compiled, a float parameter had
    # turned it into a float).
    whole = any_loop.call_at(12, print)
    fraction = any_loop.call_at(12.5, print)
    try:
        assert type(whole.when()) is int and whole.when() == 12
        assert type(fraction.when()) is float and fraction.when() == 12.5
    finally:
        whole.cancel()
        fraction.cancel()


def test_call_later_rejects_a_delay_that_is_not_a_number(
    any_loop: asyncio.AbstractEventLoop,
) -> None:
    with pytest.raises(TypeError):
        any_loop.call_later(None, print)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        any_loop.call_later("soon", print)  # type: ignore[arg-type]


def test_virtual_clock_runs_an_hour_of_sleeping_instantly() -> None:
    loop = spindle.EventLoop(clock=VirtualClock())
    started = time.monotonic()
    loop.run_until_complete(asyncio.sleep(3600))
    assert loop.time() == 3600.0
    assert time.monotonic() - started < 1.0
    loop.close()


# -- lifecycle ------------------------------------------------------------------------------


def test_run_until_complete_returns_the_result(any_loop: asyncio.AbstractEventLoop) -> None:
    async def answer() -> int:
        await asyncio.sleep(0)
        return 42

    assert run(any_loop, answer()) == 42


def test_run_until_complete_raises_the_exception(any_loop: asyncio.AbstractEventLoop) -> None:
    async def fail() -> None:
        raise KeyError("x")

    with pytest.raises(KeyError):
        run(any_loop, fail())


def test_stopped_before_the_future_completed(any_loop: asyncio.AbstractEventLoop) -> None:
    fut = any_loop.create_future()
    any_loop.call_soon(any_loop.stop)
    with pytest.raises(RuntimeError, match="stopped before Future completed"):
        any_loop.run_until_complete(fut)
    fut.cancel()


def test_is_running_and_running_loop(any_loop: asyncio.AbstractEventLoop) -> None:
    async def inside() -> tuple[bool, object, object]:
        return any_loop.is_running(), asyncio.get_running_loop(), spindle.get_running_loop()

    assert not any_loop.is_running()
    assert run(any_loop, inside()) == (True, any_loop, any_loop)
    assert not any_loop.is_running()


def test_refuses_to_run_inside_another_running_loop(
    any_loop: asyncio.AbstractEventLoop,
) -> None:
    other = spindle.new_event_loop()
    never_run = other.create_future()

    async def nested() -> None:
        with pytest.raises(RuntimeError, match="another loop is running"):
            other.run_until_complete(never_run)
        with pytest.raises(RuntimeError, match="already running"):
            any_loop.run_forever()

    run(any_loop, nested())
    other.close()


def test_closed_loop_refuses_work_with_a_clear_message() -> None:
    loop = spindle.new_event_loop()
    loop.close()
    loop.close()  # twice is harmless
    assert loop.is_closed()
    with pytest.raises(RuntimeError, match="closed"):
        loop.call_soon(print)
    with pytest.raises(RuntimeError, match="closed"):
        loop.call_later(1, print)
    with pytest.raises(RuntimeError, match="closed"):
        loop.run_forever()
    coro = asyncio.sleep(0)
    with pytest.raises(RuntimeError, match="closed"):
        loop.create_task(coro)
    coro.close()


def test_cannot_close_a_running_loop(any_loop: asyncio.AbstractEventLoop) -> None:
    async def close_me() -> None:
        with pytest.raises(RuntimeError, match="running"):
            any_loop.close()

    run(any_loop, close_me())


def test_unclosed_loop_warns() -> None:
    loop = spindle.new_event_loop()
    with pytest.warns(ResourceWarning, match="unclosed event loop"):
        loop.__del__()
    assert loop.is_closed()


# -- threads --------------------------------------------------------------------------------


def test_call_soon_threadsafe_wakes_a_loop_blocked_in_its_poll(
    any_loop: asyncio.AbstractEventLoop,
) -> None:
    received: list[str] = []
    started = threading.Event()

    def from_thread() -> None:
        started.wait()
        any_loop.call_soon_threadsafe(received.append, "hello")
        any_loop.call_soon_threadsafe(any_loop.stop)

    thread = threading.Thread(target=from_thread)
    thread.start()
    any_loop.call_soon(started.set)
    any_loop.run_forever()  # nothing else is scheduled: only the wake-up can end this
    thread.join()
    assert received == ["hello"]


def test_run_in_executor_returns_the_threads_result(any_loop: asyncio.AbstractEventLoop) -> None:
    async def main() -> tuple[int, bool]:
        value = await any_loop.run_in_executor(None, sum, [1, 2, 3])
        name = await any_loop.run_in_executor(None, lambda: threading.current_thread().name)
        return value, name != threading.current_thread().name

    assert run(any_loop, main()) == (6, True)


def test_default_executor_threads_are_named_as_asyncio_names_them(
    any_loop: asyncio.AbstractEventLoop,
) -> None:
    name = any_loop.run_until_complete(
        any_loop.run_in_executor(None, lambda: threading.current_thread().name)
    )
    assert name.startswith("asyncio_")


def test_run_in_executor_keeps_no_reference_to_the_result_once_delivered(
    any_loop: asyncio.AbstractEventLoop,
) -> None:
    # A result (or the exception that carries one, such as an HTTP error holding its socket)
    # must go when the caller drops it, without waiting for the cyclic garbage collector.
    class Result:
        pass

    refs: list[weakref.ref[Result]] = []

    def make() -> Result:
        result = Result()
        refs.append(weakref.ref(result))
        return result

    async def main() -> None:
        result = await any_loop.run_in_executor(None, make)
        del result
        await asyncio.sleep(0)

    gc.disable()
    try:
        any_loop.run_until_complete(main())
        assert refs[0]() is None
    finally:
        gc.enable()


class Held:
    """Something an outcome holds (a socket, in real programs), watched through a weak ref."""


@pytest.mark.parametrize("wait", ["run_until_complete", "await", "gather"])
def test_run_in_executor_keeps_no_reference_to_the_exception_once_delivered(
    any_loop: asyncio.AbstractEventLoop, wait: str
) -> None:
    # websockets' TLS test: urllib's HTTPError (holding its response's socket), raised in a
    # thread, was kept alive by reference cycles until the garbage collector ran, so the
    # server never saw the client close.  The cycles: the callback the thread's future keeps
    # (compiled closures share one environment, which held that future), and frames in the
    # traceback holding the future that holds the exception (``await``'s generator,
    # ``result()`` and the loop's pass when interpreted).  The thread waits until the loop
    # runs, so its future is still pending when the loop wraps it (its callback is kept).
    refs: list[weakref.ref[Held]] = []
    loop_runs = threading.Event()
    executor = concurrent.futures.ThreadPoolExecutor(1)

    def fail() -> None:
        loop_runs.wait(10)
        held = Held()
        refs.append(weakref.ref(held))
        raise ValueError(held)

    async def main() -> bool:
        any_loop.call_soon(loop_runs.set)
        try:
            if wait == "await":
                await any_loop.run_in_executor(executor, fail)
            else:
                await asyncio.gather(any_loop.run_in_executor(executor, fail))
        except ValueError:
            return True
        return False

    gc.collect()
    gc.disable()
    try:
        if wait == "run_until_complete":
            any_loop.call_soon(loop_runs.set)
            try:
                any_loop.run_until_complete(any_loop.run_in_executor(executor, fail))
            except ValueError as exc:
                # As unittest's assertRaises does: asyncio's run_until_complete is Python
                # code, and its frame in the traceback holds the future (on either loop).
                exc.with_traceback(None)
                raised = True
        else:
            raised = any_loop.run_until_complete(main())
        executor.shutdown()  # its thread lets go of the work item it ran
        assert raised
        assert refs[0]() is None
    finally:
        executor.shutdown()
        gc.enable()


def test_run_in_executor_propagates_the_exception(any_loop: asyncio.AbstractEventLoop) -> None:
    def fail() -> None:
        raise ValueError("in a thread")

    with pytest.raises(ValueError, match="in a thread"):
        run(any_loop, any_loop.run_in_executor(None, fail))


def test_run_in_a_given_executor(any_loop: asyncio.AbstractEventLoop) -> None:
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        assert run(any_loop, any_loop.run_in_executor(pool, pow, 2, 10)) == 1024


def test_default_executor_refused_after_shutdown(any_loop: asyncio.AbstractEventLoop) -> None:
    run(any_loop, any_loop.shutdown_default_executor())
    with pytest.raises(RuntimeError, match="shutdown"):
        any_loop.run_in_executor(None, print)


def test_set_default_executor_requires_a_thread_pool(
    any_loop: asyncio.AbstractEventLoop,
) -> None:
    with pytest.raises(TypeError):
        any_loop.set_default_executor(object())  # type: ignore[arg-type]


def test_shutdown_default_executor_times_out_with_a_warning() -> None:
    loop = spindle.new_event_loop()
    release = threading.Event()

    async def main() -> None:
        started = threading.Event()

        def work() -> None:
            started.set()
            release.wait(10)

        loop.run_in_executor(None, work)
        await loop.run_in_executor(None, started.wait)  # a second worker thread
        with pytest.warns(RuntimeWarning, match="did not finish"):
            await loop.shutdown_default_executor(timeout=0.05)

    loop.run_until_complete(main())
    release.set()
    loop.close()


# -- exception handler and debug mode --------------------------------------------------------


def test_exception_handler_api(any_loop: asyncio.AbstractEventLoop) -> None:
    assert any_loop.get_exception_handler() is not None  # the fixture's recorder
    any_loop.set_exception_handler(None)
    assert any_loop.get_exception_handler() is None
    with pytest.raises(TypeError):
        any_loop.set_exception_handler("not callable")  # type: ignore[arg-type]


def test_default_exception_handler_logs_message_and_traceback(
    any_loop: asyncio.AbstractEventLoop, caplog: pytest.LogCaptureFixture
) -> None:
    try:
        raise ValueError("oops")
    except ValueError as exc:
        error = exc
    with caplog.at_level(logging.ERROR):
        any_loop.default_exception_handler({"message": "Something broke", "exception": error})
    assert "Something broke" in caplog.text
    assert "ValueError: oops" in caplog.text


def test_failing_custom_handler_falls_back_to_the_default(
    any_loop: asyncio.AbstractEventLoop, caplog: pytest.LogCaptureFixture
) -> None:
    def bad_handler(loop: Any, context: dict[str, Any]) -> None:
        raise RuntimeError("handler bug")

    any_loop.set_exception_handler(bad_handler)
    with caplog.at_level(logging.ERROR):
        any_loop.call_exception_handler({"message": "original"})
    assert "Unhandled error in exception handler" in caplog.text
    assert "handler bug" in caplog.text


def test_set_debug_takes_any_truth_value(any_loop: asyncio.AbstractEventLoop) -> None:
    # aiohttp's tests call set_debug(1) and set_debug(0) (compiled, a bool parameter refused
    # an int).
    any_loop.set_debug(1)
    assert any_loop.get_debug()
    any_loop.set_debug(0)
    assert not any_loop.get_debug()


def test_debug_mode_warns_about_a_slow_callback_naming_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = VirtualClock()
    loop = spindle.EventLoop(clock=clock)
    loop.set_debug(True)

    def slow_callback() -> None:
        clock.advance(0.25)  # "takes" 250 ms of loop time

    with caplog.at_level(logging.WARNING):
        loop.call_soon(slow_callback)
        loop.call_soon(loop.stop)
        loop.run_forever()
    loop.close()
    assert "slow_callback" in caplog.text
    assert "took 0.250 seconds" in caplog.text
    assert "test_loop.py" in caplog.text  # where it was scheduled


def test_debug_mode_refuses_call_soon_from_another_thread() -> None:
    loop = spindle.new_event_loop()
    loop.set_debug(True)
    errors: list[BaseException] = []

    async def main() -> None:
        def other_thread() -> None:
            try:
                loop.call_soon(print)
            except RuntimeError as exc:
                errors.append(exc)

        await loop.run_in_executor(None, other_thread)

    loop.run_until_complete(main())
    loop.run_until_complete(loop.shutdown_default_executor())
    loop.close()
    assert len(errors) == 1
    assert "call_soon_threadsafe" in str(errors[0])


def test_debug_mode_rejects_coroutine_callbacks(any_loop: asyncio.AbstractEventLoop) -> None:
    any_loop.set_debug(True)

    async def coro_fn() -> None:
        pass

    with pytest.raises(TypeError, match="coroutines cannot be used"):
        any_loop.call_soon(coro_fn)


# -- async generators -----------------------------------------------------------------------


def test_shutdown_asyncgens_closes_suspended_generators(
    any_loop: asyncio.AbstractEventLoop,
) -> None:
    closed: list[str] = []

    async def gen() -> Any:
        try:
            yield 1
            yield 2
        finally:
            closed.append("closed")

    agen = gen()

    async def main() -> None:
        assert await agen.__anext__() == 1

    run(any_loop, main())
    assert closed == []
    run(any_loop, any_loop.shutdown_asyncgens())
    assert closed == ["closed"]


def test_abandoned_async_generator_is_finalized_on_the_loop(
    any_loop: asyncio.AbstractEventLoop,
) -> None:
    closed: list[bool] = []

    async def gen() -> Any:
        try:
            yield 1
            yield 2
        finally:
            closed.append(asyncio.get_running_loop() is any_loop)

    async def main() -> None:
        agen = gen()
        await agen.__anext__()
        del agen  # the finalizer hook schedules aclose() on the loop
        await asyncio.sleep(0)
        await asyncio.sleep(0)

    run(any_loop, main())
    assert closed == [True]


def test_the_private_closed_flag_reads_as_asyncio_s(any_loop: asyncio.AbstractEventLoop) -> None:
    # Code that peeks at loop._closed (uvloop's test suite does) sees asyncio's answer.
    assert any_loop._closed is False  # type: ignore[attr-defined]
    any_loop.close()
    assert any_loop._closed is True  # type: ignore[attr-defined]


def test_patching_loop_time_moves_the_timers(any_loop: asyncio.AbstractEventLoop) -> None:
    # A common way to test time-outs without waiting (aiohttp's keep-alive tests): replace
    # loop.time; the loop asks it what time it is when it looks for due timers.
    fired: list[str] = []

    async def main() -> None:
        now = any_loop.time()
        any_loop.call_at(now + 3600, fired.append, "an hour later")
        with mock.patch.object(any_loop, "time", return_value=now + 3600):
            await asyncio.sleep(0)
            await asyncio.sleep(0)

    any_loop.run_until_complete(main())
    assert fired == ["an hour later"]
