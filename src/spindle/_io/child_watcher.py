"""Knowing when a child process exits, and reaping it, without races.

A child that exits stays a zombie until its parent *reaps* it with ``waitpid``; until then
its pid cannot be reused.  Every race in child handling comes from breaking that rule:
reaping in one thread while another sends a signal can deliver the signal to a stranger
that got the recycled pid, and a ``waitpid(-1)`` loop steals exit statuses from anyone
else who spawned children.  So spindle keeps two rules:

* only the children it spawned are waited for, each by its own pid;
* a child is reaped only on the loop's thread, which is also where signals are sent, so a
  signal always reaches the right process (or a zombie, which ignores it).

Two watchers follow those rules:

* ``PidfdWatcher`` (Linux 5.3+): ``os.pidfd_open`` gives a descriptor that becomes readable
  when the child exits.  It is watched like any reader; when it fires, ``waitpid(pid,
  WNOHANG)`` reaps that child.  Signals go through ``signal.pidfd_send_signal``, which
  cannot hit another process even in theory.  No threads, no signal handlers.
* ``ThreadWatcher`` (elsewhere): a thread per child blocks in ``os.waitid(..., WNOWAIT)``,
  which waits for the exit *without* reaping, then hands the reaping to the loop with
  ``call_soon_threadsafe``.

When the loop closes with children still running, each one is left to a daemon thread
that reaps it when it exits, so no zombie outlives its usefulness.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable

from spindle._io.readiness import ReadinessLoop

__all__ = ["ChildWatcher", "PidfdWatcher", "ThreadWatcher", "new_child_watcher"]

logger = logging.getLogger("asyncio")

ExitCallback = Callable[[int], object]

# Reported when someone else reaped our child and its status is lost (asyncio's choice).
UNKNOWN_RETURNCODE = 255


def reap(pid: int, *, block: bool) -> int | None:
    """Reap ``pid``: its return code (negative: killed by that signal), None if still running."""
    try:
        found, status = os.waitpid(pid, 0 if block else os.WNOHANG)
    except ChildProcessError:
        logger.warning(
            "child process pid %d exit status already read: will report returncode %d",
            pid,
            UNKNOWN_RETURNCODE,
        )
        return UNKNOWN_RETURNCODE
    if found == 0:
        return None
    return os.waitstatus_to_exitcode(status)


def reap_in_background(pid: int) -> None:
    """Leave ``pid`` to a daemon thread that reaps it whenever it exits."""
    if reap(pid, block=False) is None:
        threading.Thread(
            target=reap, args=(pid,), kwargs={"block": True}, name=f"spindle-reap-{pid}",
            daemon=True,
        ).start()


class ChildWatcher:
    """Reports each watched child's exit once, on the loop's thread; sends it signals."""

    def watch(self, pid: int, on_exit: ExitCallback) -> None:
        """Call ``on_exit(returncode)`` on the loop's thread once ``pid`` has been reaped."""
        raise NotImplementedError

    def send_signal(self, pid: int, sig: int) -> None:
        """Send ``sig`` to the watched child ``pid``: ProcessLookupError once it is reaped."""
        raise NotImplementedError

    def close(self) -> None:
        """Stop watching; children still running are reaped in the background."""
        raise NotImplementedError


class PidfdWatcher(ChildWatcher):
    def __init__(self, loop: ReadinessLoop) -> None:
        self._loop = loop
        self._children: dict[int, tuple[int, ExitCallback]] = {}  # pid -> (pidfd, on_exit)

    def watch(self, pid: int, on_exit: ExitCallback) -> None:
        pidfd = os.pidfd_open(pid)
        self._children[pid] = (pidfd, on_exit)
        self._loop.add_reader(pidfd, self._exited, pid)

    def _exited(self, pid: int) -> None:
        returncode = reap(pid, block=False)
        if returncode is None:
            return  # not really gone yet: the descriptor will be reported again
        pidfd, on_exit = self._children.pop(pid)
        self._loop.remove_reader(pidfd)
        os.close(pidfd)
        on_exit(returncode)

    def send_signal(self, pid: int, sig: int) -> None:
        child = self._children.get(pid)
        if child is None:
            raise ProcessLookupError(f"cannot send signal {sig}: process {pid} was reaped")
        signal.pidfd_send_signal(child[0], sig)

    def close(self) -> None:
        children, self._children = self._children, {}
        for pid, (pidfd, _) in children.items():
            self._loop.remove_reader(pidfd)
            os.close(pidfd)
            reap_in_background(pid)


class ThreadWatcher(ChildWatcher):
    def __init__(self, loop: ReadinessLoop) -> None:
        self._loop = loop
        self._children: dict[int, ExitCallback] = {}
        self._lock = threading.Lock()  # orders a waiter thread's hand-over against close()
        self._closed = False
        self._handed_over: set[int] = set()  # exited, reaping queued on the loop

    def watch(self, pid: int, on_exit: ExitCallback) -> None:
        self._children[pid] = on_exit
        threading.Thread(
            target=self._wait, args=(pid,), name=f"spindle-waitpid-{pid}", daemon=True
        ).start()

    def _wait(self, pid: int) -> None:
        """In the waiter thread: wait for the exit without reaping, then hand it over."""
        try:
            os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
        except ChildProcessError:
            pass  # reaped by someone else: reap() will say so
        with self._lock:
            if self._closed:
                reap(pid, block=False)
                return
            self._handed_over.add(pid)
            self._loop.call_soon_threadsafe(self._exited, pid)

    def _exited(self, pid: int) -> None:
        with self._lock:
            self._handed_over.discard(pid)
        on_exit = self._children.pop(pid)
        returncode = reap(pid, block=False)
        on_exit(UNKNOWN_RETURNCODE if returncode is None else returncode)

    def send_signal(self, pid: int, sig: int) -> None:
        if pid not in self._children:
            raise ProcessLookupError(f"cannot send signal {sig}: process {pid} was reaped")
        os.kill(pid, sig)  # safe: reaping happens on this (the loop's) thread only

    def close(self) -> None:
        with self._lock:
            self._closed = True
            handed_over, self._handed_over = self._handed_over, set()
        self._children.clear()
        for pid in handed_over:
            reap(pid, block=False)  # exited, but the loop closed before it could reap


def _pidfd_works() -> bool:
    if not hasattr(os, "pidfd_open") or not hasattr(signal, "pidfd_send_signal"):
        return False
    try:
        os.close(os.pidfd_open(os.getpid()))
    except OSError:  # old kernel (ENOSYS) or a sandbox that forbids it (EPERM)
        return False
    return True


PIDFD_WORKS = _pidfd_works()


def new_child_watcher(loop: ReadinessLoop) -> ChildWatcher:
    """The best watcher this system supports."""
    return PidfdWatcher(loop) if PIDFD_WORKS else ThreadWatcher(loop)
