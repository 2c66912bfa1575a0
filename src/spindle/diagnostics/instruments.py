"""The instrument API: watch what a spindle loop does, from its own thread or another.

    class StepCounter(spindle.diagnostics.Instrument):
        def __init__(self) -> None:
            self.steps = collections.Counter()

        def before_task_step(self, task, time):
            self.steps[task.get_name()] += 1

    counter = StepCounter()
    spindle.diagnostics.configure(instruments=[counter])   # every runner's loop, from the start
    spindle.run(main())                                     # ...or add_instrument() inside main()

The hooks and what they cost are described in ``spindle._core.instruments`` (in short: nothing
while no instrument is installed; with one, the loop takes its observed pass).  Instruments are
how spindle's own timeline records a run.

From any thread, ``running_handle(loop)`` and ``running_task(loop)`` say what the loop runs at
this moment (a record the loop keeps for every callback, instruments or not): the blocking
watchdog reads them.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any, cast

from spindle._core import current
from spindle._core.handles import Handle
from spindle._core.instruments import HOOKS, Instrument
from spindle._core.scheduler import Scheduler
from spindle._core.tasks import Task, callback_of, task_of_step

__all__ = [
    "HOOKS",
    "Instrument",
    "add_instrument",
    "instruments",
    "remove_instrument",
    "running_handle",
    "running_task",
]


def _spindle_loop(loop: asyncio.AbstractEventLoop | None, caller: str) -> Scheduler:
    if loop is None:
        loop = current.get_running_loop()
    if not isinstance(loop, Scheduler):
        raise TypeError(f"{caller} needs one of spindle's event loops, not {loop!r}")
    return loop


def _check_thread(loop: Scheduler, caller: str) -> None:
    if loop._thread_id is not None and loop._thread_id != threading.get_ident():
        raise RuntimeError(
            f"{caller} must be called on the loop's thread while it runs: use "
            f"loop.call_soon_threadsafe({caller.partition('(')[0]}, instrument, loop)"
        )


def add_instrument(instrument: object, loop: asyncio.AbstractEventLoop | None = None) -> None:
    """Install ``instrument`` on ``loop`` (default: the running loop).  Idempotent."""
    target = _spindle_loop(loop, "add_instrument()")
    _check_thread(target, "add_instrument()")
    if not any(callable(getattr(instrument, name, None)) for name in HOOKS):
        raise TypeError(
            f"{instrument!r} is not an instrument: it has none of the hooks {', '.join(HOOKS)}"
        )
    target._add_instrument(instrument)


def remove_instrument(instrument: object, loop: asyncio.AbstractEventLoop | None = None) -> None:
    """Remove ``instrument`` from ``loop`` (default: the running loop).

    Raises KeyError if it is not installed there (trio does the same).
    """
    target = _spindle_loop(loop, "remove_instrument()")
    _check_thread(target, "remove_instrument()")
    if not target._remove_instrument(instrument):
        raise KeyError(f"{instrument!r} is not installed on {target!r}")


def instruments(loop: asyncio.AbstractEventLoop | None = None) -> tuple[object, ...]:
    """The instruments installed on ``loop`` (default: the running loop), in order."""
    installed = _spindle_loop(loop, "instruments()")._instruments
    return () if installed is None else installed.instruments


def running_handle(loop: asyncio.AbstractEventLoop) -> Handle | Task[Any] | None:
    """What ``loop`` runs right now, or None; safe from any thread.

    The handle whose callback runs, or the task whose step runs when the task queued itself
    for that step (a task does, rather than a handle, on spindle's plain passes).
    """
    running: Any = _spindle_loop(loop, "running_handle()")._running
    return cast("Handle | Task[Any] | None", running)


def running_task(loop: asyncio.AbstractEventLoop) -> Task[Any] | None:
    """The task whose step ``loop`` runs right now, or None; safe from any thread."""
    running = running_handle(loop)
    return None if running is None else task_of_step(callback_of(running))
