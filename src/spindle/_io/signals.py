"""Signal handlers: ``add_signal_handler`` and ``remove_signal_handler``.

A signal interrupts whatever the main thread is doing, at any bytecode, so running a
user's callback straight from a Python signal handler would run it in the middle of some
other callback.  Instead spindle does what asyncio does:

1. ``signal.set_wakeup_fd`` points CPython's C-level handler at the write end of a
   non-blocking socket pair: on every signal, the interpreter writes the signal number
   there as one byte, from C, at once.
2. The Python-level handler installed with ``signal.signal`` does nothing; it is only
   there so that the signal is caught rather than acted on by its default.
3. The read end is an ordinary reader of the loop.  A loop asleep in its poll wakes up
   because the descriptor became readable; it reads the bytes and queues, for each signal
   number, the handle registered for it: the callback runs as a normal callback, between
   others, in the context where it was registered.

The wake-up channel used by ``call_soon_threadsafe`` cannot serve here: it is an eventfd,
which takes 8-byte counters, while ``set_wakeup_fd`` writes single bytes.

Signals are process-wide and only the main thread may set handlers, so both methods refuse
to work elsewhere.  Removing a handler (and closing the loop) puts back the default
disposition (``default_int_handler`` for SIGINT), and the last removal also detaches the
wake-up descriptor, but only if it is still ours.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import socket
import sys
import threading
import warnings
from collections.abc import Callable
from types import FrameType
from typing import Any, TypeVarTuple, Unpack

from spindle._core.handles import Handle
from spindle._io.poller import READ
from spindle._io.readiness import ReadinessLoop

__all__ = ["SignalMethods"]

Ts = TypeVarTuple("Ts")


def _ignore_signal(signum: int, frame: FrameType | None) -> None:
    """The Python-level handler: the wake-up descriptor does the real work."""


def _check_signal(sig: object) -> int:
    if not isinstance(sig, int):
        raise TypeError(f"sig must be an int, not {sig!r}")
    if sig not in signal.valid_signals():
        raise ValueError(f"invalid signal number {sig}")
    return sig


def _check_main_thread(operation: str) -> None:
    if threading.current_thread() is not threading.main_thread():
        raise RuntimeError(f"cannot {operation}: signals can only be handled in the main thread")


# The wake-up descriptors of this process's open signal channels.
_channel_wakeup_fds: set[int] = set()


def _detach_wakeup_in_forked_child() -> None:
    """After ``fork()``, in the child: signals must not be written into the parent's loop,
    whose wake-up socket the child shares.  asyncio detaches it too (from 3.12); spindle
    detaches only its own, leaving a descriptor that other code set in place."""
    if not _channel_wakeup_fds:
        return
    with contextlib.suppress(ValueError, OSError):  # not the main thread: nothing to undo
        previous = signal.set_wakeup_fd(-1)
        if previous not in _channel_wakeup_fds:
            signal.set_wakeup_fd(previous)
    _channel_wakeup_fds.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_detach_wakeup_in_forked_child)


class SignalChannel:
    """The socket pair the C-level signal handler writes signal numbers into."""

    def __init__(self) -> None:
        self._reader, self._writer = socket.socketpair()
        self._reader.setblocking(False)
        self._writer.setblocking(False)
        self.fd = self._reader.fileno()
        self.wakeup_fd = self._writer.fileno()

    def read_signals(self) -> bytes:
        """Every signal number written so far, one per byte."""
        chunks = []
        while True:
            try:
                data = self._reader.recv(4096)
            except InterruptedError:
                continue
            except BlockingIOError:
                break
            if not data:
                break
            chunks.append(data)
        return b"".join(chunks)

    def close(self) -> None:
        self._reader.close()
        self._writer.close()


class SignalMethods(ReadinessLoop):
    """``add_signal_handler`` / ``remove_signal_handler`` (see the module docstring)."""

    _signal_handlers: dict[int, Handle]
    _signal_channel: SignalChannel | None

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._signal_handlers = {}
        self._signal_channel = None

    def add_signal_handler(
        self, sig: int, callback: Callable[[Unpack[Ts]], object], *args: *Ts
    ) -> None:
        """Run ``callback(*args)`` on the loop whenever the process receives ``sig``."""
        self._check_callback(callback, "add_signal_handler")
        sig = _check_signal(sig)
        self._check_closed("add a signal handler")
        _check_main_thread("add a signal handler")
        channel = self._open_signal_channel()
        replaced = self._signal_handlers.get(sig)
        if replaced is not None:
            replaced.cancel()
        self._signal_handlers[sig] = Handle(callback, args, self, None)
        try:
            signal.signal(sig, _ignore_signal)
            signal.siginterrupt(sig, False)  # restart interrupted system calls
        except OSError as exc:
            del self._signal_handlers[sig]
            if not self._signal_handlers:
                self._close_signal_channel(channel)
            if exc.errno == errno.EINVAL:
                raise RuntimeError(
                    f"cannot add a signal handler: sig {sig} cannot be caught"
                ) from None
            raise

    def remove_signal_handler(self, sig: int) -> bool:
        """Stop handling ``sig`` and restore its default; False if it had no handler."""
        sig = _check_signal(sig)
        if sig not in self._signal_handlers:
            return False
        _check_main_thread("remove a signal handler")
        self._signal_handlers.pop(sig).cancel()
        default = signal.default_int_handler if sig == signal.SIGINT else signal.SIG_DFL
        try:
            signal.signal(sig, default)
        except OSError as exc:
            if exc.errno == errno.EINVAL:
                raise RuntimeError(
                    f"cannot remove a signal handler: sig {sig} cannot be caught"
                ) from None
            raise
        finally:
            if not self._signal_handlers and self._signal_channel is not None:
                self._close_signal_channel(self._signal_channel)
        return True

    def _open_signal_channel(self) -> SignalChannel:
        channel = self._signal_channel
        if channel is None:
            channel = SignalChannel()
            try:
                signal.set_wakeup_fd(channel.wakeup_fd)
            except (ValueError, OSError) as exc:
                channel.close()
                raise RuntimeError(f"cannot add a signal handler: {exc}") from None
            _channel_wakeup_fds.add(channel.wakeup_fd)
            self._signal_channel = channel
            # Registered directly, not through add_reader: the descriptor is the loop's own.
            self._add_handler(channel.fd, READ, self._dispatch_signals, (channel,))
        return channel

    def _dispatch_signals(self, channel: SignalChannel) -> None:
        for signum in channel.read_signals():
            handle = self._signal_handlers.get(signum)
            if handle is not None:
                self._ready.append(handle)  # as call_soon would, without a new handle

    def _close_signal_channel(self, channel: SignalChannel) -> None:
        """Detach and close the channel.  Failing to detach it must not hide why it is being
        closed (a failed add_signal_handler) nor undo a removal that has happened, so it is
        reported rather than raised."""
        self._signal_channel = None
        _channel_wakeup_fds.discard(channel.wakeup_fd)
        try:
            previous = signal.set_wakeup_fd(-1)
            if previous not in (-1, channel.wakeup_fd):
                signal.set_wakeup_fd(previous)  # someone else's since: leave it in place
        except (ValueError, OSError) as exc:
            self.call_exception_handler(
                {"message": "cannot detach the signal wake-up descriptor", "exception": exc}
            )
        self._remove_handler(channel.fd, READ)
        channel.close()

    def _close_io(self) -> None:
        if self._signal_handlers:
            if sys.is_finalizing():
                warnings.warn(
                    f"closing {self!r} at interpreter shutdown: its signal handlers stay",
                    ResourceWarning,
                    source=self,
                    stacklevel=1,
                )
                self._signal_handlers.clear()
            else:
                for sig in list(self._signal_handlers):
                    self.remove_signal_handler(sig)
        super()._close_io()
        if self._signal_channel is not None:  # left in place at shutdown
            self._signal_channel.close()
            self._signal_channel = None
