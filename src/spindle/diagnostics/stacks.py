"""What a running step is doing: the frames of the loop's thread that belong to it.

The loop records which handle it runs (``running_handle``), so the watchdog knows *what* holds
the loop without reading the loop's frames.  *Where* it is stuck is the stack of the loop's
thread from the step's entry down to the innermost frame: the task's coroutine (or the
callback's function), the user's functions it called, and the library or standard-library
frames below them, so that a block inside a library shows both the library's line and the
user's line that called it.  spindle's own frames are left out (a compiled build has none to
show anyway); C functions have no frames, so ``time.sleep(10)`` shows as the line calling it.

Reading another thread's frames is safe under the GIL (``sys._current_frames``): the loop's
thread is either in C code that released the GIL, or paused between two bytecodes.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import sys
import types
from typing import Any

from spindle._core.tasks import Task, origin_of, task_of_step
from spindle.diagnostics.frames import FrameKind, Location, call_name, classify, display_path

__all__ = ["MAX_FRAMES", "RunningStep", "format_frames", "read_step", "step_frames"]

# A report shows at most this many frames of a step: the outermost and the innermost, which
# are where the user's code is and where it is stuck.
MAX_FRAMES = 16


@dataclasses.dataclass(frozen=True)
class RunningStep:
    """What one look at a running step found."""

    what: str  # "main()", "callback on_timer()"
    task: Task[Any] | None
    frames: tuple[types.FrameType, ...]  # the step's frames, outermost first
    location: Location | None  # the innermost user line (else the innermost line); None: C code


def _entry_code(callback: object) -> types.CodeType | None:
    """The code object a callback runs first, through partials and bound methods."""
    while isinstance(callback, functools.partial):
        callback = callback.func
    target: Any = getattr(callback, "__func__", callback)
    try:
        target = inspect.unwrap(target)
    except ValueError:  # a cycle of __wrapped__
        return None
    code = getattr(target, "__code__", None)
    return code if isinstance(code, types.CodeType) else None


def _coroutine_frame(task: Task[Any]) -> types.FrameType | None:
    coro: Any = task.get_coro()
    frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None)
    return frame if isinstance(frame, types.FrameType) else None


def step_frames(
    innermost: types.FrameType | None,
    entry_frame: types.FrameType | None,
    entry_code: types.CodeType | None,
) -> list[types.FrameType]:
    """The frames of the step, outermost first, from ``innermost`` out to its entry.

    The entry is ``entry_frame`` (a task's coroutine) or the first frame running
    ``entry_code`` (a callback).  Without either (a C callback, which has no frame), the walk
    stops at the first spindle frame: the loop's own, which runs it.
    """
    frames: list[types.FrameType] = []
    frame = innermost
    while frame is not None and len(frames) < MAX_FRAMES * 4:
        if frame is entry_frame or (entry_code is not None and frame.f_code is entry_code):
            frames.append(frame)
            break
        if classify(frame.f_code.co_filename) is FrameKind.SPINDLE:
            if entry_frame is None and entry_code is None:
                break  # a C callback: the loop's frame that runs it, the step has none
        else:
            frames.append(frame)
        frame = frame.f_back
    frames.reverse()
    return frames


def describe_step(callback: object) -> tuple[str, Task[Any] | None]:
    """How reports name a running step: ``main()`` for a task, ``callback f()`` otherwise."""
    task = task_of_step(callback)
    if task is not None:
        coro: Any = task.get_coro()
        code = getattr(coro, "cr_code", None) or getattr(coro, "gi_code", None)
        name = getattr(coro, "__qualname__", None) or type(coro).__name__
        return call_name(code.co_qualname if code is not None else name), task
    while isinstance(callback, functools.partial):
        callback = callback.func
    name = getattr(callback, "__qualname__", None) or getattr(callback, "__name__", None)
    return f"callback {call_name(name or type(callback).__name__)}", None


def read_step(callback: object, innermost: types.FrameType | None) -> RunningStep:
    """The step that runs ``callback``, seen from the loop thread's ``innermost`` frame."""
    what, task = describe_step(callback)
    entry_frame = None if task is None else _coroutine_frame(task)
    entry_code = None if task is not None else _entry_code(callback)
    frames = step_frames(innermost, entry_frame, entry_code)
    users = [f for f in frames if classify(f.f_code.co_filename) is FrameKind.USER]
    chosen = users[-1] if users else (frames[-1] if frames else None)
    location = None if chosen is None else Location.of_frame(chosen)
    return RunningStep(what, task, tuple(frames), location)


def thread_frame(thread_id: int | None) -> types.FrameType | None:
    """The innermost frame of thread ``thread_id`` right now."""
    return None if thread_id is None else sys._current_frames().get(thread_id)


def format_frames(frames: tuple[types.FrameType, ...], indent: str = "    ") -> list[str]:
    """One line per frame, ``file:line in function: source``; the middle elided if long."""
    lines = [indent + _frame_line(frame) for frame in frames]
    if len(lines) > MAX_FRAMES:
        keep = MAX_FRAMES // 2
        hidden = len(lines) - 2 * keep
        lines = [*lines[:keep], f"{indent}... {hidden} more frames ...", *lines[-keep:]]
    return lines


def _frame_line(frame: types.FrameType) -> str:
    location = Location.of_frame(frame)
    source = location.source()
    function = location.function.rpartition("<locals>.")[2]
    where = f"{display_path(location.filename)}:{location.lineno} in {function}"
    return f"{where}: {source}" if source else where


def task_label(task: Task[Any]) -> str:
    """``Task-3 worker(), created at app.py:12 in main()`` (where known)."""
    what, _ = describe_step(task._step)
    label = f"{task.get_name()} {what}"
    origin = origin_of(task)
    if origin is not None:
        filename, line, function = origin
        label += f", created at {display_path(filename)}:{line} in {call_name(function)}"
    return label
