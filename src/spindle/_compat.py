"""The one place where spindle touches asyncio's loop-implementer hooks.

asyncio keeps two pieces of per-thread state that the rest of the ecosystem reads:
the running loop (``asyncio.get_running_loop()``) and the current task of each loop
(``asyncio.current_task()``, ``asyncio.all_tasks()``; sniffio and anyio depend on them).
A third-party loop must keep that state up to date, and asyncio exposes a handful of
underscore functions for exactly this purpose.  spindle uses those and no other private
asyncio name, and it uses them only through this module, so the whole contact surface
between spindle and asyncio's internals is visible on one screen.

Nothing else of asyncio's is read by a private name, not even for diagnostics: what the task
dump shows of asyncio's own gather, TaskGroup, Queue or Task is read with public
introspection (``spindle.diagnostics.asyncio_objects``).  ``tests/test_asyncio_seam.py``
keeps it so.
"""

from __future__ import annotations

import asyncio
import asyncio.events
import asyncio.tasks
from typing import Any

__all__ = [
    "enter_task",
    "get_running_loop_or_none",
    "leave_task",
    "register_task",
    "set_running_loop",
    "unregister_task",
]

# The running loop of this thread, or None.  Implemented in C; one call per lookup.
get_running_loop_or_none = asyncio.events._get_running_loop

# Install (or clear, with None) the running loop of this thread.
set_running_loop = asyncio.events._set_running_loop

# Task registry: a weak set of every live task, read by asyncio.all_tasks().
register_task: Any = asyncio.tasks._register_task
unregister_task: Any = asyncio.tasks._unregister_task

# Current task of a loop, read by asyncio.current_task().  enter_task raises
# RuntimeError when another task is already current on that loop, and leave_task
# raises when the named task is not the current one: both are cheap C functions.
enter_task: Any = asyncio.tasks._enter_task
leave_task: Any = asyncio.tasks._leave_task
