"""A gunicorn configuration file that puts gunicorn's own ``asgi`` worker on spindle's loop.

gunicorn forks each worker from its master; ``post_fork`` runs in the new worker before the
worker makes its loop, and ``spindle.install()`` there makes the ``asyncio.new_event_loop()``
that ``-k asgi --asgi-loop asyncio`` calls return a spindle loop.  The master itself never runs
an event loop, so it is left as it is.
"""

from __future__ import annotations

from typing import Any


def post_fork(server: Any, worker: Any) -> None:
    import spindle

    spindle.install()
