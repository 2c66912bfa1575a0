"""The part of a Task that runs its coroutine: stepping, waking, cancelling, finishing.

``TaskCore`` is the hot half of ``spindle.Task`` (``tasks.py`` adds the other half: names for
people, stacks, reprs).  It is compiled into a native class in the compiled build, while
``Task`` stays an ordinary Python subclass of it, for one reason: tasks must be
weak-referenceable (asyncio's ``all_tasks()`` keeps them in a ``WeakSet``, and libraries key
weak dictionaries by task), and mypyc's native classes do not clear their weak references when
they die (mypyc issue 1102).  ``Task`` gets its ``__weakref__`` slot from ``faces.Future``, a
Python class the interpreter clears properly, so the native half never holds weak references.
Methods called on the hot path are called on ``TaskCore`` directly (``TaskCore._finish(self,
...)``), which in the compiled build is a C call rather than a look-up through the subclass.

See ``tasks.py`` for what a Task is and the states it goes through.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import itertools
import sys
import types
from collections.abc import Callable, Coroutine, Generator, Iterator
from typing import Any, Final, cast

from spindle import _compat
from spindle._core import current
from spindle._core.build import COMPILED
from spindle._core.coroutines import _COROUTINE_TYPES
from spindle._core.faces import Future
from spindle._core.futures import (
    _CANCELLED,
    _FINISHED,
    _PENDING,
    FinalReport,
    FutureCore,
    FutureState,
)
from spindle._core.handles import capture_source_traceback, is_spindle_file, report_step_error
from spindle._core.native import mypyc_attr
from spindle._core.observers import TaskObserver
from spindle._core.resuming import resume
from spindle._core.returned import Returned
from spindle._core.scheduler import (
    QueuedStepRunner,
    ReadyEntry,
    Scheduler,
    as_scheduler,
    use_queued_step_runner,
)
from spindle.exceptions import CancelledError, InvalidStateError

__all__ = [
    "TaskCore",
    "add_bookkeeping_callback",
    "forget_tasks_of",
    "set_hide_runtime_frames",
    "set_plain_task_class",
    "set_task_observer",
]

# Bound once: read on hot paths (a module attribute lookup less each time).
_copy_context: Final = contextvars.copy_context

# Whether uncancel() down to zero also clears a cancellation not yet delivered (3.13+).
UNCANCEL_WITHDRAWS_PENDING_CANCEL: Final = sys.version_info >= (3, 13)

# Bound once: compiled, ``next(counter)`` would look the builtin up by name in every task.
_next_task_number: Final[Callable[[], int]] = itertools.count(1).__next__

# Bound once: looked up on every step.
_enter_task: Final = _compat.enter_task
_leave_task: Final = _compat.leave_task
_register_task: Final = _compat.register_task

# Bound once, read on every step.
_resume: Final = resume
_Returned: Final = Returned
_CoroutineType: Final = types.CoroutineType
# (Compiled, the builtin ``next`` is otherwise looked up by name at each call.)
_next: Final[Callable[[Iterator[Any]], Any]] = next

# The strong references promised in tasks.py, for tasks not yet done: a task on spindle's
# loop is in its loop's ``_held_tasks`` at ``_held_at`` (compiled; see TaskCore._let_go); one
# on another loop, or any in the pure build, is in this set.
_held_elsewhere: Final[set[TaskCore]] = set()
_NOT_HELD: Final = -1
_HELD_ELSEWHERE: Final = -2
# Final: compiled, statics read directly (a plain global is a dict look-up per use).
_Future: Final = Future
_COROUTINES: Final = _COROUTINE_TYPES


class _Hooks:
    """What the rest of spindle sets once and the steps read often, in one native object.

    Its fields are read on hot paths; as a module-level object marked Final, each read is a
    field of a C variable in the compiled build rather than a look-up in the module's dict.
    """

    __slots__ = (
        "hide_frames",
        "observer",
        "origin_code",
        "origin_frame",
        "origin_lasti",
        "origin_owner",
        "plain_task_class",
    )

    def __init__(self) -> None:
        # The exact class of spindle's own tasks (``tasks.Task``, which registers itself).  A
        # wait on a future of exactly this class (or exactly ``Future``) fills its callback
        # slots directly; a subclass might override add_done_callback, so it is asked the
        # documented way.
        self.plain_task_class: type[FutureCore] = Future
        # Told of swallowed cancellations and failures (``spindle.diagnostics``), or None.
        self.observer: TaskObserver | None = None
        # Whether a failed task's traceback loses spindle's own frames
        # (``_hide_runtime_frames``); SPINDLE_SHOW_INTERNAL_FRAMES=1 keeps them, for
        # debugging spindle itself.
        self.hide_frames = True
        # The task whose own coroutine created tasks lately, its coroutine's frame, and the
        # instruction of that frame the creating call is at (its code object, for the origin):
        # task origins look there first (``loop._Origins``; compiled build only).  Held while
        # that task runs, and let go of when it ends (``TaskCore._let_go``) or its loop
        # closes (``forget_tasks_of``).
        self.origin_owner: TaskCore | None = None
        self.origin_frame: Any = None
        self.origin_code: types.CodeType | None = None
        self.origin_lasti = -1

    def forget_origin_owner(self) -> None:
        self.origin_owner = None
        self.origin_frame = None
        self.origin_code = None
        self.origin_lasti = -1


_hooks: Final = _Hooks()


def set_plain_task_class(cls: type[TaskCore]) -> None:
    """Called once by ``tasks.py``: ``cls`` is spindle's Task class, not a user subclass."""
    _hooks.plain_task_class = cls


def set_task_observer(observer: TaskObserver | None) -> TaskObserver | None:
    """Install ``observer`` (None: none); returns the one it replaces."""
    previous = _hooks.observer
    _hooks.observer = observer
    return previous


def set_hide_runtime_frames(hide: bool) -> None:
    """Whether failed tasks' tracebacks lose spindle's own frames (the default: True)."""
    _hooks.hide_frames = hide


@mypyc_attr(allow_interpreted_subclasses=True)
class TaskCore(FutureCore):
    """A coroutine scheduled on a loop, and the Future of its outcome (the hot half)."""

    __slots__ = (
        "_cancel_next_step",
        "_context",
        "_coro",
        "_fut_waiter",
        "_held_at",
        "_log_destroy_pending",
        "_name",
        "_num_cancels_requested",
        "_origin_code",
        "_origin_lasti",
        "_runner",
        "_wakeup_method",
    )

    # The flags first, after FutureCore's (see there).
    # asyncio's _must_cancel, renamed: see the _must_cancel property and tasks.py.
    _cancel_next_step: bool
    _log_destroy_pending: bool
    # A coroutine (or, on 3.11, a generator, or any object of the Coroutine ABC).
    _coro: Any
    _context: contextvars.Context
    _name: str | int  # an int until the default name "Task-<int>" is first asked for
    _fut_waiter: Any
    _num_cancels_requested: int
    # Where the program created the task, when the loop tracks origins (diagnostics turn that
    # on): the code object and instruction offset of the creating frame.  ``tasks.origin_of``
    # makes a (file, line, function) of them when a report needs it; working the line out for
    # every task would cost each one a walk of a line table.
    _origin_code: types.CodeType | None
    _origin_lasti: int
    # ``self._wakeup``, the done-callback the task gives every future it waits on: bound on
    # the first wait and kept while the task is pending (a bound method made per wait costs
    # a lookup and an allocation).  Dropped when the task finishes: the task and its bound
    # method refer to each other.
    _wakeup_method: Callable[[Any], None] | None
    # The compiled build's runner of the coroutine (``_drive``, "the runner" below), made at
    # the first step that sends; dropped when the task finishes (it holds the task).  Always
    # None in the pure build.
    _runner: Coroutine[Any, Any, None] | None
    # Where the strong reference to this task is while it is not done: its place in its
    # loop's ``_held_tasks``, or _HELD_ELSEWHERE, or _NOT_HELD once done (compiled; in the
    # pure build it stays _HELD_ELSEWHERE: see the end of the class).
    _held_at: int

    def __init__(
        self,
        coro: Any,
        *,
        loop: Any = None,
        name: object = None,
        context: contextvars.Context | None = None,
        eager_start: bool = False,
    ) -> None:
        # First, so that __del__ finds its two flags even when the checks below raise (see
        # __del__); _log_destroy_pending becomes True at the end, once the task is whole.
        self._log_destroy_pending = False
        self._log_traceback = False
        if loop is None:
            loop = current.current_loop("Task()")
        TaskCore._init_task(self, coro, loop, as_scheduler(loop), name, context, eager_start)

    def _init_task(
        self,
        coro: Any,
        loop: Any,
        scheduler: Scheduler | None,
        name: object,
        context: contextvars.Context | None,
        eager_start: bool,
    ) -> None:
        """``__init__`` once the loop is known (``scheduler``: the same loop if spindle's).

        ``loop.create_task()`` calls it with itself as both (see ``FutureCore._init_future``).
        """
        self._log_destroy_pending = False
        self._log_traceback = False
        if not isinstance(coro, _COROUTINES):
            raise TypeError(f"a coroutine was expected, got {coro!r}")
        # FAST PATH: Future.__init__'s fields, set here directly: creating tasks is a hot
        # path, and this saves a call per task (tests/core/test_fast_paths.py holds the two
        # lists of fields in step).
        self._loop = loop
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
        self._scheduler = scheduler
        plain = scheduler if scheduler is not None and scheduler._plain else None
        self._source_traceback = (
            None
            if plain is not None or not loop.get_debug()
            else capture_source_traceback()
        )
        # The Task's own fields.
        self._coro = coro
        # The default name is formatted only if someone asks for it (see get_name).
        self._name = _next_task_number() if name is None else str(name)
        self._context = _copy_context() if context is None else context
        self._fut_waiter = None
        self._cancel_next_step = False
        self._num_cancels_requested = 0
        self._origin_code = None
        self._wakeup_method = None
        self._runner = None
        self._log_destroy_pending = True
        if COMPILED and scheduler is not None:  # see _let_go
            held = scheduler._held_tasks
            self._held_at = len(held)
            held.append(self)
        else:
            self._held_at = _HELD_ELSEWHERE
            _held_elsewhere.add(self)
        _register_task(self)
        if eager_start and loop.is_running():
            self._eager_start()
        elif plain is not None:
            plain._put_ready(self)  # queued as itself: see _run
        else:
            if scheduler is not None and scheduler._instruments is not None:
                scheduler._instruments.task_spawned(self)  # INSTRUMENTS: never on a plain loop
            loop.call_soon(self._step, context=self._context)

    # -- identity ------------------------------------------------------------------------

    def get_name(self) -> str:
        name = self._name
        if isinstance(name, int):
            name = self._name = f"Task-{name}"
        return name

    def set_name(self, value: object) -> None:
        self._name = str(value)

    def get_coro(self) -> Any:
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
        self._cancel_next_step = True
        self._cancel_message = msg
        return True

    @property
    def _must_cancel(self) -> bool:
        """asyncio's flag, as code that peeks at it (anyio) must see it (tasks.py says why)."""
        if self._cancel_next_step:
            return True
        waiter = self._fut_waiter
        return waiter is not None and bool(waiter.done())

    @_must_cancel.setter
    def _must_cancel(self, value: bool) -> None:
        self._cancel_next_step = value

    def cancelling(self) -> int:
        """How many cancellation requests are pending (not taken back by ``uncancel``)."""
        return self._num_cancels_requested

    def uncancel(self) -> int:
        """Take back one cancellation request; returns how many remain.

        From 3.13, taking back the last one also withdraws a cancellation not yet delivered
        (requested while the task was not waiting on a future); up to 3.12 that one is still
        thrown into the coroutine at its next step.
        """
        if self._num_cancels_requested > 0:
            self._num_cancels_requested -= 1
            if self._num_cancels_requested == 0 and UNCANCEL_WITHDRAWS_PENDING_CANCEL:
                self._cancel_next_step = False
                # A waiter that is already done no longer holds the task (its wake-up is
                # queued); forgetting it keeps ``_must_cancel`` false, as on 3.13's asyncio.
                waiter = self._fut_waiter
                if waiter is not None and waiter.done():
                    self._fut_waiter = None
        return self._num_cancels_requested

    # -- stepping ------------------------------------------------------------------------
    #
    # ``_step`` is the hottest function in spindle: it runs once per resumption of every
    # task.  Its common path (resume, then suspend on a future or a bare yield) is written
    # out in one function on purpose; the rare outcomes are delegated to ``_bad_yield``.

    def _step(self, exc: BaseException | None = None) -> None:
        """Resume the coroutine until it suspends or finishes (one scheduled callback).

        ``exc`` is thrown into the coroutine (the outcome of the future it awaited, or the
        task's own cancellation); a coroutine that goes on afterwards caught it.
        """
        if self._state is not _PENDING:
            raise InvalidStateError(f"_step(): already done: {self!r}, {exc!r}")
        if self._cancel_next_step:
            if not isinstance(exc, CancelledError):
                exc = self._make_cancelled_error()
            self._cancel_next_step = False
        self._fut_waiter = None
        loop = self._loop
        coro = self._coro
        _enter_task(loop, self)
        try:
            if COMPILED:
                # FAST PATH (compiled build): coro.send(None) through the task's runner, and
                # coro.throw(exc) (or a send to a coroutine-like object that is not a
                # coroutine) through resuming.resume: neither ends a step with StopIteration
                # in compiled code (see "the runner" below, and resuming.py).
                # tests/core/test_fast_paths.py holds them to send and throw.
                if exc is None:
                    runner = self._runner
                    if runner is None and type(coro) is _CoroutineType:
                        runner = self._runner = _drive(self, coro)
                    # next(runner) is runner.send(None) without a method lookup: a compiled
                    # coroutine has ``__next__`` (CPython's own have not: the cast says so).
                    result = (
                        _next(cast("Iterator[Any]", runner))
                        if runner is not None
                        else _resume(coro, None)
                    )
                    if result is _OVER:
                        return
                else:
                    result = _resume(coro, exc)
                if type(result) is _Returned:
                    returned: Returned = result  # typed: the value is read from its slot
                    TaskCore._returned(self, returned.value)
                    return
            elif exc is None:
                result = coro.send(None)
            else:
                result = coro.throw(exc)
            if exc is not None:
                TaskCore._went_on(self, exc)
        except StopIteration as stop:  # the pure build only
            TaskCore._returned(self, stop.value)
        except CancelledError as cancelled:
            if _hooks.hide_frames:
                _hide_runtime_frames(cancelled)
            self._cancelled_exc = cancelled
            TaskCore._settle_cancelled(self, None)
        except (KeyboardInterrupt, SystemExit) as fatal:
            TaskCore._fail(self, fatal)
            TaskCore._let_go(self)
            raise
        except BaseException as error:
            if _hooks.hide_frames:
                _hide_runtime_frames(error)
            TaskCore._fail(self, error)
            TaskCore._let_go(self)
            if _hooks.observer is not None:
                _hooks.observer.failed(self)
        else:
            if result is None:
                # A bare yield (sleep(0)): let everything else that is ready run first.
                scheduler = self._scheduler
                if scheduler is not None and scheduler._plain:
                    scheduler._put_ready(self)  # queued as itself: see _run
                else:
                    loop.call_soon(self._step, context=self._context)
            else:
                # A future: sleep until it is done.
                kind = type(result)
                own: FutureCore | None = (
                    result if kind is _Future or kind is _hooks.plain_task_class else None
                )
                # The same bound method for every wait, made once: the loop's running wake-up
                # tells whose step it is (task origins, loop._Origins).
                wakeup = self._wakeup_method
                if wakeup is None:
                    wakeup = self._wakeup_method = self._wakeup
                if (
                    own is not None
                    and own._callback0 is None
                    and own._asyncio_future_blocking
                    and own._loop is loop
                    and own is not self
                ):
                    # The commonest wait: one of spindle's own futures with no callback
                    # yet.  add_done_callback's work, written out (the first-callback slots).
                    own._asyncio_future_blocking = False
                    own._callback0 = wakeup
                    own._context0 = self._context
                elif getattr(result, "_asyncio_future_blocking", None) and result is not self and (
                    # spindle's own futures: read the slot, no call on this hot path.
                    (result._loop if isinstance(result, FutureCore) else _loop_of(result)) is loop
                ):
                    result._asyncio_future_blocking = False
                    result.add_done_callback(wakeup, context=self._context)
                else:
                    self._bad_yield(result)
                    return
                self._fut_waiter = result
                if self._cancel_next_step and result.cancel(msg=self._cancel_message):
                    self._cancel_next_step = False
        finally:
            _leave_task(loop, self)
            # This frame may end up in the traceback of the exception the task keeps: drop
            # its references, or task and traceback would form a cycle only the GC frees.
            del self, exc

    def _returned(self, value: object) -> None:
        """The coroutine returned ``value``: the task is done (or cancelled, if asked meanwhile)."""
        if self._cancel_next_step:
            # cancel() arrived while the last step ran: honour it over the result.
            self._cancel_next_step = False
            TaskCore._settle_cancelled(self, self._cancel_message)
        else:
            # Future.set_result without its state check: a pending task only gets here.
            self._result = value
            TaskCore._finish(self, _FINISHED)
            TaskCore._let_go(self)

    def _let_go(self) -> None:
        """The task is done: its loop lets go of the strong reference it held to it.

        FAST PATH: stands for a set of the pending tasks (add at creation, discard at the
        end), which it was.  A program with tens of thousands of tasks pending spread them
        over a hash table four times as large, and each add and each discard landed on memory
        no recent step had touched: 5.5% of pyperformance's ``async_tree_memoization`` went in
        the set's look-ups (2.8% on uvloop, whose tasks are in asyncio's weak set only).  A
        list takes new tasks at its end; each task keeps its place in it, and a task that ends
        moves the last one into the place it leaves.  Held to a set by
        ``tests/core/test_fast_paths.py``.  The pure build keeps the set (``_held_elsewhere``,
        as for tasks on other loops): interpreted, a set's add and discard are one C call
        each, and the list's bookkeeping, a dozen bytecodes, cost a task more than the cache
        misses it saves (1.4 thousand instructions, 3% of a task).
        """
        if _hooks.origin_owner is self:
            _hooks.forget_origin_owner()  # its frame, and the locals the frame now holds
        at = self._held_at
        if at < 0:
            if at == _HELD_ELSEWHERE:
                self._held_at = _NOT_HELD
                _held_elsewhere.discard(self)
            return
        self._held_at = _NOT_HELD
        scheduler = self._scheduler
        assert scheduler is not None  # held in a list: its loop is spindle's
        held: list[TaskCore] = scheduler._held_tasks
        if at >= len(held) or held[at] is not self:
            # Moved by a create_task from another thread (asyncio's is not thread-safe
            # either): look for it.
            try:
                at = held.index(self)
            except ValueError:
                return
        last = held.pop()
        if last is not self:
            held[at] = last
            last._held_at = at

    def _went_on(self, thrown: BaseException) -> None:
        """The coroutine suspended again after ``thrown`` was thrown in: it caught it.

        Diagnostics are told of a CancelledError caught so (they report a cancellation that
        was swallowed for good).
        """
        observer = _hooks.observer
        if observer is not None and isinstance(thrown, CancelledError):
            observer.cancellation_caught(self, thrown)

    def _finish(self, state: FutureState) -> None:
        """Future._finish, once the task has let go of what refers back to it."""
        self._wakeup_method = None  # the task and its bound _wakeup referred to each other
        self._runner = None  # (and its runner, which holds the task)
        FutureCore._finish(self, state)
        scheduler = self._scheduler
        if scheduler is not None and scheduler._instruments is not None:
            scheduler._instruments.task_exited(self)  # INSTRUMENTS: never on a plain loop

    def _run(self) -> None:
        """Take the next step: how the ready queue runs a task that queued itself.

        On a plain pass (spindle's own loop, no debug mode, no instrument) a task with a step
        to take, the first or one after a bare ``yield``, puts itself in the ready queue
        rather than a Handle of its bound ``_step`` (``scheduler.ReadyEntry``): no handle and
        no bound method to make, and two objects less per task for the garbage collector to
        count and visit while the task waits there.  (asyncio's gather of 10,000 tasks on
        spindle's loop, ad-hoc: 7 objects a pending task instead of 9, uvloop's C tasks 8;
        about 4.0 us a task instead of 4.7-5.1, half of which is the collector's.)

        What the step raises goes to the loop's exception handler, as a handle's callback
        error would (``report_step_error``).
        """
        try:
            _context_run(self._context, _TASK_STEP, self)
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            report_step_error(self, exc)
        finally:
            del self  # (as Handle._run: a failing step's traceback reaches this frame)

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
        hooks = loop._instruments if isinstance(loop, Scheduler) else None
        if hooks is not None:
            hooks.task_spawned(self)
            hooks.before_task_step(self, loop.time())
        outer = asyncio.current_task(loop)
        if outer is not None:
            _leave_task(loop, outer)
        try:
            TaskCore._step(self)
        finally:
            if outer is not None:
                _enter_task(loop, outer)
            if hooks is not None:
                hooks.after_task_step(self, loop.time())

    def _wakeup(self, future: Any) -> None:
        """Done-callback of the future the task waited on: take the next step.

        A future that failed or was cancelled has its outcome read here and thrown into the
        coroutine, as asyncio's Task does; the exception does not look the same raised inside
        the coroutine.  Raised there, it would be chained (``__context__``) to an exception
        that any frame of the coroutine's await chain is handling; thrown in, it is chained
        only where it enters a frame that is itself handling one.  Reading the outcome also
        marks it retrieved even when a ``cancel()`` that arrived meanwhile is what the step
        throws in (asyncio then reports no "exception was never retrieved").
        """
        try:
            # A typed name, read without a type check per use (see scheduler.as_scheduler).
            own: FutureCore | None = future if isinstance(future, FutureCore) else None
            if own is not None:
                if own._state is _FINISHED and own._exception is None:
                    # FAST PATH: the common case, a result: resume the coroutine, and
                    # Future.__await__ reads the result itself (no call here).
                    # tests/core/test_fast_paths.py holds it to the general path below.
                    TaskCore._step(self)
                    return
                # What result() would raise, taken without raising it here (see _failure).
                error: BaseException | None = own._failure()
            else:
                try:
                    future.result()
                except BaseException as exc:
                    error = exc
                else:
                    error = None
            # Outside the except clause: a step taken inside it would show its exception to
            # the coroutine as the one being handled (the __context__ of what it raises).
            TaskCore._step(self, error)
        finally:
            # As in _step: this frame is the f_back of _step's, which is in the traceback of
            # an exception the task keeps; holding the task here would make a cycle.
            del self, future
            error = own = None

    def _fail(self, error: BaseException) -> None:
        """Future.set_exception for the task's own failure (the task is pending here)."""
        FutureCore._store_exception(self, error)
        TaskCore._finish(self, _FINISHED)

    def _settle_cancelled(self, msg: Any) -> None:
        """Future.cancel for the task's own end by cancellation."""
        self._log_traceback = False
        if self._state is _PENDING:
            self._cancel_message = msg
            TaskCore._finish(self, _CANCELLED)
        TaskCore._let_go(self)

    def __del__(self) -> None:
        # The finalizer of every task: as FutureCore.__del__, it only reads the task's own
        # fields (the common case, finished and its result retrieved, calls nothing), and
        # leaves the report to a FinalReport.  _log_destroy_pending is True only once the task
        # is whole, so _state is there to read when it is.
        try:
            if self._log_traceback or (self._log_destroy_pending and self._state is _PENDING):
                FinalReport(self)
        except AttributeError:  # never initialized (``__new__`` alone): nothing to report
            pass

    def _finalize(self) -> None:
        """Report a task destroyed while pending, or whose exception nobody retrieved.

        The report ``FinalReport`` makes for a task (``__del__`` says why there), once
        ``__del__`` has read these fields and found one of the two to report.
        """
        destroyed_pending = self._log_destroy_pending and self._state is _PENDING
        unretrieved = self._log_traceback
        if destroyed_pending:
            context: dict[str, Any] = {
                "task": self,
                "message": "Task was destroyed but it is pending!",
            }
            if self._source_traceback:
                context["source_traceback"] = self._source_traceback
            self._loop.call_exception_handler(context)
        if unretrieved:
            FutureCore._finalize(self)



def _hide_runtime_frames(error: BaseException) -> None:
    """Drop spindle's own frames from the traceback a failed task keeps.

    An exception reaching the task passes through frames that say nothing to the user:
    ``_step`` (which caught it), and, for an exception that came from an awaited future,
    ``Future.__await__``, ``Future.result`` and ``_wakeup``.  asyncio's C Task and Future
    have no frames there (nor does spindle's compiled build).  The traceback is rebuilt
    without them (new traceback entries for the same frames; the rare path of a failure
    only).  A traceback made of spindle frames alone (an error of spindle's own) is kept
    whole.
    """
    tb = error.__traceback__
    kept: list[types.TracebackType] = []
    total = 0
    while tb is not None:
        total += 1
        if not is_spindle_file(tb.tb_frame.f_code.co_filename):
            kept.append(tb)
        tb = tb.tb_next
    if not kept or len(kept) == total:
        return
    rebuilt: types.TracebackType | None = None
    for entry in reversed(kept):
        rebuilt = types.TracebackType(rebuilt, entry.tb_frame, entry.tb_lasti, entry.tb_lineno)
    error.__traceback__ = rebuilt


if not COMPILED:
    # The pure build's tasks are all in _held_elsewhere (see TaskCore._let_go): a task's end is
    # the set's discard itself, one C call, rather than a Python method around it.
    TaskCore._let_go = _held_elsewhere.discard  # type: ignore[assignment,method-assign]


def _loop_of(future: Any) -> Any:
    """A future's loop: ``get_loop()``, or ``_loop`` for futures from before get_loop existed."""
    try:
        return future.get_loop()
    except AttributeError:
        return future._loop


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
    if (
        type(future) is _hooks.plain_task_class
        and future._state is _PENDING
        and future._callback0 is None
    ):
        future._callback0 = fn
        future._context0 = context
    else:
        future.add_done_callback(fn, context=context)


def forget_tasks_of(loop: object) -> None:
    """Drop the strong references to ``loop``'s pending tasks (the loop is closing)."""
    owner = _hooks.origin_owner
    if owner is not None and owner._loop is loop:
        _hooks.forget_origin_owner()
    scheduler = as_scheduler(loop)
    if scheduler is not None:
        held: list[TaskCore] = scheduler._held_tasks
        for task in held:
            task._held_at = _NOT_HELD
        held.clear()
    for task in [t for t in _held_elsewhere if t._loop is loop]:
        task._held_at = _NOT_HELD
        _held_elsewhere.discard(task)


# -- the runner: a task's steps in the compiled build ----------------------------------------
#
# Compiled, ``coro.send(None)`` would end a coroutine's last step with StopIteration, and an
# exception arriving in compiled code costs a traceback entry made on the spot (thousands of
# instructions).  A compiled ``await``, though, resumes what it awaits through CPython's
# ``PyIter_Send``, which reports the return with no exception at all.  So in the compiled build
# a task whose coroutine is a real coroutine object steps it through a runner: ``_drive``,
# a compiled coroutine that awaits the task's coroutine.  ``runner.send(None)`` passes each
# step on, and everything the coroutine yields comes back out of it unchanged.  When the
# coroutine returns, the runner settles the task itself and yields ``_OVER`` instead of
# returning (its own return would raise StopIteration at ``_step``); it is never resumed
# after that and is dropped with the task's other step objects in ``_finish``.
#
# Throws do not go through the runner: a compiled coroutine's ``throw()`` drops the traceback
# of the exception thrown in.  ``_step`` throws straight into the task's coroutine with
# ``resuming.resume``; the runner, suspended in its ``await``, then finds the coroutine where
# the throw left it, and passes on the next ``send`` as before.


async def _drive(task: TaskCore, coro: Any) -> None:
    """Run ``coro`` step by step for ``task``; at its end settle ``task``, and yield ``_OVER``."""
    value = await _Handover(coro)
    TaskCore._returned(task, value)
    await _THE_END


class _Handover:
    """What the runner awaits: its ``__await__`` gives the ``await`` the coroutine itself.

    ``await coro`` would ask ``coro.__await__()`` for an iterator: a wrapper object made for
    every task, kept while the task lives (one more object for the garbage collector to
    visit), that each step passes through, and that reports the coroutine's return with
    StopIteration again.  A coroutine can be resumed as it is (``PyIter_Send`` uses its
    ``am_send``), so the handover object returns it, and goes at once.
    """

    def __init__(self, coro: Any) -> None:
        self.coro = coro

    def __await__(self) -> Any:
        return self.coro


class _End:
    """What the runner awaits once its coroutine is over: yields ``_OVER``, once."""

    def __await__(self) -> Generator[Any, None, None]:
        yield _OVER


_OVER: Final = object()
_THE_END: Final = _End()

# Read by TaskCore._run: TaskCore's own step, a C call in the compiled build, run in the task's
# context by the context's ``run`` (bound once: compiled, ``context.run`` is looked up on
# the context's type at each call).
_TASK_STEP: Final = TaskCore._step
_context_run: Final[Callable[..., object]] = contextvars.Context.run


class _TaskStepRunner(QueuedStepRunner):
    """Runs a queued task's step as ``TaskCore._run`` does, without looking ``_run`` up.

    FAST PATH: compiled, the scheduler's call to ``run`` is a C call through this class's
    method table, and ``TaskCore._run`` another: a step costs what a Handle's did (the plain
    runner's look-up and call of ``entry._run`` cost 270 instructions a step more).
    tests/core/test_fast_paths.py holds it to the plain runner.
    """

    def run(self, entry: ReadyEntry) -> None:
        TaskCore._run(cast(TaskCore, entry))


use_queued_step_runner(_TaskStepRunner())
