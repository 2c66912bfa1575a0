"""Binding a synchronisation primitive to the loop that first needs it.

A Lock, Event or Queue is created in plain code, often before any loop runs (at import
time, in a constructor), so it cannot take its loop as an argument (asyncio stopped
accepting ``loop=`` in 3.10).  Yet its waiters are futures, and a future belongs to one
loop: a task on loop B that awaits a future made by loop A would hang or crash.  So a
primitive binds itself lazily, to the running loop, the first time it has to create a
waiter, and refuses any other loop afterwards with an error that says so.

Primitives that never wait (a Lock only ever acquired uncontended) never bind, which is
what asyncio does too; and ``_loop`` keeps asyncio's name because CPython's own tests set
it to simulate a mismatch.
"""

from __future__ import annotations

import asyncio
import threading

from spindle._compat import get_running_loop_or_none
from spindle._core import current

__all__ = ["LoopBound"]

# Two threads may race to bind the same primitive; the loser must see the winner's loop.
# One process-wide lock is enough: binding happens once per primitive.
_binding_lock = threading.Lock()


class LoopBound:
    """Mixin: ``_get_loop()`` returns the running loop, binding to it on first use."""

    _loop: asyncio.AbstractEventLoop | None = None

    def _get_loop(self) -> asyncio.AbstractEventLoop:
        """The running loop; RuntimeError if this object is bound to another one."""
        loop = get_running_loop_or_none()
        if loop is self._loop and loop is not None:
            return loop  # the common case: bound already, to the running loop
        loop = current.get_running_loop()  # RuntimeError outside a running loop
        if self._loop is None:
            with _binding_lock:
                if self._loop is None:
                    self._loop = loop
        if loop is not self._loop:
            raise RuntimeError(
                f"{self!r} is bound to a different event loop: "
                f"it was first used on {self._loop!r}, not on the running {loop!r}"
            )
        return loop
