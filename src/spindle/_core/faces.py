"""The Future class users hold: spindle's future, weak-referenceable.

``FutureCore`` (``futures.py``) is all of a Future's behaviour, compiled into a native class
in the compiled build.  Native classes cannot offer weak references safely (mypyc does not
clear them when an object dies: mypyc issue 1102), yet asyncio code takes them: a
``WeakValueDictionary`` of pending requests, a ``weakref.ref(waiter)`` checked for leaks,
asyncio's own task set.  This ordinary Python subclass adds the interpreter's weak-reference
slot and nothing else, and the interpreter clears it when the future dies.  ``Task`` is built
on it the same way (``tasks.Task``), so ``isinstance(task, Future)`` holds.

This module is deliberately not compiled (it is not in ``compiled_modules.txt``).
"""

from __future__ import annotations

from spindle._core.futures import FutureCore

__all__ = ["Future"]


class Future(FutureCore):
    """A result (or exception, or cancellation) that a coroutine can await."""

    # The interpreter's weak-reference slot: what this class is for (see above).  And an
    # instance dictionary, made on the first attribute set: asyncio's C Future and Task take
    # attributes of the caller's own (proxy.py tags each task it creates with ``_work_id``).
    __slots__ = ("__dict__", "__weakref__")

    # The finalizer, under a name of its own.  Inherited as ``__del__``, the native class's
    # finalizer would run without saving the exception the interpreter may be raising at
    # that moment (a mypyc limitation: ``Future(42)`` would then fail with SystemError, not
    # TypeError).  A method named ``__del__`` in a Python class makes the interpreter wrap
    # the call in its own finalizer, which saves and restores that exception.
    __del__ = FutureCore._finalize
