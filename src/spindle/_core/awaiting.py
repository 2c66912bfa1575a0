"""What ``await future`` runs: yield the future until it is done, then its result.

This module is deliberately *not* compiled (it is not in ``compiled_modules.txt``), in either
build, and ``Future.__await__`` hands out its generator.  An interpreted generator is what an
awaiting coroutine drives best: its ``await`` resumes the generator through CPython's C-level
send, and the generator's return hands the result back without raising StopIteration.  A
compiled iterator instead ends by raising StopIteration, and every exception leaving compiled
code costs a traceback entry made on the spot (a code object and a frame: thousands of
instructions per ``await``).  And a compiled generator's ``throw()`` drops the traceback of
the exception thrown in, and accepts arguments CPython refuses; this one is CPython's own.

The generator does as little as it can in Python.  ``Future.__await__`` (compiled) has already
looked at the future: it passes ``pending`` and, for a pending future, has set
``_asyncio_future_blocking``; and the outcome is read by ``outcome``, a compiled function
(``futures.outcome_of``).  From interpreted code a native object's field costs as much as a
call (a generic attribute look-up through its Python subclass), so the generator reads none.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from spindle._core.futures import FutureCore

__all__ = ["await_future"]


def await_future(
    future: FutureCore, pending: bool, outcome: Callable[[FutureCore], Any]
) -> Generator[Any, None, Any]:
    """The steps of ``await future`` (see the module docstring)."""
    try:
        if pending:
            yield future  # the Task running us suspends until the future is done
        return outcome(future)
    finally:
        # An exception leaving here keeps this frame in its traceback; still holding the
        # future, which holds the exception (a failed task), the frame would close a cycle
        # that only the garbage collector frees, with every frame of the traceback alive.
        del future
