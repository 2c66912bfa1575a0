"""Signal handlers: ``loop.add_signal_handler`` / ``remove_signal_handler``.

Every test runs on spindle's loop and on asyncio's with the same expectations.  Signals are
sent to this very process, so every test first installs a handler for the signal it sends
(SIGUSR1's default action would end the test run), and the fixture checks that each test
leaves the default dispositions and no wake-up descriptor behind.
"""

from __future__ import annotations

import asyncio
import gc
import os
import signal
import threading
from collections.abc import Iterator
from typing import Any
from unittest import mock

import pytest

import spindle
from tests.conftest import ExceptionHandlerRecorder


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.fixture(scope="module", autouse=True)
def no_leaks() -> Iterator[None]:
    before = open_fds()
    yield
    gc.collect()
    assert open_fds() == before


@pytest.fixture(autouse=True)
def default_dispositions() -> Iterator[None]:
    yield
    assert signal.getsignal(signal.SIGUSR1) == signal.SIG_DFL
    assert signal.getsignal(signal.SIGUSR2) == signal.SIG_DFL
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert signal.set_wakeup_fd(-1) == -1  # nobody's wake-up descriptor is left installed


def run(loop: asyncio.AbstractEventLoop, coro: Any) -> Any:
    return loop.run_until_complete(coro)


def test_signal_from_a_thread_wakes_the_sleeping_loop(any_loop: asyncio.AbstractEventLoop) -> None:
    async def main() -> tuple[Any, ...]:
        received: asyncio.Future[tuple[Any, ...]] = any_loop.create_future()

        def on_signal(tag: str) -> None:
            received.set_result((tag, threading.get_ident(), any_loop.is_running()))

        any_loop.add_signal_handler(signal.SIGUSR1, on_signal, "usr1")
        # The loop has nothing else to do: it sleeps in its poll until the signal arrives.
        threading.Thread(target=os.kill, args=(os.getpid(), signal.SIGUSR1)).start()
        try:
            return await received
        finally:
            any_loop.remove_signal_handler(signal.SIGUSR1)

    assert run(any_loop, main()) == ("usr1", threading.get_ident(), True)


def test_signal_received_while_not_running_is_handled_when_it_runs(
    any_loop: asyncio.AbstractEventLoop,
) -> None:
    calls: list[str] = []
    any_loop.add_signal_handler(signal.SIGUSR2, calls.append, "usr2")
    os.kill(os.getpid(), signal.SIGUSR2)
    assert calls == []  # not run from the signal handler itself
    run(any_loop, asyncio.sleep(0))
    run(any_loop, asyncio.sleep(0))
    assert calls == ["usr2"]
    assert any_loop.remove_signal_handler(signal.SIGUSR2) is True


def test_a_second_handler_replaces_the_first(any_loop: asyncio.AbstractEventLoop) -> None:
    calls: list[str] = []

    async def main() -> None:
        done = any_loop.create_future()
        any_loop.add_signal_handler(signal.SIGUSR1, calls.append, "first")
        any_loop.add_signal_handler(signal.SIGUSR1, done.set_result, "second")
        os.kill(os.getpid(), signal.SIGUSR1)
        calls.append(await done)

    run(any_loop, main())
    any_loop.remove_signal_handler(signal.SIGUSR1)
    assert calls == ["second"]


def test_removing_a_handler_restores_the_default(any_loop: asyncio.AbstractEventLoop) -> None:
    any_loop.add_signal_handler(signal.SIGUSR1, lambda: None)
    any_loop.add_signal_handler(signal.SIGINT, lambda: None)
    assert signal.getsignal(signal.SIGUSR1) not in (signal.SIG_DFL, signal.SIG_IGN)
    assert any_loop.remove_signal_handler(signal.SIGUSR1) is True
    assert any_loop.remove_signal_handler(signal.SIGUSR1) is False
    assert signal.getsignal(signal.SIGUSR1) == signal.SIG_DFL
    assert any_loop.remove_signal_handler(signal.SIGINT) is True
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_closing_the_loop_removes_its_handlers(any_loop: asyncio.AbstractEventLoop) -> None:
    any_loop.add_signal_handler(signal.SIGUSR1, lambda: None)
    any_loop.add_signal_handler(signal.SIGUSR2, lambda: None)
    any_loop.close()  # the autouse fixture checks the dispositions and the wake-up fd


def test_bad_signals_are_refused(any_loop: asyncio.AbstractEventLoop) -> None:
    with pytest.raises(TypeError, match="sig must be an int"):
        any_loop.add_signal_handler("SIGUSR1", lambda: None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="invalid signal number"):
        any_loop.add_signal_handler(0, lambda: None)
    with pytest.raises(ValueError, match="invalid signal number"):
        any_loop.add_signal_handler(10_000, lambda: None)
    with pytest.raises(ValueError, match="invalid signal number"):
        any_loop.remove_signal_handler(10_000)
    for uncatchable in (signal.SIGKILL, signal.SIGSTOP):
        with pytest.raises(RuntimeError, match=f"sig {uncatchable} cannot be caught"):
            any_loop.add_signal_handler(uncatchable, lambda: None)
    assert any_loop.remove_signal_handler(signal.SIGUSR1) is False


def test_coroutine_callbacks_are_refused(any_loop: asyncio.AbstractEventLoop) -> None:
    async def handler() -> None:
        pass

    with pytest.raises(TypeError, match="coroutines cannot be used with add_signal_handler"):
        any_loop.add_signal_handler(signal.SIGUSR1, handler)
    assert signal.getsignal(signal.SIGUSR1) == signal.SIG_DFL


def test_a_closed_loop_refuses_handlers(any_loop: asyncio.AbstractEventLoop) -> None:
    any_loop.close()
    with pytest.raises(RuntimeError, match="closed"):
        any_loop.add_signal_handler(signal.SIGUSR1, lambda: None)


def test_handlers_only_in_the_main_thread(any_loop: asyncio.AbstractEventLoop) -> None:
    errors: list[BaseException] = []

    def in_thread() -> None:
        try:
            any_loop.add_signal_handler(signal.SIGUSR1, lambda: None)
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=in_thread)
    thread.start()
    thread.join()
    assert len(errors) == 1 and isinstance(errors[0], RuntimeError), errors
    assert "main thread" in str(errors[0])


def test_handlers_leave_no_descriptor_open(any_loop: asyncio.AbstractEventLoop) -> None:
    run(any_loop, asyncio.sleep(0))  # asyncio makes its self-pipe with the loop; spindle on demand
    before = open_fds()
    for _ in range(3):
        any_loop.add_signal_handler(signal.SIGUSR1, lambda: None)
        any_loop.remove_signal_handler(signal.SIGUSR1)
    assert open_fds() <= before


def test_failing_to_detach_the_wakeup_descriptor_is_reported_not_raised() -> None:
    # set_wakeup_fd(-1) cannot fail in the main thread for real: a stand-in makes it fail
    # (after doing its work, so that nothing is left installed).
    real_set_wakeup_fd = signal.set_wakeup_fd

    def set_wakeup_fd(fd: int, **kwargs: Any) -> int:
        previous = real_set_wakeup_fd(fd, **kwargs)
        if fd == -1:
            raise ValueError("refused")
        return previous

    loop = spindle.new_event_loop()
    recorder = ExceptionHandlerRecorder()
    loop.set_exception_handler(recorder)
    try:
        loop.add_signal_handler(signal.SIGUSR1, lambda: None)
        with mock.patch.object(signal, "set_wakeup_fd", set_wakeup_fd):
            assert loop.remove_signal_handler(signal.SIGUSR1)  # the removal stands
    finally:
        loop.close()
    [context] = recorder.contexts
    assert context["message"] == "cannot detach the signal wake-up descriptor"
    assert str(context["exception"]) == "refused"
