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

import contextlib
import logging
import os
import signal
import subprocess
import threading
from collections.abc import Callable

from spindle._io.contract import IOLoop
from spindle._io.poller import READ

__all__ = ["ChildWatcher", "PidfdWatcher", "ThreadWatcher", "new_child_watcher"]

logger = logging.getLogger("asyncio")

ExitCallback = Callable[[int], object]
Popen = subprocess.Popen[bytes]

# Reported when someone else reaped our child and its status is lost (asyncio's choice).
UNKNOWN_RETURNCODE = 255


def reap(popen: Popen, *, block: bool) -> int | None:
    """Reap the child: its return code (negative: killed by that signal), None if running.

    The code is also stored in ``popen.returncode``, so that ``Popen`` neither waits for a
    child that is gone nor warns that it is "still running".  The other way round, a child
    that its ``Popen`` reaped itself (someone called ``poll()`` or ``wait()`` on it) keeps
    the code ``Popen`` stored.
    """
    if popen.returncode is not None:
        return popen.returncode
    try:
        found, status = os.waitpid(popen.pid, 0 if block else os.WNOHANG)
    except ChildProcessError:
        logger.warning(
            "child process pid %d exit status already read: will report returncode %d",
            popen.pid,
            UNKNOWN_RETURNCODE,
        )
        returncode = UNKNOWN_RETURNCODE
    else:
        if found == 0:
            return None
        returncode = os.waitstatus_to_exitcode(status)
    popen.returncode = returncode
    return returncode


def reap_in_background(popen: Popen) -> None:
    """Leave the child to a daemon thread that reaps it whenever it exits."""
    if reap(popen, block=False) is None:
        threading.Thread(
            target=reap, args=(popen,), kwargs={"block": True},
            name=f"spindle-reap-{popen.pid}", daemon=True,
        ).start()  # fmt: skip


class ChildWatcher:
    """Reports each watched child's exit once, on the loop's thread; sends it signals."""

    def watch(self, popen: Popen, on_exit: ExitCallback) -> None:
        """Call ``on_exit(returncode)`` on the loop's thread once the child has been reaped."""
        raise NotImplementedError

    def send_signal(self, pid: int, sig: int) -> None:
        """Send ``sig`` to the watched child ``pid``: ProcessLookupError once it is reaped."""
        raise NotImplementedError

    def close(self) -> None:
        """Stop watching; children still running are reaped in the background."""
        raise NotImplementedError


class PidfdWatcher(ChildWatcher):
    def __init__(self, loop: IOLoop) -> None:
        self._loop = loop
        # pid -> (pidfd, popen, on_exit)
        self._children: dict[int, tuple[int, Popen, ExitCallback]] = {}

    def watch(self, popen: Popen, on_exit: ExitCallback) -> None:
        pidfd = os.pidfd_open(popen.pid)
        self._children[popen.pid] = (pidfd, popen, on_exit)
        self._loop._add_handler(pidfd, READ, self._exited, (popen.pid,))

    def _exited(self, pid: int) -> None:
        pidfd, popen, on_exit = self._children[pid]
        returncode = reap(popen, block=False)
        if returncode is None:
            return  # not really gone yet: the descriptor will be reported again
        del self._children[pid]
        self._loop._remove_handler(pidfd, READ)
        os.close(pidfd)
        on_exit(returncode)

    def send_signal(self, pid: int, sig: int) -> None:
        child = self._children.get(pid)
        if child is None:
            raise ProcessLookupError(f"cannot send signal {sig}: process {pid} was reaped")
        signal.pidfd_send_signal(child[0], sig)

    def close(self) -> None:
        children, self._children = self._children, {}
        for pidfd, popen, _ in children.values():
            self._loop._remove_handler(pidfd, READ)
            os.close(pidfd)
            reap_in_background(popen)


class ThreadWatcher(ChildWatcher):
    def __init__(self, loop: IOLoop) -> None:
        self._loop = loop
        self._children: dict[int, tuple[Popen, ExitCallback]] = {}
        self._lock = threading.Lock()  # orders a waiter thread's hand-over against close()
        self._closed = False
        self._handed_over: set[int] = set()  # pids: exited, reaping queued on the loop

    def watch(self, popen: Popen, on_exit: ExitCallback) -> None:
        self._children[popen.pid] = (popen, on_exit)
        threading.Thread(
            target=self._wait, args=(popen,), name=f"spindle-waitid-{popen.pid}", daemon=True
        ).start()

    def _wait(self, popen: Popen) -> None:
        """In the waiter thread: wait for the exit without reaping, then hand it over."""
        pid = popen.pid
        with contextlib.suppress(ChildProcessError):  # reaped elsewhere: reap() will say so
            os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
        with self._lock:
            if not self._closed:
                try:
                    self._loop.call_soon_threadsafe(self._exited, pid)
                except RuntimeError:
                    pass  # the loop closed and is about to close this watcher
                else:
                    self._handed_over.add(pid)
                    return
        reap(popen, block=False)

    def _exited(self, pid: int) -> None:
        with self._lock:
            self._handed_over.discard(pid)
        popen, on_exit = self._children.pop(pid)
        returncode = reap(popen, block=False)
        on_exit(UNKNOWN_RETURNCODE if returncode is None else returncode)

    def send_signal(self, pid: int, sig: int) -> None:
        if pid not in self._children:
            raise ProcessLookupError(f"cannot send signal {sig}: process {pid} was reaped")
        os.kill(pid, sig)  # safe: reaping happens on this (the loop's) thread only

    def close(self) -> None:
        with self._lock:
            self._closed = True
            handed_over, self._handed_over = self._handed_over, set()
            children, self._children = self._children, {}
        for pid in handed_over:
            reap(children[pid][0], block=False)  # exited; the loop closed before reaping it


def _pidfd_works() -> bool:
    if not hasattr(os, "pidfd_open") or not hasattr(signal, "pidfd_send_signal"):
        return False
    try:
        os.close(os.pidfd_open(os.getpid()))
    except OSError:  # old kernel (ENOSYS) or a sandbox that forbids it (EPERM)
        return False
    return True


PIDFD_WORKS = _pidfd_works()


def new_child_watcher(loop: IOLoop) -> ChildWatcher:
    """The best watcher this system supports."""
    return PidfdWatcher(loop) if PIDFD_WORKS else ThreadWatcher(loop)
