"""A text timeline of a run's tasks: when each was created, started and finished.

Asked for with ``SPINDLE_TIMELINE=path`` (or ``configure(timeline=path)``); the runner writes it
when it closes.  Times are loop time (``loop.time()``) from the moment the runner made its
loop, so on a virtual clock they are exact.  It reads like this:

    task    coroutine               created  started  finished  outcome
    Task-1  main()                    0.000    0.000     2.000  returned  |################|
    Task-2  say_after(delay=1, ...)   0.000    0.000     1.000  returned  |########        |

(``.``: created, not started yet; ``#``: from its first step to its end.  Bars are 40 columns
wide, the whole run long; shortened here.)

The recorder sees tasks through the loop's task factory: it wraps the one in place (or builds
spindle's Task) and notes the creation.  "Started" is noted by a callback scheduled just before
the task is built: a task schedules its first step when it is built, and the ready queue is
first in, first out, so that callback runs right before the first step.  "Finished" is a done
callback.  None of this exists unless a timeline was asked for.

Tasks that already exist when recording starts are followed too, as created and started at
that moment.  That is the main task when asyncio's own runner drives the loop: it builds the
task first and only then runs the loop (``spindle.patch.RunnerAwareEventLoop``), and the task's
first step is the first thing that loop runs.
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
from collections.abc import Callable, Coroutine
from typing import Any

from spindle._core.tasks import Task, all_tasks
from spindle.diagnostics.pending import describe_call

__all__ = ["Entry", "Recorder", "render"]

_BAR_WIDTH = 40
_CALL_WIDTH = 32


@dataclasses.dataclass
class Entry:
    """One task's life, in seconds from the start of the timeline."""

    name: str
    call: str
    created: float
    started: float | None = None
    finished: float | None = None
    outcome: str = "pending"


class Recorder:
    """Notes the life of every task created on ``loop`` between ``start()`` and ``stop()``."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._origin = loop.time()
        self._previous_factory: Callable[..., Any] | None = loop.get_task_factory()
        self.entries: list[Entry] = []

    def start(self) -> None:
        for task in sorted(all_tasks(self._loop), key=lambda task: task.get_name()):
            now = self._now()
            self._follow(task, Entry(task.get_name(), describe_call(task.get_coro()), now, now))
        # The factory takes ``context=`` as spindle's and asyncio's loops pass it; typeshed's
        # factory type for 3.11 leaves it out (3.12's has it: the ignore is unused there).
        self._loop.set_task_factory(self._create)  # type: ignore[arg-type, unused-ignore]

    def stop(self) -> None:
        """Stop noting new tasks (those already noted are still followed to their end)."""
        if self._loop.get_task_factory() == self._create:  # unless the program replaced it
            self._loop.set_task_factory(self._previous_factory)

    def _now(self) -> float:
        return self._loop.time() - self._origin

    def _create(
        self,
        loop: asyncio.AbstractEventLoop,
        coro: Coroutine[Any, Any, Any],
        *,
        context: contextvars.Context | None = None,
        **more: Any,
    ) -> Any:
        entry = Entry("?", describe_call(coro), self._now())
        loop.call_soon(self._started, entry)  # runs just before the task's first step
        task: Any
        if self._previous_factory is not None:
            task = self._previous_factory(loop, coro, context=context, **more)
        else:
            task = Task(coro, loop=loop, context=context, **more)
        entry.name = task.get_name()
        self._follow(task, entry)
        return task

    def _follow(self, task: asyncio.Task[Any], entry: Entry) -> None:
        task.add_done_callback(self._finisher(entry))
        self.entries.append(entry)

    def _started(self, entry: Entry) -> None:
        if entry.started is None:
            entry.started = self._now()

    def _finisher(self, entry: Entry) -> Callable[[asyncio.Task[Any]], None]:
        def finished(task: asyncio.Task[Any]) -> None:
            entry.started = entry.created if entry.started is None else entry.started
            entry.finished = self._now()
            if task.cancelled():
                entry.outcome = "cancelled"
            elif task.exception() is not None:
                entry.outcome = f"raised {type(task.exception()).__name__}"
            else:
                entry.outcome = "returned"

        return finished


def _bar(entry: Entry, end: float) -> str:
    """``.`` from creation to start, ``#`` from start to finish; ``end`` fills the bar."""

    def column(seconds: float | None) -> int:
        if seconds is None:
            return _BAR_WIDTH
        return round(seconds / end * _BAR_WIDTH) if end > 0 else 0

    created, started, finished = (column(t) for t in (entry.created, entry.started, entry.finished))
    waiting = "." * (started - created)
    running = "" if entry.started is None else "#" * max(finished - started, 1)
    return f"|{(' ' * created + waiting + running)[:_BAR_WIDTH].ljust(_BAR_WIDTH)}|"


def _short(call: str) -> str:
    return call if len(call) <= _CALL_WIDTH else call[: _CALL_WIDTH - 4] + "...)"


def render(entries: list[Entry]) -> str:
    """The timeline as text: a table with one bar per task (pure: tested with tables)."""
    end = max([e.finished or e.created for e in entries] + [0.0])
    rows = [["task", "coroutine", "created", "started", "finished", "outcome", ""]]
    for e in entries:
        times = [f"{t:.3f}" if t is not None else "-" for t in (e.created, e.started, e.finished)]
        rows.append([e.name, _short(e.call), *times, e.outcome, _bar(e, end)])
    widths = [max(len(row[i]) for row in rows) for i in range(6)]
    lines = []
    for row in rows:
        cells = [
            cell.rjust(width) if column in (2, 3, 4) else cell.ljust(width)
            for column, (cell, width) in enumerate(zip(row, widths, strict=False))
        ]
        lines.append("  ".join([*cells, row[6]]).rstrip())
    return "\n".join(lines) + "\n"
