"""The one place where spindle touches asyncio's loop-implementer hooks.

asyncio keeps two pieces of per-thread state that the rest of the ecosystem reads:
the running loop (``asyncio.get_running_loop()``) and the current task of each loop
(``asyncio.current_task()``, ``asyncio.all_tasks()``; sniffio and anyio depend on them).
A third-party loop must keep that state up to date, and asyncio exposes a handful of
underscore functions for exactly this purpose.  spindle uses those and no other private
asyncio name, and it uses them only through this module, so the whole contact surface
between spindle and asyncio's internals is visible on one screen.
"""

from __future__ import annotations

import asyncio
import asyncio.events
import asyncio.tasks
from typing import Any

__all__ = [
    "asyncio_callback_futures",
    "asyncio_gather_children",
    "asyncio_queue_getters",
    "asyncio_stream_transport",
    "asyncio_task_waiter",
    "asyncio_taskgroup_parent",
    "asyncio_taskgroup_tasks",
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


# -- reading asyncio's own objects, for diagnostics ----------------------------------------
#
# A program run with ``python -m spindle`` uses asyncio's gather, TaskGroup, Queue and
# streams on spindle's loop.  To say what its tasks wait on (``spindle.diagnostics.waits``),
# spindle reads a few private fields of those objects.  Reading only, and each read falls
# back to "unknown" when a future asyncio renames the field: a report loses a detail, and
# nothing breaks.


def asyncio_task_waiter(task: Any) -> Any:
    """The future an asyncio Task is suspended on, or None."""
    return getattr(task, "_fut_waiter", None)


def asyncio_gather_children(fut: Any) -> list[Any] | None:
    """The children of asyncio's gather() future; None for any other future."""
    if type(fut).__name__ != "_GatheringFuture":
        return None
    children = getattr(fut, "_children", None)
    return list(children) if isinstance(children, list) else None


def asyncio_taskgroup_parent(group: Any) -> Any:
    """The task that entered an asyncio.TaskGroup, or None."""
    return getattr(group, "_parent_task", None)


def asyncio_taskgroup_tasks(group: Any) -> list[Any]:
    """The tasks of an asyncio.TaskGroup."""
    members = getattr(group, "_tasks", None)
    return list(members) if isinstance(members, set) else []


def asyncio_queue_getters(queue: Any) -> list[Any]:
    """The futures of the tasks blocked in an asyncio.Queue's get()."""
    getters = getattr(queue, "_getters", None)
    return list(getters) if getters is not None else []


def asyncio_stream_transport(reader: Any) -> Any:
    """The transport an asyncio.StreamReader reads from, or None."""
    return getattr(reader, "_transport", None)


def asyncio_callback_futures(callback: Any) -> list[Any]:
    """The futures an asyncio done-callback completes or wakes (its closure, its partial).

    asyncio's shield, wait_for (3.11) and wait register a callback on the awaited future
    that settles a future of their own, which the calling task awaits: whoever awaits that
    one awaits this one.
    """
    if getattr(callback, "func", None) is not None and hasattr(callback, "args"):
        found = list(callback.args)  # functools.partial(_release_waiter, waiter)
        callback = callback.func
    else:
        found = []
    if not (getattr(callback, "__module__", None) or "").startswith("asyncio"):
        return []
    for cell in getattr(callback, "__closure__", None) or ():
        try:
            found.append(cell.cell_contents)
        except ValueError:  # an empty cell
            continue
    return [f for f in found if hasattr(type(f), "_asyncio_future_blocking")]
