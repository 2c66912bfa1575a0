"""gunicorn's uvicorn worker with spindle's loop: the class a user names with ``-k``.

``uvicorn-worker`` (the package uvicorn's own docs now point to; ``uvicorn.workers`` is
deprecated) builds each worker's uvicorn ``Config`` from the class attribute ``CONFIG_KWARGS``,
and subclassing to change it is the documented way to configure the worker.  uvicorn takes a
``loop`` that is not one of its own names as ``module:callable``, the loop factory of the
worker's runner, so every worker process gunicorn forks runs spindle's loop::

    gunicorn -k spindle_worker.SpindleUvicornWorker -w 2 app:app

(``spindle.install()`` in a ``post_fork`` hook would not do it for this worker: with its
default ``loop="auto"`` uvicorn asks for uvloop's or asyncio's loop by name, not through the
event-loop policy.  It does serve gunicorn's own ``-k asgi --asgi-loop asyncio`` worker, which
calls ``asyncio.new_event_loop()``.)
"""

from __future__ import annotations

from typing import Any, ClassVar

from uvicorn_worker import UvicornWorker


class SpindleUvicornWorker(UvicornWorker):
    CONFIG_KWARGS: ClassVar[dict[str, Any]] = {"loop": "spindle:new_event_loop", "http": "auto"}
