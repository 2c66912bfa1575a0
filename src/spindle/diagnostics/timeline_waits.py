"""What a suspended task waits on, for the timeline: a sleep, a lock, a queue, I/O, a task.

(``waits`` answers the same question in detail, for the task dump and the call graph, from
state the primitives note; this is the timeline's quick version, asked at the end of every
step: a handful of kinds, for the colours, read from the task's chain of awaits.  Unifying the
two, so the timeline too reads the primitives' notes, is the next step: their reading of a
whole loop's timers and descriptors per call is what keeps it out of a per-step hook today.)

A task suspends on a future; the future alone rarely says why (``Lock.acquire``, ``Queue.get``
and ``sleep`` all wait on a plain future of the loop).  The coroutines above it do: the chain of
awaits of the task's coroutine runs from the program's code into the runtime function it called
(``Queue.get``, ``StreamReader.readline`` then ``_wait_for_data``, ``sleep``).  The outermost
runtime function that the table below knows names the wait; failing that, the future itself
(another task, a ``gather``) does; failing that, it is a future.

``classify`` is pure, tested with a table; ``wait_of`` reads a live task (on the loop's thread).
"""

from __future__ import annotations

import asyncio
import enum
import functools
import os
import types
from typing import Any

from spindle import tasks as api_tasks
from spindle._core.handles import RUNTIME_DIRS
from spindle.diagnostics import asyncio_objects
from spindle.diagnostics.waits import owner_of, task_waiter
from spindle.taskgroups import TaskGroup

__all__ = ["WaitKind", "classify", "wait_of"]


class WaitKind(enum.Enum):
    SLEEP = "sleep"
    LOCK = "lock"  # a lock, event, condition, semaphore or barrier
    QUEUE = "queue"
    IO = "I/O"
    TASK = "task"  # another task, a gather, a TaskGroup's tasks
    FUTURE = "future"  # anything else


_LOCK_CLASSES = frozenset(
    {"Lock", "Event", "Condition", "Semaphore", "BoundedSemaphore", "Barrier"}
)
_QUEUE_CLASSES = frozenset({"Queue", "PriorityQueue", "LifoQueue"})
_TASK_FUNCTIONS = frozenset({"gather", "wait", "as_completed", "shield"})
_TASK_CLASSES = frozenset({"TaskGroup"})
# Runtime modules whose waits are for I/O (spindle's I/O layer and streams, asyncio's).
_IO_MODULES = frozenset(
    {"streams", "streams_reader", "streams_writer", "selector_events", "sslproto", "base_events"}
)


@functools.lru_cache(maxsize=1024)
def _runtime_module(filename: str) -> str | None:
    """``streams`` for ``.../asyncio/streams.py``; ``_io.sockets`` for spindle's; else None."""
    path = os.path.abspath(filename)
    for directory in RUNTIME_DIRS:
        if path.startswith(directory + os.sep):
            relative = os.path.relpath(path, directory)
            return os.path.splitext(relative)[0].replace(os.sep, ".")
    return None


def _kind_of_frame(module: str, qualname: str) -> WaitKind | None:
    """The wait a runtime function stands for, or None if the table does not know it."""
    owner, _, name = qualname.rpartition(".")
    owner = owner.rpartition(".")[2]  # "Queue" of "Queue.get", "X.<locals>.Queue.get"
    if name == "sleep" and not owner:
        return WaitKind.SLEEP
    if owner in _LOCK_CLASSES:
        return WaitKind.LOCK
    if owner in _QUEUE_CLASSES:
        return WaitKind.QUEUE
    if owner in _TASK_CLASSES or (not owner and name in _TASK_FUNCTIONS):
        return WaitKind.TASK
    if (
        module.startswith(("_io.", "streams"))
        or module in _IO_MODULES
        or name.startswith("sock_")
    ):
        return WaitKind.IO
    return None


def classify(chain: list[tuple[str, str]], waiter: str) -> tuple[WaitKind, str]:
    """The kind of a wait and a short label for it.

    ``chain``: ``(filename, qualname)`` of the coroutines of the task's await chain, outermost
    first.  ``waiter``: what the task's future is: ``"task:NAME"`` for another task,
    ``"gather"`` for a gather's future, ``"TaskGroup"`` for the one spindle's TaskGroup parks
    its parent on (compiled, the group's ``__aexit__`` is not in the chain), anything else for
    a plain future.

    The outermost runtime function the table knows names the wait, as the program called it
    (``StreamReader.readline``, not the helper it waits in; ``Queue.join``, not the event it is
    built on).  Wrappers the table does not know are looked through: ``wait_for(queue.get())``
    waits on a queue.
    """
    known = []
    for filename, qualname in chain:
        module = _runtime_module(filename)
        if module is None:
            continue
        kind = _kind_of_frame(module, qualname)
        if kind is not None:
            known.append((kind, qualname))
    if known:
        return known[0]
    if waiter.startswith("task:"):
        return WaitKind.TASK, waiter[len("task:") :]
    if waiter == "gather":
        return WaitKind.TASK, "gather"
    if waiter == "TaskGroup":
        return WaitKind.TASK, "TaskGroup.__aexit__"
    return WaitKind.FUTURE, waiter


def _chain(coro: object) -> list[tuple[str, str]]:
    """``(filename, qualname)`` of ``coro`` and everything it awaits, outermost first."""
    found: list[tuple[str, str]] = []
    current: Any = coro
    while current is not None and len(found) < 64:
        if isinstance(current, types.CoroutineType):
            code, following = current.cr_code, current.cr_await
        elif isinstance(current, types.GeneratorType):
            code, following = current.gi_code, current.gi_yieldfrom
        else:
            break
        found.append((code.co_filename, code.co_qualname))
        current = following
    return found


def _describe_waiter(waiter: object) -> str:
    if waiter is None:
        return "the loop (a bare yield)"
    if isinstance(waiter, asyncio.Task) or hasattr(waiter, "get_coro"):
        name = getattr(waiter, "get_name", None)
        return f"task:{name()}" if callable(name) else "task:?"
    if isinstance(waiter, api_tasks._GatheringFuture) or asyncio_objects.is_asyncio_gather(waiter):
        return "gather"
    if isinstance(owner_of(waiter), TaskGroup):
        # The group's __aexit__ parked the task: compiled, it is no frame of the chain.
        return "TaskGroup"
    return type(waiter).__name__


def wait_of(task: Any) -> tuple[WaitKind, str]:
    """What ``task``, suspended, waits on now (call on the loop's thread)."""
    return classify(_chain(task.get_coro()), _describe_waiter(task_waiter(task)))
