"""What diagnostics do for one ``Runner``: the runner hooks (``spindle.runners.RunnerHooks``).

Importing ``spindle.diagnostics`` registers ``Session.start`` with ``add_runner_hooks``, so each
runner calls it once with its new loop, and then calls the session's methods (asyncio's runner,
on the loop ``spindle.install()`` gives it, reaches them through that loop, from its first main
task on: ``spindle.patch.RunnerAwareEventLoop``):

* ``Session.start(loop)`` when the runner creates its loop: reads the settings, installs the
  program's own instruments (``configure(instruments=...)``), and, with diagnostics on, turns
  on task-origin tracking, starts the blocking watchdog and, if asked, the timeline's recorder
  (spindle's loop only: they read what it records; another loop gets the pending-task report);
* ``interrupted()`` on the first Ctrl-C, in the signal handler: the watchdog reports a step
  that blocks the loop, which the cancellation cannot reach;
* ``main_finished()`` when ``run_until_complete`` returns: reports a step that blocked until the
  loop stopped;
* ``closing(main, leftover)`` before the runner cancels the tasks left pending: reports them if
  ``main()`` returned, and stops the timeline (the runner's own shutdown is not the program's);
* ``closed()`` after the shutdown: joins the watchdog thread and writes the timeline.  A
  timeline that cannot be written is reported; the program's exit status does not change.

With diagnostics off, ``start`` returns None and the runner does none of this.
"""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any

from spindle._core.loop import BaseLoop
from spindle._core.tasks import Task, all_tasks, note_origin
from spindle.diagnostics import settings
from spindle.diagnostics.log import logger
from spindle.diagnostics.pending import describe_task, format_pending
from spindle.diagnostics.timeline import Recorder
from spindle.diagnostics.timeline_render import write
from spindle.diagnostics.watchdog import Watchdog, faulthandler_delay

__all__ = ["Session"]


class Session:
    """Diagnostics for one runner's loop."""

    def __init__(self, watchdog: Watchdog | None, timeline: tuple[Recorder, str] | None) -> None:
        self._watchdog = watchdog
        self._timeline = timeline  # the recorder, and the path to write its timeline to

    @classmethod
    def start(cls, loop: asyncio.AbstractEventLoop) -> Session | None:
        """Start diagnostics for ``loop`` if they are enabled, else None."""
        config = settings.current()
        if isinstance(loop, BaseLoop):
            for instrument in config.instruments:
                loop._add_instrument(instrument)
        if not config.enabled:
            return None
        if not isinstance(loop, BaseLoop):  # another loop: only the pending-task report
            if config.timeline_path is not None:
                logger.warning(
                    "spindle: no timeline is written for %r: the timeline needs spindle's "
                    "event loop",
                    loop,
                )
            return cls(None, None)
        loop._track_task_origins = True
        for task in all_tasks(loop):  # made before (asyncio's runner makes main first)
            if isinstance(task, Task) and task._origin_code is None:
                note_origin(task)
        after = faulthandler_delay(config.block_threshold) if config.faulthandler else None
        watchdog = Watchdog(loop, config.block_threshold, faulthandler_after=after)
        watchdog.start()
        timeline = None
        if config.timeline_path is not None:
            timeline = (Recorder(loop), config.timeline_path)
            timeline[0].start()
        return cls(watchdog, timeline)

    def interrupted(self) -> None:
        if self._watchdog is not None:
            self._watchdog.interrupted()

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
            self._timeline = None
            try:
                write(path, recorder.tracks, recorder.end(), _title())
            except OSError as exc:
                logger.warning(
                    "spindle: cannot write the timeline to %s (%s); the program is not affected",
                    path,
                    exc.strerror or exc,
                )


def _title() -> str:
    """What the timeline is of: the program's command line."""
    program = " ".join(os.path.basename(arg) if i == 0 else arg for i, arg in enumerate(sys.argv))
    return program or "python"
