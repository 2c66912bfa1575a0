"""Deadlines for a block of code: ``async with timeout(delay):``.

A timeout does not run anything itself and owns no future.  When its deadline passes it
cancels the task that entered it, and on the way out it turns the resulting CancelledError
into TimeoutError.  The hard part is telling *our* cancellation apart from someone else's,
because a task can be cancelled from outside at the same moment the deadline fires.  asyncio
3.11 answers that with the task's cancellation counter: ``cancel()`` raises it,
``uncancel()`` lowers it, ``cancelling()`` reads it.  On entry the timeout records the count;
on exit, after withdrawing its own request with ``uncancel()``, a count still above the
recorded one means another cancellation is pending, and the CancelledError must propagate
unchanged.  Only when ours was the last request does it become a TimeoutError.

The lifecycle is a small state machine (CREATED -> ENTERED -> EXPIRING -> EXPIRED, or
ENTERED -> EXITED), kept in one enum so that every misuse (rescheduling a finished timeout,
entering one twice) fails with a message that names the state.
"""

from __future__ import annotations

import asyncio
import enum
import sys
from types import TracebackType
from typing import Any, final

from spindle import events
from spindle._core.tasks import current_task
from spindle._core.timers import refuse_nan
from spindle.exceptions import CancelledError

__all__ = ["Timeout", "timeout", "timeout_at"]

# 3.13: a block that turned the timeout's CancelledError into another error gets a TimeoutError
# in that error's context chain, and subclasses of CancelledError count as the cancellation.
# 3.11 and 3.12 convert CancelledError itself and leave every other error alone.
RECORD_TIMEOUT_IN_OTHER_ERRORS = sys.version_info >= (3, 13)


class TimeoutState(enum.Enum):
    """Where a Timeout is in its life; the values are what ``repr()`` shows (as asyncio's)."""

    CREATED = "created"
    ENTERED = "active"
    EXPIRING = "expiring"  # the deadline passed and the task was cancelled; not exited yet
    EXPIRED = "expired"
    EXITED = "finished"


@final
class Timeout:
    """Asynchronous context manager that cancels its block when a deadline passes.

    Use ``timeout()`` or ``timeout_at()`` rather than calling this class directly.
    ``when`` is a time on the loop's clock (``loop.time()``), or None for no deadline.
    """

    def __init__(self, when: float | None) -> None:
        self._state = TimeoutState.CREATED
        self._when = when
        self._handle: asyncio.Handle | None = None
        self._task: asyncio.Task[Any] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        # The task's cancellation count on entry: anything above it on exit is not ours.
        self._cancelling = 0

    def when(self) -> float | None:
        """The current deadline (loop time), or None when there is none."""
        return self._when

    def expired(self) -> bool:
        """Whether the deadline passed while the block was running."""
        return self._state in (TimeoutState.EXPIRING, TimeoutState.EXPIRED)

    def reschedule(self, when: float | None) -> None:
        """Move the deadline to ``when`` (loop time; None removes it); only while active."""
        if self._state is not TimeoutState.ENTERED:
            if self._state is TimeoutState.CREATED:
                raise RuntimeError("cannot reschedule: Timeout has not been entered")
            raise RuntimeError(f"cannot reschedule: Timeout is {self._state.value}")
        if when is not None:
            refuse_nan(when, "timeout deadline")
        self._when = when
        self._cancel_handle()
        if when is None:
            return
        loop = self._loop
        assert loop is not None  # set together with ENTERED
        if when <= loop.time():
            self._handle = loop.call_soon(self._on_deadline)
        else:
            self._handle = loop.call_at(when, self._on_deadline)

    def __repr__(self) -> str:
        if self._state is TimeoutState.ENTERED:
            when = round(self._when, 3) if self._when is not None else None
            return f"<Timeout [{self._state.value}] when={when}>"
        return f"<Timeout [{self._state.value}]>"

    async def __aenter__(self) -> Timeout:
        if self._state is not TimeoutState.CREATED:
            raise RuntimeError(
                f"cannot enter: Timeout has already been entered (it is {self._state.value})"
            )
        task = current_task()
        if task is None:
            raise RuntimeError("cannot enter: Timeout should be used inside a task")
        self._loop = events.get_running_loop()
        self._task = task
        self._cancelling = task.cancelling()
        self._state = TimeoutState.ENTERED
        self.reschedule(self._when)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        self._cancel_handle()
        if self._state is TimeoutState.ENTERED:
            self._state = TimeoutState.EXITED
            return
        if self._state is not TimeoutState.EXPIRING:
            raise RuntimeError(f"cannot exit: Timeout is {self._state.value}")
        self._state = TimeoutState.EXPIRED
        assert self._task is not None
        # Withdraw our cancellation request; if others remain, their CancelledError wins.
        if self._task.uncancel() > self._cancelling or exc_type is None:
            return
        if exc_type is CancelledError or (
            RECORD_TIMEOUT_IN_OTHER_ERRORS and issubclass(exc_type, CancelledError)
        ):
            raise TimeoutError from exc_val
        if RECORD_TIMEOUT_IN_OTHER_ERRORS and exc_val is not None:
            # The block turned our CancelledError into another error (typically a crash in a
            # `finally`): record the timeout in that error's context chain.
            _insert_timeout_error(exc_val)
            if isinstance(exc_val, ExceptionGroup):
                for exc in exc_val.exceptions:
                    _insert_timeout_error(exc)

    def _on_deadline(self) -> None:
        if self._state is not TimeoutState.ENTERED:
            raise RuntimeError(f"cannot expire: Timeout is {self._state.value}")
        assert self._task is not None
        self._task.cancel()
        self._state = TimeoutState.EXPIRING
        self._handle = None  # drop the reference early

    def _cancel_handle(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None


def _insert_timeout_error(exc: BaseException) -> None:
    """Put a TimeoutError between ``exc`` and the first CancelledError in its context chain."""
    while exc.__context__ is not None:
        if isinstance(exc.__context__, CancelledError):
            timeout_error = TimeoutError()
            timeout_error.__context__ = timeout_error.__cause__ = exc.__context__
            exc.__context__ = timeout_error
            return
        exc = exc.__context__


def timeout(delay: float | None) -> Timeout:
    """A Timeout that expires ``delay`` seconds from now (None: never).

    Use as ``async with timeout(10): ...``.  When the deadline passes, the block is cancelled
    and the outermost affected ``timeout()`` raises TimeoutError.
    """
    loop = events.get_running_loop()
    if delay is None:
        return Timeout(None)
    refuse_nan(delay, "timeout() delay")
    return Timeout(loop.time() + delay)


def timeout_at(when: float | None) -> Timeout:
    """A Timeout that expires at ``when``, a time on the loop's clock (``loop.time()``)."""
    if when is not None:
        refuse_nan(when, "timeout_at() when")
    return Timeout(when)
