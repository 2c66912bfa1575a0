"""The diagnostics' own threads, and how they step aside while the process forks.

A diagnostics session runs two daemon threads beside its loop: the blocking watchdog
(``watchdog``) and the server behind ``python -m spindle ps`` (``control``).  A process that
forks while other threads run gives its child a copy of every lock those threads held at that
instant, held for good, since the threads themselves do not come along: a child whose first
``print`` needs the stderr lock that the watchdog held in the middle of a report hangs there.
Python 3.12 warns of this at every ``fork()`` of a process with more than one thread ("use of
fork() may lead to deadlocks in the child"), and ``multiprocessing`` forks by default on Linux,
so without this a ``ProcessPoolExecutor`` used from a coroutine would warn (and risk the hang)
under spindle where it does not under asyncio.

So each of these threads is a ``HelperThread``.  Just before a fork every one that runs is
interrupted and joined: it finishes the round it is in, so it holds no lock when the process
forks.  Just after, the parent starts each of them again; the child, which has none of them,
forgets them.  (Python 3.13 counts the threads for its warning only after these hooks have
run, when spindle's are back: it still warns, though none of them ran at the fork.  Starting
them later, at the loop's next pass, would leave the rest of the forking step unwatched, and
a step that forks and then waits for its child, ``subprocess.run`` with a ``preexec_fn``, is
just the kind the watchdog is there to tell.)

An idle thread stops in microseconds; one that does not stop within ``PAUSE_TIMEOUT`` (a
report being written to a blocked stderr) is left running, and the fork goes on as it would
have without this.

The owner of a thread gives three functions: what the thread runs (``run``, which must
return soon after ``interrupt`` is called), ``interrupt`` itself, and ``rearm``, which undoes
the interruption before the thread is started again after a fork.
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from collections.abc import Callable

__all__ = [
    "PAUSE_TIMEOUT",
    "HelperThread",
    "system_threads",
    "until_one_ends",
    "while_stopped_at_fork",
]

# Seconds a fork waits for one helper thread to finish its round and stop.
PAUSE_TIMEOUT = 1.0
# Seconds it waits, after that, for the system thread to end (see _until_gone).  A thread
# told to stop ends within microseconds on an idle machine; on a loaded one its last steps wait
# for a CPU like any other thread's (a tenth of a second was not always enough with both CPUs
# of a 2-core machine busy), so the bound is generous: it is only ever reached when the
# system keeps the thread from running, and a fork is rare.
GONE_TIMEOUT = 1.0
# How long each look waits: long enough to give the ending thread the CPU on a busy machine.
_GONE_POLL = 0.0005


class HelperThread:
    """A daemon thread that stops before ``os.fork()`` and starts again after it, in the parent."""

    def __init__(
        self,
        name: str,
        run: Callable[[], None],
        interrupt: Callable[[], None],
        rearm: Callable[[], None],
    ) -> None:
        self.name = name
        self._run = run
        self._interrupt = interrupt
        self._rearm = rearm
        self._thread: threading.Thread | None = None
        self._stopped = False
        self._paused = False  # stopped for a fork in progress, to be started again

    def start(self) -> None:
        with _state.lock:
            if self._stopped:
                raise RuntimeError(f"cannot start the {self.name} thread: it was stopped")
            self._thread = self._new_thread()
            _state.running.add(self)

    def stop(self, timeout: float | None = None) -> None:
        """Interrupt the thread and wait up to ``timeout`` for it (unless this is that thread).

        For good: a stopped helper is not started again after a fork.  Idempotent.
        """
        with _state.lock:
            self._stopped = True
            _state.running.discard(self)
            thread = self._thread
        self._interrupt()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        # The callables are the owner's bound methods, and the owner holds this object: let
        # go of them, so that a stopped helper and its owner are freed without waiting for the
        # garbage collector.  (A thread still running has its own reference to ``run``.)
        self._run = self._interrupt = self._rearm = _nothing

    def is_alive(self) -> bool:
        thread = self._thread
        return thread is not None and thread.is_alive()

    def _new_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        thread.start()
        return thread

    # -- around a fork (called with _state.lock held) ----------------------------------

    def _pause(self) -> None:
        thread = self._thread
        if thread is None or not thread.is_alive() or thread is threading.current_thread():
            return  # ended on its own (its loop is gone), or the fork comes from it
        self._interrupt()
        thread.join(PAUSE_TIMEOUT)
        self._paused = not thread.is_alive()
        if self._paused:
            _until_gone(thread)

    def _resume(self) -> None:
        if self._paused:
            self._paused = False
            self._rearm()
            self._thread = self._new_thread()


def _nothing() -> None:
    """What a stopped helper's callables become (see ``HelperThread.stop``)."""


def _until_gone(thread: threading.Thread) -> None:
    """Wait (briefly) until the system thread behind ``thread`` has ended.

    Before 3.13, ``join()`` returns when the thread's Python state is gone, a moment before
    the system thread ends, and 3.12's ``fork()`` counts the process's system threads for its
    warning (on Linux, from ``/proc``): without this it would still count one now and then.
    """
    if thread.native_id is not None:
        until_one_ends({thread.native_id})


def system_threads() -> set[int]:
    """The ids of this process's system threads (Linux); empty where the system does not say."""
    try:
        return {int(task) for task in os.listdir("/proc/self/task")}
    except OSError:
        return set()


def until_one_ends(threads: set[int]) -> None:
    """Wait up to ``GONE_TIMEOUT`` until one of ``threads`` has ended.

    Also for a thread that is not Python's (faulthandler's timer, which ``fork()``'s warning
    counts just the same), told to stop and known only by its system id.
    """
    if not threads:
        return
    deadline = time.monotonic() + GONE_TIMEOUT
    while threads <= system_threads() and time.monotonic() < deadline:  # all still there
        time.sleep(_GONE_POLL)  # let it finish


class _State:
    """The helper threads of this process, and the lock held from before a fork to after."""

    def __init__(self) -> None:
        # Re-entrant: a signal handler that forks may run while this thread starts or stops
        # a helper, holding the lock.
        self.lock = threading.RLock()
        # Weak: a helper whose thread ended on its own goes once its owner is dropped.
        self.running: weakref.WeakSet[HelperThread] = weakref.WeakSet()


_state = _State()


# What else steps aside at a fork while the helpers are stopped (before, after_in_parent).
_while_stopped: list[tuple[Callable[[], None], Callable[[], None]]] = []


def while_stopped_at_fork(before: Callable[[], None], after_in_parent: Callable[[], None]) -> None:
    """Run ``before`` at a fork once the helpers have stopped; ``after_in_parent`` before they
    start again.

    For what a helper itself may start while it runs (the watchdog arms faulthandler's timer):
    an ordinary fork hook would run while the helper is still going.
    """
    _while_stopped.append((before, after_in_parent))


def _before_fork() -> None:
    # Held until the fork is over, so that no helper starts or stops in between.
    _state.lock.acquire()
    for helper in list(_state.running):
        helper._pause()
    for before, _ in _while_stopped:
        before()


def _after_fork_in_parent() -> None:
    try:
        for _, after_in_parent in reversed(_while_stopped):
            after_in_parent()
        for helper in list(_state.running):
            helper._resume()
    finally:
        _state.lock.release()


def _after_fork_in_child() -> None:
    # None of the threads came along, and the lock is held by the parent's fork: start afresh.
    global _state
    _state = _State()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(
        before=_before_fork,
        after_in_parent=_after_fork_in_parent,
        after_in_child=_after_fork_in_child,
    )
