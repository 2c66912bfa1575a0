"""Finding, creating and setting event loops.

spindle keeps no policy objects: a thread's current loop is the running loop, or else the
loop that ``set_event_loop`` stored for the thread (see ``spindle._core.current``).
"""

from __future__ import annotations

import asyncio
import sys
import threading
import warnings

from spindle._core import current

__all__ = [
    "get_event_loop",
    "get_running_loop",
    "new_event_loop",
    "set_event_loop",
]

get_running_loop = current.get_running_loop
_get_running_loop = current.running_loop


def new_event_loop() -> asyncio.AbstractEventLoop:
    """A new spindle event loop (not set as the current loop)."""
    from spindle._io.loop import EventLoop

    return EventLoop()


def set_event_loop(loop: asyncio.AbstractEventLoop | None) -> None:
    """Make ``loop`` the current loop of this thread (``None`` clears it)."""
    if loop is not None and not isinstance(loop, asyncio.AbstractEventLoop):
        raise TypeError(
            f"set_event_loop() expects an AbstractEventLoop or None, not {type(loop).__name__}"
        )
    current.set_thread_loop(loop)


def creates_a_loop(python: tuple[int, int], in_main_thread: bool, thread_chose: bool) -> bool:
    """Whether ``get_event_loop()``, finding no loop, makes one (asyncio's rule on ``python``).

    Only in the main thread, only until the thread has called ``set_event_loop()``, and only
    before Python 3.14, whose asyncio raises instead.
    """
    return in_main_thread and not thread_chose and python < (3, 14)


def get_event_loop() -> asyncio.AbstractEventLoop:
    """The running loop, else this thread's current loop, creating one as asyncio does.

    Outside a running loop, asyncio creates a loop in the main thread (silently on 3.11, with
    a DeprecationWarning on 3.12 and 3.13) and raises RuntimeError in other threads; from 3.14
    it raises RuntimeError in every thread.
    """
    loop = current.running_loop() or current.thread_loop()
    if loop is not None:
        return loop
    in_main_thread = threading.current_thread() is threading.main_thread()
    if not creates_a_loop(sys.version_info[:2], in_main_thread, current.thread_chose_its_loop()):
        raise RuntimeError(
            f"There is no current event loop in thread {threading.current_thread().name!r}."
        )
    if sys.version_info >= (3, 12):
        warnings.warn("There is no current event loop", DeprecationWarning, stacklevel=2)
    loop = new_event_loop()
    current.set_thread_loop(loop)
    return loop
