"""A snapshot of every task of a loop: what ``ps``, ``pstree`` and ``dump_tasks`` print.

Taking a snapshot (``take``) reads the loop's tasks once and turns them into plain data
(``LoopInfo`` of ``TaskInfo``): names, states, lines of source, what each waits on and which
tasks await which.  Plain data because it crosses a process boundary (``python -m spindle ps
PID`` receives it as JSON from the target) and because rendering it is then a pure function
(``render``), tested with tables.

A snapshot may be taken from any thread: the ``ps`` server takes it from its own thread while
the loop runs, or while it is stuck in a ``time.sleep``.  It only reads (builtin containers
copied whole, frames of suspended coroutines), and it runs none of the program's code: the
arguments of a task's coroutine are shown by ``safe_repr``, which never calls a ``__repr__``
the program wrote.  Reading a loop that is running at the same time gives a picture that may
be a step out of date for a task that moves meanwhile; that is the price of answering while
the loop is busy, and why ``ps`` says "a snapshot".
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import os
import sys
import threading
import types
from typing import Any

from spindle._compat import get_running_loop_or_none
from spindle._core.scheduler import Scheduler
from spindle._core.tasks import all_tasks, current_task, origin_of
from spindle.diagnostics.frames import FrameKind, Location, classify, read_activity
from spindle.diagnostics.waits import LoopView, await_chain

__all__ = ["FrameInfo", "LoopInfo", "TaskInfo", "outside_diagnostics", "safe_repr", "take"]

_DIAGNOSTICS_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


@dataclasses.dataclass(frozen=True)
class FrameInfo:
    """A line of source: file, line, function, the line's text, whether it is user code."""

    file: str
    line: int
    function: str
    source: str
    user: bool

    @classmethod
    def of(cls, location: Location) -> FrameInfo:
        user = classify(location.filename) is FrameKind.USER
        return cls(location.filename, location.lineno, location.function, location.source(), user)


@dataclasses.dataclass(frozen=True)
class TaskInfo:
    """One task, as a dump shows it."""

    id: int
    name: str
    call: str  # "worker(n=3)"
    state: str  # "running", "waiting", "ready", "not started"
    cancelling: int
    created: FrameInfo | None
    stack: tuple[FrameInfo, ...]  # the await chain, outermost first
    waits_on: str | None  # "Event ready (unset, waiting: 1)"
    awaits: tuple[int, ...]  # ids of the tasks it waits for
    awaited_by: tuple[int, ...]  # ids of the tasks waiting for it


@dataclasses.dataclass(frozen=True)
class LoopInfo:
    """One loop: the thread that runs it, what it is doing, its tasks."""

    thread: str
    activity: str
    tasks: tuple[TaskInfo, ...]


def safe_repr(value: object, limit: int = 40) -> str:
    """``repr`` for builtin scalars, ``<TypeName>`` for anything else (no program code runs)."""
    if value is not None and type(value) not in (bool, int, float, str, bytes):
        return f"<{type(value).__name__}>"
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 4] + "...'"


def _call(coro: object) -> str:
    """``name(arg=value, ...)`` of a coroutine, its arguments through ``safe_repr``."""
    code = getattr(coro, "cr_code", None) or getattr(coro, "gi_code", None)
    frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None)
    if not isinstance(code, types.CodeType):
        return f"<{type(coro).__name__}>"
    name = code.co_qualname.rpartition("<locals>.")[2]
    if not isinstance(frame, types.FrameType) or getattr(coro, "cr_running", False):
        return f"{name}()"
    names = code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]
    values = dict(frame.f_locals)
    shown = [f"{n}={safe_repr(values[n])}" for n in names if n in values and n != "self"]
    return f"{name}({', '.join(shown)})"


def outside_diagnostics(frame: types.FrameType | None) -> types.FrameType | None:
    """The innermost frame of ``frame``'s stack that is not this package's own."""
    while frame is not None and frame.f_code.co_filename.startswith(_DIAGNOSTICS_DIR):
        frame = frame.f_back
    return frame


def _innermost_user(frames: list[types.FrameType]) -> types.FrameType | None:
    users = [f for f in frames if classify(f.f_code.co_filename) is FrameKind.USER]
    return users[-1] if users else None


def _state(task: Any, running: Any, waiting: bool) -> str:
    if task is running:
        return "running"
    if waiting:
        return "waiting"
    coro = task.get_coro()
    if inspect.iscoroutine(coro) and inspect.getcoroutinestate(coro) == inspect.CORO_CREATED:
        return "not started"
    return "ready"


def _loop_thread(loop: asyncio.AbstractEventLoop) -> int | None:
    """The id of the thread running ``loop``: spindle's loop says; of another loop only the
    thread it runs on now is known (from the running-loop hook), and only from that thread."""
    if isinstance(loop, Scheduler):
        return loop._thread_id
    return threading.get_ident() if get_running_loop_or_none() is loop else None


def _thread_stack(loop: asyncio.AbstractEventLoop, top: types.FrameType | None) -> Any:
    """The innermost frame of the loop's thread (``top`` when the dump runs on it)."""
    thread_id = _loop_thread(loop)
    if thread_id is None:
        return None
    if thread_id == threading.get_ident():
        return top
    return sys._current_frames().get(thread_id)


def _thread_name(loop: asyncio.AbstractEventLoop) -> str:
    thread_id = _loop_thread(loop)
    for thread in threading.enumerate():
        if thread.ident == thread_id:
            return thread.name
    return "-"


def take(loop: asyncio.AbstractEventLoop, top: types.FrameType | None = None) -> LoopInfo:
    """A snapshot of ``loop``'s pending tasks (``top``: where the dump was asked, on the
    loop's own thread; the frames above it are the dump's own)."""
    tasks = sorted(all_tasks(loop), key=lambda t: _natural(t.get_name()))
    view = LoopView(loop, tasks)
    running = current_task(loop)
    innermost = _thread_stack(loop, outside_diagnostics(top))
    activity = read_activity(innermost) if innermost is not None else None
    infos = []
    for task in tasks:
        coro = task.get_coro()
        frames = await_chain(coro)
        user = _innermost_user(frames)
        stack = [FrameInfo.of(Location.of_frame(f)) for f in frames]
        if task is running and activity is not None:
            stack.append(FrameInfo.of(activity.location))
        wait = view.wait_of(task, user)
        created = origin_of(task)
        infos.append(
            TaskInfo(
                id=id(task),
                name=task.get_name(),
                call=_call(coro),
                state=_state(task, running, wait is not None),
                cancelling=task.cancelling(),
                created=FrameInfo.of(Location(*created)) if created else None,
                stack=tuple(stack),
                waits_on=None if wait is None else wait.text,
                awaits=tuple(id(t) for t in view.awaited(task)),
                awaited_by=(),
            )
        )
    awaited_by: dict[int, list[int]] = {}
    for info in infos:
        for child in info.awaits:
            awaited_by.setdefault(child, []).append(info.id)
    infos = [dataclasses.replace(i, awaited_by=tuple(awaited_by.get(i.id, ()))) for i in infos]
    return LoopInfo(_thread_name(loop), _activity_text(loop, activity, running), tuple(infos))


def _activity_text(loop: asyncio.AbstractEventLoop, activity: Any, running: Any) -> str:
    if not loop.is_running():
        return "not running"
    if activity is None:
        return "idle: waiting for I/O or a timer"
    where = activity.location.describe()
    if running is not None and activity.is_task_step:
        return f"running {running.get_name()} at {where}"
    return f"running a callback at {where}"


def _natural(name: str) -> tuple[Any, ...]:
    """Task-2 before Task-10."""
    head, _, number = name.rpartition("-")
    return (head, int(number), "") if number.isdigit() else (name, 0, name)


def to_json(loop: LoopInfo) -> dict[str, Any]:
    """``loop`` as JSON-ready data."""
    return dataclasses.asdict(loop)


def from_json(data: dict[str, Any]) -> LoopInfo:
    """A ``LoopInfo`` back from ``to_json``'s data (KeyError/TypeError if malformed)."""

    def frame(d: dict[str, Any] | None) -> FrameInfo | None:
        return None if d is None else FrameInfo(**d)

    tasks = []
    for t in data["tasks"]:
        tasks.append(
            TaskInfo(
                id=int(t["id"]),
                name=str(t["name"]),
                call=str(t["call"]),
                state=str(t["state"]),
                cancelling=int(t["cancelling"]),
                created=frame(t["created"]),
                stack=tuple(FrameInfo(**f) for f in t["stack"]),
                waits_on=t["waits_on"],
                awaits=tuple(t["awaits"]),
                awaited_by=tuple(t["awaited_by"]),
            )
        )
    return LoopInfo(str(data["thread"]), str(data["activity"]), tuple(tasks))
