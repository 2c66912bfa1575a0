"""Shutdown that waits: which cancelled tasks a closing runner is still waiting for.

``spindle.run()`` (and ``Runner.close()``, and asyncio's runner under ``python -m spindle``)
cancels the tasks ``main()`` left behind and waits until every one of them has finished, as
asyncio does.  A task that does not finish (it swallowed its CancelledError, or its cleanup
waits on something that never comes) makes the program hang at its very end, silently.

spindle keeps asyncio's behaviour (it goes on waiting) but says what it waits for: after a
grace period (``SPINDLE_SHUTDOWN_GRACE``, 5 s by default) it lists the tasks not finished yet,
with the line each waits at and what on, then again after twice as long, and so on (at most
once a minute), until they finish.  The reports are timers on the loop, which is running the
shutdown: they cost nothing unless the shutdown is slow.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from typing import Any

from spindle.diagnostics import render, snapshot

__all__ = ["StuckReporter", "next_interval"]

logger = logging.getLogger("spindle")

MAX_INTERVAL = 60.0


def next_interval(interval: float) -> float:
    """The wait before the next report: twice the last, at most a minute."""
    return min(interval * 2, MAX_INTERVAL)


class StuckReporter:
    """Reports, with backoff, the cancelled tasks a closing runner still waits for."""

    def __init__(
        self, loop: asyncio.AbstractEventLoop, tasks: set[asyncio.Task[Any]], grace: float
    ) -> None:
        self._loop = loop
        self._tasks = tasks
        self._interval = grace
        self._waited = 0.0
        self._timer: asyncio.TimerHandle | None = loop.call_later(grace, self._report)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _report(self) -> None:
        self._waited += self._interval
        left = {id(task) for task in self._tasks if not task.done()}
        if not left:
            self._timer = None
            return
        whole = snapshot.take(self._loop)
        stuck = dataclasses.replace(whole, tasks=tuple(t for t in whole.tasks if t.id in left))
        count = len(stuck.tasks)
        plural = "task that was" if count == 1 else "tasks that were"
        logger.warning(
            "spindle: shutdown has waited %.0f s for %d %s cancelled and %s not finished:\n%s",
            self._waited,
            count,
            plural,
            "has" if count == 1 else "have",
            render.render_list([stuck]).split("\n", 1)[1],
        )
        self._interval = next_interval(self._interval)
        self._timer = self._loop.call_later(self._interval, self._report)
