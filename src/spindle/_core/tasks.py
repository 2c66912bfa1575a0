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
done-callback wakes the task with CancelledError), from SCHEDULED it sets ``_must_cancel`` so
the coming step throws CancelledError in.  Either way the task next passes through RUNNING,
where the coroutine decides: let CancelledError out (CANCELLED) or catch it and go on.
An eager task (``eager_start``) takes its first step inside ``create_task``, skipping
SCHEDULED once.

Cancellation follows asyncio 3.11.  ``cancel()`` counts a request (``cancelling()``), and
either cancels the future the task is waiting on (whose CancelledError then flows into the
coroutine) or, when there is none, sets ``_must_cancel`` so the *next* step throws
CancelledError.  The coroutine may catch it; ``uncancel()`` lets structured-concurrency code
(``timeout``, ``TaskGroup``) take back a request it made itself.

The attribute names ``_must_cancel``, ``_fut_waiter``, ``_coro`` and (from Future)
``_callbacks`` keep asyncio's meaning on purpose: anyio reads them.

spindle keeps every task that is not yet done in a strong set, so a fire-and-forget task
cannot be garbage-collected halfway through (asyncio keeps only weak references and warns
users to keep their own).  Closing a loop forgets its pending tasks.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import itertools
import linecache
import os
import sys
import traceback
import types
from collections.abc import Callable, Coroutine
from typing import IO, Any, Protocol, TypeVar

from spindle import _compat
from spindle._core import current
from spindle._core.coroutines import _COROUTINE_TYPES, iscoroutine, iscoroutinefunction
from spindle._core.futures import _FINISHED, _PENDING, Future, FutureState, isfuture
from spindle._core.handles import Handle
from spindle._core.scheduler import Scheduler
from spindle.exceptions import CancelledError, InvalidStateError

__all__ = [
    "Task",
    "TaskObserver",
    "add_bookkeeping_callback",
    "all_tasks",
    "create_eager_task_factory",
    "current_task",
    "eager_task_factory",
    "ensure_future",
    "forget_tasks_of",
    "iscoroutine",
    "iscoroutinefunction",
    "set_task_observer",
]

T = TypeVar("T")

_new_object = object.__new__

_task_numbers = itertools.count(1)

# Bound once: looked up on every step.
_enter_task = _compat.enter_task
_leave_task = _compat.leave_task
_register_task = _compat.register_task

# Every Task not yet done: the strong references promised above.
_live_tasks: set[Task[Any]] = set()


class TaskObserver(Protocol):
    """What ``spindle.diagnostics`` is told about two rare moments of a task's life.

    Both are called from ``Task._step`` on paths a step takes only when an exception is
    involved, so an observer costs nothing on the common path, and no observer (None)
    costs one global read there.  An observer must not raise.
    """

    def cancellation_caught(self, task: Task[Any], exc: CancelledError) -> None:
        """A CancelledError thrown into the task's coroutine was caught: the coroutine
        suspended again instead of ending (cleanup in ``finally``, or swallowing it)."""

    def failed(self, task: Task[Any]) -> None:
        """The task ended with an exception (now stored in it)."""


_observer: TaskObserver | None = None

# Whether a failed task's traceback loses spindle's own frames (``_hide_runtime_frames``);
# SPINDLE_SHOW_INTERNAL_FRAMES=1 keeps them, for debugging spindle itself.
hide_runtime_frames = True


def set_task_observer(observer: TaskObserver | None) -> TaskObserver | None:
    """Install ``observer`` (None: none); returns the one it replaces."""
    global _observer
    previous, _observer = _observer, observer
    return previous

class Task(Future[T]):
    """A coroutine scheduled on a loop, and the Future of its outcome."""

    __slots__ = (
        "_context",
        "_coro",
        "_fut_waiter",
        "_log_destroy_pending",
        "_must_cancel",
        "_name",
        "_num_cancels_requested",
        "_origin",
        "_step_handle",
    )

    _coro: Coroutine[Any, Any, T]
    _context: contextvars.Context
    _name: str | int  # an int until the default name "Task-<int>" is first asked for
    _fut_waiter: Any
    _must_cancel: bool
    _num_cancels_requested: int
    _log_destroy_pending: bool
    # (filename, line, function) of the create_task call, when the loop tracks origins.
    _origin: tuple[str, int, str] | None
    # The handle that runs the next step, kept while the task is pending so that a bare
    # ``yield`` (sleep(0)) requeues it instead of allocating a new one.  The task and its
    # handle refer to each other, so finishing (``_finish``) drops it.
    _step_handle: Handle | None

    def __init__(
        self,
        coro: Coroutine[Any, Any, T],
        *,
        loop: asyncio.AbstractEventLoop | None = None,
        name: object = None,
        context: contextvars.Context | None = None,
        eager_start: bool = False,
    ) -> None:
        # Until _log_destroy_pending is set, at the end, __del__ finds nothing to report.
        if loop is None:
            loop = current.current_loop("Task()")
        if not isinstance(coro, _COROUTINE_TYPES):
            raise TypeError(f"a coroutine was expected, got {coro!r}")
        # Future.__init__'s fields, set here directly: creating tasks is a hot path, and this
        # saves a call per task.  Keep the two lists of fields in step.
        self._loop = loop
        self._log_traceback = False
        self._state = _PENDING
        self._result = None
        self._exception = None
        self._exception_tb = None
        self._callback0 = None
        self._context0 = None
        self._more_callbacks = None
        self._cancel_message = None
        self._cancelled_exc = None
        self._asyncio_future_blocking = False
        # spindle's own loop, open and not debugging: the common case, with shortcuts below.
        plain = loop if isinstance(loop, Scheduler) and loop._plain else None
        self._source_traceback = (
            None
            if plain is not None or not loop.get_debug()
            else traceback.extract_stack(sys._getframe(1))
        )
        # The Task's own fields.
        self._coro = coro
        # The default name is formatted only if someone asks for it (see get_name).
        self._name = next(_task_numbers) if name is None else str(name)
        self._context = contextvars.copy_context() if context is None else context
        self._fut_waiter = None
        self._must_cancel = False
        self._num_cancels_requested = 0
        self._origin = None
        self._step_handle = None
        self._log_destroy_pending = True
        _live_tasks.add(self)
        _register_task(self)
        if eager_start and loop.is_running():
            self._eager_start()
        elif plain is not None:
            # Handle.__init__'s body, written out as in the loop's call_soon (hot path).
            handle = self._step_handle = _new_object(Handle)
            handle._callback = self._step
            handle._args = ()
            handle._cancelled = False
            handle._loop = plain
            handle._context = self._context
            handle._repr = None
            handle._source_traceback = None
            plain._ready.append(handle)
        else:
            loop.call_soon(self._step, context=self._context)

    # -- identity ------------------------------------------------------------------------

    def get_name(self) -> str:
        name = self._name
        if isinstance(name, int):
            name = self._name = f"Task-{name}"
        return name

    def set_name(self, value: object) -> None:
        self._name = str(value)

    def get_coro(self) -> Coroutine[Any, Any, T] | None:
        return self._coro

    def get_context(self) -> contextvars.Context:
        return self._context

    def set_result(self, result: object) -> None:
        raise RuntimeError("Task does not support set_result operation")

    def set_exception(self, exception: object) -> None:
        raise RuntimeError("Task does not support set_exception operation")

    # -- cancellation --------------------------------------------------------------------

    def cancel(self, msg: Any = None) -> bool:
        """Ask the coroutine to stop: CancelledError is thrown into it at its next step."""
        self._log_traceback = False
        if self._state is not _PENDING:
            return False
        self._num_cancels_requested += 1
        waiter = self._fut_waiter
        if waiter is not None and waiter.cancel(msg=msg):
            # The waiter's cancellation wakes us, and the step throws CancelledError.
            return True
        self._must_cancel = True
        self._cancel_message = msg
        return True

    def cancelling(self) -> int:
        """How many cancellation requests are pending (not taken back by ``uncancel``)."""
        return self._num_cancels_requested

    def uncancel(self) -> int:
        """Take back one cancellation request; returns how many remain."""
        if self._num_cancels_requested > 0:
            self._num_cancels_requested -= 1
            if self._num_cancels_requested == 0:
                self._must_cancel = False
        return self._num_cancels_requested

    # -- stepping ------------------------------------------------------------------------
    #
    # ``_step`` is the hottest function in spindle: it runs once per resumption of every
    # task.  Its common path (resume, then suspend on a future or a bare yield) is written
    # out in one function on purpose; the rare outcomes are delegated to ``_bad_yield``.

    def _step(self, exc: BaseException | None = None) -> None:
        """Resume the coroutine until it suspends or finishes (one scheduled callback)."""
        if self._state is not _PENDING:
            raise InvalidStateError(f"_step(): already done: {self!r}, {exc!r}")
        if self._must_cancel:
            if not isinstance(exc, CancelledError):
                exc = self._make_cancelled_error()
            self._must_cancel = False
        self._fut_waiter = None
        loop = self._loop
        coro = self._coro
        _enter_task(loop, self)
        try:
            if exc is None:
                result = coro.send(None)
            else:
                result = coro.throw(exc)
                # Only when an exception was thrown in and the coroutine went on: rare.
                if _observer is not None and isinstance(exc, CancelledError):
                    _observer.cancellation_caught(self, exc)
        except StopIteration as stop:
            if self._must_cancel:
                # cancel() arrived while the last step ran: honour it over the result.
                self._must_cancel = False
                self._settle_cancelled(self._cancel_message)
            else:
                # Future.set_result without its state check: a pending task only gets here.
                self._result = stop.value
                self._finish(_FINISHED)
                _live_tasks.discard(self)
        except CancelledError as cancelled:
            if hide_runtime_frames:
                _hide_runtime_frames(cancelled)
            self._cancelled_exc = cancelled
            self._settle_cancelled(None)
        except (KeyboardInterrupt, SystemExit) as fatal:
            Future.set_exception(self, fatal)
            _live_tasks.discard(self)
            raise
        except BaseException as error:
            if hide_runtime_frames:
                _hide_runtime_frames(error)
            Future.set_exception(self, error)
            _live_tasks.discard(self)
            if _observer is not None:
                _observer.failed(self)
        else:
            if result is None:
                # A bare yield (sleep(0)): let everything else that is ready run first.
                if isinstance(loop, Scheduler) and loop._plain:
                    handle = self._step_handle
                    if handle is None:
                        handle = self._step_handle = Handle(self._step, (), loop, self._context)
                    loop._ready.append(handle)
                else:
                    loop.call_soon(self._step, context=self._context)
            else:
                # A future: sleep until it is done.
                kind = type(result)
                if (
                    (kind is Future or kind is Task)
                    and result._callback0 is None
                    and result._asyncio_future_blocking
                    and result._loop is loop
                    and result is not self
                ):
                    # The commonest wait: one of spindle's own futures with no callback
                    # yet.  add_done_callback's work, written out (the first-callback slots).
                    result._asyncio_future_blocking = False
                    result._callback0 = self._wakeup
                    result._context0 = self._context
                elif getattr(result, "_asyncio_future_blocking", None) and result is not self and (
                    # spindle's own futures: read the slot, no call on this hot path.
                    (result._loop if isinstance(result, Future) else _loop_of(result)) is loop
                ):
                    result._asyncio_future_blocking = False
                    result.add_done_callback(self._wakeup, context=self._context)
                else:
                    self._bad_yield(result)
                    return
                self._fut_waiter = result
                if self._must_cancel and result.cancel(msg=self._cancel_message):
                    self._must_cancel = False
        finally:
            _leave_task(loop, self)
            # This frame may end up in the traceback of the exception the task keeps: drop
            # its references, or task and traceback would form a cycle only the GC frees.
            del self, exc

    def _finish(self, state: FutureState) -> None:
        """Future._finish, recycling the idle step handle for the first done-callback.

        A finished task takes no more steps, and its step handle is not queued (a task is
        never scheduled twice, and this runs inside the step): rather than allocate a Handle
        for the first done-callback, the step handle is pointed at it.  One allocation less
        per task, on the path every task takes.
        """
        handle = self._step_handle
        self._step_handle = None  # the task and its handle referred to each other
        loop = self._loop
        callback = self._callback0
        if (
            handle is None
            or callback is None
            or self._more_callbacks is not None
            or not (isinstance(loop, Scheduler) and loop._plain)
        ):
            Future._finish(self, state)
            return
        self._state = state
        handle._callback = callback
        handle._args = (self,)
        handle._context = self._context0  # type: ignore[assignment]
        self._callback0 = self._context0 = None
        loop._ready.append(handle)

    def _bad_yield(self, result: Any) -> None:
        """The coroutine yielded something a task cannot wait on: throw an error into it."""
        blocking = getattr(result, "_asyncio_future_blocking", None)
        if blocking is None:
            if inspect.isgenerator(result):
                problem = (
                    "yield was used instead of yield from for generator "
                    f"in task {self!r} with {result!r}"
                )
            else:
                problem = f"Task got bad yield: {result!r}"
        elif not blocking:
            problem = f"yield was used instead of yield from in task {self!r} with {result!r}"
        elif result is self:
            problem = f"Task cannot await on itself: {self!r}"
        else:
            problem = f"Task {self!r} got Future {result!r} attached to a different loop"

        self._loop.call_soon(self._step, RuntimeError(problem), context=self._context)

    def _eager_start(self) -> None:
        """Run the first step now, inside create_task, as the loop's current task."""
        loop = self._loop
        outer = asyncio.current_task(loop)
        if outer is not None:
            _leave_task(loop, outer)
        try:
            self._step()
        finally:
            if outer is not None:
                _enter_task(loop, outer)

    def _wakeup(self, future: Any) -> None:
        """Done-callback of the future the task waited on: take the next step."""
        try:
            if (
                isinstance(future, Future)
                and future._state is _FINISHED
                and future._exception is None
            ):
                self._step()  # the common case, without calling result()
                return
            try:
                future.result()
            except BaseException as exc:
                self._step(exc)
            else:
                self._step()
        finally:
            # As in _step: this frame is the f_back of _step's, which is in the traceback of
            # an exception the task keeps; holding the task here would make a cycle.
            del self, future

    def _settle_cancelled(self, msg: Any) -> None:
        Future.cancel(self, msg=msg)
        _live_tasks.discard(self)

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
        fields = super()._repr_fields()
        if self._num_cancels_requested and self._state is _PENDING:
            fields[0] = "cancelling"
        fields.insert(1, f"name={self.get_name()!r}")
        fields.insert(2, f"coro=<{_describe_coroutine(self._coro)}>")
        if self._fut_waiter is not None:
            fields.insert(3, f"wait_for={self._fut_waiter!r}")
        return fields

    def __del__(self) -> None:
        # Runs for every task: the common case (finished, result retrieved) returns after
        # two reads, without calling Future.__del__.
        try:
            destroyed_pending = self._log_destroy_pending and self._state is _PENDING
            unretrieved = self._log_traceback
        except AttributeError:  # created with __new__ alone: nothing to report
            return
        if destroyed_pending:
            context: dict[str, Any] = {
                "task": self,
                "message": "Task was destroyed but it is pending!",
            }
            if self._source_traceback:
                context["source_traceback"] = self._source_traceback
            self._loop.call_exception_handler(context)
        if unretrieved:
            super().__del__()


_SPINDLE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


def _hide_runtime_frames(error: BaseException) -> None:
    """Drop spindle's own frames from the traceback a failed task keeps.

    An exception reaching the task passes through frames that say nothing to the user:
    ``_step`` (which caught it), and, for an exception that came from an awaited future,
    ``Future.__await__``, ``Future.result`` and ``_wakeup``.  asyncio's C Task and Future
    have no frames there.  The traceback is rebuilt without them (new traceback entries for
    the same frames; the rare path of a failure only).  A traceback made of spindle frames
    alone (an error of spindle's own) is kept whole.
    """
    tb = error.__traceback__
    kept: list[types.TracebackType] = []
    total = 0
    while tb is not None:
        total += 1
        if not tb.tb_frame.f_code.co_filename.startswith(_SPINDLE_DIR):
            kept.append(tb)
        tb = tb.tb_next
    if not kept or len(kept) == total:
        return
    rebuilt: types.TracebackType | None = None
    for entry in reversed(kept):
        rebuilt = types.TracebackType(rebuilt, entry.tb_frame, entry.tb_lasti, entry.tb_lineno)
    error.__traceback__ = rebuilt


def _loop_of(future: Any) -> Any:
    """A future's loop: ``get_loop()``, or ``_loop`` for futures from before get_loop existed."""
    try:
        return future.get_loop()
    except AttributeError:
        return future._loop


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


def add_bookkeeping_callback(
    future: Any, fn: Callable[[Any], object], context: contextvars.Context
) -> None:
    """``future.add_done_callback(fn, context=context)`` for the runtime's own bookkeeping.

    gather and TaskGroup register one callback on each of their tasks.  ``add_done_callback``
    without a context would copy the current context for each of them; instead the caller
    makes one copy (per gather, per group) and passes it for all, since its callback reads
    no context variable and callbacks never run nested.  On one of spindle's pending tasks
    the first-callback slots are filled directly.  One object less per task, which with
    thousands of tasks in flight is much less for the garbage collector to walk.
    """
    if type(future) is Task and future._state is _PENDING and future._callback0 is None:
        future._callback0 = fn
        future._context0 = context
    else:
        future.add_done_callback(fn, context=context)


def forget_tasks_of(loop: asyncio.AbstractEventLoop) -> None:
    """Drop the strong references to ``loop``'s pending tasks (the loop is closing)."""
    for task in [t for t in _live_tasks if t._loop is loop]:
        _live_tasks.discard(task)


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

