"""spindle.run() and spindle.Runner, checked on spindle's loop and on asyncio's (any_loop)."""

from __future__ import annotations

import asyncio
import contextvars
import re
import signal
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from spindle import diagnostics, events
from spindle.patch import RunnerAwareEventLoop
from spindle.runners import (
    NotACoroutineError,
    Runner,
    RunnerState,
    _hook_factories,
    add_runner_hooks,
    hooks_for,
    run,
)
from spindle.tasks import create_task, sleep
from spindle.testing import VirtualClock


@pytest.fixture(autouse=True)
def quiet_diagnostics() -> Iterator[None]:
    """These tests are about the runner; test_diagnostics covers what it reports."""
    diagnostics.configure(enabled=False)
    yield
    diagnostics.reset()


def factory_of(loop: asyncio.AbstractEventLoop) -> Any:
    return lambda: loop


async def answer() -> int:
    await sleep(0)
    return 42


# -- run() ---------------------------------------------------------------------------------


def test_run_returns_the_result_of_main(any_loop: asyncio.AbstractEventLoop) -> None:
    assert run(answer(), loop_factory=factory_of(any_loop)) == 42


def test_run_closes_its_loop(any_loop: asyncio.AbstractEventLoop) -> None:
    run(answer(), loop_factory=factory_of(any_loop))
    assert any_loop.is_closed()


def test_run_propagates_the_exception_of_main(any_loop: asyncio.AbstractEventLoop) -> None:
    async def fail() -> None:
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        run(fail(), loop_factory=factory_of(any_loop))
    assert any_loop.is_closed()


def test_run_on_the_default_loop_factory_makes_a_spindle_loop() -> None:
    async def loop_type() -> type:
        return type(events.get_running_loop())

    assert run(loop_type()).__module__.startswith("spindle.")


def test_run_refuses_to_start_inside_a_running_loop(any_loop: asyncio.AbstractEventLoop) -> None:
    async def nested() -> str:
        inner = answer()
        try:
            run(inner)
        except RuntimeError as error:
            return str(error)
        finally:
            inner.close()
        return "no error"

    message = any_loop.run_until_complete(nested())
    assert message.startswith("spindle.run() cannot be called from a running event loop")


@pytest.mark.parametrize("not_a_coroutine", [None, 42, answer])
def test_run_rejects_what_is_not_a_coroutine(not_a_coroutine: object) -> None:
    with pytest.raises(TypeError, match=r"spindle\.run\(\): a coroutine was expected"):
        run(not_a_coroutine)  # type: ignore[arg-type]


def test_rejecting_a_non_coroutine_is_also_asyncio_s_value_error() -> None:
    with pytest.raises(ValueError):
        run(42)  # type: ignore[arg-type]
    assert issubclass(NotACoroutineError, TypeError)


def test_passing_the_coroutine_function_suggests_calling_it() -> None:
    with pytest.raises(TypeError, match=r"pass answer\(\), the coroutine, not answer"):
        run(answer)  # type: ignore[arg-type]


def test_run_sets_debug_mode_when_asked(any_loop: asyncio.AbstractEventLoop) -> None:
    async def debug_mode() -> bool:
        return events.get_running_loop().get_debug()

    assert run(debug_mode(), debug=True, loop_factory=factory_of(any_loop)) is True


def test_run_cancels_tasks_left_pending(any_loop: asyncio.AbstractEventLoop) -> None:
    log: list[str] = []

    async def forever() -> None:
        try:
            await sleep(3600)
        except asyncio.CancelledError:
            log.append("cancelled")
            raise

    async def main() -> None:
        create_task(forever())
        await sleep(0)

    run(main(), loop_factory=factory_of(any_loop))
    assert log == ["cancelled"]


def test_exception_of_a_cancelled_leftover_goes_to_the_handler(
    any_loop: asyncio.AbstractEventLoop,
) -> None:
    contexts: list[dict[str, Any]] = []
    any_loop.set_exception_handler(lambda loop, context: contexts.append(context))

    async def refuses_to_die() -> None:
        try:
            await sleep(3600)
        except asyncio.CancelledError:
            raise ValueError("cleanup failed") from None

    async def main() -> None:
        create_task(refuses_to_die())
        await sleep(0)

    run(main(), loop_factory=factory_of(any_loop))
    [context] = contexts
    # CPython's own test matches asyncio's wording with r"asyncio.run.*shutdown".
    assert re.search(r"asyncio.run.*shutdown", context["message"])
    assert context["message"].startswith("unhandled exception during spindle.run()/")
    assert isinstance(context["exception"], ValueError)


def test_run_finalizes_async_generators(any_loop: asyncio.AbstractEventLoop) -> None:
    log: list[str] = []

    async def numbers() -> AsyncIterator[int]:
        try:
            yield 1
            yield 2
        finally:
            log.append("finalized")

    kept: list[AsyncIterator[int]] = []  # alive, so garbage collection cannot finalize it

    async def main() -> None:
        generator = numbers()
        await generator.__anext__()  # left suspended: only shutdown_asyncgens() finishes it
        kept.append(generator)

    run(main(), loop_factory=factory_of(any_loop))
    assert log == ["finalized"]


def test_run_shuts_the_default_executor_down(any_loop: asyncio.AbstractEventLoop) -> None:
    async def main() -> threading.Thread:
        loop = events.get_running_loop()
        return await loop.run_in_executor(None, threading.current_thread)

    worker = run(main(), loop_factory=factory_of(any_loop))
    assert worker is not threading.current_thread()
    assert not worker.is_alive()


# -- Runner --------------------------------------------------------------------------------


def test_runner_runs_several_coroutines_on_one_loop(any_loop: asyncio.AbstractEventLoop) -> None:
    async def which_loop() -> asyncio.AbstractEventLoop:
        return events.get_running_loop()

    with Runner(loop_factory=factory_of(any_loop)) as runner:
        assert runner.run(which_loop()) is any_loop
        assert runner.run(which_loop()) is any_loop
        assert runner.get_loop() is any_loop


def test_runner_states_go_created_initialized_closed(any_loop: asyncio.AbstractEventLoop) -> None:
    runner = Runner(loop_factory=factory_of(any_loop))
    assert runner._state is RunnerState.CREATED
    runner.get_loop()
    assert runner._state is RunnerState.INITIALIZED
    runner.close()
    assert runner._state is RunnerState.CLOSED
    assert any_loop.is_closed()


def test_closed_runner_refuses_to_run(any_loop: asyncio.AbstractEventLoop) -> None:
    runner = Runner(loop_factory=factory_of(any_loop))
    runner.close()  # never started: nothing to close, still usable
    runner.get_loop()
    runner.close()
    coro = answer()
    with pytest.raises(RuntimeError, match="Runner is closed"):
        runner.run(coro)
    coro.close()
    runner.close()  # closing again is harmless


def test_runner_run_rejects_a_non_coroutine(any_loop: asyncio.AbstractEventLoop) -> None:
    with Runner(loop_factory=factory_of(any_loop)) as runner, pytest.raises(TypeError):
        runner.run(42)  # type: ignore[arg-type]


def test_runner_runs_main_in_a_copy_of_the_context(any_loop: asyncio.AbstractEventLoop) -> None:
    variable: contextvars.ContextVar[str] = contextvars.ContextVar("variable", default="unset")

    async def set_it() -> None:
        variable.set("set by the first run")

    async def read_it() -> str:
        return variable.get()

    with Runner(loop_factory=factory_of(any_loop)) as runner:
        runner.run(set_it())
        assert runner.run(read_it()) == "set by the first run"  # the runner's context
        assert runner.run(read_it(), context=contextvars.Context()) == "unset"
    assert variable.get() == "unset"  # the caller's context is untouched


def test_runner_sets_and_clears_the_thread_loop_it_made() -> None:
    with Runner() as runner:
        assert events.get_event_loop() is runner.get_loop()
    # The runner cleared it with set_event_loop(None): as in asyncio, no loop is conjured up.
    with pytest.raises(RuntimeError, match="no current event loop"):
        events.get_event_loop()


def test_runner_does_not_set_the_thread_loop_of_a_factory(
    any_loop: asyncio.AbstractEventLoop,
) -> None:
    mine = events.new_event_loop()
    events.set_event_loop(mine)
    try:
        with Runner(loop_factory=factory_of(any_loop)):
            assert events.get_event_loop() is mine
    finally:
        events.set_event_loop(None)
        mine.close()


def test_runner_works_in_a_thread_other_than_main(any_loop: asyncio.AbstractEventLoop) -> None:
    results: list[int] = []
    thread = threading.Thread(
        target=lambda: results.append(run(answer(), loop_factory=factory_of(any_loop)))
    )
    thread.start()
    thread.join()
    assert results == [42]


class HookRecorder:
    """Runner hooks that note every call, in order."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.calls: list[str] = [f"start {type(loop).__module__.split('.')[0]}"]

    def main_finished(self) -> None:
        self.calls.append("main_finished")

    def closing(self, main_qualname: str | None, leftover: set[Any]) -> None:
        self.calls.append(f"closing {main_qualname} {sorted(t.get_name() for t in leftover)}")

    def closed(self) -> None:
        self.calls.append("closed")


@pytest.fixture
def recorders() -> Iterator[list[HookRecorder]]:
    """The hooks every runner (or runner-aware loop) gets while the test runs, in order."""
    found: list[HookRecorder] = []

    def factory(loop: asyncio.AbstractEventLoop) -> HookRecorder:
        found.append(HookRecorder(loop))
        return found[-1]

    add_runner_hooks(factory)
    yield found
    _hook_factories.remove(factory)


async def leaves_a_task() -> None:
    create_task(sleep(3600), name="left-behind")
    await sleep(0)


async def fails() -> None:
    create_task(sleep(3600), name="left-behind")
    await sleep(0)
    raise ValueError("main failed")


def test_runner_hooks_hear_of_each_moment_of_the_runner(
    any_loop: asyncio.AbstractEventLoop, recorders: list[HookRecorder]
) -> None:
    run(leaves_a_task(), loop_factory=factory_of(any_loop))
    [recorder] = recorders
    assert recorder.calls == [
        f"start {type(any_loop).__module__.split('.')[0]}",
        "main_finished",
        "closing leaves_a_task ['left-behind']",
        "closed",
    ]


# -- asyncio's own runner, on the loop spindle.install() gives it -------------------------


def runner_aware_loop() -> RunnerAwareEventLoop:
    return RunnerAwareEventLoop(clock=VirtualClock())


def test_asyncio_runner_on_a_runner_aware_loop_calls_the_hooks_as_spindles_runner_does(
    recorders: list[HookRecorder],
) -> None:
    with asyncio.Runner(loop_factory=runner_aware_loop) as runner:
        runner.run(leaves_a_task())
        # Nothing is cancelled yet: a runner may run more than one main.
        assert recorders[0].calls == ["start spindle", "main_finished"]
    [recorder] = recorders
    assert recorder.calls == [
        "start spindle",
        "main_finished",
        "closing leaves_a_task ['left-behind']",
        "closed",
    ]


def test_the_last_of_several_mains_is_the_one_named_at_shutdown(
    recorders: list[HookRecorder],
) -> None:
    with asyncio.Runner(loop_factory=runner_aware_loop) as runner:
        runner.run(leaves_a_task())
        assert runner.run(answer()) == 42
    assert recorders[0].calls == [
        "start spindle",
        "main_finished",
        "main_finished",
        "closing answer ['left-behind']",
        "closed",
    ]


def test_a_main_that_raised_is_not_named_at_shutdown(recorders: list[HookRecorder]) -> None:
    with (
        pytest.raises(ValueError, match="main failed"),
        asyncio.Runner(loop_factory=runner_aware_loop) as runner,
    ):
        runner.run(fails())
    assert recorders[0].calls == [
        "start spindle",
        "main_finished",
        "closing None ['left-behind']",
        "closed",
    ]


def test_a_runner_aware_loop_that_no_runner_drives_asks_for_no_hooks(
    recorders: list[HookRecorder],
) -> None:
    loop = runner_aware_loop()
    try:
        # A coroutine, not a task: how programs that manage their own loop run it.
        assert loop.run_until_complete(answer()) == 42
    finally:
        loop.close()
    assert recorders == []


def test_a_spindle_runner_on_a_runner_aware_loop_gets_the_hooks_once(
    recorders: list[HookRecorder],
) -> None:
    run(leaves_a_task(), loop_factory=runner_aware_loop)
    [recorder] = recorders  # the loop asked too, when the main task ran, and got none
    assert recorder.calls == [
        "start spindle",
        "main_finished",
        "closing leaves_a_task ['left-behind']",
        "closed",
    ]


def test_a_loop_is_given_its_hooks_once(recorders: list[HookRecorder]) -> None:
    loop = events.new_event_loop()
    try:
        assert len(hooks_for(loop)) == 1
        assert hooks_for(loop) == []
    finally:
        loop.close()


# -- Ctrl-C --------------------------------------------------------------------------------


def test_ctrl_c_cancels_main_then_raises_keyboard_interrupt(
    any_loop: asyncio.AbstractEventLoop,
) -> None:
    log: list[str] = []

    async def main() -> None:
        events.get_running_loop().call_soon(signal.raise_signal, signal.SIGINT)
        try:
            await sleep(3600)
        finally:
            log.append("main cleaned up")

    with pytest.raises(KeyboardInterrupt):
        run(main(), loop_factory=factory_of(any_loop))
    assert log == ["main cleaned up"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_second_ctrl_c_raises_keyboard_interrupt_at_once(
    any_loop: asyncio.AbstractEventLoop,
) -> None:
    log: list[str] = []

    async def main() -> None:
        events.get_running_loop().call_soon(signal.raise_signal, signal.SIGINT)
        try:
            await sleep(3600)
        except asyncio.CancelledError:
            log.append("first Ctrl-C: cancelled")
            signal.raise_signal(signal.SIGINT)
            log.append("not reached")

    with pytest.raises(KeyboardInterrupt):
        run(main(), loop_factory=factory_of(any_loop))
    assert log == ["first Ctrl-C: cancelled"]


def test_main_that_swallows_ctrl_c_returns_normally(any_loop: asyncio.AbstractEventLoop) -> None:
    async def main() -> str:
        events.get_running_loop().call_soon(signal.raise_signal, signal.SIGINT)
        try:
            await sleep(3600)
        except asyncio.CancelledError:
            return "carried on"
        return "not reached"

    assert run(main(), loop_factory=factory_of(any_loop)) == "carried on"


def test_runner_leaves_a_custom_sigint_handler_alone(any_loop: asyncio.AbstractEventLoop) -> None:
    received: list[int] = []

    def mine(signum: int, frame: object) -> None:
        received.append(signum)

    async def main() -> str:
        signal.raise_signal(signal.SIGINT)
        await sleep(0)
        return "finished"

    previous = signal.signal(signal.SIGINT, mine)
    try:
        assert run(main(), loop_factory=factory_of(any_loop)) == "finished"
        assert signal.getsignal(signal.SIGINT) is mine
    finally:
        signal.signal(signal.SIGINT, previous)
    assert received == [signal.SIGINT]


@pytest.mark.parametrize(
    ("python", "in_main_thread", "thread_chose", "creates"),
    [
        ((3, 11), True, False, True),
        ((3, 13), True, False, True),  # with a DeprecationWarning from 3.12
        ((3, 13), False, False, False),  # other threads: never
        ((3, 13), True, True, False),  # after set_event_loop(None)
        ((3, 14), True, False, False),  # asyncio 3.14 raises RuntimeError instead
    ],
)
def test_get_event_loop_creates_a_loop_only_where_asyncio_does(
    python: tuple[int, int], in_main_thread: bool, thread_chose: bool, creates: bool
) -> None:
    assert events.creates_a_loop(python, in_main_thread, thread_chose) is creates
