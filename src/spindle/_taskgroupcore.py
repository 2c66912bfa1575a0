"""Structured concurrency: a TaskGroup owns the tasks it creates and outlives none of them.

``async with TaskGroup() as tg:`` waits on exit for every task created with
``tg.create_task``.  The first task to fail starts a shutdown: every other task, and the body
of the ``async with`` (the *parent* task), is cancelled; once all have finished the failures
are raised together as a BaseExceptionGroup.  KeyboardInterrupt and SystemExit are not
grouped: they propagate as themselves.

The subtle part is the parent's cancellation.  The group cancels its parent to interrupt
the body, but the parent may *also* be cancelled from outside (a timeout, a caller).  The
group records that it asked (``_parent_cancel_requested``) and withdraws exactly its own
request with ``uncancel()`` on exit: if that brings the count to zero the CancelledError was
only ours and is swallowed; otherwise someone else wants the parent cancelled and the
CancelledError propagates.

When exactly the group withdraws its request changed in 3.13 (after its tasks are done,
rather than on entering ``__aexit__``, and re-requesting an outside cancellation it would
otherwise swallow); spindle does what the running Python does (``UNCANCEL_AFTER_WAITING``).

``cancel()`` (Python 3.15) reuses that machinery for a *requested* stop: it shuts the group
down as a failure would, but with no error to report, so the ``async with`` simply ends.

Two things vary independently, so they are kept apart: where the group is in its life
(``GroupState``) and whether it is shutting down (``_aborting``, possible both while the
body runs and while ``__aexit__`` waits).

This module is the group's synchronous half, compiled into a native class in the compiled
build: what runs once per task (``create_task``, which then adds no Python frame between the
program and the loop, so diagnostics that note where each task was created have one frame
less to walk, and ``_on_task_done``) and the bookkeeping around it.  ``taskgroups.TaskGroup``,
the class users hold, is an ordinary Python subclass of it, as ``Future`` is of ``FutureCore``,
and holds the asynchronous half: entering, waiting for the tasks and exiting (``_aexit``).
"""

from __future__ import annotations

import asyncio
import collections.abc
import contextvars
import enum
import sys
import types
from collections.abc import Coroutine
from typing import Any, Final, TypeVar

from spindle._core.native import from_none, mypyc_attr
from spindle._core.taskcore import add_bookkeeping_callback
from spindle._core.tasks import Task
from spindle.exceptions import CancelledError

__all__ = [
    "UNCANCEL_AFTER_WAITING",
    "GroupState",
    "TaskGroupCore",
    "is_base_error",
    "is_cancellation",
]

_T = TypeVar("_T")


class GroupState(enum.Enum):
    """Where a TaskGroup is in its life."""

    CREATED = "created"
    ENTERED = "entered"  # the body of the `async with` is running
    EXITING = "exiting"  # __aexit__ is waiting for the tasks
    EXITED = "exited"


def is_base_error(exc: BaseException) -> bool:
    """Errors that must propagate as themselves rather than inside an exception group."""
    return isinstance(exc, (SystemExit, KeyboardInterrupt))


def _close(coro: object) -> None:
    """Close a coroutine the group refuses to run (spares a "never awaited" warning)."""
    if isinstance(coro, (collections.abc.Coroutine, types.GeneratorType)):
        coro.close()


_ENTERED: Final = GroupState.ENTERED

# Where the running Python's TaskGroup withdraws its own cancellation of the parent task (see
# _aexit), and whether it re-requests an outside cancellation when raising errors: 3.13.
UNCANCEL_AFTER_WAITING = sys.version_info >= (3, 13)
# 3.13 takes subclasses of CancelledError for cancellations; 3.11 and 3.12 only the class.
CANCELLATION_SUBCLASSES = sys.version_info >= (3, 13)
# 3.13 closes a coroutine that create_task() refuses; earlier ones leave it to its caller.
CLOSE_REFUSED_COROUTINES = sys.version_info >= (3, 13)


def is_cancellation(et: type[BaseException] | None) -> bool:
    if et is None:
        return False
    if CANCELLATION_SUBCLASSES:
        return issubclass(et, CancelledError)
    return et is CancelledError


@mypyc_attr(allow_interpreted_subclasses=True)
class TaskGroupCore:
    """All of TaskGroup's behaviour (``taskgroups.TaskGroup`` is the class users hold)."""

    # Declared, so that the pure build's class has no instance dictionary either, and
    # TaskGroup adds one (and the weak-reference slot) the same way in both builds.
    __slots__ = (
        "_aborting",
        "_base_error",
        "_callback_context",
        "_cancel_on_enter",
        "_errors",
        "_loop",
        "_on_completed",
        "_parent_cancel_requested",
        "_parent_task",
        "_state",
        "_stopped_by_cancel",
        "_task_done",
        "_tasks",
    )

    def __init__(self) -> None:
        self._state = GroupState.CREATED
        self._aborting = False
        self._cancel_on_enter = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._parent_task: asyncio.Task[Any] | None = None
        self._parent_cancel_requested = False
        self._stopped_by_cancel = False  # the parent's cancellation was requested by cancel()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._errors: list[BaseException] = []
        self._base_error: BaseException | None = None
        self._on_completed: asyncio.Future[bool] | None = None
        # Set from entry to exit: the done-callback every task of the group gets, one bound
        # method rather than one per task (it refers back to the group, so exit drops it), and
        # the context it runs in, a copy of the parent's (asyncio copies one per task; the
        # callback reads no context variable).
        self._task_done: collections.abc.Callable[[asyncio.Task[Any]], None] | None = None
        self._callback_context: contextvars.Context | None = None

    def __repr__(self) -> str:
        info = [""]
        if self._tasks:
            info.append(f"tasks={len(self._tasks)}")
        if self._errors:
            info.append(f"errors={len(self._errors)}")
        if self._aborting:
            info.append("cancelling")
        elif self._state is not GroupState.CREATED:
            info.append("entered")
        return f"<TaskGroup{' '.join(info)}>"

    def create_task(
        self,
        coro: Coroutine[Any, Any, _T],
        *,
        name: str | None = None,
        context: contextvars.Context | None = None,
    ) -> asyncio.Task[_T]:
        """Create a task in this group (like ``asyncio.create_task``) and return it."""
        if self._state is not _ENTERED or self._aborting:
            self._refuse_unless_open(coro)
        loop = self._loop
        assert loop is not None
        if context is not None:
            task = loop.create_task(coro, name=name, context=context)
        elif name is not None:
            task = loop.create_task(coro, name=name)
        else:
            task = loop.create_task(coro)
        # Even a task that finished eagerly gets the callback (scheduled, not run now): a
        # failure must not cancel the parent before create_task has returned (gh-128550).
        self._tasks.add(task)
        callback, callback_context = self._task_done, self._callback_context
        assert callback is not None and callback_context is not None  # open: checked above
        add_bookkeeping_callback(task, callback, callback_context)
        if self._aborting and not task.done():
            task.cancel()  # an eager task shut the group down while it was being created
        return task

    def _refuse_unless_open(self, coro: object) -> None:
        """Raise (closing ``coro``) unless the group may still take tasks."""
        if self._state is GroupState.CREATED:
            problem = "has not been entered"
        elif self._state is GroupState.EXITED or (
            self._state is GroupState.EXITING and not self._tasks
        ):
            problem = "is finished"
        elif self._aborting:
            problem = "is shutting down"
        else:
            return  # exiting, but still waiting for tasks: they may add more
        if CLOSE_REFUSED_COROUTINES:
            _close(coro)
        raise RuntimeError(f"cannot create a task: TaskGroup {self!r} {problem}")

    def cancel(self) -> None:
        """Stop the group early, without an error (Python 3.15).

        Every unfinished task of the group and the body of the ``async with`` are cancelled,
        and the ``async with`` then exits normally, raising no CancelledError.  Called before
        the group is entered, the group is cancelled on entry; called after it has exited, it
        does nothing.  Calling it again has no further effect.
        """
        if self._state is GroupState.CREATED:
            self._cancel_on_enter = True
            return
        if self._state is GroupState.EXITED or (
            self._state is GroupState.EXITING and not self._tasks
        ):
            return
        if self._aborting:
            return
        self._abort()
        if self._parent_task is not None and not self._parent_cancel_requested:
            self._parent_cancel_requested = True
            self._stopped_by_cancel = True
            self._parent_task.cancel()

    def _abort(self) -> None:
        """Shut down: cancel every task that is not done."""
        self._aborting = True
        for task in self._tasks:
            if not task.done():
                task.cancel()

    def _withdraw_parent_cancellation(self) -> int:
        """``uncancel()`` the parent; its remaining cancellation count."""
        assert self._parent_task is not None
        return self._parent_task.uncancel()

    def _raise_errors(self, et: type[BaseException] | None, exc: BaseException | None) -> None:
        assert self._parent_task is not None
        if UNCANCEL_AFTER_WAITING and self._parent_task.cancelling():
            # The parent is also being cancelled from outside: re-request it, so that the
            # cancellation count stays as the outside left it.
            self._parent_task.uncancel()
            self._parent_task.cancel()
        if et is not None and issubclass(et, GeneratorExit) and len(self._errors) == 1:
            # An async generator closed inside the group must see its GeneratorExit again.
            assert exc is not None
            raise exc
        raise from_none(BaseExceptionGroup("unhandled errors in a TaskGroup", self._errors))

    def _report_suppressed_errors(self) -> None:
        """KeyboardInterrupt/SystemExit propagates alone: report the other errors, not lose
        them (gh-135736)."""
        assert self._loop is not None
        for error in self._errors:
            if error is self._base_error:
                continue
            self._loop.call_exception_handler(
                {
                    "message": "TaskGroup task exception was not propagated because the "
                    "TaskGroup body is being closed with a BaseException",
                    "exception": error,
                    "task_group": self,
                }
            )

    def _on_task_done(self, task: Any) -> None:  # an asyncio.Task, as in create_task
        tasks = self._tasks
        tasks.discard(task)
        if not tasks:
            on_completed = self._on_completed
            if on_completed is not None and not on_completed.done():
                on_completed.set_result(True)
        if type(task) is Task and task._exception is None:
            return  # succeeded or cancelled (the common case, read without two calls)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is None:
            return
        self._errors.append(exc)
        if is_base_error(exc) and self._base_error is None:
            self._base_error = exc
        parent = self._parent_task
        assert parent is not None and self._loop is not None
        if parent.done():
            self._loop.call_exception_handler(
                {
                    "message": f"Task {task!r} has errored out but its parent task {parent} "
                    "is already completed",
                    "exception": exc,
                    "task": task,
                }
            )
            return
        if not self._aborting and not self._parent_cancel_requested:
            # Interrupt the body; __aexit__ withdraws this request with uncancel().
            self._abort()
            self._parent_cancel_requested = True
            parent.cancel()
