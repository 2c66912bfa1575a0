"""The async call graph, with the names and shapes of Python 3.14's ``asyncio.graph``.

``capture_call_graph(future)`` answers "where is this task, and who is waiting for it?": the
frames of the coroutines it is suspended in (innermost first), and, recursively, the graph of
every task that awaits it.  ``format_call_graph`` and ``print_call_graph`` render it exactly
as 3.14 does::

    * Task(name='Task-2', id=0x7f...)
      + Call stack:
      |   File 'app.py', line 12, in async worker()
      + Awaited by:
         * Task(name='Task-1', id=0x7f...)
            + Call stack:
            |   File 'app.py', line 20, in async main()

Python 3.14 builds "awaited by" from bookkeeping that every await, gather, TaskGroup and
shield does as it happens.  spindle does none on its hot paths: it works it out when asked,
from the state the tasks keep anyway (``waits.LoopView``: a task's ``_fut_waiter``, what that
future stands for, a TaskGroup's parent; for asyncio's own functions, the done-callbacks they
leave on spindle's tasks and their frames in the awaiting coroutine, read with public
introspection only: ``asyncio_objects``), so it is right through gather, TaskGroup, shield,
wait_for, timeouts, wait and as_completed, spindle's and asyncio's alike, on 3.11 and later.
``future_add_to_awaited_by`` / ``future_discard_from_awaited_by`` are there for code that
drives futures by hand and wants them in the graph, as in 3.14.

The one difference from 3.14: a cycle (task A awaits B, which awaits A: a deadlock) is drawn
once round and stops, where 3.14 would recurse without end.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import sys
import types
from typing import IO, Any

from spindle._compat import get_running_loop_or_none
from spindle._core.futures import FutureCore, isfuture
from spindle._core.tasks import Task, all_tasks, current_task
from spindle.diagnostics.waits import LoopView, await_chain, declared_awaiters

__all__ = [
    "FrameCallGraphEntry",
    "FutureCallGraph",
    "capture_call_graph",
    "format_call_graph",
    "future_add_to_awaited_by",
    "future_discard_from_awaited_by",
    "print_call_graph",
]

AnyFuture = FutureCore | asyncio.Future[Any]

_GENERATOR_FLAGS = (
    inspect.CO_COROUTINE
    | inspect.CO_GENERATOR
    | inspect.CO_ITERABLE_COROUTINE
    | inspect.CO_ASYNC_GENERATOR
)


@dataclasses.dataclass(frozen=True, slots=True)
class FrameCallGraphEntry:
    """One frame of a call stack."""

    frame: types.FrameType


@dataclasses.dataclass(frozen=True, slots=True)
class FutureCallGraph:
    """A future (or task), its call stack (innermost first), and the graphs awaiting it."""

    future: AnyFuture
    call_stack: tuple[FrameCallGraphEntry, ...]
    awaited_by: tuple[FutureCallGraph, ...]


def future_add_to_awaited_by(fut: AnyFuture, waiter: AnyFuture, /) -> None:
    """Record that ``fut`` is awaited by ``waiter`` (both futures or tasks)."""
    if not (isfuture(fut) and isfuture(waiter)):
        return  # as 3.14: futures of other kinds are not tracked
    waiters = declared_awaiters(fut, create=True)
    assert waiters is not None
    if not any(w is waiter for w in waiters):
        waiters.append(waiter)


def future_discard_from_awaited_by(fut: AnyFuture, waiter: AnyFuture, /) -> None:
    """Forget that ``fut`` is awaited by ``waiter`` (nothing happens if it was not)."""
    waiters = declared_awaiters(fut)
    if waiters is None:
        return
    waiters[:] = [w for w in waiters if w is not waiter]


def _check_future(future: object) -> None:
    if not isfuture(future):
        raise TypeError(f"{future!r} object does not appear to be compatible with asyncio.Future")


def _view(future: AnyFuture) -> LoopView:
    loop = future.get_loop()
    return LoopView(loop, list(all_tasks(loop)))


def _truncate(stack: list[FrameCallGraphEntry], limit: int | None) -> list[FrameCallGraphEntry]:
    """At most ``abs(limit)`` entries: the first ones if positive, the last ones if negative."""
    if limit is None or limit == 0:
        return stack
    return stack[:limit] if limit > 0 else stack[limit:]


def _awaited_by(
    future: AnyFuture, view: LoopView, limit: int | None, path: tuple[int, ...]
) -> tuple[FutureCallGraph, ...]:
    return tuple(
        _graph_of(parent, view, limit, path)
        for parent in view.awaiters(future)
        if id(parent) not in path
    )


def _graph_of(
    future: AnyFuture, view: LoopView, limit: int | None, path: tuple[int, ...] = ()
) -> FutureCallGraph:
    """The graph of a future that is not running now: its await chain, from its coroutine."""
    _check_future(future)
    stack: list[FrameCallGraphEntry] = []
    get_coro = getattr(future, "get_coro", None)
    if get_coro is not None and limit != 0:
        stack = [FrameCallGraphEntry(frame) for frame in await_chain(get_coro())]
    stack = _truncate(stack, limit)
    stack.reverse()
    path = (*path, id(future))
    return FutureCallGraph(future, tuple(stack), _awaited_by(future, view, limit, path))


def _is_generator_frame(frame: types.FrameType) -> bool:
    return bool(frame.f_code.co_flags & _GENERATOR_FLAGS)


def capture_call_graph(
    future: AnyFuture | None = None,
    /,
    *,
    depth: int = 1,
    limit: int | None = None,
) -> FutureCallGraph | None:
    """The async call graph of ``future``, or of the current task when it is None.

    For the current task the call stack is read from the running frames (``depth`` skips
    that many from the top); for any other future, from its suspended coroutines.  ``limit``
    keeps at most ``abs(limit)`` entries of each call stack (positive: those nearest the
    task's entry point; negative: the innermost; 0: no call stacks, only "awaited by").
    Returns None when called with no future and no current task.
    """
    loop = get_running_loop_or_none()
    if future is not None:
        if loop is None or future is not current_task(loop):
            _check_future(future)
            return _graph_of(future, _view(future), limit)
    else:
        if loop is None:
            raise RuntimeError(
                "capture_call_graph() is called outside of a running event loop and no "
                "*future* to introspect was provided"
            )
        future = current_task(loop)
    if future is None:
        return None
    _check_future(future)
    stack: list[FrameCallGraphEntry] = []
    frame: types.FrameType | None = sys._getframe(depth) if limit != 0 else None
    while frame is not None:
        stack.append(FrameCallGraphEntry(frame))
        below = frame.f_back
        if _is_generator_frame(frame) and (below is None or not _is_generator_frame(below)):
            break  # the outermost coroutine: the task's own; below it is the loop
        frame = below
    del frame
    if limit is not None:
        stack = _truncate(stack, -limit)
    view = _view(future)
    return FutureCallGraph(
        future, tuple(stack), _awaited_by(future, view, limit, (id(future),))
    )


def _frame_line(frame: types.FrameType) -> str:
    code = frame.f_code
    flags = code.co_flags
    if not flags & _GENERATOR_FLAGS:
        where = f"{code.co_qualname}()"
    elif flags & inspect.CO_COROUTINE:
        where = f"async {code.co_qualname}()"
    elif flags & inspect.CO_ASYNC_GENERATOR:
        where = f"async generator {code.co_qualname}()"
    else:
        where = f"generator {code.co_qualname}()"
    return f"  |   File {code.co_filename!r}, line {frame.f_lineno}, in {where}"


def _render(graph: FutureCallGraph, lines: list[str], level: int) -> None:
    indent = "    " * level
    future = graph.future
    if isinstance(future, (Task, asyncio.Task)):
        lines.append(f"{indent}* Task(name={future.get_name()!r}, id={id(future):#x})")
    else:
        lines.append(f"{indent}* Future(id={id(future):#x})")
    if graph.call_stack:
        lines.append(f"{indent}  + Call stack:")
        lines.extend(indent + _frame_line(entry.frame) for entry in graph.call_stack)
    if graph.awaited_by:
        lines.append(f"{indent}  + Awaited by:")
        for parent in graph.awaited_by:
            _render(parent, lines, level + 1)


def format_call_graph(
    future: AnyFuture | None = None,
    /,
    *,
    depth: int = 1,
    limit: int | None = None,
) -> str:
    """The call graph of ``future`` (default: the current task) as text; "" if none."""
    graph = capture_call_graph(future, depth=depth + 1, limit=limit)
    if graph is None:
        return ""
    lines: list[str] = []
    try:
        _render(graph, lines, 0)
    finally:
        del graph  # it holds frames: let them go now
    return "\n".join(lines)


def print_call_graph(
    future: AnyFuture | None = None,
    /,
    *,
    file: IO[str] | None = None,
    depth: int = 1,
    limit: int | None = None,
) -> None:
    """Print the call graph of ``future`` (default: the current task) to ``file``."""
    print(format_call_graph(future, depth=depth + 1, limit=limit), file=file)
