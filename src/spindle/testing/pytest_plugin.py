"""pytest plugin (installed with spindle, registered through the ``pytest11`` entry point).

* ``@pytest.mark.spindle`` on an ``async def`` test runs it on a fresh spindle loop;
  ``@pytest.mark.spindle(virtual_clock=True)`` gives that loop a ``VirtualClock``, so sleeps
  take no real time and ``loop.time()`` is exact.
* **Async fixtures.**  An ``async def`` fixture (returning a value, or ``yield``-ing one and
  cleaning up after the ``yield``) used by such a test runs on the test's own loop, before the
  test, and its clean-up after it, with plain ``@pytest.fixture``::

      @pytest.fixture
      async def server():
          server = await spindle.start_server(handle, "127.0.0.1", 0)
          yield server
          server.close()
          await server.wait_closed()

      @pytest.mark.spindle
      async def test_echo(server): ...

  Fixtures and test share one context, so a context variable a fixture sets is seen by the
  test.  Async fixtures are function-scoped (each test has its own loop; a wider one is refused
  with an error saying so).
* The ``spindle_loop`` and ``virtual_loop`` fixtures give a fresh loop to synchronous tests.

**After the test.**  Tasks the test left pending when it returned fail it, with spindle's report
of where each was created and where it waits (then they are cancelled); so do tasks still pending
once the fixtures are cleaned up (an error at teardown).  A call of the loop's exception handler
(an exception nobody retrieved, a failing callback) fails the test too, with the message and the
traceback, unless the test installed its own handler.  The loop is then closed.

**Deadlocks fail at once.**  On the virtual clock, a loop with nothing ready, no timer, no
socket or pipe to watch and no thread at work can never move again: every task waits for
another.  A real-clock loop would sit there until the test's timeout; the plugin's loop fails
the test right away with the task dump (``spindle.diagnostics``), headed by one line per
waiting task::

    deadlock: Task-2 ping() waits at test_x.py:12 on Event pong_ready (unset, waiting: 1)

**With other plugins.**  pytest-asyncio (strict or auto mode) and anyio's plugin can be active in
the same session: a test marked ``spindle``, and the async fixtures it uses, are spindle's; the
others are theirs.  In auto mode pytest-asyncio wraps every async test and fixture; the wrapped
test function is unwrapped here, and spindle's fixture hook runs first and hands pytest-asyncio a
fixture that is no longer async.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import contextvars
import functools
import gc
import inspect
import threading
import traceback
from collections.abc import Callable, Generator, Iterator
from typing import Any, TypeVar, TypeVarTuple, Unpack

import pytest

from spindle._core.tasks import Task, all_tasks
from spindle._io.loop import EventLoop
from spindle.diagnostics import render, snapshot
from spindle.diagnostics.pending import describe_task, format_pending, task_lines
from spindle.testing.clock import VirtualClock

T = TypeVar("T")
Ts = TypeVarTuple("Ts")

__all__ = ["spindle_loop", "virtual_loop"]

_LOOP_FIXTURE = "_spindle_test_loop"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "spindle(virtual_clock=False): run this async test (and its async fixtures) on a fresh "
        "spindle event loop",
    )


class _Recorder:
    """The loop's exception handler during a test: keeps every context it is given."""

    def __init__(self) -> None:
        self.contexts: list[dict[str, Any]] = []

    def __call__(self, loop: Any, context: dict[str, Any]) -> None:
        self.contexts.append(context)


class Deadlock(Exception):
    """Every task of a virtual-clock loop waits, and nothing can wake any of them."""


def describe_deadlock(loop: asyncio.AbstractEventLoop) -> str:
    """One ``deadlock: ...`` line per waiting task, then the whole task dump."""
    info = snapshot.take(loop)
    lines = []
    for task in info.tasks:
        user = [frame for frame in task.stack if frame.user]
        where = f" waits at {render.location(user[-1])}" if user else " waits"
        lines.append(f"deadlock: {task.name} {task.call}{where} on {task.waits_on}")
    return "\n".join([*lines, render.render_list([info]), render.render_tree([info])])


def _busy_threads() -> bool:
    """Whether a thread other than this one and the runtime's idle helpers is alive."""
    me = threading.current_thread()
    return any(
        thread is not me and not thread.daemon and not thread.name.startswith("spindle")
        for thread in threading.enumerate()
    )


class DeadlockCheckingLoop(EventLoop):
    """A virtual-clock loop that raises Deadlock instead of waiting for ever."""

    def __init__(self) -> None:
        super().__init__(clock=VirtualClock())
        self._executor_jobs = 0

    def run_in_executor(
        self,
        executor: concurrent.futures.Executor | None,
        func: Callable[[Unpack[Ts]], T],
        *args: *Ts,
    ) -> asyncio.Future[T]:
        fut = super().run_in_executor(executor, func, *args)
        self._executor_jobs += 1
        fut.add_done_callback(self._job_done)
        return fut

    def _job_done(self, _: object) -> None:
        self._executor_jobs -= 1

    def _poll(self, timeout: float | None) -> None:
        # Only the loop's own wake-up descriptor is watched: no I/O can come.
        if (
            timeout is None
            and len(self._fd_handlers) <= 1
            and self._executor_jobs == 0
            and not _busy_threads()
        ):
            raise Deadlock(describe_deadlock(self))
        super()._poll(timeout)


class TestLoop:
    """A test's loop, its exception recorder, and the context its fixtures and body share."""

    def __init__(self, virtual_clock: bool) -> None:
        self.loop: EventLoop = DeadlockCheckingLoop() if virtual_clock else EventLoop()
        self.loop._track_task_origins = True  # reports say where each task was created
        self.recorder = _Recorder()
        self.loop.set_exception_handler(self.recorder)
        self.context = contextvars.copy_context()

    def run(self, coro: Any) -> Any:
        """Run ``coro`` as a task in the shared context, to its end."""
        return self.loop.run_until_complete(self.loop.create_task(coro, context=self.context))

    def pending(self) -> set[asyncio.Task[Any]]:
        return {task for task in all_tasks(self.loop) if not task.done()}


# -- the reports ------------------------------------------------------------------------------


def format_leftovers(test: str, tasks: set[asyncio.Task[Any]]) -> str:
    """spindle's pending-task report, for the tasks a test left behind (cancelled since)."""
    return format_pending(test, [describe_task(task) for task in tasks], hint=False)


def format_fixture_leftovers(tasks: set[asyncio.Task[Any]]) -> str:
    """The same, for tasks still pending once the test's fixtures were cleaned up."""
    lines = task_lines(describe_task(task) for task in tasks)
    plural = "task was" if len(lines) == 1 else "tasks were"
    heading = (
        f"spindle: {len(lines)} {plural} still pending after the test's fixtures were cleaned "
        f"up; {'it was' if len(lines) == 1 else 'they were'} cancelled:"
    )
    return "\n".join([heading, *lines])


def format_handler_calls(contexts: list[dict[str, Any]]) -> str:
    """The loop's exception-handler calls, readable: message, subject, traceback."""
    count = f"{len(contexts)} time{'s' if len(contexts) != 1 else ''}"
    lines = [f"spindle: the event loop's exception handler was called {count} during the test:"]
    for context in contexts:
        lines.append(f"  {context.get('message') or 'Unhandled exception in event loop'}")
        for key in ("task", "future", "handle"):
            subject: Any = context.get(key)
            if isinstance(subject, (asyncio.Task, Task)):
                task: Any = subject
                view = describe_task(task)
                where = "" if view.created is None else f", created at {view.created.describe()}"
                lines.append(f"    task {view.name} {view.call}{where}")
                break
            if subject is not None:
                lines.append(f"    {key}: {subject!r}")
                break
        exception = context.get("exception")
        if isinstance(exception, BaseException):
            for chunk in traceback.format_exception(exception):
                lines += ["    " + line for line in chunk.rstrip("\n").split("\n")]
    return "\n".join(lines)


def _finish(test_loop: TestLoop) -> None:
    """Shut the loop down and close it; fail on exception-handler calls nobody expected."""
    loop = test_loop.loop
    try:
        if not loop.is_closed():
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
    finally:
        loop.close()
        gc.collect()  # unretrieved exceptions are reported when their tasks are collected
    recorder = test_loop.recorder
    if loop.get_exception_handler() is recorder and recorder.contexts:
        pytest.fail(format_handler_calls(recorder.contexts), pytrace=False)


def _cancel(test_loop: TestLoop, tasks: set[asyncio.Task[Any]]) -> None:
    for task in tasks:
        task.cancel()
    if tasks:
        # Deadlock again: a task that swallows its cancellation; leave it.
        with contextlib.suppress(Deadlock):
            test_loop.loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))


# -- the loop of a marked test ------------------------------------------------------------------


def _is_spindle_test(item: pytest.Item) -> bool:
    return isinstance(item, pytest.Function) and item.get_closest_marker("spindle") is not None


# The test being set up: a fixture's request knows only the node of the fixture's scope.
_setting_up: list[pytest.Item] = []


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, None, None]:
    _setting_up.append(item)
    try:
        yield
    finally:
        _setting_up.remove(item)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item: pytest.Item) -> None:
    _setting_up.clear()  # (a fixture requested in the test body is set up from here)
    _setting_up.append(item)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_teardown(item: pytest.Item) -> None:
    _setting_up.clear()


@pytest.hookimpl(tryfirst=True, specname="pytest_runtest_setup")
def pytest_runtest_setup_loop_first(item: pytest.Item) -> None:
    """A marked test gets its loop before any other fixture (so it is cleaned up after all)."""
    if _is_spindle_test(item) and inspect.iscoroutinefunction(inspect.unwrap(item.obj)):  # type: ignore[attr-defined]
        names: list[str] = item.fixturenames  # type: ignore[attr-defined]
        if _LOOP_FIXTURE in names:
            names.remove(_LOOP_FIXTURE)
        names.insert(0, _LOOP_FIXTURE)


@pytest.fixture
def _spindle_test_loop(request: pytest.FixtureRequest) -> Iterator[TestLoop]:
    marker = request.node.get_closest_marker("spindle")
    virtual = bool(marker is not None and marker.kwargs.get("virtual_clock", False))
    test_loop = TestLoop(virtual)
    yield test_loop
    leftover = test_loop.pending()
    report = format_fixture_leftovers(leftover) if leftover else None  # before they are cancelled
    if leftover:
        _cancel(test_loop, leftover)
    _finish(test_loop)
    if report is not None:
        pytest.fail(report, pytrace=False)


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    test = inspect.unwrap(pyfuncitem.obj)  # pytest-asyncio's auto mode wraps it
    if not _is_spindle_test(pyfuncitem) or not inspect.iscoroutinefunction(test):
        return None
    test_loop: TestLoop = pyfuncitem.funcargs[_LOOP_FIXTURE]  # type: ignore[assignment]
    names = inspect.signature(test).parameters
    kwargs = {name: pyfuncitem.funcargs[name] for name in names}
    before = test_loop.pending()  # the fixtures' own tasks
    main = test_loop.loop.create_task(test(**kwargs), context=test_loop.context)
    if isinstance(main, Task):
        main._origin_code = None  # the plugin's; the test's own tasks say where they come from
    try:
        test_loop.loop.run_until_complete(main)
    except Deadlock as exc:
        _cancel(test_loop, test_loop.pending())
        pytest.fail(str(exc), pytrace=False)
    leftover = test_loop.pending() - before
    if leftover:
        report = format_leftovers(pyfuncitem.name, leftover)  # where they wait, before cancelling
        _cancel(test_loop, leftover)
        pytest.fail(report, pytrace=False)
    return True


# -- async fixtures -----------------------------------------------------------------------------


def _is_async_fixture(func: object) -> bool:
    return inspect.iscoroutinefunction(func) or inspect.isasyncgenfunction(func)


def _on_loop(func: Callable[..., Any], test_loop: TestLoop) -> Callable[..., Any]:
    """A synchronous fixture function that runs the async one ``func`` on ``test_loop``."""
    if inspect.isasyncgenfunction(func):

        @functools.wraps(func)
        def generator(*args: Any, **kwargs: Any) -> Generator[Any, None, None]:
            agen = func(*args, **kwargs)
            yield test_loop.run(agen.__anext__())
            try:
                test_loop.run(agen.__anext__())
            except StopAsyncIteration:
                return
            test_loop.run(agen.aclose())
            raise RuntimeError(f"async fixture {func.__qualname__} yielded more than once")

        del generator.__wrapped__  # pytest must see a generator function, not the async one
        return generator

    @functools.wraps(func)
    def function(*args: Any, **kwargs: Any) -> Any:
        return test_loop.run(func(*args, **kwargs))

    del function.__wrapped__
    return function


@pytest.hookimpl(tryfirst=True, wrapper=True)
def pytest_fixture_setup(fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest) -> Any:
    func = fixturedef.func
    test = _setting_up[-1] if _setting_up else None
    if not (_is_async_fixture(func) and test is not None and _is_spindle_test(test)):
        return (yield)
    if fixturedef.scope != "function":
        pytest.fail(
            f"async fixture {fixturedef.argname!r} is {fixturedef.scope}-scoped: spindle runs "
            "async fixtures on each test's own loop, so they must be function-scoped",
            pytrace=False,
        )
    test_loop: TestLoop = request.getfixturevalue(_LOOP_FIXTURE)
    fixturedef.func = _on_loop(func, test_loop)  # type: ignore[misc]
    try:
        return (yield)
    finally:
        fixturedef.func = func  # type: ignore[misc]


# -- loops for synchronous tests ----------------------------------------------------------------


@pytest.fixture
def spindle_loop() -> Iterator[EventLoop]:
    """A fresh spindle loop on the real clock."""
    test_loop = TestLoop(False)
    yield test_loop.loop
    _finish(test_loop)


@pytest.fixture
def virtual_loop() -> Iterator[EventLoop]:
    """A fresh spindle loop on a virtual clock."""
    test_loop = TestLoop(True)
    yield test_loop.loop
    _finish(test_loop)
