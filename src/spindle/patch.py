"""Run unmodified asyncio programs on spindle: ``install()`` and ``uninstall()``.

asyncio already has a sanctioned seam for swapping the loop implementation: the event-loop
*policy*.  ``asyncio.run``, ``asyncio.Runner``, ``asyncio.new_event_loop``,
``asyncio.get_event_loop`` and ``asyncio.set_event_loop`` all ask the current policy (on 3.11,
3.12 and 3.13 alike; ``tests/test_patch.py`` checks each interpreter it can find).  So
``install()`` sets a policy whose ``new_event_loop`` makes a spindle loop, exactly as uvloop does,
and replaces no attribute of the asyncio module.  ``get_event_loop`` and ``set_event_loop`` are
forwarded to ``spindle.events`` so that asyncio and spindle share one notion of "this thread's
current loop" instead of keeping two that could disagree.

What the policy cannot reach: loops built by naming a class (``asyncio.SelectorEventLoop()``,
3.13's ``asyncio.EventLoop()``) and an explicit ``loop_factory=`` given to ``asyncio.run`` or
``asyncio.Runner``.  Those are the caller's deliberate choice, and are left alone.

**Python 3.14 deprecates the policy system** (removal is planned for 3.16), but keeps it
working: ``asyncio.run()`` and ``asyncio.Runner`` without a ``loop_factory``, and
``asyncio.new_event_loop()``, still ask the current policy for their loop.  So on 3.14 and 3.15
``install()`` takes the same path as before, and says so: it warns (``DeprecationWarning``, at
the caller's line) that ``spindle.run()`` or ``loop_factory=spindle.new_event_loop`` is the
lasting way.  ``python -m spindle`` takes that path too, without a warning, because the program
it runs has nothing to change.  spindle's own calls of asyncio's deprecated policy functions do
not warn (``_asyncio_policy_api``): the warning a user sees is spindle's, naming the fix.

``uninstall()`` puts back the policy that was current when ``install()`` ran, unless someone
has replaced spindle's policy since: then theirs is left in place, because restoring ours over it
would undo a choice made after ours.  Both calls are idempotent.  They are meant to be called
from the main thread at start-up, as ``asyncio.set_event_loop_policy`` itself is.

**spindle explains itself under asyncio's runner too.**  ``spindle.run()`` reports a blocked
loop and the tasks left pending when ``main()`` returned through its runner hooks
(``spindle.runners.RunnerHooks``, filled in by ``spindle.diagnostics``).  ``asyncio.run()`` is
asyncio's code and calls no hook, and spindle does not replace it.  But all it does to the loop
goes through the loop's own methods, in a fixed order (3.11 to 3.13)::

    task = loop.create_task(main)           # Runner.run()
    loop.run_until_complete(task)           #   (again for each run() of an asyncio.Runner)
    for t in all_tasks(loop): t.cancel()    # Runner.close(), only if tasks are left
    loop.run_until_complete(gather(...))    #   ...
    loop.run_until_complete(loop.shutdown_asyncgens())
    loop.run_until_complete(loop.shutdown_default_executor())
    loop.close()

So the policy's loops are ``RunnerAwareEventLoop``: spindle's ``EventLoop`` with
``run_until_complete`` and ``close`` told apart in those terms, and the hooks called at the same
moments as spindle's runner calls them.  A run of a task is a run of ``main``: the hooks are
asked for then (so a loop that no runner drives never starts a watchdog), and ``main_finished``
follows when it returns.  The first run of anything else after that is the runner shutting
down: ``closing`` reports the tasks that are being cancelled, while their coroutines still sit
at the line they wait on.  ``close()`` calls ``closed``.  Nothing else changes: the class adds
no behaviour to the loop, and with diagnostics off it only keeps its phase.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import signal
import sys
import threading
import types
import warnings
from collections.abc import Awaitable, Callable, Generator, Iterator
from typing import Any, TypeVar

from spindle import events, runners
from spindle._core import tasks
from spindle._core.clock import Clock
from spindle._io.loop import EventLoop

__all__ = [
    "POLICY_DEPRECATED",
    "RunnerAwareEventLoop",
    "SpindleEventLoopPolicy",
    "install",
    "install_policy",
    "is_installed",
    "uninstall",
]

T = TypeVar("T")

# asyncio 3.14 deprecates get/set_event_loop_policy and the policy classes (removal: 3.16).
POLICY_DEPRECATED = sys.version_info >= (3, 14)

INSTALL_DEPRECATED = (
    "spindle.install() works through asyncio's event-loop policy, which Python 3.14 "
    "deprecates (removal planned for 3.16); use spindle.run(main()), "
    "spindle.Runner(), or asyncio.run(main(), loop_factory=spindle.new_event_loop)"
)


@contextlib.contextmanager
def _asyncio_policy_api() -> Iterator[None]:
    """Around spindle's own use of asyncio's policy API: silent about its 3.14 deprecation."""
    if not POLICY_DEPRECATED:
        yield
        return
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message=r".*asyncio\.\w*[Pp]olicy", category=DeprecationWarning
        )
        yield


with _asyncio_policy_api():  # from 3.14, asyncio's module __getattr__ warns for these two
    AbstractEventLoopPolicy = asyncio.AbstractEventLoopPolicy
    _AsyncioDefaultPolicy = asyncio.DefaultEventLoopPolicy


class RunnerPhase(enum.Enum):
    """How far the runner driving a loop has got, as the loop sees it."""

    NO_MAIN = "no main task has run"
    MAIN_RAN = "a main task has run"
    SHUTTING_DOWN = "the runner is shutting down"
    CLOSED = "closed"


class RunnerAwareEventLoop(EventLoop):
    """spindle's loop, telling spindle's runner hooks what asyncio's runner does with it."""

    def __init__(self, *, clock: Clock | None = None) -> None:
        super().__init__(clock=clock)
        self._phase = RunnerPhase.NO_MAIN
        self._runner_hooks: list[runners.RunnerHooks] = []
        self._main_returned: str | None = None  # qualname of the last main, once it returned

    def run_until_complete(self, future: Generator[Any, None, T] | Awaitable[T]) -> T:
        if self.is_running() or self.is_closed():
            return super().run_until_complete(future)  # it raises, and changes nothing
        if isinstance(future, (tasks.Task, asyncio.Task)) and self._phase in _BEFORE_SHUTDOWN:
            result: T = self._run_main(future)
            return result
        if self._phase is RunnerPhase.MAIN_RAN:
            self._shutdown_begins()
        return super().run_until_complete(future)

    def close(self) -> None:
        try:
            if not self.is_running() and not self.is_closed():
                self._shutdown_ends()
        finally:
            super().close()

    def _run_main(self, task: tasks.Task[Any] | asyncio.Task[Any]) -> Any:
        if self._phase is RunnerPhase.NO_MAIN:
            self._runner_hooks = runners.hooks_for(self)
            self._phase = RunnerPhase.MAIN_RAN
        self._main_returned = None
        restore_sigint = self._watch_sigint()
        try:
            result = super().run_until_complete(task)
        finally:
            restore_sigint()
            for hooks in self._runner_hooks:
                hooks.main_finished()
        self._main_returned = getattr(task.get_coro(), "__qualname__", "main")
        return result

    def _watch_sigint(self) -> Callable[[], None]:
        """Tell the hooks of the first Ctrl-C, then let asyncio's runner handle it.

        asyncio's runner sets its own SIGINT handler before it runs the main task (in the
        main thread, when nobody else handles SIGINT): it is wrapped for the run, and put
        back as it was before the runner looks for it again (it restores the default handler
        only if its own is still in place).
        """
        if not self._runner_hooks or threading.current_thread() is not threading.main_thread():
            return _nothing
        handler = signal.getsignal(signal.SIGINT)
        owner = getattr(getattr(handler, "func", None), "__self__", None)
        if not callable(handler) or not isinstance(owner, asyncio.Runner):
            return _nothing  # not asyncio's runner's (it installs one only when it can)
        interrupts = 0

        def on_sigint(signum: int, frame: types.FrameType | None) -> None:
            nonlocal interrupts
            interrupts += 1
            if interrupts == 1:
                for hooks in self._runner_hooks:
                    hooks.interrupted(frame)
            handler(signum, frame)

        try:
            signal.signal(signal.SIGINT, on_sigint)
        except ValueError:
            return _nothing

        def restore() -> None:
            if signal.getsignal(signal.SIGINT) is on_sigint:
                signal.signal(signal.SIGINT, handler)

        return restore

    def _shutdown_begins(self) -> None:
        self._phase = RunnerPhase.SHUTTING_DOWN
        # The tasks the runner has just cancelled (asyncio's cancels them all, then runs).
        cancelled = {task for task in tasks.all_tasks(self) if task.cancelling()}
        for hooks in self._runner_hooks:
            hooks.closing(self._main_returned, cancelled)

    def _shutdown_ends(self) -> None:
        if self._phase is RunnerPhase.MAIN_RAN:  # closed without a shutdown run
            self._shutdown_begins()
        self._phase = RunnerPhase.CLOSED
        hooks, self._runner_hooks = self._runner_hooks, []
        for each in hooks:
            each.closed()


_BEFORE_SHUTDOWN = (RunnerPhase.NO_MAIN, RunnerPhase.MAIN_RAN)


def _nothing() -> None:
    pass


class SpindleEventLoopPolicy(_AsyncioDefaultPolicy):
    """The default policy, except that new loops are spindle's (``RunnerAwareEventLoop``).

    Subclassing the default policy (rather than the abstract one) keeps everything else the
    platform's policy offers, such as the child-watcher methods that 3.11 code still calls.
    """

    def new_event_loop(self) -> asyncio.AbstractEventLoop:
        return RunnerAwareEventLoop()

    def get_event_loop(self) -> asyncio.AbstractEventLoop:
        return events.get_event_loop()

    def set_event_loop(self, loop: asyncio.AbstractEventLoop | None) -> None:
        events.set_event_loop(loop)


class _Installation:
    """What ``install()`` did, so that ``uninstall()`` can undo exactly that."""

    def __init__(self) -> None:
        self.policy: SpindleEventLoopPolicy | None = None
        self.previous: AbstractEventLoopPolicy | None = None


_installation = _Installation()


def is_installed() -> bool:
    """Whether spindle's policy (set by ``install()``) is asyncio's current policy."""
    policy = _installation.policy
    if policy is None:
        return False
    with _asyncio_policy_api():
        return asyncio.get_event_loop_policy() is policy


def install() -> SpindleEventLoopPolicy:
    """Make asyncio's entry points create spindle loops; return the policy now in force.

    Calling it again while installed changes nothing and returns the same policy.  From
    Python 3.14 it also warns that asyncio deprecates the policy system it works through.
    """
    if POLICY_DEPRECATED:
        warnings.warn(INSTALL_DEPRECATED, DeprecationWarning, stacklevel=2)
    return install_policy()


def install_policy() -> SpindleEventLoopPolicy:
    """``install()`` without the 3.14 deprecation warning (for ``python -m spindle``)."""
    current = _installation.policy
    if current is not None and is_installed():
        return current
    policy = SpindleEventLoopPolicy()
    with _asyncio_policy_api():
        _installation.previous = asyncio.get_event_loop_policy()
        _installation.policy = policy
        asyncio.set_event_loop_policy(policy)
    return policy


def uninstall() -> None:
    """Restore the policy that ``install()`` replaced; do nothing when not installed."""
    if is_installed():
        with _asyncio_policy_api():
            asyncio.set_event_loop_policy(_installation.previous)
    _installation.policy = None
    _installation.previous = None
