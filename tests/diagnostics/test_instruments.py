"""Instruments: what a loop tells the objects watching it, and what that costs when none is.

Interleavings are asserted as exact lists of events, on a virtual clock.
"""

from __future__ import annotations

import asyncio
import collections
import threading
from typing import Any

import pytest

import spindle
from spindle import diagnostics
from spindle._core.handles import Handle
from spindle._core.scheduler import Scheduler
from spindle.diagnostics import Instrument, add_instrument, instruments, remove_instrument
from spindle.diagnostics.instruments import running_handle, running_task
from spindle.testing import VirtualClock


class StepCounter(Instrument):
    """The instrument a user would write: how many steps each task took."""

    def __init__(self) -> None:
        self.steps: collections.Counter[str] = collections.Counter()

    def before_task_step(self, task: asyncio.Task[Any], time: float) -> None:
        self.steps[task.get_name()] += 1


class Journal(Instrument):
    """Writes down every event, with loop times where the hook has them."""

    def __init__(self) -> None:
        self.events: list[tuple[Any, ...]] = []

    def task_spawned(self, task: asyncio.Task[Any]) -> None:
        self.events.append(("spawned", task.get_name()))

    def before_task_step(self, task: asyncio.Task[Any], time: float) -> None:
        self.events.append(("step", task.get_name(), time))

    def after_task_step(self, task: asyncio.Task[Any], time: float) -> None:
        self.events.append(("stepped", task.get_name(), time))

    def task_exited(self, task: asyncio.Task[Any]) -> None:
        self.events.append(("exited", task.get_name()))


def virtual_loop() -> asyncio.AbstractEventLoop:
    return spindle.EventLoop(clock=VirtualClock())


async def worker(turns: int) -> None:
    for _ in range(turns):
        await spindle.sleep(0)


def test_a_user_instrument_counts_task_steps() -> None:
    counter = StepCounter()
    diagnostics.configure(instruments=[counter])

    async def main() -> None:
        async with spindle.TaskGroup() as group:
            group.create_task(worker(2), name="two")
            group.create_task(worker(5), name="five")

    spindle.run(main(), loop_factory=virtual_loop)
    # A task takes one step more than it yields: the first one, and one per resumption.
    assert (counter.steps["two"], counter.steps["five"]) == (3, 6)


def test_hooks_come_in_order_with_the_loops_times() -> None:
    journal = Journal()
    loop = virtual_loop()

    async def child() -> None:
        await spindle.sleep(1)

    async def main() -> None:
        await spindle.create_task(child(), name="child")

    try:
        add_instrument(journal, loop)
        loop.run_until_complete(loop.create_task(main(), name="main"))
    finally:
        loop.close()
    assert journal.events == [
        ("spawned", "main"),
        ("step", "main", 0.0),
        ("spawned", "child"),
        ("stepped", "main", 0.0),
        ("step", "child", 0.0),
        ("stepped", "child", 0.0),
        ("step", "child", 1.0),
        ("exited", "child"),  # during its last step
        ("stepped", "child", 1.0),
        ("step", "main", 1.0),
        ("exited", "main"),
        ("stepped", "main", 1.0),
    ]


def test_eager_tasks_are_reported_too() -> None:
    journal = Journal()
    loop = virtual_loop()
    loop.set_task_factory(spindle.eager_task_factory)

    async def quick() -> int:
        return 1

    async def main() -> None:
        assert await loop.create_task(quick(), name="eager") == 1

    try:
        add_instrument(journal, loop)
        loop.run_until_complete(main())
    finally:
        loop.close()
    # The second task spawned is the eager one; its first step runs inside create_task
    # (before a task factory's caller can name it, as in asyncio).
    spawned = [i for i, event in enumerate(journal.events) if event[0] == "spawned"]
    start = spawned[1]
    name = journal.events[start][1]
    assert journal.events[start + 1 : start + 4] == [
        ("step", name, 0.0),
        ("exited", name),
        ("stepped", name, 0.0),
    ]
    assert journal.events.index(("stepped", name, 0.0)) < journal.events.index(
        ("stepped", journal.events[0][1], 0.0)
    )  # all inside the first step of main


def test_io_waits_scheduled_handles_and_slow_callbacks() -> None:
    seen: list[tuple[Any, ...]] = []
    clock = VirtualClock()
    loop = spindle.EventLoop(clock=clock)

    class Watcher(Instrument):
        def before_io_wait(self, timeout: float | None) -> None:
            seen.append(("wait", timeout))

        def after_io_wait(self, timeout: float | None) -> None:
            seen.append(("woke", timeout))

        def handle_scheduled(self, handle: asyncio.Handle) -> None:
            seen.append(("scheduled", type(handle).__name__))

        def callback_slow(self, handle: asyncio.Handle, seconds: float) -> None:
            seen.append(("slow", seconds))

    def slow() -> None:
        clock.advance(0.25)  # a quarter of a second passes while this runs

    try:
        add_instrument(Watcher(), loop)
        loop.call_soon(slow)
        loop.call_later(1, loop.stop)
        loop.run_forever()
    finally:
        loop.close()
    assert seen == [
        ("scheduled", "Handle"),
        ("scheduled", "TimerHandle"),
        ("wait", 0.0),
        ("woke", 0.0),
        ("slow", 0.25),
        ("wait", 0.0),  # the virtual clock jumps to the timer instead of waiting
        ("woke", 0.0),
    ]


def test_call_soon_threadsafe_from_another_thread_calls_no_hook() -> None:
    journal: list[str] = []
    loop = spindle.EventLoop()

    class Watcher(Instrument):
        def handle_scheduled(self, handle: asyncio.Handle) -> None:
            journal.append(threading.current_thread().name)

    def from_the_loop() -> None:
        loop.call_soon_threadsafe(loop.stop)  # on the loop's thread: the hook is called

    try:
        add_instrument(Watcher(), loop)
        thread = threading.Thread(target=loop.call_soon_threadsafe, args=(from_the_loop,))
        thread.start()
        thread.join()
        loop.run_forever()
    finally:
        loop.close()
    assert journal == [threading.current_thread().name]


def test_an_instrument_that_raises_is_removed_and_reported() -> None:
    contexts: list[dict[str, Any]] = []
    counter = StepCounter()

    class Broken(Instrument):
        def before_task_step(self, task: asyncio.Task[Any], time: float) -> None:
            raise RuntimeError("broken instrument")

    broken = Broken()
    loop = virtual_loop()
    loop.set_exception_handler(lambda loop, context: contexts.append(context))
    try:
        add_instrument(broken, loop)
        add_instrument(counter, loop)
        loop.run_until_complete(worker(3))
        assert instruments(loop) == (counter,)
    finally:
        loop.close()
    [context] = contexts
    assert context["message"].startswith("instrument <")
    assert context["message"].endswith("raised in before_task_step(); it was removed")
    assert str(context["exception"]) == "broken instrument"
    assert sum(counter.steps.values()) == 4  # the program ran on, and so did the others


def test_adding_removing_and_listing_instruments() -> None:
    loop = spindle.EventLoop()
    counter = StepCounter()
    try:
        assert instruments(loop) == ()
        add_instrument(counter, loop)
        add_instrument(counter, loop)  # idempotent
        assert instruments(loop) == (counter,)
        remove_instrument(counter, loop)
        assert instruments(loop) == ()
        with pytest.raises(KeyError, match="is not installed"):
            remove_instrument(counter, loop)
        with pytest.raises(TypeError, match="is not an instrument"):
            add_instrument(object(), loop)
    finally:
        loop.close()
    asyncio_loop = asyncio.new_event_loop()
    try:
        with pytest.raises(TypeError, match="needs one of spindle's event loops"):
            add_instrument(counter, asyncio_loop)
    finally:
        asyncio_loop.close()


def test_instruments_can_be_added_from_inside_the_program() -> None:
    counter = StepCounter()

    async def main() -> None:
        add_instrument(counter)  # the running loop
        await worker(2)
        remove_instrument(counter)
        await worker(2)

    spindle.run(main(), loop_factory=virtual_loop)
    assert sum(counter.steps.values()) == 2  # main's two resumptions after sleep(0)


# -- what it costs: nothing when none is installed ------------------------------------------


def test_without_instruments_the_loop_runs_its_plain_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    def observed(self: Scheduler, timeout: float | None, polls: bool) -> None:
        raise AssertionError("the observed pass ran without an instrument")

    monkeypatch.setattr(Scheduler, "_run_once_observed", observed)
    loop = spindle.EventLoop()
    try:
        assert loop._plain
        loop.run_until_complete(worker(10))
    finally:
        loop.close()


def test_installing_an_instrument_switches_the_loop_and_removing_it_switches_back() -> None:
    loop = spindle.EventLoop()
    counter = StepCounter()
    try:
        add_instrument(counter, loop)
        assert not loop._plain
        loop.run_until_complete(worker(1))
        remove_instrument(counter, loop)
        assert loop._plain
        loop.set_debug(True)
        assert not loop._plain  # debug mode takes the observed pass too
        loop.set_debug(False)
        assert loop._plain
    finally:
        loop.close()
    assert not loop._plain  # a closed loop takes no fast path


# -- what the loop runs, from another thread -----------------------------------------------


def test_the_running_handle_and_task_can_be_read_from_another_thread() -> None:
    # Two steps of one task, each read by another thread while it blocks: one after a bare
    # yield (the task queued itself: the running entry is the task), one woken by a future
    # (a handle of the task's wake-up runs it).
    seen: list[Any] = []
    loop = spindle.EventLoop()
    reading = threading.Event()
    looked = threading.Event()

    def look() -> None:
        for _ in range(2):
            reading.wait(5)
            reading.clear()
            seen.append((running_handle(loop), running_task(loop)))
            looked.set()

    def let_the_other_thread_look() -> None:
        reading.set()
        looked.wait(5)  # the step blocks while the other thread looks
        looked.clear()

    async def main() -> None:
        await spindle.sleep(0)
        let_the_other_thread_look()
        future = loop.create_future()
        loop.call_soon(future.set_result, None)
        await future
        let_the_other_thread_look()

    watcher = threading.Thread(target=look)
    watcher.start()
    try:
        task = loop.create_task(main())
        loop.run_until_complete(task)
        idle = (running_handle(loop), running_task(loop))
    finally:
        watcher.join()
        loop.close()
    [(queued, running_queued), (woken, running_woken)] = seen
    assert queued is task and running_queued is task
    assert isinstance(woken, Handle) and running_woken is task
    assert getattr(woken._callback, "__self__", None) is task  # Task._wakeup
    assert idle == (None, None)  # between passes, nothing runs
