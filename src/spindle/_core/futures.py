"""spindle's Future: a result that will exist later.

A Future is in one of three states, and moves only forward:

    PENDING ──set_result / set_exception──▶ FINISHED
       └─────────────cancel()─────────────▶ CANCELLED

Every move happens in ``_finish``, which also schedules the done-callbacks.  Callbacks are
never called inline: each is handed to the loop's ``call_soon`` with the context it was
registered with, so code that completes a future never finds itself re-entered by strangers.

The asyncio future protocol
---------------------------
asyncio recognises any object as a future when its class has an ``_asyncio_future_blocking``
attribute that is not None (``asyncio.isfuture``), and asyncio's Task awaits it by:
``yield``-ing the future out of ``__await__`` with ``_asyncio_future_blocking`` set to True,
then resetting it to False and calling ``get_loop()`` and ``add_done_callback(cb,
context=...)``.  spindle's Future implements exactly that, so asyncio's own Task (and
``asyncio.wrap_future``, ``asyncio.ensure_future``, ...) accept it, and spindle's Task awaits
asyncio futures the same way.

Two classes
-----------
``FutureCore`` here is the whole of a Future: its state, outcome, callbacks and awaiting.  It
is compiled into a native class in the compiled build.  The class users hold is
``faces.Future``, an ordinary Python subclass that adds only a weak-reference slot: mypyc's
native classes do not clear their weak references when they die (mypyc issue 1102), and the
interpreter does, for the slot it adds itself.  Code that needs "one of spindle's futures"
checks ``isinstance(x, FutureCore)``.

``Future[int]`` works in annotations, but the class is not generic at run time (``isinstance``
checks see one class): a generic native class would carry a weak-reference slot mypyc cannot
clear.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import contextvars
import enum
import functools
import reprlib
import sys
import traceback
from collections.abc import Callable, Generator
from types import GenericAlias, TracebackType
from typing import Any, Final, TypeVar

from spindle._core import current
from spindle._core.awaiting import await_future
from spindle._core.build import COMPILED
from spindle._core.handles import Handle, capture_source_traceback, describe_callback
from spindle._core.native import from_none, mypyc_attr
from spindle._core.scheduler import Scheduler, as_scheduler
from spindle.exceptions import CancelledError, InvalidStateError

__all__ = [
    "FinalReport",
    "FutureCore",
    "FutureState",
    "isfuture",
    "note_owner",
    "set_result_unless_cancelled",
    "wrap_concurrent_future",
]

# Bound once: read on hot paths (a module attribute lookup less each time).
_copy_context: Final = contextvars.copy_context
# For building handles without calling their __init__ (the pure build's _finish).
_new_object: Final = object.__new__

T = TypeVar("T")


class FutureState(enum.Enum):
    PENDING = "PENDING"
    CANCELLED = "CANCELLED"
    FINISHED = "FINISHED"


# Final: compiled, a static read directly (a plain global is a dict look-up per await).
_await_future: Final = await_future

_PENDING: Final = FutureState.PENDING
_CANCELLED: Final = FutureState.CANCELLED
_FINISHED: Final = FutureState.FINISHED

# set_exception(StopIteration()): asyncio refuses it with TypeError up to 3.12, and from 3.13
# stores a RuntimeError caused by it instead; spindle does what the running Python's does.
STORE_STOP_ITERATION_AS_RUNTIME_ERROR: Final = sys.version_info >= (3, 13)

# Why a future whose subclass skipped Future.__init__ has no result (see "reading" below).
_NOT_INITIALIZED: Final = "Future.__init__ was not called"


def outcome_of(future: FutureCore) -> Any:
    """What ``await future`` gives once the future is done: its result, or what it raises.

    Called by the ``await`` generator (``_core/awaiting.py``) when the task resumes it."""
    state = future._state
    if state is _FINISHED and future._exception is None:
        # FAST PATH: result() for a result, read here: from the awaiting generator, a call of
        # the method would go through the future's Python subclass.  The path of every
        # ``await``; tests/core/test_fast_paths.py holds it to result().
        return future._result
    if state is _PENDING:
        raise RuntimeError("await wasn't used with future")
    try:
        return future.result()  # raises its exception, or CancelledError
    except BaseException:
        # Interpreted, this frame is in the traceback of the exception: holding the future,
        # which holds the exception, it would make a cycle (see result()).
        del future
        raise


# Final: compiled, a static read (``Future.__await__`` passes it to the generator).
_outcome_of: Final = outcome_of


def isfuture(obj: object) -> bool:
    """True for objects that speak asyncio's future protocol (spindle's and asyncio's)."""
    return hasattr(obj.__class__, "_asyncio_future_blocking") and (
        getattr(obj, "_asyncio_future_blocking", None) is not None
    )


@mypyc_attr(allow_interpreted_subclasses=True)
class FutureCore:
    """A result (or exception, or cancellation) that a coroutine can await (``faces.Future``)."""

    __slots__ = (
        "_asyncio_future_blocking",
        "_awaited_by",
        "_callback0",
        "_cancel_message",
        "_cancelled_exc",
        "_context0",
        "_exception",
        "_exception_tb",
        "_log_traceback",
        "_loop",
        "_more_callbacks",
        "_owner",
        "_result",
        "_scheduler",
        "_source_traceback",
        "_state",
    )

    # Any loop speaking asyncio's loop API (spindle's, asyncio's, a test's mock).
    _loop: Any
    # The same loop, typed, if it is spindle's (else None): ``scheduler.as_scheduler(_loop)``,
    # worked out once.  Compiled, that is a type check through the loop class's bases, twice
    # over; a task's steps and end, and a future's end, read this slot instead.
    _scheduler: Scheduler | None
    _state: FutureState
    _result: Any
    _exception: BaseException | None
    _exception_tb: TracebackType | None
    # The done-callbacks.  The first is kept in two slots and only further ones in a list:
    # most futures have exactly one (the task awaiting it), and a list and a tuple fewer per
    # pending future means fewer objects for the garbage collector to walk.
    _callback0: Callable[[Any], object] | None
    _context0: contextvars.Context | None
    _more_callbacks: list[tuple[Callable[[Any], object], contextvars.Context]] | None
    _cancel_message: Any
    _cancelled_exc: CancelledError | None
    _source_traceback: traceback.StackSummary | None
    # What a task waiting on this future waits *for*: the Lock, Queue, TaskGroup, shielded
    # task... that made the future to park it (``note_owner``).  Read only by diagnostics
    # ("Task-2 waits on Event ready"), which cannot ask spindle's compiled code for its
    # frames.  Never set in __init__ (creating a future costs nothing more); unset reads as
    # "unknown" through getattr.
    _owner: object
    # Who awaits this future, as declared with ``spindle.future_add_to_awaited_by`` (Python
    # 3.14's API; asyncio keeps the same list on its futures).  Unset until declared.
    _awaited_by: list[Any]
    # The flags last, and TaskCore's first: compiled, the fields are laid out in the order
    # declared here, and a flag (one byte) between two pointers takes eight; together, the
    # four flags of a task take eight bytes rather than thirty-two.
    _log_traceback: bool
    # True while a Task is suspended on this future (the asyncio protocol, above).
    _asyncio_future_blocking: bool

    def __init__(self, *, loop: Any = None) -> None:
        self._log_traceback = False  # first: __del__ reads it even if __init__ fails
        if loop is None:
            loop = current.current_loop("Future()")
        FutureCore._init_future(self, loop, as_scheduler(loop))

    def _init_future(self, loop: Any, scheduler: Scheduler | None) -> None:
        """``__init__``'s fields, for ``loop`` (``scheduler``: the same loop if spindle's).

        ``loop.create_future()`` calls it with itself as both: it knows it is spindle's, where
        ``as_scheduler`` would check the loop's class against ``Scheduler`` twice.
        """
        self._log_traceback = False
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
        self._scheduler = scheduler
        self._source_traceback = (
            None
            if (scheduler is not None and scheduler._plain) or not loop.get_debug()
            else capture_source_traceback()
        )

    @classmethod
    def __class_getitem__(cls, item: Any) -> GenericAlias:
        """``Future[int]``: for annotations; the class itself is not generic (see above)."""
        return GenericAlias(cls, item)

    # -- reading -------------------------------------------------------------------------

    # A subclass may skip ``Future.__init__`` (asyncio's tests check what happens then): the
    # slots are unset, so the readers below treat AttributeError as "never initialized".
    # ``try`` costs nothing until it catches.

    def get_loop(self) -> Any:
        try:
            return self._loop
        except AttributeError:
            error = RuntimeError("Future object is not initialized.")
            raise from_none(error)  # noqa: B904 (mypyc drops "from": see _core/native.py)

    def done(self) -> bool:
        try:
            return self._state is not _PENDING
        except AttributeError:
            return False

    def cancelled(self) -> bool:
        try:
            return self._state is _CANCELLED
        except AttributeError:
            return False

    def result(self) -> Any:
        """The result; raises the exception, CancelledError, or InvalidStateError if pending."""
        try:
            state = self._state
        except AttributeError:
            error = InvalidStateError(f"Result is not ready: {_NOT_INITIALIZED}")
            raise from_none(error)  # noqa: B904 (mypyc drops "from": see _core/native.py)
        if state is _FINISHED:
            self._log_traceback = False
            if self._exception is not None:
                try:
                    raise self._failure()
                except BaseException:
                    # Interpreted, this frame is in the traceback of the exception it raises:
                    # holding the future, which holds the exception, it would make a cycle that
                    # only the garbage collector frees (asyncio's C future puts no frame there).
                    # Not ``finally: del self``: mypyc miscounts the references of that form.
                    del self
                    raise
            return self._result
        if state is _CANCELLED:
            raise self._failure()
        raise InvalidStateError("Result is not ready.")

    def _failure(self) -> BaseException:
        """What ``result()`` raises for this future, done without a result, returned instead.

        Its exception, with the traceback it was stored with, or its CancelledError; marked
        retrieved, as by ``result()``.  A task throws it into the coroutine that awaited the
        future, with no frame of the runtime in its traceback (a frame of ``result()`` there
        would hold the future, and the future the exception: a cycle).
        """
        if self._state is _CANCELLED:
            return self._make_cancelled_error()
        self._log_traceback = False
        exception = self._exception
        if exception is None:
            raise InvalidStateError(f"{self!r} has a result, not a failure")
        return exception.with_traceback(self._exception_tb)

    def exception(self) -> BaseException | None:
        try:
            state = self._state
        except AttributeError:
            error = InvalidStateError(f"Exception is not set: {_NOT_INITIALIZED}")
            raise from_none(error)  # noqa: B904 (mypyc drops "from": see _core/native.py)
        if state is _FINISHED:
            self._log_traceback = False
            return self._exception
        if state is _CANCELLED:
            raise self._make_cancelled_error()
        raise InvalidStateError("Exception is not set.")

    # -- completing ----------------------------------------------------------------------

    def set_result(self, result: Any) -> None:
        if self._state is not _PENDING:
            raise InvalidStateError(f"cannot set the result of {self._state.value}: {self!r}")
        self._result = result
        FutureCore._finish(self, _FINISHED)

    # Within FutureCore, its own methods are called as ``FutureCore._finish(self, ...)``, not
    # ``self._finish(...)``: on an instance of a Python subclass (``faces.Future``, what users
    # hold), the compiled build dispatches ``self.method()`` through a Python attribute
    # look-up, because the subclass might override it.  TaskCore, which does override
    # ``_finish``, calls its own directly.

    def set_exception(self, exception: BaseException | type[BaseException]) -> None:
        if self._state is not _PENDING:
            raise InvalidStateError(
                f"cannot set the exception of {self._state.value}: {self!r}"
            )
        FutureCore._store_exception(self, exception)
        FutureCore._finish(self, _FINISHED)

    def _store_exception(self, exception: BaseException | type[BaseException]) -> None:
        """Keep ``exception`` (a class is instantiated) as the outcome; the state is unchanged."""
        if isinstance(exception, type):
            exception = exception()
        if not isinstance(exception, BaseException):
            raise TypeError(
                f"set_exception() expects an exception, not {type(exception).__name__}"
            )
        if isinstance(exception, StopIteration):
            # Raised out of a coroutine, StopIteration would end it as if it had returned.
            # Python 3.13's asyncio stores a RuntimeError caused by it; earlier ones refuse.
            problem = (
                "StopIteration interacts badly with generators and cannot be raised into a "
                "Future"
            )
            if not STORE_STOP_ITERATION_AS_RUNTIME_ERROR:
                raise TypeError(problem)
            wrapped = RuntimeError(problem)
            wrapped.__cause__ = wrapped.__context__ = exception
            exception = wrapped
        self._exception = exception
        self._exception_tb = exception.__traceback__
        self._log_traceback = True

    def cancel(self, msg: Any = None) -> bool:
        """Cancel the future; False when it is already done."""
        self._log_traceback = False
        if self._state is not _PENDING:
            return False
        self._cancel_message = msg
        FutureCore._finish(self, _CANCELLED)
        return True

    def _finish(self, state: FutureState) -> None:
        """The one place where a future leaves PENDING."""
        self._state = state
        callback = self._callback0
        if callback is None:
            return
        loop = self._loop
        context = self._context0
        more = self._more_callbacks
        self._callback0 = self._context0 = self._more_callbacks = None
        scheduler = self._scheduler
        if scheduler is not None and scheduler._plain:
            # spindle's own loop, open and not debugging: queue the handles directly.
            put_ready = scheduler._put_ready
            if COMPILED:
                put_ready(Handle(callback, (self,), scheduler, context, True))
            else:
                # FAST PATH (pure build): the first one, Handle(callback, (self,), scheduler,
                # context, True) written out as in the loop's call_soon (a call of the class
                # and of Handle.__init__ less for every future and task that is awaited).
                # tests/core/test_fast_paths.py holds it to the plain call.
                handle = _new_object(Handle)
                handle._callback = callback
                handle._args = (self,)
                handle._cancelled = False
                handle._loop = scheduler
                handle._context = _copy_context() if context is None else context
                handle._repr = None
                handle._source_traceback = None
                put_ready(handle)
            if more:
                for callback, context in more:
                    put_ready(Handle(callback, (self,), scheduler, context, True))
        else:
            loop.call_soon(callback, self, context=context)
            if more:
                for callback, context in more:
                    loop.call_soon(callback, self, context=context)

    def _make_cancelled_error(self) -> CancelledError:
        """The CancelledError to raise for this cancelled future."""
        if self._cancelled_exc is not None:
            exc = self._cancelled_exc
            self._cancelled_exc = None
            return exc
        exc = CancelledError() if self._cancel_message is None else CancelledError(
            self._cancel_message
        )
        return exc

    # -- callbacks -----------------------------------------------------------------------

    def add_done_callback(
        self, fn: Callable[[Any], object], *, context: contextvars.Context | None = None
    ) -> None:
        """Call ``fn(self)`` (through the loop, in ``context``) once the future is done."""
        if context is None:
            context = _copy_context()
        if self._state is not _PENDING:
            self._loop.call_soon(fn, self, context=context)
        elif self._callback0 is None:
            self._callback0 = fn
            self._context0 = context
        elif self._more_callbacks is None:
            self._more_callbacks = [(fn, context)]
        else:
            self._more_callbacks.append((fn, context))

    def remove_done_callback(self, fn: Callable[[Any], object]) -> int:
        """Remove every registration of ``fn``; returns how many there were."""
        registered = self._callbacks
        kept = [(f, ctx) for f, ctx in registered if f != fn]
        removed = len(registered) - len(kept)
        if removed:
            self._callback0 = self._context0 = self._more_callbacks = None
            if kept:
                self._callback0, self._context0 = kept[0]
                self._more_callbacks = kept[1:] or None
        return removed

    @property
    def _callbacks(self) -> list[tuple[Callable[[Any], object], contextvars.Context]]:
        """The pending done-callbacks as ``(fn, context)`` pairs, as asyncio keeps them
        (read by anyio)."""
        if self._callback0 is None:
            return []
        first = (self._callback0, self._context0)
        return [first, *(self._more_callbacks or ())]

    # -- awaiting ------------------------------------------------------------------------

    def __await__(self) -> Generator[Any, None, Any]:
        """``await future``: an interpreted generator (``_core/awaiting.py`` says why) that
        yields the future until it is done, then returns its result.  The future's fields are
        read here and in ``outcome_of``, compiled, as asyncio's C future iterator reads them."""
        try:
            pending = self._state is _PENDING
        except AttributeError:  # a subclass that skipped __init__ (as asyncio's C future)
            error = RuntimeError("Future object is not initialized.")
            raise from_none(error)  # noqa: B904 (mypyc drops "from": see _core/native.py)
        if pending:
            self._asyncio_future_blocking = True
        return _await_future(self, pending, _outcome_of)

    def __iter__(self) -> Generator[Any, None, Any]:
        """``yield from future`` in generator-based coroutines: the same as awaiting it."""
        return self.__await__()

    # -- reporting -----------------------------------------------------------------------

    def __del__(self) -> None:
        # The finalizer of every future (``faces.Future`` inherits it; TaskCore has its own).
        # Compiled, the interpreter may call it while an exception is on its way up (a frame
        # that held the future's last reference is being unwound) and mypyc's finalizer does
        # not set that exception aside: so this only reads the flag.  The report, which calls
        # Python code, runs in ``FinalReport``'s finalizer, which does set it aside.
        try:
            if self._log_traceback:
                FinalReport(self)
        except AttributeError:  # never initialized (``__new__`` alone): nothing to report
            pass

    def _finalize(self) -> None:
        """Report the exception nobody retrieved: the report ``FinalReport`` makes.

        Called only once ``__del__`` (or ``TaskCore._finalize``) has read ``_log_traceback``
        and found it set: the common case, nothing to report, never gets here.
        """
        context: dict[str, Any] = {
            "message": f"{type(self).__name__} exception was never retrieved",
            "exception": self._exception,
            "future": self,
        }
        if self._source_traceback:
            context["source_traceback"] = self._source_traceback
        self._loop.call_exception_handler(context)

    def _repr_fields(self) -> list[str]:
        fields = [self._state.value.lower()]
        if self._state is _FINISHED:
            if self._exception is not None:
                fields.append(f"exception={self._exception!r}")
            else:
                fields.append(f"result={reprlib.repr(self._result)}")
        callbacks = [describe_callback(cb) for cb, _ in self._callbacks]
        if len(callbacks) > 2:
            callbacks[1:-1] = [f"<{len(callbacks) - 2} more>"]
        if callbacks:
            fields.append(f"cb=[{', '.join(callbacks)}]")
        if self._source_traceback:
            frame = self._source_traceback[-1]
            fields.append(f"created at {frame.filename}:{frame.lineno}")
        return fields

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {' '.join(self._repr_fields())}>"


class FinalReport:
    """A dying future's report (``_finalize``), made where an exception in flight is safe.

    A future's finalizer (``FutureCore.__del__``, ``TaskCore.__del__``) may run while an
    exception is on its way up: the interpreter is unwinding a frame that held the future's
    last reference.  Calling Python code then would lose that exception, or fail on it.  The
    interpreter's finalizer of a Python class sets it aside first; compiled, mypyc's finalizer
    of a native class does not, but the deallocator of a native class does, around the
    finalizer it calls.  So the future's finalizer only reads its flags, and, when there is
    something to report, makes one of these and lets it go at once: this object's finalizer
    makes the report, with the exception in flight set aside, and the future is still whole
    (the report can show it, as asyncio's does).  The common case, a future with nothing to
    report, calls nothing at all.
    """

    __slots__ = ("future",)

    def __init__(self, future: FutureCore) -> None:
        self.future = future

    def __del__(self) -> None:
        self.future._finalize()  # virtual: TaskCore's reports more


def note_owner(fut: object, owner: object) -> None:
    """Record that ``fut`` parks a task waiting on ``owner`` (see ``Future._owner``).

    Only spindle's own futures carry the note; on another loop's futures it does nothing.
    One type check and one store, on paths that are about to suspend a task anyway.
    """
    if isinstance(fut, FutureCore):
        fut._owner = owner


def set_result_unless_cancelled(fut: Any, result: object) -> None:
    """Set ``fut``'s result unless it was cancelled meanwhile (a timer/thread race)."""
    if not fut.cancelled():
        fut.set_result(result)


def _as_asyncio_exception(exc: BaseException) -> BaseException:
    """concurrent.futures' CancelledError / InvalidStateError as asyncio's own classes."""
    if type(exc) is concurrent.futures.CancelledError:
        return CancelledError(*exc.args).with_traceback(exc.__traceback__)
    if type(exc) is concurrent.futures.InvalidStateError:
        return InvalidStateError(*exc.args).with_traceback(exc.__traceback__)
    return exc


def _copy_outcome(source: concurrent.futures.Future[Any], dest: Any) -> None:
    """Give ``dest`` (a loop future) the outcome of the finished ``source``."""
    if dest.done():
        return
    if source.cancelled():
        dest.cancel()
        return
    exc = source.exception()
    if exc is not None:
        dest.set_exception(_as_asyncio_exception(exc))
    else:
        dest.set_result(source.result())


def wrap_concurrent_future(source: concurrent.futures.Future[T], *, loop: Any) -> Any:
    """A loop future that follows ``source`` (finished by another thread) to its outcome.

    Cancelling the loop future cancels ``source`` too (a no-op once it is running).
    """
    dest = loop.create_future()
    # Two callbacks bound with partial, not two closures: compiled, a function's closures
    # share one environment holding every variable any of them uses, so the callback kept by
    # ``source`` (concurrent.futures never drops its done-callbacks) would hold ``source``
    # through ``on_dest_done``'s variable: a cycle keeping the outcome (an exception holding
    # a socket, say) alive until the garbage collector ran.  ``dest`` drops its callbacks
    # once done, so its reference back to ``source`` lasts only while it waits.
    dest.add_done_callback(functools.partial(_cancel_source, source))
    source.add_done_callback(functools.partial(_on_source_done, loop, dest))
    return dest


def _on_source_done(loop: Any, dest: Any, source: concurrent.futures.Future[Any]) -> None:
    """In the thread that finished ``source``: have the loop copy its outcome to ``dest``."""
    if loop.is_closed():
        return
    # RuntimeError: the loop closed between the check and the call; nobody is waiting.
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(_copy_outcome, source, dest)


def _cancel_source(source: concurrent.futures.Future[Any], dest: Any) -> None:
    if dest.cancelled():
        source.cancel()
