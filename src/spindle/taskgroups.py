"""TaskGroup, the class users hold: spindle's task group, weak-referenceable and subclassable.

``TaskGroupCore`` (``_taskgroupcore.py``, which explains how a group works) is the group's
synchronous half, compiled into a native class in the compiled build: creating tasks and
hearing that they are done.  Native classes cannot offer weak references safely (mypyc does not
clear them when an object dies: mypyc issue 1102), nor take attributes they do not declare,
and asyncio's TaskGroup does both, as an ordinary Python class.  This subclass adds the
interpreter's weak-reference slot and an instance dictionary, as ``Future`` does for
``FutureCore``, and the asynchronous half: entering, waiting for the tasks and exiting.

That half stays interpreted, in both builds, because an exception thrown into a compiled
coroutine at an ``await`` stays set as the exception being handled in the coroutine that
awaited it: a CancelledError that interrupted the wait would become the ``__context__`` of the
ExceptionGroup raised next, where asyncio's has none (tests/differential holds the two
together).  It runs once per group; the per-task work is compiled.

This module is deliberately not compiled (it is not in ``compiled_modules.txt``).
"""

from __future__ import annotations

import contextvars
from types import TracebackType
from typing import Self

from spindle import events
from spindle._core.futures import note_owner
from spindle._core.tasks import current_task
from spindle._taskgroupcore import (
    UNCANCEL_AFTER_WAITING,
    GroupState,
    TaskGroupCore,
    is_base_error,
    is_cancellation,
)
from spindle.exceptions import CancelledError

__all__ = ["TaskGroup"]


class TaskGroup(TaskGroupCore):
    """Asynchronous context manager that runs a group of tasks and waits for all of them.

    Any exception other than CancelledError raised by a task cancels the remaining tasks
    and the body; the exceptions are then raised together as an ExceptionGroup.
    """

    __slots__ = ("__dict__", "__weakref__")

    async def __aenter__(self) -> Self:
        if self._state is not GroupState.CREATED:
            raise RuntimeError(f"cannot enter: TaskGroup {self!r} has already been entered")
        if self._loop is None:
            self._loop = events.get_running_loop()
        parent = current_task(self._loop)
        if parent is None:
            raise RuntimeError(f"cannot enter: TaskGroup {self!r} cannot determine the parent task")
        self._parent_task = parent
        self._task_done = self._on_task_done
        self._callback_context = contextvars.copy_context()
        self._state = GroupState.ENTERED
        if self._cancel_on_enter:
            self.cancel()
        return self

    async def __aexit__(
        self,
        et: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        try:
            return await self._aexit(et, exc)
        finally:
            # Exceptions hold frames and frames hold exceptions: drop ours to spare the GC.
            self._state = GroupState.EXITED
            self._parent_task = None
            self._errors = []
            self._base_error = None
            self._task_done = None
            self._callback_context = None
            exc = None

    async def _aexit(self, et: type[BaseException] | None, exc: BaseException | None) -> bool:
        self._state = GroupState.EXITING
        if exc is not None and is_base_error(exc) and self._base_error is None:
            self._base_error = exc
        body_cancelled = is_cancellation(et)
        propagate: BaseException | None = exc if body_cancelled else None
        # Withdraw the group's own cancellation of its parent: 3.13 once the tasks are done,
        # 3.11 and 3.12 here, so that a request made while waiting (a task failing then)
        # stays counted in the parent's cancelling(), as it does there.  A request made by
        # cancel() is withdrawn after waiting on every Python: no asyncio has that method,
        # so it gets the later, sound bookkeeping.
        withdraw_later = UNCANCEL_AFTER_WAITING or self._stopped_by_cancel
        if not withdraw_later and self._parent_cancel_requested:
            left = self._withdraw_parent_cancellation()
            if left == 0:
                propagate = None  # the cancellation was only ours
        if et is not None and not self._aborting:
            # The body failed, or the parent is being cancelled: stop the tasks.
            self._abort()
        pending, interrupting = await self._wait_for_tasks()
        if interrupting is not None:
            propagate = interrupting  # the parent was cancelled from outside while we waited
        if self._base_error is not None:
            self._report_suppressed_errors()
            raise self._base_error
        if (UNCANCEL_AFTER_WAITING or self._stopped_by_cancel) and self._parent_cancel_requested:
            if self._withdraw_parent_cancellation() == 0:
                propagate = None
            elif propagate is None:
                # Someone else's cancellation is pending too: let it through (gh-155433).
                propagate = pending
        if propagate is not None and not self._errors:
            raise propagate  # no error to report: let the cancellation through
        if et is not None and exc is not None and not body_cancelled:
            self._errors.append(exc)
        if self._errors:
            self._raise_errors(et, exc)
        return True  # suppress whatever the body raised: it has been reported above

    async def _wait_for_tasks(self) -> tuple[BaseException | None, BaseException | None]:
        """Wait until no task is left.

        The wait is a loop because the parent can be cancelled (from outside) while it
        waits, even repeatedly.  Returns the last CancelledError received meanwhile, and the
        one that started a shutdown (if one did): that one must propagate.
        """
        last: BaseException | None = None
        interrupting: BaseException | None = None
        assert self._loop is not None
        while self._tasks:
            if self._on_completed is None:
                self._on_completed = self._loop.create_future()
                note_owner(self._on_completed, self)
            try:
                await self._on_completed
            except CancelledError as cancelled:
                last = cancelled
                if not self._aborting:
                    interrupting = cancelled
                    self._abort()
            self._on_completed = None
        return last, interrupting

