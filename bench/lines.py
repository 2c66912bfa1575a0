"""The worker side of the JSON-lines protocol that ``driver.Worker`` speaks.

A worker's first line says whether it can run (``{"ready": version, "build": ...}``, or
``{"unavailable": reason}``, after which it exits); each later line answers one request.
``bench.worker``, ``bench.echo.server`` and ``bench.echo.client`` all start this way.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping

from bench.impls import Impl, Unavailable, load

__all__ = ["load_or_report", "send"]


def send(reply: Mapping[str, object]) -> None:
    """Write one line to the driver."""
    sys.stdout.write(json.dumps(reply) + "\n")
    sys.stdout.flush()


def load_or_report(name: str) -> Impl | None:
    """Implementation ``name``; None, once the driver has been told why, if it cannot load."""
    try:
        return load(name)
    except Unavailable as exc:
        send({"unavailable": str(exc)})
        return None
