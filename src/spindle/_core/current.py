"""Which loop is current in this thread.

The running loop lives in asyncio's own per-thread slot (see ``spindle._compat``), so that
``asyncio.get_running_loop()`` and ``spindle.get_running_loop()`` always agree.  The loop a
thread chose with ``set_event_loop`` (used outside a running loop, e.g. by
``loop.run_until_complete`` programs) is kept here.  spindle has no policy objects.
"""

from __future__ import annotations

import asyncio
import os
import threading

from spindle import _compat

__all__ = [
    "current_loop",
    "get_running_loop",
    "running_loop",
    "set_thread_loop",
    "thread_chose_its_loop",
    "thread_loop",
]


class _ThreadLoops(threading.local):
    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        # set_event_loop() was called in this thread (even with None): as in asyncio, a
        # thread that chose "no loop" does not get one created behind its back.
        self.chosen = False


_thread_loops = _ThreadLoops()


def _forget_loops_in_forked_child() -> None:
    """After ``fork()``, in the child: the parent's loops are not the child's to run.

    The child inherits the memory of the thread that forked, including its current and
    running loop, whose poller and wake-up descriptors are shared with the parent.  As
    asyncio does from 3.12, the child starts with no loop; ``get_event_loop()`` makes a new
    one there.
    """
    global _thread_loops
    _thread_loops = _ThreadLoops()
    _compat.set_running_loop(None)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_loops_in_forked_child)


def running_loop() -> asyncio.AbstractEventLoop | None:
    """The loop running in this thread, or None."""
    loop: asyncio.AbstractEventLoop | None = _compat.get_running_loop_or_none()
    return loop


def get_running_loop() -> asyncio.AbstractEventLoop:
    """The loop running in this thread; RuntimeError outside a running loop."""
    loop: asyncio.AbstractEventLoop | None = _compat.get_running_loop_or_none()
    if loop is None:
        raise RuntimeError("no running event loop")
    return loop


def thread_loop() -> asyncio.AbstractEventLoop | None:
    """The loop this thread set with ``set_event_loop``, or None."""
    return _thread_loops.loop


def set_thread_loop(loop: asyncio.AbstractEventLoop | None) -> None:
    _thread_loops.loop = loop
    _thread_loops.chosen = True


def thread_chose_its_loop() -> bool:
    """Whether ``set_event_loop`` was called in this thread."""
    return _thread_loops.chosen


def current_loop(purpose: str) -> asyncio.AbstractEventLoop:
    """The running loop, else the thread's loop; RuntimeError naming ``purpose`` if neither."""
    loop = running_loop() or _thread_loops.loop
    if loop is None:
        raise RuntimeError(
            f"{purpose} needs an event loop, and there is no current event loop: call it "
            "from a coroutine running on a loop, or pass loop= explicitly"
        )
    return loop
