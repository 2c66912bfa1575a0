"""What the core tells diagnostics about a task's rare moments (see ``TaskObserver``).

This module is not compiled: it only declares the interface, which ``spindle.diagnostics``
implements and ``taskcore`` calls.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from spindle.exceptions import CancelledError

__all__ = ["TaskObserver"]


class TaskObserver(Protocol):
    """What ``spindle.diagnostics`` is told about two rare moments of a task's life.

    Both are called from ``TaskCore._step`` on paths a step takes only when an exception is
    involved, so an observer costs nothing on the common path, and no observer (None) costs
    one global read there.  An observer must not raise.
    """

    def cancellation_caught(self, task: Any, exc: CancelledError) -> None:
        """A CancelledError thrown into the task's coroutine was caught: the coroutine
        suspended again instead of ending (cleanup in ``finally``, or swallowing it)."""

    def failed(self, task: Any) -> None:
        """The task ended with an exception (now stored in it)."""
