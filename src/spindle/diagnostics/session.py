"""What diagnostics do for one ``Runner``: the runner hooks (``spindle.runners.RunnerHooks``).

Importing ``spindle.diagnostics`` registers ``Session.start`` with ``add_runner_hooks``, so each
runner calls it once with its new loop, and then calls the session's methods (asyncio's runner,
on the loop ``spindle.install()`` gives it, reaches them through that loop, from its first main
task on: ``spindle.patch.RunnerAwareEventLoop``):

* ``Session.start(loop)`` when the runner creates its loop: reads the settings, installs the
  program's own instruments (``configure(instruments=...)``), and, with diagnostics on, turns
  on task-origin tracking, starts the blocking watchdog and, if asked, the timeline's recorder
  (spindle's loop only: they read what it records);
* ``main_finished()`` when ``run_until_complete`` returns: reports a step that blocked until the
  loop stopped;
* ``closing(main, leftover)`` before the runner cancels the tasks left pending: reports them if
  ``main()`` returned, and stops recording (the runner's own shutdown tasks are not the
  program's);
* ``interrupted(frame)`` on the first Ctrl-C (before the main task is cancelled): prints the
  task dump (``dump``), so a program that hangs says where each task was, and the watchdog's
  report of a step that blocks the loop, which the cancellation cannot reach;
* ``closed()`` after the shutdown: reports the failed tasks whose exception nobody retrieved,
  joins the watchdog thread and writes the timeline.  A timeline that cannot be written is
  reported; the program's exit status does not change.

While a session runs, its loop is watched: ``dump_tasks()`` and ``python -m spindle ps PID``
(``control``) see its tasks, a swallowed cancellation is reported (``cancellation``), a slow
shutdown says what it waits for (``shutdown``), and ``SPINDLE_DUMP_SIGNAL`` prints the dump.

With diagnostics off, ``start`` returns None and the runner does none of this.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import threading
import types
import weakref
from typing import Any

from spindle._core import tasks as core_tasks
from spindle._core.loop import BaseLoop
from spindle.diagnostics import cancellation, control, dump, settings
from spindle.diagnostics.log import logger
from spindle.diagnostics.pending import describe_task, format_pending
from spindle.diagnostics.shutdown import StuckReporter
from spindle.diagnostics.timeline import Recorder
from spindle.diagnostics.timeline_render import write
from spindle.diagnostics.watchdog import Watchdog, faulthandler_delay

__all__ = ["Session"]



class Session:
    """Diagnostics for one runner's loop."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        config: settings.Settings,
        watchdog: Watchdog | None,
        timeline: tuple[Recorder, str] | None,
    ) -> None:
        self._loop = loop
        self._config = config
        self._watchdog = watchdog
        self._timeline = timeline  # the recorder, and the path to write its timeline to
        self._stuck: StuckReporter | None = None
        self._interrupted = False
        self._dump_handler: Any = None  # our handler of SPINDLE_DUMP_SIGNAL, when installed
        self._previous_handler: Any = None
        # Gives back this session's use of the ps server: when the session ends, or when it
        # is garbage-collected without ending (a runner dropped without close()), so that
        # the server's thread and socket never outlive every loop.
        self._ps_release: weakref.finalize[[], Session] | None = None

    @classmethod
    def start(cls, loop: asyncio.AbstractEventLoop) -> Session | None:
        """Start diagnostics for ``loop`` if they are enabled, else None."""
        config = settings.current()
        if isinstance(loop, BaseLoop):
            for instrument in config.instruments:
                loop._add_instrument(instrument)
        if not config.enabled:
            return None
        watchdog = None
        timeline = None
        if isinstance(loop, BaseLoop):
            loop._track_task_origins = True
            for task in core_tasks.all_tasks(loop):  # made before (asyncio's runner: main)
                if isinstance(task, core_tasks.Task) and task._origin_code is None:
                    core_tasks.note_origin(task)
            after = faulthandler_delay(config.block_threshold) if config.faulthandler else None
            watchdog = Watchdog(loop, config.block_threshold, faulthandler_after=after)
            watchdog.start()
            if config.timeline_path is not None:
                timeline = (Recorder(loop), config.timeline_path)
                timeline[0].start()
        elif config.timeline_path is not None:
            logger.warning(
                "spindle: no timeline is written for %r: the timeline needs spindle's event loop",
                loop,
            )
        session = cls(loop, config, watchdog, timeline)
        session._watch()
        return session

    def _watch(self) -> None:
        core_tasks.set_hide_runtime_frames(not self._config.show_internal_frames)
        cancellation.install().loops.add(self._loop)
        dump.watch(self._loop)
        if self._config.ps:
            control.acquire()
            self._ps_release = weakref.finalize(self, control.release)
        if self._config.dump_signal is not None:
            self._install_dump_signal(self._config.dump_signal)

    def _install_dump_signal(self, signum: signal.Signals) -> None:
        if threading.current_thread() is not threading.main_thread():
            return  # only the main thread can set signal handlers
        current = signal.getsignal(signum)
        if current not in (signal.SIG_DFL, None):
            logger.warning(
                "spindle: SPINDLE_DUMP_SIGNAL=%s not installed: the program handles %s itself",
                signum.name,
                signum.name,
            )
            return

        def on_signal(signo: int, frame: types.FrameType | None) -> None:
            logger.warning("%s", dump.format_dump(dump.watched_loops(), frame))

        self._previous_handler = current
        self._dump_handler = on_signal
        signal.signal(signum, on_signal)

    def main_finished(self) -> None:
        if self._watchdog is not None:
            self._watchdog.flush()

    def interrupted(self, frame: types.FrameType | None) -> None:
        """The first Ctrl-C: say what every task was doing, before they are cancelled."""
        if self._interrupted:
            return
        self._interrupted = True
        if self._watchdog is not None:
            self._watchdog.interrupted()
        try:
            text = dump.format_dump([self._loop], frame)
        except Exception:  # never turn a Ctrl-C into another error
            logger.debug("spindle: the task dump failed", exc_info=True)
            return
        logger.warning("spindle: interrupted (Ctrl-C); the tasks were:\n%s", text)

    def closing(self, main_qualname: str | None, leftover: set[asyncio.Task[Any]]) -> None:
        if self._timeline is not None:
            self._timeline[0].stop()
        if main_qualname is not None and leftover:
            report = format_pending(main_qualname, [describe_task(task) for task in leftover])
            logger.warning("%s", report)
        if leftover and not self._loop.is_closed():
            self._stuck = StuckReporter(self._loop, leftover, self._config.shutdown_grace)

    def closed(self) -> None:
        try:
            if self._stuck is not None:
                self._stuck.stop()
            if not self._loop.is_closed():
                cancellation.report_unretrieved(self._loop)
        finally:
            self._unwatch()
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

    def _unwatch(self) -> None:
        dump.unwatch(self._loop)
        cancellation.install().loops.discard(self._loop)
        if self._ps_release is not None:
            self._ps_release()  # runs control.release once, now
        signum = self._config.dump_signal
        if signum is not None and self._dump_handler is not None:
            if signal.getsignal(signum) is self._dump_handler:
                signal.signal(signum, self._previous_handler)
            self._dump_handler = None


def _title() -> str:
    """What the timeline is of: the program's command line."""
    program = " ".join(os.path.basename(arg) if i == 0 else arg for i, arg in enumerate(sys.argv))
    return program or "python"
