"""The little language of differential programs, and the hypothesis strategies that write them.

A program is plain data (tuples, strings and numbers), so a failing example prints as a
Python literal that can be pasted into ``test_regressions.py`` as it is.

``Program(objects, specs)``:

* ``objects``: the synchronisation objects the tasks share, made once at the start of main:
  ``("lock",)``, ``("event",)``, ``("condition",)``, ``("semaphore", value)``,
  ``("bounded", value)``, ``("barrier", parties)``, ``("queue", kind, maxsize)`` with kind
  ``"fifo"``, ``"lifo"`` or ``"priority"``.
* ``specs``: one block (a tuple of operations) per kind of coroutine.  Spec 0 is main; a
  coroutine of spec ``s`` only starts coroutines of specs above ``s``, so nothing recurses.

Operations (``d`` is a delay from ``DELAYS``; a timeout is one of ``TIMEOUTS``, None or
"inf" included; a ``limit`` on a blocking call is None, ``("timeout", t)`` (the call inside
``async with timeout(t)``) or ``("wait_for", t)``; ``child`` is ``(spec, how)`` with how
``"coro"`` (a new coroutine), ``"task"`` (a new task) or ``"latest"`` (the last task of that
spec, new if there is none)):

=================================  ==============================================================
``("sleep", d)``                   ``await sleep(d)``
``("spawn", s)``                   ``create_task`` of a new coroutine of spec ``s``
``("await", s)``                   await the latest task of spec ``s``
``("cancel", s, msg)``             cancel the latest task of spec ``s`` (msg may be None)
``("raise", msg)``                 ``raise UserError(msg)``
``("cancelling",)``                record ``current_task().cancelling()``
``("uncancel",)``                  ``current_task().uncancel()``
``("try", catch, block)``          run block, catching ``catch`` (see ``CATCHES``)
``("convert", catch, block, msg)`` run block; on ``catch``, ``raise UserError(msg)``
``("finally", block, cleanup)``    ``try: block`` / ``finally: cleanup``
``("gather", children, rex)``      ``await gather(*children, return_exceptions=rex)``
``("wait", specs, t, when)``       ``await wait(new tasks, timeout=t, return_when=when)``
``("wait_for", child, t)``         ``await wait_for(child, t)``
``("shield", child)``              ``await shield(child)``
``("as_completed", specs, t, a)``  iterate ``as_completed(new tasks, timeout=t)`` (``a``: async)
``("timeout", t, block)``          ``async with timeout(t): block``
``("timeout_at", t, block)``       ``async with timeout_at(loop.time() + t): block``
``("reschedule", t)``              reschedule the innermost timeout to now + t (None: never)
``("taskgroup", specs, block)``    ``async with TaskGroup() as tg``: new tasks, then block
``("tg_spawn", s)``                ``tg.create_task`` in the innermost TaskGroup
``("cancel_main", msg)``           cancel main's task
``("with", i, block)``             ``async with objects[i]: block`` (lock, condition, semaphore)
``("acquire", i, limit)`` / ``("release", i)``
``("ev_wait", i, limit)`` / ``("ev_set", i)`` / ``("ev_clear", i)``
``("cond_wait", i, limit)``        ``async with cond: await cond.wait()``, likewise
``("cond_wait_for", i, limit)``    (predicate: see ``set_flag``), ``("notify", i, n)`` and
``("notify_all", i)``              (these two take the condition's lock first, as users do)
``("set_flag",)``                  make the predicate of every ``cond_wait_for`` true
``("b_wait", i, limit)`` / ``("b_reset", i)`` / ``("b_abort", i)``
``("put", i, v, limit)`` / ``("get", i, limit)`` / ``("put_nowait", i, v)`` / ``("get_nowait", i)``
``("join", i, limit)`` / ``("task_done", i)`` / ``("shutdown", i, immediate)`` (3.13+)
=================================  ==============================================================
"""

from __future__ import annotations

import asyncio
import functools
import sys
from typing import Any, NamedTuple

from hypothesis import strategies as st

__all__ = ["CATCHES", "DELAYS", "TIMEOUTS", "Program", "programs"]

Op = tuple[Any, ...]
Block = tuple[Op, ...]


class Program(NamedTuple):
    objects: tuple[tuple[Any, ...], ...]
    specs: tuple[Block, ...]


DELAYS = (0, 0.25, 0.5, 1, 1.5, 2, 3)
TIMEOUTS = (None, 0, -1, 0.25, 0.5, 1, 1.5, 2, 3, "inf")
CATCHES = ("Exception", "CancelledError", "TimeoutError", "BaseException", "ExceptionGroup")
RETURN_WHEN = ("FIRST_COMPLETED", "FIRST_EXCEPTION", "ALL_COMPLETED")
MESSAGES = (None, "m1", "m2")

HAS_QUEUE_SHUTDOWN = hasattr(asyncio.Queue, "shutdown")
HAS_ASYNC_AS_COMPLETED = sys.version_info >= (3, 13)

_objects = st.one_of(
    st.just(("lock",)),
    st.just(("event",)),
    st.just(("condition",)),
    st.tuples(st.just("semaphore"), st.integers(0, 2)),
    st.tuples(st.just("bounded"), st.integers(1, 2)),
    st.tuples(st.just("barrier"), st.integers(1, 3)),
    st.tuples(st.just("queue"), st.sampled_from(("fifo", "lifo", "priority")), st.integers(0, 2)),
)

_delays = st.sampled_from(DELAYS)
_timeouts = st.sampled_from(TIMEOUTS)


_limits = st.one_of(
    st.none(), st.tuples(st.sampled_from(("timeout", "wait_for")), st.sampled_from(TIMEOUTS))
)


def _object_ops(
    index: int, kind: str, block: st.SearchStrategy[Block]
) -> list[st.SearchStrategy[Op]]:
    """The operations on ``objects[index]``, a ``kind``."""
    i = st.just(index)

    def blocking(name: str, *args: st.SearchStrategy[Any]) -> st.SearchStrategy[Op]:
        return st.tuples(st.just(name), i, *args, _limits)

    def plain(name: str, *args: st.SearchStrategy[Any]) -> st.SearchStrategy[Op]:
        return st.tuples(st.just(name), i, *args)

    if kind in ("lock", "semaphore", "bounded"):
        return [plain("with", block), blocking("acquire"), plain("release")]
    if kind == "event":
        return [blocking("ev_wait"), plain("ev_set"), plain("ev_clear")]
    if kind == "condition":
        return [
            plain("with", block),
            blocking("cond_wait"),
            blocking("cond_wait_for"),
            plain("notify", st.integers(0, 2)),
            plain("notify_all"),
            st.just(("set_flag",)),
        ]
    if kind == "barrier":
        return [blocking("b_wait"), blocking("b_wait"), plain("b_reset"), plain("b_abort")]
    assert kind == "queue"
    values = st.integers(0, 3)
    ops = [
        blocking("put", values),
        blocking("get"),
        plain("put_nowait", values),
        plain("get_nowait"),
        blocking("join"),
        plain("task_done"),
    ]
    if HAS_QUEUE_SHUTDOWN:
        ops.append(plain("shutdown", st.booleans()))
    return ops


@functools.cache
def _block(spec: int, n_specs: int, objects: tuple[tuple[Any, ...], ...], depth: int,
           top: bool = False) -> st.SearchStrategy[Block]:
    """Blocks of operations for a coroutine of spec ``spec``, nested ``depth`` more levels.

    A coroutine's own block is longer than the blocks nested in it, and main's starts by
    spawning tasks: concurrency is where implementations part.
    """
    inner = _block(spec, n_specs, objects, depth - 1) if depth > 0 else st.just(())
    control: list[st.SearchStrategy[Op]] = [
        st.tuples(st.just("sleep"), _delays),
        st.tuples(st.just("raise"), st.sampled_from(("e1", "e2"))),
        st.just(("cancelling",)),
        st.just(("uncancel",)),
    ]
    if depth > 0:
        control += [
            st.tuples(st.just("try"), st.sampled_from(CATCHES), inner),
            st.tuples(st.just("convert"), st.sampled_from(CATCHES), inner, st.just("e3")),
            st.tuples(st.just("finally"), inner, inner),
            st.tuples(st.just("timeout"), _timeouts, inner),
            st.tuples(st.just("timeout_at"), _timeouts, inner),
            st.tuples(st.just("reschedule"), _timeouts),
        ]
    tasks: list[st.SearchStrategy[Op]] = []
    if spec + 1 < n_specs:
        specs = st.integers(spec + 1, n_specs - 1)
        child = st.tuples(specs, st.sampled_from(("coro", "task", "latest")))
        children = st.lists(child, min_size=1, max_size=3).map(tuple)
        new_tasks = st.lists(specs, min_size=1, max_size=3).map(tuple)
        tasks += [
            st.tuples(st.just("spawn"), specs),
            st.tuples(st.just("await"), specs),
            st.tuples(st.just("cancel"), specs, st.sampled_from(MESSAGES)),
            st.tuples(st.just("gather"), children, st.booleans()),
            st.tuples(st.just("wait"), new_tasks, _timeouts, st.sampled_from(RETURN_WHEN)),
            st.tuples(st.just("wait_for"), child, _timeouts),
            st.tuples(st.just("shield"), child),
            st.tuples(
                st.just("as_completed"),
                new_tasks,
                _timeouts,
                st.booleans() if HAS_ASYNC_AS_COMPLETED else st.just(False),
            ),
            st.tuples(st.just("tg_spawn"), specs),
        ]
        if depth > 0:
            tasks.append(st.tuples(st.just("taskgroup"), new_tasks, inner))
    if spec > 0:
        tasks.append(st.tuples(st.just("cancel_main"), st.sampled_from(MESSAGES)))
    shared: list[st.SearchStrategy[Op]] = []
    for index, obj in enumerate(objects):
        shared += _object_ops(index, obj[0], inner)
    # The three kinds of operation weigh alike, whatever their numbers; shared objects twice
    # (two tasks meeting at one object is where the interesting races are).
    groups = [st.one_of(control)]
    if tasks:
        groups.append(st.one_of(tasks))
    if shared:
        groups += [st.one_of(shared)] * 2
    ops = groups
    body = st.lists(st.one_of(ops), min_size=2 if top else 0, max_size=8 if top else 4)
    if not (top and spec == 0 and n_specs > 1):
        return body.map(tuple)
    spawns = st.lists(st.tuples(st.just("spawn"), st.integers(1, n_specs - 1)), max_size=3)
    return st.tuples(spawns, body).map(lambda parts: tuple(parts[0] + parts[1]))


@st.composite
def programs(draw: st.DrawFn, max_specs: int = 4, depth: int = 2) -> Program:
    """Programs of up to ``max_specs`` kinds of coroutine, blocks nested ``depth`` deep."""
    objects = tuple(draw(st.lists(_objects, max_size=2)))
    n_specs = draw(st.integers(1, max_specs))
    specs = tuple(draw(_block(s, n_specs, objects, depth, top=True)) for s in range(n_specs))
    return Program(objects, specs)
