"""Future: its state machine, callbacks, error reporting, and asyncio's future protocol."""

from __future__ import annotations

import asyncio
import concurrent.futures
import gc
import sys
from typing import Any

import pytest

import spindle
from spindle._core.futures import FutureState
from tests.core.impls import Impl


def drain(impl: Impl) -> None:
    """Run the loop until everything currently scheduled has run."""
    impl.run(asyncio.sleep(0))


def test_a_new_future_is_pending(impl: Impl) -> None:
    fut = impl.Future(loop=impl.loop)
    assert not fut.done()
    assert not fut.cancelled()
    assert fut.get_loop() is impl.loop
    with pytest.raises(asyncio.InvalidStateError):
        fut.result()
    with pytest.raises(asyncio.InvalidStateError):
        fut.exception()


def test_a_subclass_that_skips_init_is_pending_and_says_so(impl: Impl) -> None:
    class Uninitialized(impl.Future):  # type: ignore[name-defined, misc]
        def __init__(self) -> None:
            pass  # no super().__init__()

    fut = Uninitialized()
    assert not fut.done()
    assert not fut.cancelled()
    with pytest.raises(asyncio.InvalidStateError):
        fut.result()
    with pytest.raises(asyncio.InvalidStateError):
        fut.exception()
    with pytest.raises(RuntimeError, match="not initialized"):
        fut.get_loop()


def test_result(impl: Impl) -> None:
    fut = impl.Future(loop=impl.loop)
    fut.set_result(42)
    assert fut.done()
    assert fut.result() == 42
    assert fut.exception() is None


def test_exception(impl: Impl) -> None:
    fut = impl.Future(loop=impl.loop)
    fut.set_exception(ValueError("bad"))
    assert fut.done()
    assert isinstance(fut.exception(), ValueError)
    with pytest.raises(ValueError, match="bad"):
        fut.result()


def test_exception_class_is_instantiated(impl: Impl) -> None:
    fut = impl.Future(loop=impl.loop)
    fut.set_exception(KeyError)
    assert isinstance(fut.exception(), KeyError)


def test_stop_iteration_cannot_be_set(impl: Impl) -> None:
    fut = impl.Future(loop=impl.loop)
    stop = StopIteration()
    if sys.version_info < (3, 13):  # refused, as asyncio refuses it up to 3.12
        with pytest.raises(TypeError, match="StopIteration"):
            fut.set_exception(stop)
        assert not fut.done()
        return
    fut.set_exception(stop)  # 3.13: stored as a RuntimeError that it caused
    with pytest.raises(RuntimeError, match=r"StopIteration .* cannot be raised") as raised:
        fut.result()
    assert raised.value.__cause__ is stop


def test_cancel(impl: Impl) -> None:
    fut = impl.Future(loop=impl.loop)
    assert fut.cancel("because")
    assert fut.cancelled()
    assert fut.done()
    assert not fut.cancel()
    with pytest.raises(asyncio.CancelledError, match="because"):
        fut.result()
    with pytest.raises(asyncio.CancelledError):
        fut.exception()


def test_setting_a_result_twice_is_an_error_naming_the_state(impl: Impl) -> None:
    fut = impl.Future(loop=impl.loop)
    fut.set_result(1)
    with pytest.raises(asyncio.InvalidStateError) as info:
        fut.set_result(2)
    if impl.name == "spindle":
        assert "FINISHED" in str(info.value)
    with pytest.raises(asyncio.InvalidStateError):
        fut.set_exception(ValueError())
    cancelled = impl.Future(loop=impl.loop)
    cancelled.cancel()
    with pytest.raises(asyncio.InvalidStateError):
        cancelled.set_result(1)


def test_done_callbacks_are_scheduled_not_called_inline(impl: Impl) -> None:
    events: list[str] = []
    fut = impl.Future(loop=impl.loop)
    fut.add_done_callback(lambda f: events.append(f"callback saw {f.result()}"))
    fut.set_result("x")
    events.append("after set_result")
    drain(impl)
    assert events == ["after set_result", "callback saw x"]


def test_callback_added_to_a_done_future_is_scheduled(impl: Impl) -> None:
    events: list[str] = []
    fut = impl.Future(loop=impl.loop)
    fut.set_result(None)
    fut.add_done_callback(lambda f: events.append("called"))
    assert events == []
    drain(impl)
    assert events == ["called"]


def test_remove_done_callback_removes_every_registration(impl: Impl) -> None:
    events: list[str] = []

    def cb(f: Any) -> None:
        events.append("cb")

    fut = impl.Future(loop=impl.loop)
    fut.add_done_callback(cb)
    fut.add_done_callback(cb)
    fut.add_done_callback(lambda f: events.append("other"))
    assert fut.remove_done_callback(cb) == 2
    assert fut.remove_done_callback(cb) == 0
    fut.set_result(None)
    drain(impl)
    assert events == ["other"]


def test_await_a_future(impl: Impl) -> None:
    fut = impl.Future(loop=impl.loop)
    impl.loop.call_soon(fut.set_result, "done")

    async def main() -> Any:
        return await fut

    assert impl.run(main()) == "done"


def test_a_future_s_iterator_steps_as_asyncio_s(impl: Impl) -> None:
    # What a coroutine's ``await`` does with the iterator, one step at a time.  spindle reads
    # the future's fields where asyncio's C future does (Future.__await__, outcome_of).
    pending = impl.Future(loop=impl.loop)
    steps = pending.__await__()
    assert next(steps) is pending
    assert pending._asyncio_future_blocking
    pending.set_result("later")
    with pytest.raises(StopIteration) as stop:
        next(steps)
    assert stop.value.value == "later"

    done = impl.Future(loop=impl.loop)
    done.set_result(("a", "tuple"))  # returned whole, not taken apart as StopIteration args
    with pytest.raises(StopIteration) as stop:
        next(done.__await__())
    assert stop.value.value == ("a", "tuple")
    assert not done._asyncio_future_blocking  # never yielded

    failed = impl.Future(loop=impl.loop)
    failed.set_exception(KeyError("failed"))
    with pytest.raises(KeyError, match="failed"):
        next(failed.__await__())
    cancelled = impl.Future(loop=impl.loop)
    cancelled.cancel("the reason")
    with pytest.raises(asyncio.CancelledError, match="the reason"):
        next(iter(cancelled))

    resumed_too_soon = impl.Future(loop=impl.loop)
    steps = resumed_too_soon.__await__()
    next(steps)
    with pytest.raises(RuntimeError, match="await wasn't used with future"):
        next(steps)

    class Uninitialized(impl.Future):  # type: ignore[name-defined, misc]
        def __init__(self) -> None:
            pass  # no super().__init__()

    with pytest.raises(RuntimeError, match="not initialized"):
        Uninitialized().__await__()


def test_unretrieved_exception_is_reported_to_the_exception_handler(impl: Impl) -> None:
    fut = impl.Future(loop=impl.loop)
    fut.set_exception(ZeroDivisionError("lost"))
    del fut
    gc.collect()
    assert len(impl.handler_calls) == 1
    context = impl.handler_calls[0]
    assert "exception was never retrieved" in context["message"]
    assert isinstance(context["exception"], ZeroDivisionError)


def drop_while_raising(last_reference: list[Any]) -> None:
    """Let go of the object in ``last_reference`` while KeyError is on its way up.

    The object is taken out onto the interpreter's stack (the first item of a tuple being
    built), and the second item raises: the interpreter drops what its stack holds as it
    unwinds the frame, with the exception already set.  (A local variable would not do: the
    traceback keeps the frame, and its variables, until the exception has been handled.)
    """
    _ = (last_reference.pop(), _raise_key_error())


def _raise_key_error() -> None:
    raise KeyError("on its way up")


@pytest.mark.parametrize("made_by", ["create_future", "the class"])
def test_a_future_dropped_while_an_exception_is_raised_reports_and_the_exception_goes_on(
    impl: Impl, made_by: str
) -> None:
    # Its finalizer must neither lose the exception on its way up nor fail on it (compiled,
    # mypyc's finalizer does not set it aside; FinalReport does), and must still report the
    # exception nobody retrieved.
    fut = impl.loop.create_future() if made_by == "create_future" else impl.Future(loop=impl.loop)
    fut.set_exception(ZeroDivisionError("lost"))
    last_reference = [fut]
    del fut
    with pytest.raises(KeyError, match="on its way up"):
        drop_while_raising(last_reference)
    assert [c["message"] for c in impl.handler_calls] == ["Future exception was never retrieved"]
    assert isinstance(impl.handler_calls[0]["exception"], ZeroDivisionError)
    assert impl.handler_calls[0]["future"].done()  # the report shows the future itself


def test_a_future_that_fails_its_own_construction_raises_the_construction_s_error(
    impl: Impl,
) -> None:
    # Future(42) dies as __init__'s argument check raises: before __init__ set anything.
    with pytest.raises(TypeError):
        impl.Future(42)
    with pytest.raises(TypeError):
        impl.Future(loop=impl.loop, colour="red")
    gc.collect()
    assert impl.handler_calls == []


def test_an_uninitialized_future_dropped_while_an_exception_is_raised_reports_nothing(
    impl: Impl,
) -> None:
    class Uninitialized(impl.Future):  # type: ignore[name-defined, misc]
        def __init__(self) -> None:
            pass  # no super().__init__()

    for make in (lambda: impl.Future.__new__(impl.Future), Uninitialized):
        last_reference = [make()]
        with pytest.raises(KeyError, match="on its way up"):
            drop_while_raising(last_reference)
    gc.collect()
    assert impl.handler_calls == []


def test_retrieved_exception_is_not_reported(impl: Impl) -> None:
    fut = impl.Future(loop=impl.loop)
    fut.set_exception(ZeroDivisionError("seen"))
    fut.exception()
    del fut
    gc.collect()
    assert impl.handler_calls == []


def test_state_is_an_explicit_enum() -> None:
    loop = spindle.new_event_loop()
    fut: spindle.Future[int] = spindle.Future(loop=loop)
    assert fut._state is FutureState.PENDING
    fut.set_result(1)
    assert fut._state is FutureState.FINISHED
    loop.close()


def test_future_needs_a_loop_outside_a_running_loop() -> None:
    with pytest.raises(RuntimeError, match="needs an event loop"):
        spindle.Future()


def test_future_generic_alias() -> None:
    assert spindle.Future[int].__origin__ is spindle.Future


# -- asyncio's future protocol ---------------------------------------------------------------


def test_asyncio_recognises_a_spindle_future() -> None:
    loop = spindle.new_event_loop()
    fut: spindle.Future[int] = spindle.Future(loop=loop)
    assert asyncio.isfuture(fut)
    assert spindle.isfuture(fut)
    assert asyncio.ensure_future(fut) is fut
    loop.close()


def test_asyncio_task_awaits_a_spindle_future_on_asyncios_loop() -> None:
    loop = asyncio.new_event_loop()
    fut: spindle.Future[str] = spindle.Future(loop=loop)

    async def main() -> str:
        loop.call_soon(fut.set_result, "from spindle")
        return await fut

    task = loop.create_task(main())
    assert type(task) is not spindle.Task
    assert loop.run_until_complete(task) == "from spindle"
    loop.close()


def test_spindle_task_awaits_an_asyncio_future() -> None:
    loop = spindle.new_event_loop()
    fut: asyncio.Future[str] = asyncio.Future(loop=loop)

    async def main() -> str:
        loop.call_soon(fut.set_result, "from asyncio")
        return await fut

    task = loop.create_task(main())
    assert isinstance(task, spindle.Task)
    assert loop.run_until_complete(task) == "from asyncio"
    loop.close()


def test_asyncio_wrap_future_accepts_spindle_future() -> None:
    loop = spindle.new_event_loop()
    fut: spindle.Future[int] = spindle.Future(loop=loop)
    assert asyncio.wrap_future(fut) is fut
    loop.close()


def test_wrapping_a_concurrent_future(impl: Impl) -> None:
    with concurrent.futures.ThreadPoolExecutor(1) as pool:

        async def main() -> int:
            source = pool.submit(pow, 3, 4)
            wrapped = spindle.wrap_concurrent_future(source, loop=impl.loop)
            result: int = await wrapped
            return result

        assert impl.run(main()) == 81


def test_awaiting_a_future_of_another_loop_is_an_error() -> None:
    loop = spindle.new_event_loop()
    other = spindle.new_event_loop()
    foreign: spindle.Future[None] = spindle.Future(loop=other)

    async def main() -> None:
        await foreign

    with pytest.raises(RuntimeError, match="attached to a different loop"):
        loop.run_until_complete(main())
    loop.close()
    other.close()


def test_repr_shows_state_and_result() -> None:
    loop = spindle.new_event_loop()
    fut: spindle.Future[int] = spindle.Future(loop=loop)
    assert repr(fut) == "<Future pending>"
    fut.set_result(7)
    assert repr(fut) == "<Future finished result=7>"
    cancelled: spindle.Future[int] = spindle.Future(loop=loop)
    cancelled.cancel()
    assert repr(cancelled) == "<Future cancelled>"
    loop.close()
