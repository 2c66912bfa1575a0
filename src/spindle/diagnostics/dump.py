"""The task dump: ``dump_tasks()``, and the loops it can see.

A dump is the header, the task list and the call tree of ``render``, for one loop or for
every loop a diagnostics session watches in this process (a ``spindle.run()`` in each of two
threads makes two).  It is what ``python -m spindle ps PID`` shows of another process, what
the first Ctrl-C of a program under ``spindle.run()`` prints, and what
``SPINDLE_DUMP_SIGNAL=SIGUSR1`` prints on ``kill -USR1 PID``; a program can print it itself::

    spindle.diagnostics.dump_tasks()                 # to stderr
    spindle.diagnostics.dump_tasks(file=out)         # anywhere
"""

from __future__ import annotations

import asyncio
import os
import sys
import types
import weakref
from typing import IO

from spindle._compat import get_running_loop_or_none
from spindle.diagnostics import render, snapshot

__all__ = ["dump_tasks", "format_dump", "process_command", "watch", "watched_loops"]

# Loops with a diagnostics session (weakly: a loop's entry goes with it).
_watched: weakref.WeakSet[asyncio.AbstractEventLoop] = weakref.WeakSet()


def watch(loop: asyncio.AbstractEventLoop) -> None:
    _watched.add(loop)


def unwatch(loop: asyncio.AbstractEventLoop) -> None:
    _watched.discard(loop)


def watched_loops() -> list[asyncio.AbstractEventLoop]:
    """The open loops diagnostics watch, in no particular order."""
    return [loop for loop in list(_watched) if not loop.is_closed()]


def process_command() -> str:
    """How this process was started, for a dump's header: ``python app.py --port 8``."""
    argv = [os.path.basename(sys.executable) or "python", *sys.argv]
    text = " ".join(argv)
    return text if len(text) <= 80 else text[:77] + "..."


def format_dump(
    loops: list[asyncio.AbstractEventLoop], top: types.FrameType | None = None
) -> str:
    """The dump of ``loops`` (``top``: the frame that asked, when on a loop's thread)."""
    infos = [snapshot.take(loop, top) for loop in loops]
    parts = [render.render_header(os.getpid(), process_command(), infos)]
    if infos:
        parts += [render.render_list(infos), "call tree:", render.render_tree(infos)]
    return "\n".join(parts)


def dump_tasks(
    file: IO[str] | None = None, *, loop: asyncio.AbstractEventLoop | None = None
) -> None:
    """Print every task, where it waits and on what, and who awaits whom, to ``file``.

    ``loop`` defaults to the running loop, or, outside one, to every loop spindle's
    diagnostics watch (those of ``spindle.run()`` and ``python -m spindle``).  ``file``
    defaults to stderr.
    """
    if loop is None:
        running = get_running_loop_or_none()
        loops = [running] if running is not None else watched_loops()
    else:
        loops = [loop]
    text = format_dump(loops, sys._getframe(1))
    print(text, file=sys.stderr if file is None else file, flush=True)
