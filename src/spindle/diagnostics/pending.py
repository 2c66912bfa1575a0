"""The report on tasks still pending when ``main()`` returns.

``spindle.run()`` cancels such tasks, as asyncio does, and asyncio does it in silence: a program
that creates tasks and returns (or blocks in ``time.sleep``) without awaiting them simply never
prints what they would have printed, and its author is left to guess why.  spindle says so,
and shows for each task where it was created and where it was waiting:

    spindle: main() returned while 2 tasks were still pending; they were cancelled:
      Task-2 say_after(delay=1, what='hello'): created at test.py:11 in main(), waiting at
      test.py:6: await asyncio.sleep(delay)   (one line per task)
    spindle: hint: ...

Where a task was created comes from ``origin_of(task)``, which spindle's Task records when the loop
tracks origins (the runner turns that on while diagnostics are on).  Where it waits is read from
the chain of awaits of its suspended coroutine.  Building the text is pure: tested with tables.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import re
import reprlib
import types
from collections.abc import Iterable
from typing import Any

from spindle._core.tasks import origin_of
from spindle.diagnostics.frames import FrameKind, Location, call_name, classify, display_path

__all__ = [
    "HINT",
    "PendingTask",
    "describe_call",
    "describe_task",
    "format_pending",
    "task_lines",
]

HINT = (
    "spindle: hint: a task runs only while the event loop runs, and the loop runs only while\n"
    "  {main} is waiting in an `await`.  time.sleep() blocks the loop (use\n"
    "  `await asyncio.sleep()`), and {main} should await its tasks (or create them in\n"
    "  `async with asyncio.TaskGroup() as tg:`) before it returns."
)

_short = reprlib.Repr()
_short.maxstring = 40
_short.maxother = 40


@dataclasses.dataclass(frozen=True)
class PendingTask:
    """What the report says about one task."""

    name: str
    call: str  # "say_after(delay=1, what='hello')"
    created: Location | None  # None: origins were not tracked
    waiting: Location | None  # None: the task never started


def _parts(obj: object) -> tuple[types.CodeType, types.FrameType | None, Any] | None:
    """(code, frame or None once finished, what it awaits) of a coroutine or generator."""
    if isinstance(obj, types.CoroutineType):
        return obj.cr_code, obj.cr_frame, obj.cr_await
    if isinstance(obj, types.GeneratorType):  # generator-based coroutines, Future.__await__
        return obj.gi_code, obj.gi_frame, obj.gi_yieldfrom
    return None


def describe_call(coro: object, *, arguments: bool = True) -> str:
    """``name(arg=value, ...)`` for a coroutine object, from its frame's arguments.

    Without ``arguments``, ``name()``: no ``repr`` of the program's objects is called (for
    reports made in another thread than the loop's).
    """
    parts = _parts(coro)
    if parts is None:
        return _short.repr(coro) if arguments else type(coro).__name__
    code, frame, _ = parts
    if frame is None or not arguments:  # finished: its arguments are gone
        return call_name(code.co_qualname)
    names = code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]
    values = frame.f_locals
    args = ", ".join(f"{name}={_short.repr(values[name])}" for name in names if name in values)
    return f"{call_name(code.co_qualname)[:-2]}({args})"


def _await_chain(coro: object) -> list[types.FrameType]:
    """The frames of ``coro`` and of everything it awaits, outermost first."""
    frames: list[types.FrameType] = []
    parts = _parts(coro)
    while parts is not None and parts[1] is not None:
        frames.append(parts[1])
        parts = _parts(parts[2])
    return frames


def _waiting_at(coro: object) -> Location | None:
    """The innermost user line the suspended coroutine waits at; None if it never started."""
    if inspect.iscoroutine(coro) and inspect.getcoroutinestate(coro) == inspect.CORO_CREATED:
        return None
    if inspect.isgenerator(coro) and inspect.getgeneratorstate(coro) == inspect.GEN_CREATED:
        return None
    frames = _await_chain(coro)
    if not frames:
        return None
    users = [f for f in frames if classify(f.f_code.co_filename) is FrameKind.USER]
    return Location.of_frame(users[-1] if users else frames[0])


def describe_task(task: asyncio.Task[Any], *, arguments: bool = True) -> PendingTask:
    """The report's view of a pending task (spindle's, or any asyncio-compatible one)."""
    coro = task.get_coro()
    origin = origin_of(task)
    created = None if origin is None else Location(*origin)
    call = describe_call(coro, arguments=arguments)
    return PendingTask(task.get_name(), call, created, _waiting_at(coro))


def _task_line(task: PendingTask) -> str:
    parts = [f"  {task.name} {task.call}:"]
    if task.created is not None:
        where = f"{display_path(task.created.filename)}:{task.created.lineno}"
        parts.append(f" created at {where} in {call_name(task.created.function)},")
    if task.waiting is None:
        parts.append(" never started")
    elif classify(task.waiting.filename) is FrameKind.USER:
        parts.append(f" waiting at {task.waiting.describe()}")
    else:  # a task running spindle's own coroutine, e.g. create_task(sleep(5))
        parts.append(f" waiting in {call_name(task.waiting.function)}")
    return "".join(parts)


def _natural_order(task: PendingTask) -> tuple[int | str, ...]:
    """Task-2 before Task-10: creation order for the default names."""
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", task.name))


def task_lines(tasks: Iterable[PendingTask]) -> list[str]:
    """One line per task, by name (Task-2 before Task-10)."""
    return [_task_line(task) for task in sorted(tasks, key=_natural_order)]


def format_pending(main_qualname: str, tasks: Iterable[PendingTask], *, hint: bool = True) -> str:
    """The whole report: a heading, one line per task (by name), the hint."""
    main = call_name(main_qualname)
    lines = task_lines(tasks)
    plural = "task was" if len(lines) == 1 else "tasks were"
    heading = (
        f"spindle: {main} returned while {len(lines)} {plural} still pending; "
        f"{'it was' if len(lines) == 1 else 'they were'} cancelled:"
    )
    return "\n".join([heading, *lines, *([HINT.format(main=main)] if hint else [])])
