"""What diagnostics do for one ``Runner``: the runner hooks (``spindle.runners.RunnerHooks``).

Importing ``spindle.diagnostics`` registers ``Session.start`` with ``add_runner_hooks``, so each
runner calls it once with its new loop, and then calls the session's methods (asyncio's runner,
on the loop ``spindle.install()`` gives it, reaches them through that loop, from its first main
task on: ``spindle.patch.RunnerAwareEventLoop``):

* ``Session.start(loop)`` when the runner creates its loop: reads the settings, turns on
  task-origin tracking and starts the blocking watchdog (spindle's loop only: asyncio's keeps no
  pass counter, and its tasks no origin), and starts recording a timeline if one was asked for;
* ``main_finished()`` when ``run_until_complete`` returns: reports a step that blocked until the
  loop stopped;
* ``closing(main, leftover)`` before the runner cancels the tasks left pending: reports them if
  ``main()`` returned, and stops recording (the runner's own shutdown tasks are not the
  program's);
* ``closed()`` after the shutdown: joins the watchdog thread and writes the timeline.

With diagnostics off, ``start`` returns None and the runner does none of this.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from spindle.diagnostics import settings
from spindle.diagnostics.pending import describe_task, format_pending
from spindle.diagnostics.timeline import Recorder, render
from spindle.diagnostics.watchdog import ObservableLoop, Watchdog

__all__ = ["Session"]

logger = logging.getLogger("spindle")


class Session:
    """Diagnostics for one runner's loop."""

    def __init__(self, watchdog: Watchdog | None, timeline: tuple[Recorder, str] | None) -> None:
        self._watchdog = watchdog
        self._timeline = timeline  # the recorder, and the path to write its timeline to

    @classmethod
    def start(cls, loop: asyncio.AbstractEventLoop) -> Session | None:
        """Start diagnostics for ``loop`` if they are enabled, else None."""
        config = settings.current()
        if not config.enabled:
            return None
        watchdog = None
        if isinstance(loop, ObservableLoop):
            loop._track_task_origins = True
            watchdog = Watchdog(loop, config.block_threshold)
            watchdog.start()
        timeline = None
        if config.timeline_path is not None:
            timeline = (Recorder(loop), config.timeline_path)
            timeline[0].start()
        return cls(watchdog, timeline)

    def main_finished(self) -> None:
        if self._watchdog is not None:
            self._watchdog.flush()

    def closing(self, main_qualname: str | None, leftover: set[asyncio.Task[Any]]) -> None:
        if self._timeline is not None:
            self._timeline[0].stop()
        if main_qualname is not None and leftover:
            report = format_pending(main_qualname, [describe_task(task) for task in leftover])
            logger.warning("%s", report)

    def closed(self) -> None:
        if self._watchdog is not None:
            self._watchdog.stop()
        if self._timeline is not None:
            recorder, path = self._timeline
            with open(path, "w", encoding="utf-8") as out:
                out.write(render(recorder.entries))
