"""The exception classes of spindle's public API.

These are asyncio's own classes, not copies.  Code written for asyncio catches
``asyncio.CancelledError`` and ``asyncio.TimeoutError``; a drop-in runtime must raise
exactly those classes, or every ``except`` clause in every library would miss them.
The only class spindle defines itself is ``QueueShutDown`` on Pythons whose asyncio
does not have it yet (it arrived in 3.13).
"""

from __future__ import annotations

import asyncio
import sys

__all__ = [
    "BrokenBarrierError",
    "CancelledError",
    "IncompleteReadError",
    "InvalidStateError",
    "LimitOverrunError",
    "QueueEmpty",
    "QueueFull",
    "QueueShutDown",
    "SendfileNotAvailableError",
    "TimeoutError",
]

BrokenBarrierError = asyncio.BrokenBarrierError
CancelledError = asyncio.CancelledError
IncompleteReadError = asyncio.IncompleteReadError
InvalidStateError = asyncio.InvalidStateError
LimitOverrunError = asyncio.LimitOverrunError
SendfileNotAvailableError = asyncio.SendfileNotAvailableError
TimeoutError = asyncio.TimeoutError  # the builtin TimeoutError since Python 3.11
QueueEmpty = asyncio.QueueEmpty
QueueFull = asyncio.QueueFull

if sys.version_info >= (3, 13):
    from asyncio import QueueShutDown
else:

    class QueueShutDown(Exception):
        """Raised when putting on to or getting from a queue after ``shutdown()``."""
