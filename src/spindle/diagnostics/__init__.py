"""spindle explains what went wrong.

Under ``spindle.run()`` (or a ``spindle.Runner``), and under ``asyncio.run()`` (or an
``asyncio.Runner``) after ``spindle.install()`` or in ``python -m spindle`` (whose loop reports
what asyncio's runner does: ``spindle.patch.RunnerAwareEventLoop``), spindle reports on stderr,
through the ``logging`` logger ``"spindle"``:

* a callback or task step that held the event loop longer than a threshold (0.1 s by default),
  with the line it was stuck at (``watchdog``);
* tasks still pending when ``main()`` returned, which are about to be cancelled, with where each
  was created and where it was waiting (``pending``).

Exceptions that no one retrieved are reported by the loop's exception handler, as in asyncio.

What every task is doing, on demand: ``dump_tasks()`` prints each task, the line it waits at
and what on, and the async call tree (``dump``); so does the first Ctrl-C under
``spindle.run()``, and ``SPINDLE_DUMP_SIGNAL=SIGUSR1``; ``python -m spindle ps PID`` /
``pstree PID`` ask a running process (``control``, ``ps``).  ``capture_call_graph`` and its
siblings are Python 3.14's ``asyncio.graph`` API (``graph``), exported by ``spindle``.

On request (``SPINDLE_TIMELINE=path``, or ``configure(timeline=path)``), the runner also writes a
text timeline of the run's tasks to ``path`` when it closes (``timeline``).

Diagnostics are on by default.  Turn them off with ``SPINDLE_DIAGNOSTICS=0`` in the environment,
or ``spindle.diagnostics.configure(enabled=False)``; ``configure`` also sets the threshold
(``SPINDLE_BLOCK_THRESHOLD``, in seconds).  See ``settings`` for every switch.
"""

from __future__ import annotations

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
from spindle.diagnostics.session import Session
from spindle.diagnostics.settings import Settings, configure, current, reset
from spindle.runners import add_runner_hooks

__all__ = [
    "FrameCallGraphEntry",
    "FutureCallGraph",
    "Settings",
    "capture_call_graph",
    "configure",
    "current",
    "dump_tasks",
    "format_call_graph",
    "future_add_to_awaited_by",
    "future_discard_from_awaited_by",
    "print_call_graph",
    "reset",
]

# Every runner from now on gets a diagnostics session (or none, when they are off).
add_runner_hooks(Session.start)
