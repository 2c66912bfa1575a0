"""Instruments: objects the loop tells what it does, in the spirit of trio's ``Instrument``.

An instrument is any object with some of these methods (subclass ``Instrument`` to get the
signatures, and override only what you use; the loop calls only the methods an instrument has
and that differ from ``Instrument``'s do-nothing ones):

    task_spawned(task)              a task was created (before its first step is scheduled)
    before_task_step(task, time)    a step of the task begins; ``time`` is ``loop.time()``
    after_task_step(task, time)     that step has ended
    task_exited(task)               the task is done (returned, raised or was cancelled)
    before_io_wait(timeout)         the loop is about to wait for I/O (``None``: no limit)
    after_io_wait(timeout)          ... and has woken up
    handle_scheduled(handle)        a callback was scheduled: ``call_soon``, ``call_later``,
                                    ``call_at``, and ``call_soon_threadsafe`` called on the
                                    loop's own thread (what futures and tasks schedule goes
                                    through these too; I/O readiness reuses its handles)
    callback_slow(handle, seconds)  a callback or task step ran ``loop.slow_callback_duration``
                                    seconds or longer

Every call happens on the loop's thread.  An instrument that raises is removed from the loop,
and the error goes to the loop's exception handler: an observer must not break what it observes
(trio does the same).

**What it costs.**  Nothing while no instrument is installed.  The loop has two ways to run a
pass: the *plain* one (``Scheduler._run_ready``) with its fast paths (tasks and futures queue
their handles directly, handles are built without ``__init__``), used while the loop is
``_plain`` (open, not in debug mode, no instrument); and the *observed* one
(``Scheduler._run_once_observed``), which calls the hooks, and whose slow paths (``call_soon``,
``Task``'s own scheduling) call the others.  Installing an instrument switches the loop from
one to the other; the switch is the one boolean per pass and per fast path that the loop
already tested for debug mode.

The loop also keeps, at the cost of one attribute store per callback, a record of the handle
it is running (``loop._running``; None between passes), for readers in other threads, such as
the blocking watchdog: ``running_handle(loop)``.  It is kept in both passes, instruments or
not.  Unlike a stack read from the outside, it works when the loop's own code has no Python
frames (a compiled build).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

__all__ = ["HOOKS", "Instrument", "InstrumentSet"]

HOOKS = (
    "task_spawned",
    "before_task_step",
    "after_task_step",
    "task_exited",
    "before_io_wait",
    "after_io_wait",
    "handle_scheduled",
    "callback_slow",
)


class Instrument:
    """Base class for instruments: every hook does nothing.  Override the ones you need."""

    def task_spawned(self, task: asyncio.Task[Any]) -> None:
        """``task`` was created; its first step is about to be scheduled."""

    def before_task_step(self, task: asyncio.Task[Any], time: float) -> None:
        """A step of ``task`` begins at loop time ``time``."""

    def after_task_step(self, task: asyncio.Task[Any], time: float) -> None:
        """The step of ``task`` that began last has ended, at loop time ``time``."""

    def task_exited(self, task: asyncio.Task[Any]) -> None:
        """``task`` is done: it returned, raised or was cancelled."""

    def before_io_wait(self, timeout: float | None) -> None:
        """The loop is about to wait up to ``timeout`` seconds (None: no limit) for I/O."""

    def after_io_wait(self, timeout: float | None) -> None:
        """The loop has finished waiting for I/O (``timeout`` as in ``before_io_wait``)."""

    def handle_scheduled(self, handle: asyncio.Handle) -> None:
        """A callback was scheduled: ``handle`` is what ``call_soon`` (etc.) returned."""

    def callback_slow(self, handle: asyncio.Handle, seconds: float) -> None:
        """``handle``'s callback (or task step) held the loop for ``seconds``."""


Hook = Callable[..., object]


def _overridden(instrument: object, name: str) -> Hook | None:
    """``instrument``'s method ``name``, unless it lacks one or has ``Instrument``'s no-op."""
    method = getattr(instrument, name, None)
    if method is None or not callable(method):
        return None
    if getattr(type(instrument), name, None) is getattr(Instrument, name):
        return None
    hook: Hook = method
    return hook


class InstrumentSet:
    """A loop's instruments, with each hook's methods gathered once, for calling.

    Immutable: adding or removing an instrument makes a new set (``with_``/``without``), so a
    pass that took the set keeps a consistent one even if a hook changes the loop's.
    """

    def __init__(
        self,
        instruments: tuple[object, ...],
        on_error: Callable[[object, str, BaseException], None],
    ) -> None:
        self.instruments = instruments
        self._on_error = on_error
        self._hooks: dict[str, tuple[tuple[object, Hook], ...]] = {
            name: tuple(
                (instrument, hook)
                for instrument in instruments
                if (hook := _overridden(instrument, name)) is not None
            )
            for name in HOOKS
        }
        # What the observed pass needs to know before it does the work behind a hook.
        self.wants_steps = bool(self._hooks["before_task_step"] or self._hooks["after_task_step"])
        self.wants_slow = bool(self._hooks["callback_slow"])
        self.wants_io = bool(self._hooks["before_io_wait"] or self._hooks["after_io_wait"])

    def with_(self, instrument: object) -> InstrumentSet:
        return InstrumentSet((*self.instruments, instrument), self._on_error)

    def without(self, instrument: object) -> InstrumentSet:
        kept = tuple(each for each in self.instruments if each is not instrument)
        return InstrumentSet(kept, self._on_error)

    def _call(self, name: str, *args: object) -> None:
        for instrument, hook in self._hooks[name]:
            try:
                hook(*args)
            except (SystemExit, KeyboardInterrupt):
                raise
            except BaseException as exc:
                self._on_error(instrument, name, exc)

    def task_spawned(self, task: object) -> None:
        self._call("task_spawned", task)

    def before_task_step(self, task: object, time: float) -> None:
        self._call("before_task_step", task, time)

    def after_task_step(self, task: object, time: float) -> None:
        self._call("after_task_step", task, time)

    def task_exited(self, task: object) -> None:
        self._call("task_exited", task)

    def before_io_wait(self, timeout: float | None) -> None:
        self._call("before_io_wait", timeout)

    def after_io_wait(self, timeout: float | None) -> None:
        self._call("after_io_wait", timeout)

    def handle_scheduled(self, handle: object) -> None:
        self._call("handle_scheduled", handle)

    def callback_slow(self, handle: object, seconds: float) -> None:
        self._call("callback_slow", handle, seconds)
