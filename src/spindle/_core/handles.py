"""Handles: a callback waiting in the loop's ready queue or timer queue.

``loop.call_soon`` returns a ``Handle``; ``loop.call_later`` and ``call_at`` return a
``TimerHandle``.  They have the methods asyncio documents for its own ``asyncio.Handle`` and
``asyncio.TimerHandle`` (``cancel``, ``cancelled``, ``when``, ``get_context``), but they are
not instances of those classes: asyncio's declare ``__slots__`` in Python, and a class built
on them cannot be compiled into a native class, which is where most of the loop's time goes
(uvloop's and rloop's handles are not asyncio's either).  The README lists this difference.

Cancelling a handle never removes it from a queue: it is marked, its callback and arguments
are dropped (so they can be collected at once), and the loop skips it when it comes up.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
import os
import reprlib
import sys
import traceback
from collections.abc import Callable
from typing import Any, Final

__all__ = [
    "RUNTIME_DIRS",
    "RUNTIME_FILES",
    "SPINDLE_DIR",
    "Handle",
    "TimerHandle",
    "capture_source_traceback",
    "describe_callback",
    "is_runtime_file",
    "is_spindle_file",
    "report_callback_error",
    "report_step_error",
]

# Bound once: read on hot paths (a module attribute lookup less each time).
_copy_context: Final = contextvars.copy_context

# Frames in these directories are the runtime's own (spindle's and asyncio's): "where was this
# created" skips them to name the user's line.
SPINDLE_DIR: Final = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
RUNTIME_DIRS: Final = (
    SPINDLE_DIR.rstrip(os.sep),
    os.path.dirname(os.path.abspath(asyncio.__file__)),
)

def _python_files_under(directories: tuple[str, ...]) -> frozenset[str]:
    return frozenset(
        os.path.join(root, name)
        for directory in directories
        for root, _, names in os.walk(directory)
        for name in names
        if name.endswith(".py")
    )


# The same, as the set of the runtime's source files: ``co_filename in RUNTIME_FILES`` is one
# set lookup of a string whose hash is cached, where ``startswith(RUNTIME_DIRS)`` compares
# prefixes.  Task-origin tracking (default-on diagnostics) asks it for every task created.
# (Compiled functions have no frames, so a walk up the stack never meets them.)
RUNTIME_FILES: Final = _python_files_under(RUNTIME_DIRS)

# Compiled spindle functions show up in tracebacks under the path mypyc was given when the
# build was made (relative: ``src/spindle/...``), not where spindle is installed.
_COMPILED_SOURCE_PREFIX: Final = os.path.join("src", "spindle", "")


def is_spindle_file(filename: str) -> bool:
    """Whether ``filename`` (a code object's) is spindle's own code, in either build."""
    return filename.startswith((SPINDLE_DIR, _COMPILED_SOURCE_PREFIX))


def is_runtime_file(filename: str) -> bool:
    """Whether ``filename`` is the runtime's own code: spindle's or asyncio's."""
    return filename.startswith(RUNTIME_DIRS) or filename.startswith(_COMPILED_SOURCE_PREFIX)


def capture_source_traceback() -> traceback.StackSummary:
    """The stack (debug mode) where the object being created was created, outside the runtime.

    It starts from the innermost Python frame and skips the runtime's own: compiled functions
    have no frames, so no fixed depth would be right in both builds.
    """
    frame = sys._getframe(0)
    while frame.f_back is not None and is_runtime_file(frame.f_code.co_filename):
        frame = frame.f_back
    return traceback.extract_stack(frame)


def _source_traceback_for(loop: Any) -> traceback.StackSummary | None:
    """Where a handle is being created, if its loop is in debug mode.

    Callers skip this for spindle's loops that say they are "plain" (open, not debugging)
    with a real bool; any other loop (a foreign or a mock one) is asked the documented way.
    """
    if not loop.get_debug():
        return None
    return capture_source_traceback()


# A handle's repr shows its callback's arguments: always up to Python 3.12, and from 3.13
# (as asyncio) only in debug mode, since arguments may hold secrets that end up in logs.
ARGUMENTS_ONLY_IN_DEBUG: Final = sys.version_info >= (3, 13)


def describe_callback(
    callback: object, args: tuple[object, ...] = (), *, show_arguments: bool = True
) -> str:
    """A short human description of a callback: ``name(args) at file:line``.

    A ``functools.partial`` shows its own arguments, then the call's: ``f(1)(2)``; without
    ``show_arguments``, every pair of parentheses is empty: ``f()()``.
    """
    text = _format_arguments(args) if show_arguments else "()"
    while isinstance(callback, functools.partial):
        own = _format_arguments(callback.args, callback.keywords) if show_arguments else "()"
        text = own + text
        callback = callback.func
    name = getattr(callback, "__qualname__", None) or getattr(callback, "__name__", None)
    text = f"{name or repr(callback)}{text}"
    target: Any = getattr(callback, "__func__", callback)
    if isinstance(target, functools.partialmethod):
        target = target.func
    code = getattr(inspect.unwrap(target), "__code__", None)
    if code is not None:
        text += f" at {code.co_filename}:{code.co_firstlineno}"
    return text


def _format_arguments(args: tuple[object, ...], keywords: dict[str, object] | None = None) -> str:
    shown = [reprlib.repr(a) for a in args]
    shown += [f"{k}={reprlib.repr(v)}" for k, v in (keywords or {}).items()]
    return f"({', '.join(shown)})"


def report_callback_error(handle: Handle, exc: BaseException) -> None:
    """Hand a callback's exception to its loop's exception handler."""
    context: dict[str, Any] = {
        "message": f"Exception in callback {handle!r}",
        "exception": exc,
        "handle": handle,
    }
    if handle._source_traceback:
        context["source_traceback"] = handle._source_traceback
    handle._loop.call_exception_handler(context)


def report_step_error(task: Any, exc: BaseException) -> None:
    """Hand what a task's step raised, run from the ready queue, to its loop's handler.

    A task queues itself for its next step (``scheduler.ReadyEntry``); only a task that is
    done already has no step to take (InvalidStateError).
    """
    task.get_loop().call_exception_handler(
        {"message": f"Exception in the step of {task!r}", "exception": exc, "task": task}
    )


class Handle:
    """A callback with its arguments and context, scheduled to run once."""

    __slots__ = (
        "_args",
        "_callback",
        "_cancelled",
        "_context",
        "_loop",
        "_repr",
        "_source_traceback",
    )

    _callback: Callable[..., object] | None
    _args: tuple[Any, ...] | None
    _cancelled: bool
    # Any loop: asyncio's tests make handles for loops of their own (and for mocks).
    _loop: Any
    _context: contextvars.Context
    _source_traceback: traceback.StackSummary | None
    _repr: str | None

    def __init__(
        self,
        callback: Callable[..., object],
        args: tuple[Any, ...],
        loop: Any,
        context: contextvars.Context | None = None,
        plain: bool = False,
    ) -> None:
        """``plain``: the caller knows ``loop`` is one of spindle's, open and not debugging
        (no source traceback to take); otherwise the loop is asked."""
        self._callback = callback
        self._args = args
        self._cancelled = False
        self._loop = loop
        self._context = _copy_context() if context is None else context
        self._repr = None
        self._source_traceback = (
            None
            if plain or getattr(loop, "_plain", None) is True
            else _source_traceback_for(loop)
        )

    def get_context(self) -> contextvars.Context:
        return self._context

    def cancel(self) -> None:
        if self._cancelled:
            return
        self._cancelled = True
        if self._loop.get_debug():
            # Keep a description: after cancel() the callback itself is gone.
            self._repr = repr(self)
        self._callback = None
        self._args = None

    def cancelled(self) -> bool:
        return self._cancelled

    def _run(self) -> None:
        """Run the callback now, reporting (not raising) what it raises."""
        callback, args = self._callback, self._args
        if self._cancelled or callback is None or args is None:
            return
        try:
            self._context.run(callback, *args)
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            report_callback_error(self, exc)
        finally:
            # A failing callback's traceback reaches this frame (its f_back chain): drop the
            # references to the callback, or a task whose step failed would form a cycle
            # with its own exception, freed only by the GC (and reported late).
            del self, callback, args

    def _state_fields(self) -> str:
        return " cancelled" if self._cancelled else ""

    def _describe(self) -> str:
        if self._repr is not None:
            return self._repr
        state = self._state_fields()
        what = ""
        if self._callback is not None:
            show = not ARGUMENTS_ONLY_IN_DEBUG or bool(self._loop.get_debug())
            what = " " + describe_callback(self._callback, self._args or (), show_arguments=show)
        where = ""
        if self._source_traceback:
            frame = self._source_traceback[-1]
            where = f" created at {frame.filename}:{frame.lineno}"
        return f"<{type(self).__name__}{state}{what}{where}>"

    def __repr__(self) -> str:
        return self._describe()


class TimerHandle(Handle):
    """A handle that runs at a deadline on the loop's clock."""

    __slots__ = ("_deadline", "_scheduled", "_seq", "_when")

    # A loop time as given (call_at(123) shows when=123, as asyncio's does): int or float.
    _when: int | float
    # The same as a float, and the timer queue's sequence number: the heap's order.
    _deadline: float
    _seq: int
    _scheduled: bool

    def __init__(
        self,
        when: int | float,
        callback: Callable[..., object],
        args: tuple[Any, ...],
        loop: Any,
        context: contextvars.Context | None = None,
        plain: bool = False,
    ) -> None:
        super().__init__(callback, args, loop, context, plain)
        self._when = when
        self._deadline = float(when)
        self._seq = 0
        self._scheduled = False

    def when(self) -> int | float:
        """The deadline, in the loop's time."""
        return self._when

    def cancel(self) -> None:
        if not self._cancelled and self._scheduled:
            self._loop._timer_cancelled()
        Handle.cancel(self)

    def _state_fields(self) -> str:
        return f"{Handle._state_fields(self)} when={self._when}"

    # Timer handles order by deadline (asyncio's do too); equality is identity, so that two
    # timers due at the same time are never "the same timer".
    def __lt__(self, other: object) -> bool:
        if not isinstance(other, TimerHandle):
            return NotImplemented
        return self._when < other._when

    def __le__(self, other: object) -> bool:
        if not isinstance(other, TimerHandle):
            return NotImplemented
        return self._when <= other._when

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, TimerHandle):
            return NotImplemented
        return self._when > other._when

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, TimerHandle):
            return NotImplemented
        return self._when >= other._when

    def __hash__(self) -> int:
        return object.__hash__(self)

    def __eq__(self, other: object) -> bool:
        return self is other
