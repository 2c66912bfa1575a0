"""Cancellation that was swallowed, and exceptions nobody retrieved.

**Swallowed cancellation.**  ``task.cancel()`` throws CancelledError into the task's
coroutine; the coroutine may clean up (``finally``, ``except ...: raise``) but should then let
it go on.  One that catches it and carries on cannot be stopped: a runner waiting for it at
shutdown waits for ever, and the pending-task report's "they were cancelled" is untrue.

How spindle tells the two apart without reading spindle's frames: when a coroutine catches a
thrown CancelledError and suspends again, Task tells the observer (``Task.cancellation_caught``,
on the rare path of a step with an exception).  The observer keeps a *weak* reference to that
CancelledError.  While the coroutine is still handling it (a ``finally`` awaiting a cleanup,
an ``except`` that will re-raise) the exception is alive, held by the coroutine.  If it dies
while the task is still pending and the cancellation was not taken back (``uncancel()``, as
``timeout()`` and ``TaskGroup`` do for their own), nothing re-raised it: the task swallowed
it.  The report names the task and the line where the CancelledError was caught (the first
entry of its traceback: the frame it stopped in), once per task.

**Unretrieved exceptions.**  A task that failed, and whose exception nobody asked for, is
reported by the loop when the task is collected, as asyncio does.  A task the program still
holds is never collected before the end, so the session also reports, when the runner
closes, every failed task of its loop whose exception is still unretrieved (and marks it
retrieved, so it is not reported twice).
"""

from __future__ import annotations

import asyncio
import logging
import types
import weakref
from typing import Any

from spindle._core.tasks import Task, TaskObserver, set_task_observer
from spindle.diagnostics.frames import Location

__all__ = ["Observer", "format_swallowed", "install", "report_unretrieved"]

logger = logging.getLogger("spindle")


def format_swallowed(task: str, caught: Location, now: Location | None) -> str:
    """The report on a task that swallowed its cancellation (pure: tested with tables)."""
    going_on = f"; it is now at {now.describe()}" if now is not None else ""
    return (
        f"spindle: {task} swallowed its cancellation: the CancelledError was caught in "
        f"{caught.function.rpartition('<locals>.')[2]}() at {caught.describe()} and not "
        f"re-raised, so the task goes on running{going_on}.  A cancelled task should re-raise "
        "CancelledError once it has cleaned up (or call uncancel() if it means to go on)."
    )


class Observer(TaskObserver):
    """Watches the tasks of the loops that have a diagnostics session."""

    def __init__(self) -> None:
        self.loops: weakref.WeakSet[asyncio.AbstractEventLoop] = weakref.WeakSet()
        # Failed tasks, per loop, until the runner closes.
        self.failed_tasks: weakref.WeakSet[Task[Any]] = weakref.WeakSet()
        self._reported: weakref.WeakSet[Task[Any]] = weakref.WeakSet()
        # The weak references to caught CancelledErrors (kept so their callbacks can fire).
        self._watching: dict[int, weakref.ref[asyncio.CancelledError]] = {}

    def cancellation_caught(self, task: Task[Any], exc: asyncio.CancelledError) -> None:
        try:
            if task._loop not in self.loops or task in self._reported:
                return
            if not task.cancelling():
                return  # not a cancel() of this task: an awaited future was cancelled
            tb = exc.__traceback__
            if tb is None:
                return
            caught = Location(
                tb.tb_frame.f_code.co_filename, tb.tb_lineno, tb.tb_frame.f_code.co_qualname
            )
            task_ref = weakref.ref(task)

            def died(ref: weakref.ref[asyncio.CancelledError]) -> None:
                self._watching.pop(id(ref), None)
                self._check(task_ref(), caught)

            ref = weakref.ref(exc, died)
            self._watching[id(ref)] = ref
        except Exception:  # an observer must not raise into a task's step
            logger.debug("spindle: cancellation observer failed", exc_info=True)

    def _check(self, task: Task[Any] | None, caught: Location) -> None:
        """The caught CancelledError is gone: was the task left running, still cancelled?"""
        try:
            if task is None or task.done() or not task.cancelling() or task in self._reported:
                return
            self._reported.add(task)
            now = _where_now(task.get_coro())
            name = f"{task.get_name()} {_call_name(task.get_coro())}"
            logger.warning("%s", format_swallowed(name, caught, now))
        except Exception:
            logger.debug("spindle: cancellation observer failed", exc_info=True)

    def failed(self, task: Task[Any]) -> None:
        if task._loop in self.loops:
            self.failed_tasks.add(task)


def _call_name(coro: object) -> str:
    code = getattr(coro, "cr_code", None)
    name = code.co_qualname if isinstance(code, types.CodeType) else type(coro).__name__
    return f"{name.rpartition('<locals>.')[2]}()"


def _where_now(coro: object) -> Location | None:
    frame = getattr(coro, "cr_frame", None)
    if isinstance(frame, types.FrameType):
        return Location.of_frame(frame)
    return None


_observer = Observer()


def install() -> Observer:
    """The process's observer, installed in Task (once; idempotent)."""
    set_task_observer(_observer)
    return _observer


def report_unretrieved(loop: asyncio.AbstractEventLoop) -> None:
    """Report the failed tasks of ``loop`` whose exception nobody has retrieved."""
    for task in sorted(list(_observer.failed_tasks), key=lambda t: t.get_name()):
        if task._loop is not loop:
            continue
        _observer.failed_tasks.discard(task)
        if not task._log_traceback:
            continue
        task._log_traceback = False  # reported now: not again when it is collected
        loop.call_exception_handler(
            {
                "message": "Task exception was never retrieved",
                "exception": task._exception,
                "future": task,
            }
        )
