"""Turning a snapshot into text: the task list (``ps``) and the call tree (``pstree``).

Pure functions of ``snapshot.LoopInfo`` (tested with tables).  The list gives one block per
task::

    Task-2 ping(): waiting
        created at  deadlock.py:24 in main()
        waiting at  deadlock.py:11 in ping(): await pong_ready.wait()
        on          Event pong_ready (unset, waiting: 1)
        awaited by  Task-1

and the tree draws who awaits whom, each task under the task that waits for it, with the
user's lines it is suspended at::

    └── Task-1 main(): waiting on gather() of 2 awaitables, 0 done; waiting for ping, pong
        │   main() at deadlock.py:30: await asyncio.gather(ping, pong)
        ├── Task-2 ping(): waiting on Event pong_ready (unset, waiting: 1)
        │       ping() at deadlock.py:11: await pong_ready.wait()
        ...

Paths are shown relative to the working directory when they lie below it.  Only the user's
own frames are shown; spindle's and the standard library's are left out (they are where
*spindle* waits, which the "on ..." part says in words).
"""

from __future__ import annotations

from spindle.diagnostics.frames import display_path
from spindle.diagnostics.snapshot import FrameInfo, LoopInfo, TaskInfo

__all__ = ["location", "render_header", "render_list", "render_tree"]


def _where(frame: FrameInfo) -> str:
    return f"{display_path(frame.file)}:{frame.line}"


def _function(frame: FrameInfo) -> str:
    return f"{frame.function.rpartition('<locals>.')[2]}()"


def _at(frame: FrameInfo) -> str:
    """``file:12 in ping(): await pong.wait()``."""
    source = f": {frame.source}" if frame.source else ""
    return f"{_where(frame)} in {_function(frame)}{source}"


def location(frame: FrameInfo) -> str:
    """``file:12``, relative to the working directory when below it."""
    return _where(frame)


def _user_frames(task: TaskInfo) -> list[FrameInfo]:
    return [frame for frame in task.stack if frame.user]


def _title(task: TaskInfo) -> str:
    """``Task-2 ping(): waiting``; a task cancelled that goes on says so."""
    cancelling = f", cancelled {task.cancelling}x and still running" if task.cancelling else ""
    return f"{task.name} {task.call}: {task.state}{cancelling}"


def render_header(pid: int, command: str, loops: list[LoopInfo]) -> str:
    """``spindle: pid 42 (python app.py): 3 tasks on 1 loop``."""
    count = sum(len(loop.tasks) for loop in loops)
    tasks = f"{count} task{'' if count == 1 else 's'}"
    where = f"{len(loops)} loop{'' if len(loops) == 1 else 's'}"
    return f"spindle: pid {pid} ({command}): {tasks} on {where}"


def _loop_line(loop: LoopInfo) -> str:
    count = len(loop.tasks)
    return (
        f"loop in thread {loop.thread} ({loop.activity}), "
        f"{count} task{'' if count == 1 else 's'}:"
    )


def render_list(loops: list[LoopInfo]) -> str:
    """Every task of every loop, one block each."""
    lines: list[str] = []
    for loop in loops:
        lines.append(_loop_line(loop))
        names = {task.id: task.name for task in loop.tasks}
        for task in loop.tasks:
            lines.append(_title(task))
            if task.created is not None:
                lines.append(f"    created at  {_where(task.created)} in {_function(task.created)}")
            user = _user_frames(task)
            if user:
                label = "running at" if task.state == "running" else "waiting at"
                lines.append(f"    {label}  {_at(user[-1])}")
            if task.waits_on is not None:
                lines.append(f"    on          {task.waits_on}")
            if task.awaited_by:
                awaiters = ", ".join(names.get(i, hex(i)) for i in task.awaited_by)
                lines.append(f"    awaited by  {awaiters}")
    return "\n".join(lines)


def render_tree(loops: list[LoopInfo]) -> str:
    """The tasks of every loop as trees: each task under the tasks that wait for it."""
    lines: list[str] = []
    for loop in loops:
        lines.append(_loop_line(loop))
        by_id = {task.id: task for task in loop.tasks}
        shown: set[int] = set()
        roots = [task for task in loop.tasks if not task.awaited_by]
        for index, root in enumerate(roots):
            _branch(root, by_id, shown, (), "", index == len(roots) - 1, lines)
        # Tasks left are in cycles (A awaits B awaits A): start each cycle at its first task.
        for task in loop.tasks:
            if task.id not in shown:
                _branch(task, by_id, shown, (), "", True, lines)
    return "\n".join(lines)


def _branch(
    task: TaskInfo,
    by_id: dict[int, TaskInfo],
    shown: set[int],
    path: tuple[int, ...],
    prefix: str,
    last: bool,
    lines: list[str],
) -> None:
    elbow, inner = ("└── ", "    ") if last else ("├── ", "│   ")
    waits = f" on {task.waits_on}" if task.waits_on is not None else ""
    if task.id in path:
        lines.append(f"{prefix}{elbow}{task.name}: awaits a task above it (a cycle: deadlock)")
        return
    if task.id in shown:
        lines.append(f"{prefix}{elbow}{task.name} (shown above)")
        return
    shown.add(task.id)
    lines.append(f"{prefix}{elbow}{_title(task)}{waits}")
    children = [by_id[child] for child in task.awaits if child in by_id]
    bar = "│   " if children else "    "
    for frame in _user_frames(task):
        lines.append(f"{prefix}{inner}{bar}{_function(frame)} at {_where(frame)}: {frame.source}")
    for index, child in enumerate(children):
        _branch(
            child, by_id, shown, (*path, task.id), prefix + inner, index == len(children) - 1, lines
        )
