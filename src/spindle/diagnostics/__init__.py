"""spindle explains what a program is doing, and what went wrong.

Under ``spindle.run()`` (or a ``spindle.Runner``), and under ``asyncio.run()`` (or an
``asyncio.Runner``) after ``spindle.install()`` or in ``python -m spindle`` (whose loop reports
what asyncio's runner does: ``spindle.patch.RunnerAwareEventLoop``), spindle reports on stderr,
through the ``logging`` logger ``"spindle"`` (with a handler of its own: ``log``):

* a callback or task step that holds the event loop longer than a threshold (0.1 s by default),
  while it does, with its task, the tasks waiting for it and the stack of the loop's thread;
  again with backoff while it lasts; once more, with the total, when it ends (``watchdog``);
* the same report on the first Ctrl-C, if a step is blocking the loop then;
* tasks still pending when ``main()`` returned, which are about to be cancelled, with where each
  was created and where it was waiting (``pending``).

Exceptions that no one retrieved are reported by the loop's exception handler, as in asyncio.

On request (``SPINDLE_TIMELINE=path``), the runner also writes a timeline of the run's tasks
when it closes: an HTML page, Chrome trace-event JSON or text (``timeline``).

Instruments (``Instrument``, ``add_instrument``) let a program watch the loop as spindle's own
tools do: tasks spawned, steps begun and ended, waits for I/O, slow callbacks.

Diagnostics are on by default.  ``settings`` lists every switch (``SPINDLE_*`` in the
environment, or ``configure(...)`` from code); ``SPINDLE_DIAGNOSTICS=0`` turns them off.
"""

from __future__ import annotations

from spindle.diagnostics import log
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
    "Instrument",
    "Settings",
    "add_instrument",
    "configure",
    "current",
    "instruments",
    "remove_instrument",
    "reset",
    "running_handle",
    "running_task",
]

log.set_up()

# Every runner from now on gets a diagnostics session (or none, when they are off).
add_runner_hooks(Session.start)
