"""Fast paths held to the plain code they stand for.

Code written out for speed carries a ``# FAST PATH:`` comment naming what it stands for.  Each
such place has a test here showing that the written-out version and the plain version agree,
so the two cannot drift apart.  ``grep -rn "FAST PATH" src`` lists them all.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import gc
import signal
import socket
import sys
import traceback
import warnings
import weakref
from collections.abc import Coroutine
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import spindle
from spindle._core.handles import Handle, TimerHandle
from spindle._core.scheduler import QueuedStepRunner, _queued_steps, poll_timeout
from spindle._core.tasks import Task, note_origin, origin_of
from spindle.diagnostics import add_instrument
from spindle.testing import VirtualClock

HANDLE_FIELDS = (
    "_callback",
    "_args",
    "_cancelled",
    "_loop",
    "_context",
    "_repr",
    "_source_traceback",
)
TIMER_FIELDS = (*HANDLE_FIELDS, "_when", "_scheduled")
FUTURE_FIELDS = (
    "_loop",
    "_log_traceback",
    "_state",
    "_result",
    "_exception",
    "_exception_tb",
    "_callback0",
    "_context0",
    "_more_callbacks",
    "_cancel_message",
    "_cancelled_exc",
    "_asyncio_future_blocking",
    "_scheduler",
    "_source_traceback",
)


def field_values(obj: object, names: tuple[str, ...]) -> dict[str, Any]:
    return {name: getattr(obj, name, "<unset>") for name in names}


def test_handles_built_on_the_fast_path_match_handles_built_by_init() -> None:
    # call_soon, call_later and a task's first step write Handle.__init__'s fields out
    # (spindle's hot paths); they must set exactly what __init__ sets.
    loop = spindle.new_event_loop()
    context = contextvars.copy_context()
    try:
        soon = loop.call_soon(print, 1, context=context)
        built = Handle(print, (1,), loop, context)
        assert field_values(soon, HANDLE_FIELDS) == field_values(built, HANDLE_FIELDS)
        later = loop.call_later(5, print, 2, context=context)
        expected = TimerHandle(later.when(), print, (2,), loop, context)
        expected._scheduled = True  # pushed on the timer queue, as call_later's is
        assert field_values(later, TIMER_FIELDS) == field_values(expected, TIMER_FIELDS)
        soon.cancel()
        later.cancel()
        # A future's done-callback, queued by _finish.
        future = loop.create_future()
        future.add_done_callback(print, context=context)
        future.set_result(3)
        done = loop._ready[-1]
        built = Handle(print, (future,), loop, context)
        assert isinstance(done, Handle)
        assert field_values(done, HANDLE_FIELDS) == field_values(built, HANDLE_FIELDS)
        done.cancel()
    finally:
        loop.close()


def test_a_task_queues_itself_for_its_steps_and_keeps_no_handle() -> None:
    # On a plain pass a task with a step to take (its first, one after sleep(0)) is its own
    # entry in the ready queue: no Handle, no bound _step.  Waiting on a future it holds no
    # handle either (the future's done-callback wakes it).  Each step runs in the task's
    # context, as a handle's callback would.
    loop = spindle.new_event_loop()
    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="unset")
    try:
        fut = loop.create_future()
        seen: list[object] = []

        async def steps() -> str:
            var.set("the task's")
            seen.append(loop._running is task)  # the first step: queued by Task()
            await spindle.sleep(0)
            seen.append(loop._running is task)  # requeued by the bare yield
            seen.append(var.get())
            return str(await fut)

        task = Task(steps(), loop=loop)
        assert list(loop._ready) == [task]
        for _ in range(3):
            loop.run_until_complete(spindle.sleep(0))
        assert seen == [True, True, "the task's"]
        assert not loop._ready
        referents = gc.get_referents(task)
        assert not [ref for ref in referents if isinstance(ref, Handle)]
        assert not [ref for ref in referents if getattr(ref, "__name__", None) == "_step"]
        fut.set_result(7)
        assert loop.run_until_complete(task) == "7"
        assert var.get() == "unset"
    finally:
        loop.close()


@pytest.mark.parametrize("how", ["instrument", "debug"])
def test_tasks_queued_on_a_plain_pass_run_on_an_observed_one(how: str) -> None:
    # An instrument installed (or debug mode turned on) while tasks wait in the queue as
    # themselves: the observed pass runs each through a handle made for it, so the steps are
    # the same, in the same order, and the instrument sees them as task steps.
    class Steps:
        def __init__(self) -> None:
            self.names: list[str] = []

        def before_task_step(self, task: asyncio.Task[Any], time: float) -> None:
            self.names.append(task.get_name())

    loop = spindle.new_event_loop()
    steps = Steps()
    try:

        async def child(n: int) -> int:
            await spindle.sleep(0)
            return n

        first, second = Task(child(1), loop=loop, name="a"), Task(child(2), loop=loop, name="b")
        assert list(loop._ready) == [first, second]
        if how == "instrument":
            add_instrument(steps, loop)
        else:
            loop.set_debug(True)
        assert list(loop._ready) == [first, second]
        assert loop.run_until_complete(spindle.gather(first, second)) == [1, 2]
        if how == "instrument":
            assert steps.names[:4] == ["a", "b", "a", "b"]
    finally:
        loop.close()


def test_the_task_step_runner_takes_the_step_the_plain_runner_takes() -> None:
    # taskcore._TaskStepRunner (installed) calls TaskCore._run directly where the scheduler's
    # plain runner asks the entry to _run(): the same step, in the task's context.
    assert type(_queued_steps.runner).__name__ == "_TaskStepRunner"
    var: contextvars.ContextVar[int] = contextvars.ContextVar("var", default=0)
    for runner in (QueuedStepRunner(), _queued_steps.runner):
        loop = spindle.new_event_loop()
        try:

            async def body() -> int:
                var.set(1)
                await spindle.sleep(0)
                return var.get()

            task = Task(body(), loop=loop)
            entry = loop._ready.popleft()
            assert entry is task
            runner.run(entry)  # the first step: sets var, yields, queues itself again
            assert list(loop._ready) == [task] and var.get() == 0
            assert loop.run_until_complete(task) == 1
        finally:
            loop.close()


def test_a_queued_step_that_raises_is_reported_to_the_exception_handler() -> None:
    # Only a task that is done has no step to take; queued anyway, its step's error goes to
    # the loop's exception handler, as a failing handle's would, and the loop goes on.
    loop = spindle.new_event_loop()
    reports: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, context: reports.append(context))
    try:

        async def nothing() -> None:
            pass

        task = Task(nothing(), loop=loop)
        loop.run_until_complete(task)
        loop._put_ready(task)
        loop.run_until_complete(spindle.sleep(0))
    finally:
        loop.close()
    [report] = reports
    assert report["task"] is task
    assert isinstance(report["exception"], spindle.InvalidStateError)
    assert report["message"].startswith("Exception in the step of <Task finished")


def test_a_task_starts_with_the_fields_future_init_sets() -> None:
    # Task.__init__ writes Future.__init__'s fields out instead of calling it.
    loop = spindle.new_event_loop()
    try:

        async def nothing() -> None:
            pass

        task = Task(nothing(), loop=loop)
        future = spindle.Future(loop=loop)
        assert field_values(task, FUTURE_FIELDS) == field_values(future, FUTURE_FIELDS)
        loop.run_until_complete(task)
    finally:
        loop.close()


@pytest.mark.parametrize("debug", [False, True])
def test_create_future_makes_what_the_future_class_makes(debug: bool) -> None:
    # loop.create_future allocates the Future and sets FutureCore's fields directly.
    loop = spindle.new_event_loop()
    loop.set_debug(debug)
    try:
        made = loop.create_future()
        built = spindle.Future(loop=loop)
        assert type(made) is type(built) is spindle.Future
        expected = field_values(built, FUTURE_FIELDS)
        got = field_values(made, FUTURE_FIELDS)
        if debug:  # where each was created: different lines of this test
            assert got.pop("_source_traceback") and expected.pop("_source_traceback")
        assert got == expected
        assert weakref.ref(made)() is made
    finally:
        loop.close()


TASK_FIELDS = (
    *FUTURE_FIELDS,
    "_coro",
    "_context",
    "_fut_waiter",
    "_cancel_next_step",
    "_num_cancels_requested",
    "_log_destroy_pending",
)


@pytest.mark.parametrize("debug", [False, True])
def test_create_task_makes_what_the_task_class_makes(debug: bool) -> None:
    # loop.create_task allocates the Task and runs TaskCore.__init__ directly.
    loop = spindle.new_event_loop()
    loop.set_debug(debug)
    context = contextvars.copy_context()

    async def nothing() -> None:
        pass

    try:
        for kwargs in ({}, {"name": "named", "context": context}):
            made = loop.create_task(nothing(), **kwargs)  # type: ignore[arg-type]
            built = Task(nothing(), loop=loop, **kwargs)  # type: ignore[arg-type]
            assert type(made) is type(built) is Task
            expected = field_values(built, TASK_FIELDS)
            got = field_values(made, TASK_FIELDS)
            assert got.pop("_coro") is not expected.pop("_coro")
            if debug:  # where each was created: different lines of this test
                assert got.pop("_source_traceback") and expected.pop("_source_traceback")
            if not kwargs:  # each has its own context copy and number
                assert got.pop("_context") is not expected.pop("_context")
                assert made.get_name() != built.get_name()
            else:
                assert made.get_name() == built.get_name() == "named"
            assert got == expected
            made.cancel()
            built.cancel()
            loop.run_until_complete(asyncio.gather(made, built, return_exceptions=True))
        with pytest.raises(TypeError, match="coroutine was expected"):
            loop.create_task(42)  # type: ignore[arg-type]
    finally:
        loop.close()


def _spy_on_poll(loop: spindle.EventLoop) -> list[float | None]:
    polled: list[float | None] = []
    real_poll = loop._poll

    def spy(timeout: float | None) -> None:
        polled.append(timeout)
        real_poll(timeout)

    loop._poll = spy  # type: ignore[method-assign]
    loop._io_waiter = None  # the pass calls _poll by name (scheduler.IOWaiter)
    return polled


def test_a_pass_with_work_waiting_does_not_block_as_poll_timeout_says() -> None:
    # _run_once skips the poll_timeout call when work is waiting; poll_timeout would say 0.
    clock = VirtualClock()
    assert poll_timeout(True, None, clock) == 0.0
    assert poll_timeout(True, 5.0, clock) == 0.0
    loop = spindle.EventLoop(clock=clock)
    watched, other = socket.socketpair()
    try:
        loop.add_reader(watched, lambda: None)  # a descriptor besides the waker: busy passes poll
        polled = _spy_on_poll(loop)
        loop.call_later(5.0, loop.stop)
        loop.call_soon(lambda: None)
        loop.run_forever()
        # First pass: a callback ready (0.0); second: only the timer (the clock jumps: 0.0).
        assert polled[0] == 0.0
        assert clock.time() == 5.0
        loop.remove_reader(watched)
    finally:
        loop.close()
        watched.close()
        other.close()


def test_a_busy_pass_skips_the_poll_while_only_the_waker_is_watched() -> None:
    # Nothing but the waker to hear from: a pass with callbacks ready does not call _poll (the
    # scheduler's _poll_when_busy is off); a pass that waits for a timer still does, and one
    # descriptor more turns busy polls back on.
    loop = spindle.EventLoop()  # the real clock: a virtual one would not wait for the timer
    watched, other = socket.socketpair()
    try:
        polled = _spy_on_poll(loop)
        loop.call_soon(lambda: None)
        loop.call_later(0.001, loop.stop)
        loop.run_forever()
        # The busy first pass skipped it; the passes that waited for the timer polled.
        assert polled and all(timeout is not None and timeout > 0 for timeout in polled)
        loop.add_reader(watched, lambda: None)
        polled.clear()
        loop.call_soon(loop.stop)
        loop.run_forever()
        assert polled == [0.0]
        loop.remove_reader(watched)
        polled.clear()
        loop.call_soon(loop.stop)
        loop.run_forever()
        assert polled == []
    finally:
        loop.close()
        watched.close()
        other.close()


def test_awaiting_a_future_goes_through_cpython_s_own_generator() -> None:
    # Future.__await__ hands out an interpreted generator in both builds (awaiting.py says
    # why): exceptions thrown in keep their traceback, and bad throws are refused.
    loop = spindle.new_event_loop()
    try:
        pending = spindle.Future(loop=loop)
        steps = pending.__await__()
        assert type(steps).__name__ == "generator" and steps.gi_code.co_name == "await_future"
        assert next(steps) is pending
        try:
            raise KeyError("thrown")
        except KeyError as exc:
            thrown = exc
        with pytest.raises(KeyError) as caught:
            steps.throw(thrown)
        assert caught.value is thrown
        assert caught.value.__traceback__ is not None
        for bad in ((Exception, Exception("x"), 32), (Exception("x"), Exception("x")), (list,)):
            with warnings.catch_warnings():
                # 3.12+ deprecates the (type, value, traceback) form before refusing these.
                warnings.simplefilter("ignore", DeprecationWarning)
                with pytest.raises(TypeError):
                    spindle.Future(loop=loop).__await__().throw(*bad)
        done = spindle.Future(loop=loop)
        done.set_result("early")
        with pytest.raises(StopIteration) as stop:
            next(iter(done))
        assert stop.value.value == "early"
    finally:
        loop.close()


def _woken_task(make_future: Any, outcome: str) -> tuple[Any, bool]:
    """How a task awaiting a future (two frames down, inside an ``except``) sees ``outcome``.

    Returns what the task came to and whether the future would still report its exception
    as never retrieved.
    """
    loop = spindle.new_event_loop()
    try:
        fut = make_future(loop)

        async def inner() -> Any:
            try:
                return await fut
            except BaseException as exc:
                context = type(exc.__context__).__name__ if exc.__context__ else None
                return ("caught", type(exc).__name__, exc.args, context)

        async def outer() -> Any:
            try:
                raise KeyError("being handled")
            except KeyError:
                return await inner()

        task = loop.create_task(outer())
        loop.run_until_complete(asyncio.sleep(0))  # the task now waits on fut
        if outcome.startswith("result"):
            fut.set_result(42)
        elif outcome.startswith("error"):
            fut.set_exception(ValueError("boom"))
        else:
            fut.cancel("the future's")
        if outcome.endswith("then the task is cancelled"):
            task.cancel("the task's")
        return loop.run_until_complete(task), bool(fut._log_traceback)
    finally:
        loop.close()


@pytest.mark.parametrize(
    "outcome",
    [
        "result",
        "error",
        "cancelled",
        "result, then the task is cancelled",
        "error, then the task is cancelled",
        "cancelled, then the task is cancelled",
    ],
)
def test_a_task_woken_by_a_spindle_future_goes_on_as_woken_by_any_future(outcome: str) -> None:
    # TaskCore._wakeup resumes a task whose spindle future has a result without reading the
    # result (FAST PATH); any other outcome, and any other future's, is read there and thrown
    # into the coroutine.  The task cannot tell: same value, same exception, chained the
    # same way (thrown in, not raised inside the frame handling KeyError), same retrieval.
    ours = _woken_task(lambda loop: loop.create_future(), outcome)
    foreign = _woken_task(lambda loop: asyncio.Future(loop=loop), outcome)
    assert ours == foreign
    value, unretrieved = ours
    assert not unretrieved  # read by the wake-up, even when the task's cancel is thrown in
    if value != 42:
        assert value[-1] is None  # not chained to the KeyError handled two frames up


@pytest.mark.parametrize("outcome", ["result", "none", "tuple", "error", "cancelled"])
def test_the_await_outcome_is_what_result_gives(outcome: str) -> None:
    # outcome_of (what ``await future`` returns or raises once the future is done) reads a
    # result's field directly (FAST PATH); everything else goes through result().  Either
    # way it is what result() gives: the same value, the same exception, marked retrieved.
    from spindle._core.futures import outcome_of

    loop = spindle.new_event_loop()
    try:
        seen = []
        for read in (outcome_of, lambda fut: fut.result()):
            fut = loop.create_future()
            if outcome == "result":
                fut.set_result(42)
            elif outcome == "none":
                fut.set_result(None)
            elif outcome == "tuple":
                fut.set_result((1, 2))
            elif outcome == "error":
                fut.set_exception(KeyError("failed"))
            else:
                fut.cancel("the reason")
            try:
                seen.append(("value", read(fut)))
            except BaseException as exc:
                seen.append(("raised", type(exc), exc.args))
            assert not fut._log_traceback
        assert seen[0] == seen[1]
        with pytest.raises(RuntimeError, match="await wasn't used with future"):
            outcome_of(loop.create_future())
    finally:
        loop.close()


# -- fast paths: the loop's attributes, task origins -----------------------------------------


HOT_ATTRIBUTES = {
    "_clock",
    "_clock_resolution",
    "_debug",
    "_instruments",
    "_pass_count",
    "_plain",
    "_put_ready",
    "_ready",
    "_running",
    "_state",
    "_stopping",
    "_take_ready",
    "_thread_id",
    "_time",
    "_timer_entries",
    "_timers",
}


def test_the_loops_hot_attributes_are_slots_and_its_dict_stays_small() -> None:
    # CPython reads an instance's attributes fastest while its class's names fit the dict's
    # shared keys (under 30); the loop keeps what each pass touches in slots instead, and the
    # rest in a dict with room to spare, even after using its facilities.
    from spindle.patch import RunnerAwareEventLoop

    for cls in (spindle.EventLoop, RunnerAwareEventLoop):
        loop = cls()
        try:
            loop.run_until_complete(loop.run_in_executor(None, int))
            loop.add_signal_handler(signal.SIGUSR1, int)
            loop.remove_signal_handler(signal.SIGUSR1)
            if not spindle.COMPILED:  # compiled, they are the native class's own fields
                slots = {
                    name
                    for klass in type(loop).__mro__
                    for name in getattr(klass, "__slots__", ())
                }
                assert slots >= HOT_ATTRIBUTES
            assert all(hasattr(loop, name) for name in HOT_ATTRIBUTES)
            assert not HOT_ATTRIBUTES & set(vars(loop))
            assert len(vars(loop)) < 24, sorted(vars(loop))
        finally:
            loop.close()


@pytest.mark.parametrize("site_beyond_the_stack", [False, True])
def test_create_task_notes_the_origin_note_origin_would(site_beyond_the_stack: bool) -> None:
    # BaseLoop.create_task writes tasks.note_origin out (FAST PATH): they must agree, also when
    # the call site remembered lies further out than the stack now reaches (sys._getframe
    # raises ValueError, and the walk finds the origin).
    from spindle._core import loop as loop_module

    loop = spindle.new_event_loop()
    loop._track_task_origins = True  # type: ignore[attr-defined]

    async def nothing() -> None:
        pass

    if site_beyond_the_stack:
        origins = loop_module._origins
        origins._site_code = nothing.__code__
        origins._site_getframe_arg = 100_000
        origins._site_is_caller = False
    try:
        written_out = loop.create_task(nothing())
        plain = Task(nothing(), loop=loop)
        note_origin(plain)
        assert origin_of(written_out) == (
            __file__,
            origin_of(plain)[1] - 2,  # type: ignore[index]
            "test_create_task_notes_the_origin_note_origin_would",
        )
        assert origin_of(plain)[0::2] == origin_of(written_out)[0::2]  # type: ignore[index]
        loop.run_until_complete(asyncio.gather(written_out, plain))
    finally:
        loop.close()


def test_create_task_finds_the_programs_line_on_every_path_in_turn() -> None:
    # The walk remembers the runtime's code objects it met, and the site it ended at
    # (loop._Origins): paths that pass through different runtime functions, taken in turn, must
    # each still end at the program's line.
    loop = spindle.new_event_loop()
    loop._track_task_origins = True  # type: ignore[attr-defined]
    made: list[tuple[asyncio.Future[Any], int]] = []

    async def me() -> asyncio.Future[Any]:
        task = asyncio.current_task()
        assert task is not None
        return task

    def line() -> int:
        return sys._getframe(1).f_lineno  # the caller's line

    async def main() -> None:
        for _ in range(3):
            made.extend((task, line()) for task in await asyncio.gather(me(), me()))
            made.extend((task, line()) for task in await spindle.gather(me(), me()))
            async with asyncio.TaskGroup() as group:
                made.append((group.create_task(me()), line()))
            async with spindle.TaskGroup() as group:
                made.append((group.create_task(me()), line()))
            made.append((loop.create_task(me()), line()))
            made.append((asyncio.ensure_future(me()), line()))
            made.append((spindle.create_task(me()), line()))
            await asyncio.sleep(0)

    try:
        loop.run_until_complete(main())
    finally:
        loop.close()
    assert len(made) == 3 * 9
    for task, at in made:
        assert origin_of(task) == (__file__, at, "main"), task


def test_create_task_tells_apart_two_sites_in_one_function_through_the_runtime() -> None:
    # The site remembered is a code object *and* an instruction in it: two lines of one
    # function that both go through asyncio's create_task, in turn, each get their own line.
    loop = spindle.new_event_loop()
    loop._track_task_origins = True  # type: ignore[attr-defined]
    made: list[tuple[asyncio.Future[Any], int]] = []

    async def nothing() -> None:
        pass

    def line() -> int:
        return sys._getframe(1).f_lineno  # the caller's line

    async def main() -> None:
        for _ in range(3):
            made.append((asyncio.create_task(nothing()), line()))
            made.append((asyncio.create_task(nothing()), line()))
            made.append((asyncio.ensure_future(nothing()), line()))
        await asyncio.sleep(0)

    try:
        loop.run_until_complete(main())
    finally:
        loop.close()
    assert len({at for _, at in made}) == 3
    for task, at in made:
        assert origin_of(task) == (__file__, at, "main"), task


def test_a_call_site_that_calls_the_runtime_and_then_the_program_names_the_call() -> None:
    # The documented limit of the remembered site: one call site that sometimes calls into the
    # runtime (asyncio.create_task) and sometimes a function of the program's that creates the
    # task.  Once the site is remembered, the program's function is not looked into: the origin
    # is the call's line, on the same path one level out.  Without the site (the first call, or
    # after another path), the walk names the line inside the function.
    loop = spindle.new_event_loop()
    loop._track_task_origins = True  # type: ignore[attr-defined]
    made: list[asyncio.Future[Any]] = []
    spawn_line = 0

    async def nothing() -> None:
        pass

    def spawn(coro: Coroutine[Any, Any, None]) -> asyncio.Future[Any]:
        nonlocal spawn_line
        spawn_line = sys._getframe().f_lineno + 1
        return loop.create_task(coro)

    async def main() -> int:
        call_line = sys._getframe().f_lineno + 2
        for make in (spawn, asyncio.create_task, spawn):
            made.append(make(nothing()))
        return call_line

    try:
        call_line = loop.run_until_complete(main())
    finally:
        loop.close()
    assert [origin_of(task) for task in made] == [
        (__file__, spawn_line, "spawn"),
        (__file__, call_line, "main"),
        (__file__, call_line, "main"),
    ]


def test_a_tasks_own_coroutine_creating_tasks_is_looked_at_first_and_named_the_same() -> None:
    # In the compiled build, a task whose own coroutine created two tasks in a row at one call
    # becomes the owner of the site (taskcore._hooks): while it runs, its frame at that call
    # is the origin, read without sys._getframe.  The lines must be the long way's: several
    # calls of its own in turn, through the runtime or not, and a coroutine it awaits that
    # creates tasks while the owner's frame sits at an await.
    from spindle._core import loop as loop_module

    hooks = loop_module._task_hooks
    loop = spindle.new_event_loop()
    loop._track_task_origins = True  # type: ignore[attr-defined]
    made: list[tuple[asyncio.Future[Any], int, str]] = []
    owners: list[object] = []

    async def nothing() -> None:
        pass

    def line() -> int:
        return sys._getframe(1).f_lineno  # the caller's line

    async def helper() -> None:
        for _ in range(3):
            made.append((loop.create_task(nothing()), line(), "helper"))
            await asyncio.sleep(0)

    async def main() -> None:
        for _ in range(4):
            made.append((loop.create_task(nothing()), line(), "main"))
            owners.append(hooks.origin_owner)
            await asyncio.sleep(0)
        for _ in range(4):
            made.append((asyncio.create_task(nothing()), line(), "main"))
            await made[-1][0]  # woken by the task's wake-up handle, not queued as itself
            made.append((loop.create_task(nothing()), line(), "main"))
        await helper()
        for _ in range(3):
            made.append((loop.create_task(nothing()), line(), "main"))
            await asyncio.sleep(0)
        for task in await asyncio.gather(*[asyncio.sleep(0, n) for n in range(3)]):
            assert task in range(3)

    try:
        loop.run_until_complete(main())
    finally:
        loop.close()
    for task, at, function in made:
        assert origin_of(task) == (__file__, at, function), task
    main_task = owners[-1]
    if spindle.COMPILED:
        assert isinstance(main_task, spindle.Task)
        assert owners[0] is None  # the first creation makes no owner; the second does
        assert owners[1:] == [main_task] * 3
    else:
        assert owners == [None] * 4  # the pure build has no owner
    assert hooks.origin_owner is None  # let go of when it ended


def test_the_owner_of_the_site_and_its_locals_are_let_go_of_when_it_ends() -> None:
    # The owner's coroutine frame is held while the owner runs: when the owner ends, its frame
    # (and the locals the frame took over when the coroutine returned) must go at once.
    from spindle._core import loop as loop_module

    hooks = loop_module._task_hooks
    loop = spindle.new_event_loop()
    loop._track_task_origins = True  # type: ignore[attr-defined]

    class Local:
        pass

    seen: list[weakref.ref[Local]] = []

    async def nothing() -> None:
        pass

    async def creator() -> None:
        local = Local()
        seen.append(weakref.ref(local))
        for _ in range(3):
            await loop.create_task(nothing())

    async def main() -> None:
        task = loop.create_task(creator())
        await task
        assert hooks.origin_owner is None
        assert seen[0]() is None  # the creator's local is gone with its frame

    try:
        gc.disable()  # freed by reference counting, not by a collection
        loop.run_until_complete(main())
    finally:
        gc.enable()
        loop.close()


def test_a_loop_that_closes_with_the_owner_pending_lets_go_of_it() -> None:
    from spindle._core import loop as loop_module

    hooks = loop_module._task_hooks
    loop = spindle.new_event_loop()
    loop._track_task_origins = True  # type: ignore[attr-defined]
    release = loop.create_future()

    async def nothing() -> None:
        pass

    async def creator() -> None:
        for _ in range(3):
            await loop.create_task(nothing())
        await release

    task = loop.create_task(creator())
    loop.run_until_complete(asyncio.sleep(0.01))
    assert hooks.origin_owner is (task if spindle.COMPILED else None)
    loop.close()
    assert hooks.origin_owner is None
    task._coro.close()  # type: ignore[attr-defined]  # never finished: not a pending warning


def test_only_a_call_in_progress_is_a_site_the_owner_keeps() -> None:
    # A frame at an await runs whatever it awaits, the program's code too: _is_call tells a call
    # in progress (its inline cache, on 3.11 and 3.12) from an await, on each Python.
    from spindle._core.loop import _is_call

    seen: dict[str, bool] = {}

    def look(what: str, out: int = 2) -> None:
        frame = sys._getframe(out)  # the frame that made the call, or the await
        seen[what] = _is_call(frame.f_code, frame.f_lasti)

    def plain(*args: object, **kwargs: object) -> None:
        look("call")

    async def awaited() -> None:
        look("await")  # outer's frame, at its await

    async def outer() -> None:
        plain()
        plain(*())
        plain(x=1)
        await awaited()

    def calls() -> None:
        look("direct call", out=1)

    coro = outer()
    with pytest.raises(StopIteration):
        coro.send(None)
    calls()
    assert seen == {"call": True, "await": False, "direct call": True}


def test_resume_steps_a_coroutine_as_send_and_throw_do() -> None:
    # The compiled build steps tasks through resuming.resume (TaskCore._step's FAST PATH):
    # what a coroutine yields comes back as it is, its return as Returned, its errors raised.
    from spindle._core.resuming import resume
    from spindle._core.returned import Returned

    async def body() -> str:
        await asyncio.sleep(0)
        with contextlib.suppress(KeyError):
            await asyncio.sleep(0)
        return "done"

    coro = body()
    assert resume(coro, None) is None  # sleep(0) yields None
    assert resume(coro, None) is None
    ended = resume(coro, KeyError("caught"))
    assert isinstance(ended, Returned) and ended.value == "done"

    async def failing() -> None:
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        resume(failing(), None)

    # An exception thrown in and coming back out has resume's frame in its traceback; the
    # frame no longer refers to it (nor to the coroutine): no cycle for the GC to break.
    async def waiting() -> None:
        await asyncio.sleep(0)

    coro = waiting()
    resume(coro, None)
    thrown = KeyError("thrown")
    with pytest.raises(KeyError):
        resume(coro, thrown)
    tb = thrown.__traceback__
    assert tb is not None
    while tb is not None and tb.tb_frame.f_code is not resume.__code__:
        tb = tb.tb_next
    assert tb is not None and not tb.tb_frame.f_locals


def test_a_task_stepped_by_its_runner_goes_as_asyncio_s_own_task_goes() -> None:
    # Compiled, TaskCore._step sends through the task's runner (taskcore._drive) and throws
    # through resuming.resume (FAST PATH).  The coroutine meets every send, every throw (a
    # caught cancellation, a failed future's error) and its own end as under asyncio's Task
    # on the same loop; the task ends with the coroutine's value, or its error with the
    # coroutine's frame in the traceback; and the runner goes when the task is done.
    def run(make_task: Any, fail_at_end: bool) -> tuple[list[object], object]:
        loop = spindle.new_event_loop()
        log: list[object] = []

        async def body() -> str:
            log.append("start")
            await asyncio.sleep(0)
            try:
                await loop.create_future()  # cancelled below
            except asyncio.CancelledError:
                log.append("cancellation caught")
            failed = loop.create_future()
            loop.call_soon(failed.set_exception, KeyError("thrown in"))
            try:
                await failed
            except KeyError as exc:
                log.append(("caught", exc.args))
            await asyncio.sleep(0)
            if fail_at_end:
                raise ValueError("at the end")
            return "done"

        try:
            task = make_task(loop, body())
            loop.run_until_complete(asyncio.sleep(0))
            loop.run_until_complete(asyncio.sleep(0))  # the task waits on the future now
            if isinstance(task, spindle.Task) and spindle.COMPILED:
                assert task._runner is not None  # it runs through its runner
            task.cancel()
            try:
                outcome: object = loop.run_until_complete(task)
            except ValueError as exc:
                frames = traceback.extract_tb(exc.__traceback__)
                outcome = (exc.args, any(f.name == "body" for f in frames))
            if isinstance(task, spindle.Task):
                assert task._runner is None  # dropped with the task's other step objects
            return log, outcome
        finally:
            loop.close()

    for fail_at_end in (False, True):
        ours = run(lambda loop, coro: loop.create_task(coro), fail_at_end)
        theirs = run(lambda loop, coro: asyncio.Task(coro, loop=loop), fail_at_end)
        assert ours == theirs
    assert ours[1] == (("at the end",), True)


def test_a_runner_resumes_the_coroutine_itself_not_a_wrapper_of_it() -> None:
    # Compiled, the runner awaits the coroutine through a handover (taskcore._Handover), not
    # through coroutine.__await__(), whose wrapper object would live as long as the task:
    # with a hundred tasks pending, no such wrapper exists, and each task still ends with
    # its coroutine's value.
    loop = spindle.new_event_loop()

    async def child(i: int) -> int:
        await asyncio.sleep(0)
        return i

    async def main() -> list[int]:
        tasks = [loop.create_task(child(i)) for i in range(100)]
        await asyncio.sleep(0)  # every child has taken its first step, and waits
        wrappers = [o for o in gc.get_objects() if type(o).__name__ == "coroutine_wrapper"]
        assert wrappers == []
        if spindle.COMPILED:
            assert all(task._runner is not None for task in tasks)
        return [await task for task in tasks]

    try:
        assert loop.run_until_complete(main()) == list(range(100))
    finally:
        loop.close()


def test_a_pass_calls_a_one_argument_callback_as_it_calls_any_other() -> None:
    # Scheduler._run_ready calls a handle of one argument without unpacking a tuple (FAST
    # PATH): same arguments, same context, same error report as with none or several.
    loop = spindle.new_event_loop()
    seen: list[tuple[object, ...]] = []
    errors: list[object] = []
    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="unset")
    context = contextvars.copy_context()
    context.run(var.set, "the handle's")

    def record(*args: object) -> None:
        seen.append((*args, var.get()))
        if args == ("fail",):
            raise KeyError("fail")

    try:
        loop.set_exception_handler(lambda _loop, ctx: errors.append(type(ctx["exception"])))
        loop.call_soon(record, context=context)
        loop.call_soon(record, 1, context=context)
        loop.call_soon(record, 1, 2, context=context)
        loop.call_soon(record, "fail", context=context)
        loop.run_until_complete(asyncio.sleep(0))
    finally:
        loop.close()
    assert seen == [
        ("the handle's",),
        (1, "the handle's"),
        (1, 2, "the handle's"),
        ("fail", "the handle's"),
    ]
    assert errors == [KeyError]


@pytest.mark.parametrize("debug", [False, True])
def test_a_run_handle_goes_only_once_the_loop_records_the_next(debug: bool) -> None:
    # Scheduler._record_running, in both kinds of pass: the slot that tells other threads what
    # the loop runs (``running_handle()``) holds the last reference to a handle that has run,
    # and that handle's end can run Python code.  It must go after the
    # slot has its successor: code running then (here, a callback's finalizer; in programs,
    # another thread) reads the next handle, or None after the pass, never the one being
    # freed (compiled, a store drops the old value first: that read found freed memory).
    from spindle.diagnostics.instruments import running_handle

    loop = spindle.new_event_loop()
    loop.set_debug(debug)
    seen: list[object] = []

    class Dying:
        def __call__(self) -> None:
            pass

        def __del__(self) -> None:
            seen.append(running_handle(loop))

    try:
        loop.call_soon(Dying())
        second = loop.call_soon(int)
        loop.call_soon(loop.stop)  # the loop stops once this pass is over
        loop.call_soon(Dying())  # the pass's last handle
        loop.run_forever()
    finally:
        loop.close()
    assert seen == [second, None]


async def _agen() -> Any:
    yield 1


@settings(max_examples=60, deadline=None)
@given(
    steps=st.lists(
        st.tuples(st.sampled_from(["make", "drop", "discard"]), st.integers(0, 300)),
        max_size=400,
    )
)
def test_the_live_async_generators_are_what_a_weak_set_holds(
    steps: list[tuple[str, int]],
) -> None:
    # LiveAsyncGenerators (loop._asyncgens) against the WeakSet it stands for: generators
    # made (added to both), dropped (dying with no callback: the register's entry is left for a
    # sweep or for a new generator at the same address) and discarded (as the finalizer hook
    # does), in any order, past several sweeps: the same generators live in both, and
    # the register never holds more entries than its sweeps allow.
    from spindle._core.loop import _FIRST_SWEEP, LiveAsyncGenerators

    register = LiveAsyncGenerators()
    plain: weakref.WeakSet[Any] = weakref.WeakSet()
    held: list[Any] = []
    agen: Any = None
    live: list[Any] = []
    for action, n in steps:
        if action == "make":
            for _ in range(n % 8 + 1):
                agen = _agen()
                register.add(agen)
                plain.add(agen)
                held.append(agen)
        elif held and action == "drop":
            del held[n % len(held)]
        elif held:
            agen = held[n % len(held)]
            register.discard(agen)
            plain.discard(agen)
        live = register.live()
        assert len(live) == len(set(live))
        assert set(live) == set(plain)
        assert len(register._refs) <= max(2 * len(held), _FIRST_SWEEP) + 8
    held.clear()
    agen = live = None
    gc.collect()
    assert register.live() == []
    register.clear()
    assert register.live() == []


def test_a_loop_closes_the_async_generators_it_saw_and_not_one_the_finalizer_took() -> None:
    # The register at work on a loop: generators left suspended are closed at
    # shutdown_asyncgens(), across sweeps; one dropped while
    # suspended goes to the finalizer hook, which closes it, and shutdown does not close it
    # again.
    loop = spindle.new_event_loop()
    closed: list[int] = []

    async def counting(i: int) -> Any:
        try:
            yield i
            yield i
        finally:
            closed.append(i)

    kept: list[Any] = []

    async def main() -> None:
        for i in range(3 * _first_sweep()):
            agen = counting(i)
            await agen.__anext__()
            if i % 3 == 0:
                kept.append(agen)  # left suspended
            else:
                async for _ in agen:  # run to its end
                    pass
        dropped = counting(-1)
        await dropped.__anext__()
        del dropped  # the finalizer hook schedules its aclose()
        gc.collect()
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert closed.count(-1) == 1

    try:
        loop.run_until_complete(main())
        finished = [i for i in closed if i >= 0]
        assert all(i % 3 for i in finished)
        closed.clear()
        loop.run_until_complete(loop.shutdown_asyncgens())
    finally:
        loop.close()
    assert sorted(closed) == [i for i in range(3 * _first_sweep()) if i % 3 == 0]
    kept.clear()


def _first_sweep() -> int:
    from spindle._core.loop import _FIRST_SWEEP

    return int(_FIRST_SWEEP)


def held_by(loop: Any) -> list[Any]:
    """The tasks ``loop`` holds strong references to (see TaskCore._let_go)."""
    from spindle._core.taskcore import _held_elsewhere

    if spindle.COMPILED:
        return list(loop._held_tasks)
    return [t for t in _held_elsewhere if t._loop is loop]


@settings(max_examples=40, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 40), min_size=1, max_size=4),
    order=st.randoms(use_true_random=False),
)
def test_the_loop_holds_its_pending_tasks_as_a_set_would(sizes: list[int], order: Any) -> None:
    # TaskCore._let_go and the loop's _held_tasks against the set of pending tasks they stand
    # for: tasks made in batches, each waiting on its own future, ended (result, error,
    # cancellation) in any order; after every end, the loop holds exactly the pending
    # tasks, each at the place it keeps, and an ended one is held nowhere.
    loop = spindle.new_event_loop()
    pending: list[Any] = []
    ended: list[Any] = []
    waits: dict[Any, asyncio.Future[None]] = {}

    async def waiting(fut: asyncio.Future[None]) -> None:
        await fut

    def check() -> None:
        held = held_by(loop)
        if spindle.COMPILED:  # the list, each task at its place
            assert all(held[t._held_at] is t for t in pending)
        else:  # the pure build keeps the set (see TaskCore._let_go)
            assert all(t._held_at == -2 for t in pending)
        assert len(held) == len(pending)
        assert {id(t) for t in held} == {id(t) for t in pending}
        assert all(t._held_at == -1 for t in ended) or not spindle.COMPILED

    try:
        for size in sizes:
            for _ in range(size):
                fut = loop.create_future()
                task = loop.create_task(waiting(fut))
                waits[task] = fut
                pending.append(task)
            loop.run_until_complete(asyncio.sleep(0))  # every task waits on its future
            check()
            for task in order.sample(pending, len(pending) // 2 + 1):
                how = order.choice(["result", "error", "cancel"])
                if how == "result":
                    waits[task].set_result(None)
                elif how == "error":
                    waits[task].set_exception(ValueError())
                else:
                    task.cancel()
                loop.run_until_complete(asyncio.sleep(0))
                loop.run_until_complete(asyncio.sleep(0))
                assert task.done()
                task.cancelled() or task.exception()
                pending.remove(task)
                ended.append(task)
                check()
        async def cancel_the_rest() -> None:
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

        loop.run_until_complete(cancel_the_rest())
        ended += pending
        pending.clear()
        check()
    finally:
        loop.close()


def test_a_pending_task_only_its_own_future_refers_to_is_not_collected() -> None:
    # What the loop's strong references are for: a task waits on a future that only its own
    # coroutine refers to, and nobody refers to the task: a cycle the collector would free,
    # task and all, mid-flight.  The task stays, and finishes when woken.
    from spindle._core.taskcore import forget_tasks_of

    loop = spindle.new_event_loop()
    finished: list[str] = []
    woken: list[asyncio.Future[None]] = []

    async def alone() -> None:
        fut = loop.create_future()
        woken.append(weakref.proxy(fut))  # type: ignore[arg-type]
        await fut
        finished.append("done")

    try:
        task_ref = weakref.ref(loop.create_task(alone()))
        loop.run_until_complete(asyncio.sleep(0))
        gc.collect()
        assert task_ref() is not None
        woken[0].set_result(None)
        loop.run_until_complete(asyncio.sleep(0))
        assert finished == ["done"]
        assert held_by(loop) == []
        # Closing lets go of the tasks still pending (forget_tasks_of).
        never = loop.create_task(asyncio.sleep(3600))
        loop.run_until_complete(asyncio.sleep(0))
        assert held_by(loop) == [never]
        forget_tasks_of(loop)
        assert held_by(loop) == []
        never.cancel()
        loop.run_until_complete(asyncio.sleep(0))
    finally:
        loop.close()


def test_a_task_on_another_loop_is_held_elsewhere_and_let_go_at_its_end() -> None:
    from spindle._core import taskcore

    loop = asyncio.new_event_loop()  # asyncio's own loop: spindle's Task on it

    async def short() -> int:
        await asyncio.sleep(0)
        return 1

    try:
        task = Task(short(), loop=loop)
        assert task in taskcore._held_elsewhere and task._held_at == -2
        assert loop.run_until_complete(task) == 1
        assert task not in taskcore._held_elsewhere
    finally:
        loop.close()


@pytest.mark.skipif(not spindle.COMPILED, reason="the native classes' layout")
def test_the_flags_of_a_future_and_a_task_share_one_word() -> None:
    # Compiled, a native class's fields are laid out in the order its annotations declare
    # them, a one-byte flag between two pointers taking eight bytes: FutureCore declares its
    # two flags last and TaskCore its two first, so all four fit in one word (24 bytes less
    # a task, whose memory programs with tens of thousands pending walk in every collection).
    import ast
    import pathlib

    from spindle._core import futures, taskcore
    from spindle._core.futures import FutureCore
    from spindle._core.taskcore import TaskCore

    def slots_in_source(module: Any, name: str) -> int:
        # A native class keeps no __slots__ attribute: count them in its source.
        folder = pathlib.Path(module.__file__).parent
        source = (folder / (module.__name__.rpartition(".")[2] + ".py")).read_text()
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.ClassDef) and node.name == name:
                for stmt in node.body:
                    if isinstance(stmt, ast.Assign) and ast.unparse(stmt.targets[0]) == (
                        "__slots__"
                    ):
                        return len(ast.literal_eval(stmt.value))
        raise AssertionError(f"no __slots__ in {name}")

    header = object.__basicsize__ + 8  # the object's header and the vtable pointer
    future_fields = slots_in_source(futures, "FutureCore")
    task_fields = slots_in_source(taskcore, "TaskCore")
    assert FutureCore.__basicsize__ == header + 8 * (future_fields - 2) + 8
    assert TaskCore.__basicsize__ == FutureCore.__basicsize__ + 8 * (task_fields - 2)
