"""spindle explains what a program is doing, and what went wrong.

Under ``spindle.run()`` (or a ``spindle.Runner``), and under ``asyncio.run()`` (or an
``asyncio.Runner``) after ``spindle.install()`` or in ``python -m spindle`` (whose loop reports
what asyncio's runner does: ``spindle.patch.RunnerAwareEventLoop``), spindle reports on stderr,
through the ``logging`` logger ``"spindle"`` (with a handler of its own: ``log``):

* a callback or task step that holds the event loop longer than a threshold (0.1 s by default),
  while it does, with its task, the tasks waiting for it and the stack of the loop's thread;
  again with backoff while it lasts; once more, with the total, when it ends (``watchdog``);
* tasks still pending when ``main()`` returned, which are about to be cancelled, with where each
  was created and where it was waiting (``pending``).

Exceptions that no one retrieved are reported by the loop's exception handler, as in asyncio.

What every task is doing, on demand: ``dump_tasks()`` prints each task, the line it waits at
and what on, and the async call tree (``dump``); so does the first Ctrl-C under
``spindle.run()`` (with the watchdog's report of a step that blocks the loop), and
``SPINDLE_DUMP_SIGNAL=SIGUSR1``; ``python -m spindle ps PID`` / ``pstree PID`` ask a running
process (``control``, ``ps``).  ``capture_call_graph`` and its siblings are Python 3.14's
``asyncio.graph`` API (``graph``), exported by ``spindle``.

On request (``SPINDLE_TIMELINE=path``), the runner also writes a timeline of the run's tasks
when it closes: an HTML page, Chrome trace-event JSON or text (``timeline``).

Instruments (``Instrument``, ``add_instrument``) let a program watch the loop as spindle's own
tools do: tasks spawned, steps begun and ended, waits for I/O, slow callbacks.

Diagnostics are on by default.  ``settings`` lists every switch (``SPINDLE_*`` in the
environment, or ``configure(...)`` from code); ``SPINDLE_DIAGNOSTICS=0`` turns them off.
"""

from __future__ import annotations

from spindle.diagnostics import log
from spindle.diagnostics.dump import dump_tasks
from spindle.diagnostics.graph import (
    FrameCallGraphEntry,
    FutureCallGraph,
    capture_call_graph,
    format_call_graph,
    future_add_to_awaited_by,
    future_discard_from_awaited_by,
    print_call_graph,
)
from spindle.diagnostics.instruments import (
    Instrument,
    add_instrument,
    instruments,
    remove_instrument,
    running_handle,
    running_task,
)
from spindle.diagnostics.session import Session
from spindle.diagnostics.settings import Settings, configure, current, reset
from spindle.runners import add_runner_hooks

__all__ = [
    "FrameCallGraphEntry",
    "FutureCallGraph",
    "Instrument",
    "Settings",
    "add_instrument",
    "capture_call_graph",
    "configure",
    "current",
    "dump_tasks",
    "format_call_graph",
    "future_add_to_awaited_by",
    "future_discard_from_awaited_by",
    "instruments",
    "print_call_graph",
    "remove_instrument",
    "reset",
    "running_handle",
    "running_task",
]

log.set_up()

# Every runner from now on gets a diagnostics session (or none, when they are off).
add_runner_hooks(Session.start)
