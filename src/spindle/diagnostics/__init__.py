"""spindle explains what went wrong.

Under ``spindle.run()`` (or a ``spindle.Runner``), spindle reports on stderr, through the
``logging`` logger ``"spindle"``:

* a callback or task step that held the event loop longer than a threshold (0.1 s by default),
  with the line it was stuck at (``watchdog``);
* tasks still pending when ``main()`` returned, which are about to be cancelled, with where each
  was created and where it was waiting (``pending``).

Exceptions that no one retrieved are reported by the loop's exception handler, as in asyncio.

Diagnostics are on by default.  Turn them off with ``SPINDLE_DIAGNOSTICS=0`` in the environment,
or ``spindle.diagnostics.configure(enabled=False)``; ``configure`` also sets the threshold
(``SPINDLE_BLOCK_THRESHOLD``, in seconds).  See ``settings`` for every switch.
"""

from __future__ import annotations

from spindle.diagnostics.settings import Settings, configure, current, reset

__all__ = ["Settings", "configure", "current", "reset"]
