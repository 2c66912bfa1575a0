"""What a differential run records, and how two records are made comparable.

What is compared, exactly:

* results, with tasks and futures replaced by the label of the coroutine they run;
* exceptions as (type, details, type of ``__cause__``, type of ``__context__``), where the
  details are the arguments (CancelledError's message, a user error's text, ...) or, for an
  exception group, its message and members.  Errors that report a misuse (RuntimeError,
  ValueError, TypeError raised by the library) compare by type only: spindle words them to
  name the problem (the project's rule), asyncio tersely;
* exception-handler reports as (kind of message, exception, type of the object reported on),
  sorted: "never retrieved" reports come from the garbage collector, whose timing is not
  part of asyncio's contract.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

__all__ = ["Outcome", "UserError", "message_types_of", "norm_exception", "report_kind"]


class UserError(Exception):
    """What the ``raise`` and ``convert`` operations raise."""


_MESSAGE_TYPES: tuple[type[BaseException], ...] = (UserError, TimeoutError)


def message_types_of(api: ModuleType) -> tuple[type[BaseException], ...]:
    return (
        *_MESSAGE_TYPES,
        api.CancelledError,
        api.QueueEmpty,
        api.QueueFull,
        api.BrokenBarrierError,
        *((api.QueueShutDown,) if hasattr(api, "QueueShutDown") else ()),
    )


_REPORT_KINDS = (
    ("exception was never retrieved", "never-retrieved"),
    ("was destroyed but it is pending", "destroyed-pending"),
    ("has errored out but its parent task", "group-orphan"),
    ("TaskGroup task exception was not propagated", "group-base-error"),
    ("run() shutdown", "run-shutdown"),
    ("Exception in callback", "callback-error"),
)


def report_kind(message: str) -> str:
    for fragment, kind in _REPORT_KINDS:
        if fragment in message:
            return kind
    return message


@dataclass
class Outcome:
    events: list[tuple[Any, ...]] = field(default_factory=list)
    finals: list[tuple[str, str]] = field(default_factory=list)
    reports: list[tuple[Any, ...]] = field(default_factory=list)


def norm_exception(
    exc: BaseException, message_types: tuple[type[BaseException], ...]
) -> tuple[Any, ...]:
    """(type, details, type of __cause__, type of __context__) of ``exc``."""
    details: Any
    if isinstance(exc, BaseExceptionGroup):
        details = (exc.message, tuple(norm_exception(e, message_types) for e in exc.exceptions))
    elif isinstance(exc, message_types):
        details = tuple(a if isinstance(a, (str, int)) else type(a).__name__ for a in exc.args)
    else:
        details = "(library wording)"
    cause = type(exc.__cause__).__name__ if exc.__cause__ is not None else None
    context = None
    if exc.__context__ is not None and not exc.__suppress_context__:
        context = type(exc.__context__).__name__
    return (type(exc).__name__, details, cause, context)


