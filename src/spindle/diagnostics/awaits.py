"""Who waits for a task: the await chain above it, for the blocking watchdog's report.

A task that blocks the loop is often one of many (a worker in a gather, a handler in a
TaskGroup), and the report is clearer with the chain of tasks that wait for it, each at the line
it waits on:

    awaited by Task-1 main(), waiting at app.py:50: await asyncio.gather(*workers)

The chain is read from the done-callbacks of spindle's futures: a task waiting on a future has
its ``_wakeup`` there; gather, shield and wait_for leave a callback whose closure holds the outer
future, which is followed in turn; spindle's TaskGroup's callback is a method of the group,
which knows its parent task.  A future of asyncio's own (asyncio's gather, a task of asyncio's
Task class) keeps its callbacks private: the tasks waiting on it are found instead among the
loop's tasks, by the future each waits on.  This is the small version; the async call graph
(``capture_call_graph``) is the complete one.

It runs in the watchdog's thread while the loop's thread is stopped in the middle of a step, so
it calls no code of the program's: only the runtime's own types are looked into (no
``__repr__``, no ``__getattr__`` of objects it does not know), and coroutines are named without
their arguments.
"""

from __future__ import annotations

import asyncio
import types
from typing import Any

from spindle._core.futures import FutureCore
from spindle._core.tasks import Task, all_tasks
from spindle.diagnostics.pending import describe_task
from spindle.diagnostics.waits import task_waiter
from spindle.taskgroups import TaskGroup

__all__ = ["MAX_DEPTH", "awaited_by", "format_awaited_by"]

# Enough for any real chain; a cycle of futures (which would be a bug elsewhere) stops here.
MAX_DEPTH = 12


_TASKS = (Task, asyncio.Task)
_FUTURES = (FutureCore, asyncio.Future)
# spindle's own TaskGroup only: asyncio's keeps its parent task in a private attribute.


def _callbacks(future: object) -> list[Any]:
    """The done-callbacks of one of spindle's futures (its own slots; asyncio's are private)."""
    if not isinstance(future, FutureCore):
        return []
    return [callback for callback, _ in future._callbacks]


def _tasks_waiting_on(future: Any) -> list[Any]:
    """The loop's tasks suspended on ``future`` (for a future of asyncio's own)."""
    try:
        tasks = list(all_tasks(future.get_loop()))
    except RuntimeError:  # the task registry changed size meanwhile: no chain this time
        return []
    return [task for task in tasks if task is not future and task_waiter(task) is future]


def _waiters(future: object, seen: set[int], depth: int) -> list[Any]:
    """Tasks waiting on ``future`` directly or through the runtime's bookkeeping futures."""
    if depth > MAX_DEPTH or id(future) in seen:
        return []
    seen.add(id(future))
    found: list[Any] = [] if isinstance(future, FutureCore) else _tasks_waiting_on(future)
    for callback in _callbacks(future):
        owner = getattr(callback, "__self__", None)
        if isinstance(owner, _TASKS):
            found.append(owner)
        elif isinstance(owner, TaskGroup):
            parent = owner._parent_task
            if isinstance(parent, _TASKS):
                found.append(parent)
        elif isinstance(callback, types.FunctionType):
            for cell in callback.__closure__ or ():
                try:
                    value = cell.cell_contents
                except ValueError:  # an empty cell
                    continue
                if isinstance(value, _FUTURES) and value is not future:
                    found += _waiters(value, seen, depth + 1)
    return found


def awaited_by(task: Any) -> list[Any]:
    """The chain of tasks waiting for ``task``, nearest first (the first waiter at each step)."""
    chain: list[Any] = []
    seen: set[int] = set()
    current: Any = task
    while len(chain) < MAX_DEPTH:
        waiters = _waiters(current, seen, 0)
        if not waiters:
            break
        current = waiters[0]
        chain.append(current)
    return chain


def format_awaited_by(task: Any, indent: str = "  ") -> list[str]:
    """One line per task in the chain: its name, coroutine and where it waits."""
    lines = []
    for waiter in awaited_by(task):
        view = describe_task(waiter, arguments=False)
        where = "" if view.waiting is None else f", waiting at {view.waiting.describe()}"
        lines.append(f"{indent}awaited by {view.name} {view.call}{where}")
    return lines
