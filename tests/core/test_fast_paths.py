"""Fast paths held to the plain code they stand for.

Code written out for speed carries a ``# FAST PATH:`` comment naming what it stands for.  Each
such place has a test here showing that the written-out version and the plain version agree,
so the two cannot drift apart.  ``grep -rn "FAST PATH" src`` lists them all.
"""

from __future__ import annotations

import asyncio
import contextvars
from typing import Any

import spindle
from spindle._core.handles import Handle, TimerHandle
from spindle._core.scheduler import poll_timeout
from spindle._core.tasks import Task
from spindle.testing import VirtualClock


def slot_values(handle: asyncio.Handle) -> dict[str, Any]:
    names = [*asyncio.Handle.__slots__, *getattr(type(handle), "__slots__", ())]
    if isinstance(handle, asyncio.TimerHandle):
        names += asyncio.TimerHandle.__slots__
    return {name: getattr(handle, name, "<unset>") for name in names if name != "__weakref__"}


def test_handles_built_on_the_fast_path_match_handles_built_by_init() -> None:
    # call_soon, call_later and a task's first step write Handle.__init__'s fields out
    # (spindle's hot paths); they must set exactly what __init__ sets.
    loop = spindle.new_event_loop()
    context = contextvars.copy_context()
    try:
        soon = loop.call_soon(print, 1, context=context)
        assert slot_values(soon) == slot_values(Handle(print, (1,), loop, context))  # type: ignore[arg-type]
        later = loop.call_later(5, print, 2, context=context)
        expected = TimerHandle(later.when(), print, (2,), loop, context)  # type: ignore[arg-type]
        expected._scheduled = True  # pushed on the timer queue, as call_later's is
        assert slot_values(later) == slot_values(expected)

        async def nothing() -> None:
            pass

        task = Task(nothing(), loop=loop)
        step = task._step_handle
        assert step is not None
        assert slot_values(step) == slot_values(Handle(task._step, (), loop, task._context))  # type: ignore[arg-type]
        soon.cancel()
        later.cancel()
        loop.run_until_complete(task)
    finally:
        loop.close()


def test_a_pass_with_work_waiting_does_not_block_as_poll_timeout_says() -> None:
    # _run_once skips the poll_timeout call when work is waiting; poll_timeout would say 0.
    clock = VirtualClock()
    assert poll_timeout(True, None, clock) == 0.0
    assert poll_timeout(True, 5.0, clock) == 0.0
    loop = spindle.EventLoop(clock=clock)
    try:
        polled: list[float | None] = []
        real_poll = loop._poll

        def spy(timeout: float | None) -> None:
            polled.append(timeout)
            real_poll(timeout)

        loop._poll = spy  # type: ignore[method-assign]
        loop.call_later(5.0, loop.stop)
        loop.call_soon(lambda: None)
        loop.run_forever()
        # First pass: a callback ready (0.0); second: only the timer (the clock jumps: 0.0).
        assert polled[0] == 0.0
        assert clock.time() == 5.0
    finally:
        loop.close()
