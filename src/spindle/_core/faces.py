"""The Future class users hold: spindle's future, weak-referenceable.

``FutureCore`` (``futures.py``) is all of a Future's behaviour, compiled into a native class
in the compiled build.  Native classes cannot offer weak references safely (mypyc does not
clear them when an object dies: mypyc issue 1102), yet asyncio code takes them: a
``WeakValueDictionary`` of pending requests, a ``weakref.ref(waiter)`` checked for leaks,
asyncio's own task set.  This ordinary Python subclass adds the interpreter's weak-reference
slot, and the interpreter clears it when the future dies.  ``Task`` is built on it the same
way (``tasks.Task``), so ``isinstance(task, Future)`` holds.  In the compiled build it also
sets the finalizer's flag as the future is allocated (``__new__``, below).

This module is deliberately not compiled (it is not in ``compiled_modules.txt``).
"""

from __future__ import annotations

from typing import Any, Final, Self

from spindle._core.build import COMPILED
from spindle._core.futures import FutureCore

__all__ = ["Future"]


class Future(FutureCore):
    """A result (or exception, or cancellation) that a coroutine can await."""

    # The interpreter's weak-reference slot: what this class is for (see above).  And an
    # instance dictionary, made on the first attribute set: asyncio's C Future and Task take
    # attributes of the caller's own (proxy.py tags each task it creates with ``_work_id``).
    __slots__ = ("__dict__", "__weakref__")

    if COMPILED:

        def __new__(cls, *args: Any, **kwargs: Any) -> Self:
            # The finalizer's flag, set before anything can fail.  The finalizer (compiled:
            # FutureCore.__del__, inherited) reads it and nothing else, and must not raise
            # while an exception may be on its way up: ``Future(42)`` dies as __init__'s
            # argument check raises TypeError, before __init__ has set anything.  A field
            # never set would make the read raise AttributeError in its place (and the
            # interpreter then report SystemError).  The loop's create_future allocates
            # through FutureCore.__new__ and sets the flag first thing, without this call.
            future = _allocate(cls)
            future._log_traceback = False
            return future


_allocate: Final = FutureCore.__new__
