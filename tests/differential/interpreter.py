"""Run a differential program on one API (asyncio's or spindle's) and record what it did.

The same interpreter runs a program twice or three times: ``api`` is the module whose names it
calls (``asyncio`` or ``spindle``: ``api.gather``, ``api.TaskGroup``, ``api.Queue``,
``api.Runner``, ...), and ``make_loop`` the loop it runs on.  Everything observable goes into
the ``Outcome``: the events in order, with the loop time, the coroutine that saw them and its
task's ``cancelling()`` count; how ``run()`` ended; the final state of every task; and every
report to the loop's exception handler, every warning and every exception that could not
propagate while the loop was open (``sys.unraisablehook``).  Two implementations agree when
their outcomes are equal (``outcome.py`` says how each part is made comparable).
"""

from __future__ import annotations

import contextlib
import gc
import math
import re
import sys
import warnings
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from tests.differential.outcome import (
    Outcome,
    UserError,
    message_types_of,
    norm_exception,
    report_kind,
)
from tests.differential.programs import Block, Op, Program

__all__ = ["execute"]

# The loop is stopped at these times if the program has not finished by then (it waits for
# something that never comes); a second and third stop cover the runner's shutdown.
GUARDS = (100.0, 200.0, 300.0)


@dataclass
class _Frame:
    """Where an operation runs: its coroutine's label, the timeouts and groups it is inside."""

    label: str
    timeouts: list[Any] = field(default_factory=list)
    groups: list[Any] = field(default_factory=list)


def _deadline(timeout: float | str | None) -> float | None:
    return math.inf if timeout == "inf" else timeout  # type: ignore[return-value]


class _Run:
    def __init__(self, api: ModuleType, program: Program, outcome: Outcome) -> None:
        self.api = api
        self.program = program
        self.outcome = outcome
        self.message_types = message_types_of(api)
        self.loop: Any = None
        self.main_task: Any = None
        self.objects: list[Any] = []
        self.counts: dict[int, int] = {}
        self.coros: dict[str, Coroutine[Any, Any, Any]] = {}
        self.tasks: dict[str, Any] = {}  # label -> the task running that coroutine
        self.labels: dict[Any, str] = {}  # task -> label
        self.latest: dict[int, Any] = {}  # spec -> its last task made by an operation
        self.flag = False  # the predicate of every cond_wait_for
        self.finished = False

    # -- recording -----------------------------------------------------------------------

    def event(self, label: str, *what: Any) -> None:
        if self.finished:
            return  # a coroutine finalized by the garbage collector after the run
        task = self.api.current_task()
        cancelling = task.cancelling() if task is not None else None
        self.outcome.events.append((self.loop.time(), label, cancelling, *what))

    def norm(self, value: Any) -> Any:
        if isinstance(value, BaseException):
            return self.norm_exc(value)
        if isinstance(value, (list, tuple)):
            return tuple(self.norm(v) for v in value)
        if isinstance(value, (set, frozenset)):
            return ("set", *sorted(str(self.norm(v)) for v in value))
        if value is None or isinstance(value, (str, int, float, bool)):
            return value
        if self.api.isfuture(value):
            return ("task", self.labels.get(value, type(value).__name__))
        return type(value).__name__

    def norm_exc(self, exc: BaseException) -> tuple[Any, ...]:
        return norm_exception(exc, self.message_types)

    # -- coroutines and tasks ------------------------------------------------------------

    def coroutine(self, spec: int) -> tuple[str, Coroutine[Any, Any, Any]]:
        n = self.counts.get(spec, 0)
        self.counts[spec] = n + 1
        label = f"{spec}{chr(ord('a') + n)}" if n < 26 else f"{spec}_{n}"
        coro = self.body(spec, label)
        self.coros[label] = coro
        return label, coro

    def new_task(self, spec: int, group: Any = None) -> Any:
        label, coro = self.coroutine(spec)
        maker = self.api.create_task if group is None else group.create_task
        try:
            task = maker(coro, name=label)
        except BaseException:
            coro.close()  # refused (a finished TaskGroup): as careful code does
            raise
        self.tasks[label] = task
        self.labels[task] = label
        self.latest[spec] = task
        return task

    def child(self, ref: tuple[int, str]) -> Any:
        spec, how = ref
        if how == "coro":
            return self.coroutine(spec)[1]
        if how == "latest" and spec in self.latest:
            return self.latest[spec]
        return self.new_task(spec)

    async def body(self, spec: int, label: str) -> str:
        task = self.api.current_task()
        if task is not None and task.get_coro() is self.coros[label]:
            self.tasks[label] = task
            self.labels[task] = label
        self.event(label, "start")
        frame = _Frame(label)
        try:
            await self.block(self.program.specs[spec], frame)
        except BaseException as exc:
            self.event(label, "end", "raise", self.norm_exc(exc))
            raise
        self.event(label, "end", "ok")
        return label

    async def main(self) -> str:
        self.loop = self.api.get_running_loop()
        self.main_task = self.api.current_task()
        self.objects = [self.make_object(*obj) for obj in self.program.objects]
        return await self.coroutine(0)[1]

    def make_object(self, kind: str, *args: Any) -> Any:
        api = self.api
        if kind == "queue":
            flavour, maxsize = args
            cls = {"fifo": api.Queue, "lifo": api.LifoQueue, "priority": api.PriorityQueue}
            return cls[flavour](maxsize)
        cls = {
            "lock": api.Lock,
            "event": api.Event,
            "condition": api.Condition,
            "semaphore": api.Semaphore,
            "bounded": api.BoundedSemaphore,
            "barrier": api.Barrier,
        }[kind]
        return cls(*args)

    # -- operations ----------------------------------------------------------------------

    async def block(self, ops: Block, frame: _Frame) -> None:
        for op in ops:
            await self.run_op(op, frame)

    async def run_op(self, op: Op, frame: _Frame) -> None:
        name = op[0]
        method: Callable[..., Any] = getattr(self, f"op_{name}")
        try:
            value = await method(frame, *op[1:])
        except BaseException as exc:
            self.event(frame.label, name, "raise", self.norm_exc(exc))
            raise
        self.event(frame.label, name, "ok", self.norm(value))

    async def op_sleep(self, frame: _Frame, delay: float) -> Any:
        return await self.api.sleep(delay, "slept")

    async def op_spawn(self, frame: _Frame, spec: int) -> Any:
        return self.labels[self.new_task(spec)]

    async def op_await(self, frame: _Frame, spec: int) -> Any:
        return await self.child((spec, "latest"))

    async def op_cancel(self, frame: _Frame, spec: int, msg: str | None) -> Any:
        task = self.latest.get(spec)
        return "none" if task is None else task.cancel(msg)

    async def op_cancel_main(self, frame: _Frame, msg: str | None) -> Any:
        return self.main_task.cancel(msg)

    async def op_raise(self, frame: _Frame, msg: str) -> Any:
        raise UserError(msg)

    async def op_cancelling(self, frame: _Frame) -> Any:
        return self.api.current_task().cancelling()

    async def op_uncancel(self, frame: _Frame) -> Any:
        return self.api.current_task().uncancel()

    def catchable(self, catch: str) -> type[BaseException]:
        return {  # type: ignore[no-any-return]
            "Exception": Exception,
            "CancelledError": self.api.CancelledError,
            "TimeoutError": TimeoutError,
            "BaseException": BaseException,
            "ExceptionGroup": BaseExceptionGroup,
        }[catch]

    async def op_try(self, frame: _Frame, catch: str, ops: Block) -> Any:
        try:
            await self.block(ops, frame)
        except self.catchable(catch) as exc:
            return ("caught", self.norm_exc(exc))
        return "no exception"

    async def op_convert(self, frame: _Frame, catch: str, ops: Block, msg: str) -> Any:
        try:
            await self.block(ops, frame)
        except self.catchable(catch):
            raise UserError(msg)  # noqa: B904 (implicitly chained, as such code usually is)
        return "no exception"

    async def op_finally(self, frame: _Frame, ops: Block, cleanup: Block) -> Any:
        try:
            await self.block(ops, frame)
        finally:
            await self.block(cleanup, frame)
        return None

    async def op_gather(self, frame: _Frame, children: Any, rex: bool) -> Any:
        return await self.api.gather(*[self.child(c) for c in children], return_exceptions=rex)

    async def op_wait(self, frame: _Frame, specs: Any, timeout: Any, when: str) -> Any:
        tasks = [self.new_task(s) for s in specs]
        done, pending = await self.api.wait(
            tasks, timeout=_deadline(timeout), return_when=getattr(self.api, when)
        )
        return (done, pending)

    async def op_wait_for(self, frame: _Frame, child: Any, timeout: Any) -> Any:
        return await self.api.wait_for(self.child(child), _deadline(timeout))

    async def op_shield(self, frame: _Frame, child: Any) -> Any:
        return await self.api.shield(self.child(child))

    async def op_as_completed(self, frame: _Frame, specs: Any, timeout: Any, aiter: bool) -> Any:
        tasks = [self.new_task(s) for s in specs]
        iterator = self.api.as_completed(tasks, timeout=_deadline(timeout))
        if aiter:
            async for fut in iterator:
                self.event(frame.label, "as_completed item", self.norm(fut))
        else:
            for next_done in iterator:
                self.event(frame.label, "as_completed item", self.norm(await next_done))
        return None

    async def _timeout_block(self, frame: _Frame, cm: Any, ops: Block) -> Any:
        try:
            async with cm:
                frame.timeouts.append(cm)
                try:
                    await self.block(ops, frame)
                finally:
                    frame.timeouts.pop()
        finally:
            self.event(frame.label, "timeout expired?", cm.expired())
        return None

    async def op_timeout(self, frame: _Frame, timeout: Any, ops: Block) -> Any:
        return await self._timeout_block(frame, self.api.timeout(_deadline(timeout)), ops)

    async def op_timeout_at(self, frame: _Frame, timeout: Any, ops: Block) -> Any:
        delay = _deadline(timeout)
        when = None if delay is None else self.loop.time() + delay
        return await self._timeout_block(frame, self.api.timeout_at(when), ops)

    async def op_reschedule(self, frame: _Frame, timeout: Any) -> Any:
        if not frame.timeouts:
            return "none"
        delay = _deadline(timeout)
        frame.timeouts[-1].reschedule(None if delay is None else self.loop.time() + delay)
        return None

    async def op_taskgroup(self, frame: _Frame, specs: Any, ops: Block) -> Any:
        async with self.api.TaskGroup() as group:
            frame.groups.append(group)
            try:
                for spec in specs:
                    self.new_task(spec, group)
                await self.block(ops, frame)
            finally:
                frame.groups.pop()
        return None

    async def op_tg_spawn(self, frame: _Frame, spec: int) -> Any:
        if not frame.groups:
            return "none"
        return self.labels[self.new_task(spec, frame.groups[-1])]

    # Synchronisation objects: each operation returns (its value, the object's public state).

    def state(self, index: int) -> Any:
        obj = self.objects[index]
        kind = self.program.objects[index][0]
        if kind == "event":
            return obj.is_set()
        if kind == "barrier":
            return (obj.n_waiting, obj.broken)
        if kind == "queue":
            return (obj.qsize(), obj.full(), obj.empty())
        return obj.locked()

    async def op_with(self, frame: _Frame, i: int, ops: Block) -> Any:
        async with self.objects[i]:
            await self.block(ops, frame)
        return self.state(i)

    async def op_acquire(self, frame: _Frame, i: int, limit: Any) -> Any:
        return await self._blocking(i, limit, self.objects[i].acquire())

    async def _blocking(self, i: int, limit: Any, call: Any) -> Any:
        """Await ``call`` (a call on ``objects[i]``) under its limit, as users write it."""
        if limit is None:
            value = await call
        elif limit[0] == "timeout":
            async with self.api.timeout(_deadline(limit[1])):
                value = await call
        else:
            value = await self.api.wait_for(call, _deadline(limit[1]))
        return (value, self.state(i))

    def _call(self, i: int, method: str, *args: Any) -> Any:
        return (getattr(self.objects[i], method)(*args), self.state(i))

    async def op_release(self, frame: _Frame, i: int) -> Any:
        return self._call(i, "release")

    async def op_ev_wait(self, frame: _Frame, i: int, limit: Any) -> Any:
        return await self._blocking(i, limit, self.objects[i].wait())

    async def op_ev_set(self, frame: _Frame, i: int) -> Any:
        return self._call(i, "set")

    async def op_ev_clear(self, frame: _Frame, i: int) -> Any:
        return self._call(i, "clear")

    async def op_cond_wait(self, frame: _Frame, i: int, limit: Any) -> Any:
        async with self.objects[i]:
            return await self._blocking(i, limit, self.objects[i].wait())

    async def op_cond_wait_for(self, frame: _Frame, i: int, limit: Any) -> Any:
        async with self.objects[i]:
            return await self._blocking(i, limit, self.objects[i].wait_for(lambda: self.flag))

    async def op_notify(self, frame: _Frame, i: int, n: int) -> Any:
        async with self.objects[i]:
            return self._call(i, "notify", n)

    async def op_notify_all(self, frame: _Frame, i: int) -> Any:
        async with self.objects[i]:
            return self._call(i, "notify_all")

    async def op_set_flag(self, frame: _Frame) -> Any:
        self.flag = True

    async def op_b_wait(self, frame: _Frame, i: int, limit: Any) -> Any:
        return await self._blocking(i, limit, self.objects[i].wait())

    async def op_b_reset(self, frame: _Frame, i: int) -> Any:
        return await self._blocking(i, None, self.objects[i].reset())

    async def op_b_abort(self, frame: _Frame, i: int) -> Any:
        return await self._blocking(i, None, self.objects[i].abort())

    async def op_put(self, frame: _Frame, i: int, value: int, limit: Any) -> Any:
        return await self._blocking(i, limit, self.objects[i].put(value))

    async def op_get(self, frame: _Frame, i: int, limit: Any) -> Any:
        return await self._blocking(i, limit, self.objects[i].get())

    async def op_put_nowait(self, frame: _Frame, i: int, value: int) -> Any:
        return self._call(i, "put_nowait", value)

    async def op_get_nowait(self, frame: _Frame, i: int) -> Any:
        return self._call(i, "get_nowait")

    async def op_join(self, frame: _Frame, i: int, limit: Any) -> Any:
        return await self._blocking(i, limit, self.objects[i].join())

    async def op_task_done(self, frame: _Frame, i: int) -> Any:
        return self._call(i, "task_done")

    async def op_shutdown(self, frame: _Frame, i: int, immediate: bool) -> Any:
        return self._call(i, "shutdown", immediate)


_ADDRESS = re.compile(r" at 0x[0-9a-f]+")


def execute(
    api: ModuleType, program: Program, make_loop: Callable[[], Any]
) -> Outcome:
    """Run ``program`` with ``api``'s functions on a loop from ``make_loop``."""
    outcome = Outcome()
    message_types = message_types_of(api)

    def report(loop: Any, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        subject = context.get("future", context.get("task"))
        outcome.reports.append(
            (
                report_kind(str(context.get("message"))),
                norm_exception(exc, message_types) if exc is not None else None,
                type(subject).__name__ if subject is not None else None,
            )
        )

    def stop(loop: Any) -> None:
        outcome.events.append((loop.time(), "guard: still waiting, stopped"))
        loop.stop()

    def loop_factory() -> Any:
        loop = make_loop()
        loop.set_exception_handler(report)
        for when in GUARDS:
            loop.call_at(when, stop, loop)
        return loop

    # Everything alive now is left out of the garbage collector's walks until the run is over:
    # the collection at the end (which makes the "never retrieved" reports) then only walks
    # the run's own objects, and a run never sees another run's garbage collected.
    gc.freeze()
    try:
        _execute(_Run(api, program, outcome), loop_factory)
    finally:
        gc.unfreeze()
    outcome.reports.sort(key=repr)
    return outcome


def _execute(run: _Run, loop_factory: Callable[[], Any]) -> None:
    """Run main() in a Runner, close it, take the final states, let the garbage go."""
    outcome = run.outcome
    message_types = run.message_types
    unraisable: list[tuple[Any, ...]] = []
    # Set once the loop is closed.  The garbage collector then closes the coroutines left
    # pending, and whatever their cleanup meets (a closed loop, no running loop) depends on
    # how each library's internals are written (asyncio's as_completed cancels a Queue
    # getter, spindle's a bare future), not on asyncio's contract: such errors are let go.
    closed = False

    def record_unraisable(what: Any) -> None:
        if what.exc_value is not None and not closed:
            unraisable.append(("unraisable", norm_exception(what.exc_value, message_types)))

    with warnings.catch_warnings(record=True) as caught, _unraisable_hook(record_unraisable):
        warnings.simplefilter("always")
        runner = run.api.Runner(loop_factory=loop_factory)
        try:
            result = runner.run(run.main())
        except BaseException as exc:
            outcome.events.append(("run", "raise", run.norm_exc(exc)))
        else:
            outcome.events.append(("run", "ok", run.norm(result)))
        try:
            runner.close()
        except BaseException as exc:  # the runner's shutdown was stopped by a guard
            outcome.events.append(("close", "raise", run.norm_exc(exc)))
        run.finished = True
        outcome.finals = sorted((label, _state(task)) for label, task in run.tasks.items())
        del run, runner
        closed = True
        gc.collect()
    outcome.reports.extend(
        (w.category.__name__, _ADDRESS.sub("", str(w.message)), None) for w in caught
    )
    outcome.reports.extend(unraisable)


@contextlib.contextmanager
def _unraisable_hook(hook: Callable[[Any], None]) -> Iterator[None]:
    """``sys.unraisablehook`` is ``hook`` inside the block."""
    previous = sys.unraisablehook
    sys.unraisablehook = hook
    try:
        yield
    finally:
        sys.unraisablehook = previous


def _state(task: Any) -> str:
    if not task.done():
        return "pending"
    return "cancelled" if task.cancelled() else "done"

