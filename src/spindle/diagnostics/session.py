"""What diagnostics do for one ``Runner``: the runner's only door into this package.

The runner calls four methods at four moments of its life, and nothing else:

* ``Session.start(loop)`` when it creates its loop: reads the settings, turns on task-origin
  tracking and starts the blocking watchdog (spindle's loop only: asyncio's keeps no pass
  counter, and its tasks no origin);
* ``main_finished()`` when ``run_until_complete`` returns: reports a step that blocked until the
  loop stopped;
* ``tasks_left_behind(main_qualname, tasks)`` before it cancels the tasks ``main()`` left pending;
* ``close()`` when it closes: joins the watchdog thread and writes the timeline, if asked for.

With diagnostics off, ``start`` returns None and the runner does none of this.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

from spindle.diagnostics import settings
from spindle.diagnostics.pending import describe_task, format_pending
from spindle.diagnostics.watchdog import ObservableLoop, Watchdog

__all__ = ["Session"]

logger = logging.getLogger("spindle")


class Session:
    """Diagnostics for one runner's loop."""

    def __init__(self, watchdog: Watchdog | None) -> None:
        self._watchdog = watchdog

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
        return cls(watchdog)

    def main_finished(self) -> None:
        if self._watchdog is not None:
            self._watchdog.flush()

    def tasks_left_behind(self, main_qualname: str, tasks: Iterable[asyncio.Task[Any]]) -> None:
        """Main returned while ``tasks`` were pending: say so before they are cancelled."""
        report = format_pending(main_qualname, [describe_task(task) for task in tasks])
        logger.warning("%s", report)

    def close(self) -> None:
        if self._watchdog is not None:
            self._watchdog.stop()
