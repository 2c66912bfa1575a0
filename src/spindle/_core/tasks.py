"""spindle's Task: a Future that drives a coroutine.

A Task runs its coroutine one *step* at a time.  A step resumes the coroutine with
``send(None)`` (or ``throw(exc)``) and runs it until it suspends.  What the coroutine yields
says why it suspended:

* a future (anything speaking asyncio's future protocol): the task registers ``_wakeup`` as
  that future's done-callback and stays off the ready queue until it fires;
* ``None`` (a bare ``yield``, which is how ``sleep(0)`` is written): give the other ready
  callbacks one turn, then take the next step;
* anything else is a programming error, thrown back into the coroutine.

When the coroutine returns or raises, the task finishes with that result or exception.

How a wake-up delivers the awaited future's outcome follows asyncio's Task, because where an
exception enters a coroutine is visible to it.  A result is not touched: the step resumes the
coroutine, and the ``await`` reads the result itself.  A failure or a cancellation is read by
``_wakeup`` and *thrown* in.  Raised inside the await instead, the exception would be chained
(``__context__``) to whatever exception any frame up the coroutine's await chain is handling;
thrown in, it is chained only where it enters a frame that handles one.  Reading it also marks
a failure retrieved when a ``cancel()`` that arrived meanwhile is what the step throws instead.

A Task's states
---------------
As a Future, a task is PENDING until it is FINISHED or CANCELLED (``futures.py``).  While it
is pending, it is in one of three places, and the fields say which:

                       ┌───────────── bare yield ─────────────┐
                       ▼                                      │
    create_task ─▶ SCHEDULED ──the loop runs _step──▶ RUNNING ┤
                       ▲                                      │ yields a future
                       │                                      ▼
                       └──── future done: _wakeup ──── WAITING (on _fut_waiter)

    RUNNING ──coroutine returns / raises──▶ FINISHED
    RUNNING ──CancelledError escapes──────▶ CANCELLED

* SCHEDULED: its step handle is in the ready queue (``_fut_waiter`` is None);
* RUNNING: ``_step`` is on the stack and the task is the loop's current task;
* WAITING: ``_fut_waiter`` is the future it awaits; its ``_wakeup`` is that future's
  done-callback.

``cancel()`` does not move the task itself: from WAITING it cancels ``_fut_waiter`` (whose
done-callback wakes the task with CancelledError), from SCHEDULED it sets ``_cancel_next_step`` so
the coming step throws CancelledError in.  Either way the task next passes through RUNNING,
where the coroutine decides: let CancelledError out (CANCELLED) or catch it and go on.
An eager task (``eager_start``) takes its first step inside ``create_task``, skipping
SCHEDULED once.

Cancellation follows the running Python's asyncio.  ``cancel()`` counts a request
(``cancelling()``), and either cancels the future the task is waiting on (whose
CancelledError then flows into the coroutine) or, when there is none, sets
``_cancel_next_step`` so the *next* step throws CancelledError.  The coroutine may catch it;
``uncancel()`` lets structured-concurrency code (``timeout``, ``TaskGroup``) take back a
request it made itself.  From 3.13, taking back the last one also withdraws a cancellation
not yet delivered (``UNCANCEL_WITHDRAWS_PENDING_CANCEL`` in ``taskcore``); up to 3.12 the
next step still throws it in.

The attribute names ``_fut_waiter``, ``_coro`` and (from Future) ``_callbacks`` keep asyncio's
meaning on purpose: anyio reads them.  anyio also reads ``_must_cancel``, and reads it next to
``isinstance(task._fut_waiter, asyncio.Future)``: it leaves alone a task whose waiter is
already done (its wake-up is queued: cancelling it now would throw away the waiter's result,
an item of a memory stream, say) and counts a cancelled waiter as a pending cancellation.
spindle's futures are not ``asyncio.Future`` instances, so that half of anyio's test is always
false here.  So the flag the steps use is ``_cancel_next_step`` (asyncio's ``_must_cancel``,
renamed), and ``_must_cancel`` is a property for such readers: true when a cancellation will be
thrown in at the next step, or when the task waits on a future that is already done (its next
step is queued and will deliver that future's outcome, CancelledError for a cancelled one).
anyio then sees on spindle what it sees on asyncio.

The hot half of a task (stepping, waking, cancelling, finishing) is ``taskcore.TaskCore``;
``Task`` adds what people read (stacks, reprs) and the weak-reference slot asyncio's task
registry needs (``taskcore`` says why the two halves are split).

spindle keeps every task that is not yet done in a strong set, so a fire-and-forget task
cannot be garbage-collected halfway through (asyncio keeps only weak references and warns
users to keep their own).  Closing a loop forgets its pending tasks.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import linecache
import sys
import traceback
import types
from collections.abc import Callable, Coroutine
from typing import IO, Any, Final, Generic, Self, TypeVar

from spindle._core import current
from spindle._core.build import COMPILED
from spindle._core.coroutines import iscoroutine, iscoroutinefunction
from spindle._core.faces import Future
from spindle._core.futures import _PENDING, isfuture
from spindle._core.handles import RUNTIME_FILES, Handle
from spindle._core.observers import TaskObserver
from spindle._core.taskcore import (
    TaskCore,
    set_hide_runtime_frames,
    set_plain_task_class,
    set_task_observer,
)

__all__ = [
    "Task",
    "TaskObserver",
    "all_tasks",
    "callback_of",
    "create_eager_task_factory",
    "current_task",
    "eager_task_factory",
    "ensure_future",
    "iscoroutine",
    "iscoroutinefunction",
    "note_origin",
    "origin_of",
    "set_hide_runtime_frames",
    "set_task_observer",
    "task_of_step",
]

T = TypeVar("T")

_allocate_task: Final = TaskCore.__new__


# The interpreter does not count a base whose only slots are __weakref__ and __dict__ (Future)
# as a layout of its own, so the native TaskCore and Future combine.
class Task(TaskCore, Future, Generic[T]):
    """A coroutine scheduled on a loop, and the Future of its outcome."""

    # The weak-reference slot and the instance dictionary come from ``Future``, the class
    # users hold (``faces.py`` says why they are there and not in the native halves).
    __slots__ = ()

    if COMPILED:

        def __new__(cls, *args: Any, **kwargs: Any) -> Self:
            # The finalizer's two flags, set before anything can fail (faces.Future.__new__
            # says why; the finalizer is TaskCore.__del__).  The loop's create_task
            # allocates through TaskCore.__new__ and sets them first thing.
            task = _allocate_task(cls)
            task._log_destroy_pending = False
            task._log_traceback = False
            return task

    # -- introspection -------------------------------------------------------------------

    def get_stack(self, *, limit: int | None = None) -> list[types.FrameType]:
        """The suspended coroutine's frame, or the traceback frames of its exception."""
        frames: list[types.FrameType] = []
        frame = _coroutine_frame(self._coro)
        if frame is not None:
            while frame is not None and (limit is None or len(frames) < limit):
                frames.append(frame)
                frame = frame.f_back
            frames.reverse()
        elif self._exception is not None:
            tb = self._exception.__traceback__
            while tb is not None and (limit is None or len(frames) < limit):
                frames.append(tb.tb_frame)
                tb = tb.tb_next
        return frames

    def print_stack(self, *, limit: int | None = None, file: IO[str] | None = None) -> None:
        out = sys.stderr if file is None else file
        frames = self.get_stack(limit=limit)
        kind = "Traceback" if self._exception is not None else "Stack"
        if frames:
            print(f"{kind} for {self!r} (most recent call last):", file=out)
        else:
            print(f"No stack for {self!r}", file=out)
        for frame in frames:
            code = frame.f_code
            lineno = frame.f_lineno or code.co_firstlineno
            print(f'  File "{code.co_filename}", line {lineno}, in {code.co_name}', file=out)
            line = linecache.getline(code.co_filename, lineno, frame.f_globals).strip()
            if line:
                print(f"    {line}", file=out)
        if self._exception is not None:
            for line in traceback.format_exception_only(self._exception):
                print(line, file=out, end="")

    def _repr_fields(self) -> list[str]:
        fields = TaskCore._repr_fields(self)
        if self._num_cancels_requested and self._state is _PENDING:
            fields[0] = "cancelling"
        fields.insert(1, f"name={self.get_name()!r}")
        fields.insert(2, f"coro=<{_describe_coroutine(self._coro)}>")
        if self._fut_waiter is not None:
            fields.insert(3, f"wait_for={self._fut_waiter!r}")
        return fields



def note_origin(task: TaskCore) -> None:
    """Record the innermost frame outside the runtime (spindle's, asyncio's) as ``task``'s origin.

    ``BaseLoop.create_task`` does the same, written out; this one serves the tasks that were
    created before origins were tracked (asyncio's runner makes its main task first).
    """
    frame: types.FrameType | None = sys._getframe()
    while frame is not None and frame.f_code.co_filename in RUNTIME_FILES:
        frame = frame.f_back
    if frame is not None:
        task._origin_code = frame.f_code
        task._origin_lasti = frame.f_lasti


def origin_of(task: object) -> tuple[str, int, str] | None:
    """(file, line, function) where ``task`` was created, if its loop tracked origins."""
    if not isinstance(task, Task) or task._origin_code is None:
        return None
    code = task._origin_code
    return (code.co_filename, line_at(code, task._origin_lasti), code.co_name)


def line_at(code: types.CodeType, offset: int) -> int:
    """The source line of the instruction at byte ``offset`` of ``code`` (a frame's f_lasti)."""
    for start, end, line in code.co_lines():
        if start <= offset < end and line is not None:
            return line
    return code.co_firstlineno


def task_of_step(callback: object) -> Task[Any] | None:
    """The task whose step ``callback`` takes (its ``_step``, ``_run`` or ``_wakeup``), else None.

    Told by the bound method's name: compiled methods have no ``__func__`` to compare.
    """
    task = getattr(callback, "__self__", None)
    if isinstance(task, Task) and getattr(callback, "__name__", None) in _STEP_NAMES:
        return task
    return None


_STEP_NAMES = frozenset({"_step", "_run", "_wakeup"})


def callback_of(entry: object) -> object:
    """What an entry of the loop's ready queue runs (``loop._running`` is one).

    A handle's callback, or, for a task that queued itself for its next step
    (``scheduler.ReadyEntry``), the task's ``_run``.
    """
    if isinstance(entry, TaskCore):
        return entry._run
    return entry._callback if isinstance(entry, Handle) else None


def _coroutine_frame(coro: object) -> types.FrameType | None:
    frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None)
    return frame if isinstance(frame, types.FrameType) else None


def _describe_coroutine(coro: object) -> str:
    """``name() running at file:line`` or ``name() done, defined at file:line``."""
    name = getattr(coro, "__qualname__", None) or type(coro).__name__
    frame = _coroutine_frame(coro)
    if frame is not None:
        return f"{name}() running at {frame.f_code.co_filename}:{frame.f_lineno}"
    code = getattr(coro, "cr_code", None) or getattr(coro, "gi_code", None)
    if code is not None:
        return f"{name}() done, defined at {code.co_filename}:{code.co_firstlineno}"
    return f"{name}()"


def current_task(loop: asyncio.AbstractEventLoop | None = None) -> asyncio.Task[Any] | None:
    """The task running on ``loop`` (default: the running loop), or None."""
    if loop is None:
        loop = current.get_running_loop()
    return asyncio.current_task(loop)


def all_tasks(loop: asyncio.AbstractEventLoop | None = None) -> set[asyncio.Task[Any]]:
    """Every task of ``loop`` (default: the running loop) that is not done."""
    if loop is None:
        loop = current.get_running_loop()
    return asyncio.all_tasks(loop)


def ensure_future(obj: Any, *, loop: asyncio.AbstractEventLoop | None = None) -> Any:
    """``obj`` as a future: futures as they are, coroutines and awaitables as new tasks."""
    if isfuture(obj):
        if loop is not None and loop is not obj.get_loop():
            raise ValueError(
                "The future belongs to a different loop than the one specified as the loop argument"
            )
        return obj
    close_on_failure = iscoroutine(obj)
    if not close_on_failure:
        if not inspect.isawaitable(obj):
            raise TypeError(
                "An asyncio.Future, a coroutine or an awaitable is required, "
                f"got {type(obj).__name__}"
            )
        obj = _await_it(obj)
        close_on_failure = True
    if loop is None:
        loop = current.current_loop("ensure_future()")
    try:
        return loop.create_task(obj)
    except RuntimeError:
        if close_on_failure:
            obj.close()  # it will never run: no "coroutine was never awaited" warning
        raise


async def _await_it(awaitable: Any) -> Any:
    return await awaitable


def eager_task_factory(
    loop: asyncio.AbstractEventLoop,
    coro: Coroutine[Any, Any, T],
    *,
    name: object = None,
    context: contextvars.Context | None = None,
) -> Task[T]:
    """A task factory whose tasks run their first step inside ``create_task``."""
    return Task(coro, loop=loop, name=name, context=context, eager_start=True)


def create_eager_task_factory(
    custom_task_constructor: Callable[..., Any],
) -> Callable[..., Any]:
    """A task factory that builds eager tasks with ``custom_task_constructor``."""

    def factory(
        loop: asyncio.AbstractEventLoop,
        coro: Coroutine[Any, Any, Any],
        *,
        name: object = None,
        context: contextvars.Context | None = None,
    ) -> Any:
        return custom_task_constructor(
            coro, loop=loop, name=name, context=context, eager_start=True
        )

    return factory


set_plain_task_class(Task)
