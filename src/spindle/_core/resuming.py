"""One step of a task's coroutine, for the compiled build: ``resume``.

This module is deliberately *not* compiled (it is not in ``compiled_modules.txt``).  A
coroutine that returns ends its last ``send()`` or ``throw()`` by raising StopIteration, and in
compiled code every exception that arrives, even one caught on the spot, costs a traceback
entry made then and there (a code object and a frame: thousands of instructions, once per
task).  Caught here, in Python, it costs what a Python ``except`` costs, and the compiled
``TaskCore._step`` gets a ``Returned`` instead.  ``_step`` sends through the task's runner
(taskcore.py, "the runner"), and comes here to throw, and to send to coroutine-like objects
that are not coroutines.  The pure build needs none of this and calls ``send`` itself.
"""

from __future__ import annotations

from typing import Any

from spindle._core.returned import Returned

__all__ = ["resume"]


def resume(coro: Any, exc: BaseException | None) -> Any:
    """Resume ``coro`` (``send(None)``, or ``throw(exc)``) until it suspends or ends.

    What it yielded, or ``Returned(value)`` if it returned; whatever else it raises, raised.
    """
    try:
        return coro.send(None) if exc is None else coro.throw(exc)
    except StopIteration as stop:
        return Returned(stop.value)
    finally:
        # An exception thrown in that comes back out has this frame in its traceback: were
        # the frame still to hold it (and the coroutine), the two would make a cycle that
        # only the garbage collector frees, keeping all the exception's frames alive (as
        # TaskCore._step drops its own references).
        del coro, exc
