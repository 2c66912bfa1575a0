"""What a task waits on, and which tasks wait on a future, read from explicit state.

A suspended task is parked on one future, its ``_fut_waiter``.  That future alone says little
("a Future"); what the user wants to read is what it stands for: *the Event ``ready``*, *a
get() on an empty Queue*, *Task-3*, *a sleep that ends in 2.0 s*, *fd 7 becoming readable*.
This module answers from state that exists anyway, never from spindle's own frames (which the
compiled build does not have):

* spindle's primitives note who parked a task on a future (``Future._owner``, set by
  ``note_owner``): a Lock, an Event, a Queue, a TaskGroup, a StreamReader, the task a
  ``shield()`` protects, the futures a ``wait()`` waits for;
* a ``gather()`` future knows its children;
* the loop's timer queue holds the timer of every ``sleep()`` (its arguments name the
  future), and its table of file descriptors the handler of every socket wait;
* asyncio's own primitives running on spindle's loop (an ``asyncio.Lock`` in a program run
  with ``python -m spindle``) are found in the task's await chain: asyncio's Python frames
  are there, with the primitive as ``self``;
* ``spindle.future_add_to_awaited_by`` records what a program declares itself (Python 3.14's
  API for futures driven by hand).

The answer is a ``Wait``: a kind, a line of text, and the futures it stands for, which are
what the call graph draws as "awaited by this task".  A ``LoopView`` reads one loop once
(its tasks, timers and descriptors), so a dump of a thousand tasks reads the loop's tables
once, not once per task.  Reading happens from any thread (``ps`` answers from a thread of
its own while the loop runs or is stuck), so only builtin containers are walked, each copied
whole in one step, and nothing here calls the program's own code.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import types
import weakref
from typing import Any

from spindle import _compat, locks, queues, subprocess
from spindle import tasks as api_tasks
from spindle._core.futures import FutureCore, isfuture
from spindle._core.handles import TimerHandle
from spindle._core.tasks import Task
from spindle._core.timers import TimerQueue
from spindle.diagnostics.frames import FrameKind, classify
from spindle.streams import flow_control as streams_flow
from spindle.streams import reader as streams_reader
from spindle.taskgroups import TaskGroup

__all__ = ["LoopView", "Wait", "WaitKind", "await_chain", "declared_awaiters", "name_in"]


class WaitKind(enum.Enum):
    """What kind of thing a task waits on."""

    TASK = "task"
    GATHER = "gather"
    TASK_GROUP = "TaskGroup"
    LOCK = "Lock"
    EVENT = "Event"
    CONDITION = "Condition"
    SEMAPHORE = "Semaphore"
    BARRIER = "Barrier"
    QUEUE_GET = "Queue.get"
    QUEUE_PUT = "Queue.put"
    STREAM_READ = "stream read"
    DRAIN = "drain"
    SLEEP = "sleep"
    IO_READ = "socket read"
    IO_WRITE = "socket write"
    SHIELD = "shield"
    WAIT = "wait"
    AS_COMPLETED = "as_completed"
    PROCESS = "process"
    FUTURE = "future"


@dataclasses.dataclass(frozen=True)
class Wait:
    """What a task waits on: a kind, how to say it, and the futures it stands for."""

    kind: WaitKind
    text: str
    targets: tuple[Any, ...] = ()


# Futures declared awaited with future_add_to_awaited_by().  As asyncio 3.14 does, a future
# carries its own list (spindle's futures in a slot, ``_awaited_by``, since they take no weak
# references); other futures are kept here, weakly, so an entry goes with its future.
_declared: weakref.WeakKeyDictionary[Any, list[Any]] = weakref.WeakKeyDictionary()


def declared_awaiters(fut: Any, *, create: bool = False) -> list[Any] | None:
    """The list behind ``future_add_to_awaited_by`` for ``fut`` (made when ``create``)."""
    if isinstance(fut, FutureCore):
        waiters: list[Any] | None = getattr(fut, "_awaited_by", None)
        if waiters is None and create:
            waiters = fut._awaited_by = []
        return waiters
    if create:
        return _declared.setdefault(fut, [])
    return _declared.get(fut)


def await_chain(coro: object) -> list[types.FrameType]:
    """The frames of ``coro`` and of everything it awaits, outermost first.

    Follows ``cr_await`` (coroutines), ``gi_yieldfrom`` (generators, ``Future.__await__``)
    and ``ag_await`` (async generators); stops at an object without frames (a C iterator, a
    compiled coroutine).
    """
    frames: list[types.FrameType] = []
    while coro is not None and len(frames) < 1000:
        frame = (
            getattr(coro, "cr_frame", None)
            or getattr(coro, "gi_frame", None)
            or getattr(coro, "ag_frame", None)
        )
        if not isinstance(frame, types.FrameType):
            break
        frames.append(frame)
        coro = (
            getattr(coro, "cr_await", None)
            or getattr(coro, "gi_yieldfrom", None)
            or getattr(coro, "ag_await", None)
        )
    return frames


def name_in(frame: types.FrameType | None, obj: object) -> str | None:
    """The name ``frame``'s code knows ``obj`` by: a local, ``self.attr``, or a global."""
    if frame is None:
        return None
    local_names = dict(frame.f_locals)
    for name, value in local_names.items():
        if value is obj:
            return name
    owner = local_names.get("self")
    attributes = getattr(owner, "__dict__", None)
    if isinstance(attributes, dict):
        for name, value in list(attributes.items()):
            if value is obj:
                return f"self.{name}"
    for name, value in list(frame.f_globals.items()):
        if value is obj:
            return name
    return None


# asyncio's primitives, recognised as ``self`` of a frame in a task's await chain.
_ASYNCIO_OWNERS = (
    asyncio.Lock,
    asyncio.Event,
    asyncio.Condition,
    asyncio.Semaphore,
    asyncio.Barrier,
    asyncio.Queue,
    asyncio.StreamReader,
    asyncio.TaskGroup,
)


class LoopView:
    """One reading of a loop's tasks, timers and descriptors, to describe waits from."""

    def __init__(self, loop: asyncio.AbstractEventLoop, tasks: list[Any]) -> None:
        self.loop = loop
        self.tasks = tasks
        self._by_waiter: dict[int, list[Any]] = {}
        for task in tasks:
            waiter = task_waiter(task)
            if waiter is not None:
                self._by_waiter.setdefault(id(waiter), []).append(task)
        self._timers = _timers_by_future(loop)
        self._descriptors = _descriptors_by_future(loop)

    # -- what a task waits on ------------------------------------------------------------

    def wait_of(self, task: Any, user_frame: types.FrameType | None = None) -> Wait | None:
        """What ``task`` waits on; None when it waits on nothing (running, or ready)."""
        waiter = task_waiter(task)
        if waiter is None:
            return None
        owner = getattr(waiter, "_owner", None)
        if owner is None:
            owner = _asyncio_owner(task)
        return self.describe(waiter, owner, user_frame)

    def describe(self, fut: Any, owner: Any, user_frame: types.FrameType | None) -> Wait:
        """The ``Wait`` that ``fut`` (made by ``owner``, None if unknown) stands for."""
        if isinstance(fut, (Task, asyncio.Task)):
            return Wait(WaitKind.TASK, f"task {fut.get_name()}", (fut,))
        children = gather_children(fut)
        if children is not None:
            return _gather_wait(children)
        if owner is not None:
            described = self._describe_owner(fut, owner, user_frame)
            if described is not None:
                return described
        when = self._timers.get(id(fut))
        if when is not None:
            left = when - self.loop.time()
            return Wait(WaitKind.SLEEP, f"sleep, {max(left, 0.0):.1f} s left")
        descriptor = self._descriptors.get(id(fut))
        if descriptor is not None:
            fd, writing = descriptor
            kind = WaitKind.IO_WRITE if writing else WaitKind.IO_READ
            verb = "writable" if writing else "readable"
            return Wait(kind, f"socket fd {fd} to become {verb}")
        return Wait(WaitKind.FUTURE, _future_text(fut))

    def _describe_owner(
        self, fut: Any, owner: Any, user_frame: types.FrameType | None
    ) -> Wait | None:
        name = name_in(user_frame, owner)
        called = f" {name}" if name else ""
        state = _state_of(owner)
        if isinstance(owner, (locks.Lock, asyncio.Lock)):
            return Wait(WaitKind.LOCK, f"Lock{called} ({state})")
        if isinstance(owner, (locks.Event, asyncio.Event)):
            return Wait(WaitKind.EVENT, f"Event{called} ({state})")
        if isinstance(owner, (locks.Condition, asyncio.Condition)):
            return Wait(WaitKind.CONDITION, f"Condition{called} ({state}): a notify()")
        if isinstance(owner, (locks.Semaphore, asyncio.Semaphore)):
            return Wait(WaitKind.SEMAPHORE, f"{type(owner).__name__}{called} ({state})")
        if isinstance(owner, (locks.Barrier, asyncio.Barrier)):
            return Wait(WaitKind.BARRIER, f"Barrier{called} ({state})")
        if isinstance(owner, (queues.Queue, asyncio.Queue)):
            return _queue_wait(fut, owner, called)
        if isinstance(owner, (TaskGroup, asyncio.TaskGroup)):
            members = tuple(group_tasks(owner))
            return Wait(
                WaitKind.TASK_GROUP,
                f"the end of its TaskGroup's {_count(len(members), 'task')}",
                members,
            )
        if isinstance(owner, (streams_reader.StreamReader, asyncio.StreamReader)):
            peer = _stream_peer(owner)
            return Wait(WaitKind.STREAM_READ, f"data from a stream{f' ({peer})' if peer else ''}")
        if isinstance(owner, streams_flow.FlowControlMixin):
            return Wait(WaitKind.DRAIN, "drain(): the peer to read what was written")
        if isinstance(owner, subprocess.Process):
            return Wait(WaitKind.PROCESS, f"process {owner.pid} to exit")
        if isinstance(owner, api_tasks._AsCompleted):
            pending = tuple(f for f in list(owner._todo) if not f.done())
            return Wait(WaitKind.AS_COMPLETED, f"as_completed(): {len(pending)} not done", pending)
        if isinstance(owner, (set, frozenset)):
            pending = tuple(f for f in list(owner) if isfuture(f) and not f.done())
            return Wait(WaitKind.WAIT, f"wait() for {_count(len(pending), 'future')}", pending)
        if isfuture(owner):
            inner = self.describe(owner, None, user_frame)
            return Wait(WaitKind.SHIELD, f"shield({inner.text})", (owner,))
        return None

    # -- who waits on a future -------------------------------------------------------------

    def awaiters(self, fut: Any) -> list[Any]:
        """The tasks and futures that wait on ``fut`` (Python 3.14's ``awaited_by``)."""
        found: list[Any] = []
        for task in self.tasks:
            if task is not fut and _reaches(self, task, fut):
                found.append(task)
        for waiter in declared_awaiters(fut) or ():
            if waiter not in found:
                found.append(waiter)
        for parent in _group_parents(fut):
            if parent not in found:
                found.append(parent)
        for settled in _settled_by(fut):
            for waiter in self.awaiters(settled) if settled is not fut else ():
                if waiter is not fut and waiter not in found:
                    found.append(waiter)
        return found

    def awaited(self, task: Any) -> list[Any]:
        """The tasks ``task`` waits for (its children in the call tree), in order."""
        wait = self.wait_of(task)
        found: list[Any] = []
        if wait is not None:
            _expand(self, wait.targets, found, depth=0)
        return [f for f in found if isinstance(f, (Task, asyncio.Task)) and f is not task]


def _reaches(view: LoopView, task: Any, fut: Any) -> bool:
    waiter = task_waiter(task)
    if waiter is None:
        return False
    if waiter is fut:
        return True
    wait = view.wait_of(task)
    if wait is None:
        return False
    found: list[Any] = []
    _expand(view, wait.targets, found, depth=0)
    return any(f is fut for f in found)


def _expand(view: LoopView, targets: tuple[Any, ...], found: list[Any], depth: int) -> None:
    """Add ``targets`` and, for those that stand for others (a gather), those too."""
    for target in targets:
        if any(target is seen for seen in found) or depth > 50:
            continue
        found.append(target)
        if isinstance(target, (Task, asyncio.Task)):
            continue
        children = gather_children(target)
        if children is not None:
            _expand(view, tuple(children), found, depth + 1)
            continue
        owner = getattr(target, "_owner", None)
        if owner is not None:
            _expand(view, view.describe(target, owner, None).targets, found, depth + 1)


def task_waiter(task: Any) -> Any:
    """The future ``task`` is suspended on, or None."""
    if isinstance(task, Task):
        return task._fut_waiter
    return _compat.asyncio_task_waiter(task)


def gather_children(fut: Any) -> list[Any] | None:
    """The children of a ``gather()`` future (spindle's or asyncio's); None for others."""
    if isinstance(fut, api_tasks._GatheringFuture):
        return list(fut._children)
    return _compat.asyncio_gather_children(fut)


def group_tasks(group: Any) -> list[Any]:
    """The unfinished tasks of a TaskGroup (spindle's or asyncio's)."""
    if isinstance(group, TaskGroup):
        members = list(group._tasks)
    else:
        members = _compat.asyncio_taskgroup_tasks(group)
    return [task for task in members if not task.done()]


def _group_parents(fut: Any) -> list[Any]:
    """The parent task of the TaskGroup ``fut`` belongs to (read from its done-callback)."""
    parents = []
    callbacks = fut._callbacks if isinstance(fut, FutureCore) else []
    for callback, _ in callbacks:
        group = getattr(callback, "__self__", None)
        if isinstance(group, TaskGroup):
            parent = group._parent_task
        elif isinstance(group, asyncio.TaskGroup):
            parent = _compat.asyncio_taskgroup_parent(group)
        else:
            continue
        if parent is not None and not parent.done():
            parents.append(parent)
    return parents


def _settled_by(fut: Any) -> list[Any]:
    """Pending futures that asyncio's shield/wait_for/wait settle when ``fut`` is done."""
    if not isinstance(fut, FutureCore):
        return []
    found = []
    for callback, _ in fut._callbacks:
        for settled in _compat.asyncio_callback_futures(callback):
            if settled is not fut and not settled.done() and not isinstance(settled, Task):
                found.append(settled)
    return found


def _asyncio_owner(task: Any) -> Any:
    """The asyncio primitive ``task`` waits in, read from the frames of its await chain."""
    for frame in reversed(await_chain(task.get_coro())):
        if classify(frame.f_code.co_filename) is FrameKind.USER:
            return None
        owner = frame.f_locals.get("self")
        if isinstance(owner, _ASYNCIO_OWNERS):
            return owner
    return None


def _stream_peer(reader: Any) -> str | None:
    """The address at the other end of the stream ``reader`` reads, when it has one."""
    if isinstance(reader, streams_reader.StreamReader):
        transport = reader._transport
    else:
        transport = _compat.asyncio_stream_transport(reader)
    peer = None if transport is None else transport.get_extra_info("peername")
    if isinstance(peer, tuple) and len(peer) >= 2:
        return f"{peer[0]}:{peer[1]}"
    return None if peer is None else str(peer)


def _queue_wait(fut: Any, queue: Any, called: str) -> Wait:
    if isinstance(queue, queues.Queue):
        getters = list(queue._getters)
    else:
        getters = _compat.asyncio_queue_getters(queue)
    getting = any(getter is fut for getter in getters)
    size = queue.qsize()
    if getting:
        return Wait(WaitKind.QUEUE_GET, f"get() on Queue{called} (empty)")
    return Wait(WaitKind.QUEUE_PUT, f"put() on Queue{called} (full, {size} items)")


def _gather_wait(children: list[Any]) -> Wait:
    pending = tuple(child for child in children if not child.done())
    names = ", ".join(_future_name(child) for child in pending[:5])
    more = f", +{len(pending) - 5} more" if len(pending) > 5 else ""
    done = len(children) - len(pending)
    return Wait(
        WaitKind.GATHER,
        f"gather() of {_count(len(children), 'awaitable')}, {done} done; waiting for "
        f"{names}{more}",
        pending,
    )


def _future_name(fut: Any) -> str:
    if isinstance(fut, (Task, asyncio.Task)):
        return str(fut.get_name())
    return f"Future {id(fut):#x}"


def _future_text(fut: Any) -> str:
    """A future nothing more is known of: who would wake it is the program's business."""
    return f"{type(fut).__name__} {id(fut):#x} (pending; set by the program)"


def _state_of(obj: object) -> str:
    """The state a primitive shows in brackets in its repr: ``locked, waiters:1``.

    Only reprs written by spindle or asyncio are called (a subclass's own ``__repr__`` is the
    program's code, which is not run from here).
    """
    module = getattr(type(obj).__repr__, "__module__", "") or ""
    if not module.startswith(("spindle.", "asyncio.")):
        return type(obj).__name__
    text = repr(obj)
    start, end = text.rfind("["), text.rfind("]")
    if 0 <= start < end:
        return text[start + 1 : end].replace("waiters:", "waiting: ")
    return text


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _timers_by_future(loop: asyncio.AbstractEventLoop) -> dict[int, float]:
    """``id(future) -> deadline`` for the loop's timers that will complete a future."""
    queue = getattr(loop, "_timers", None)
    found: dict[int, float] = {}
    if not isinstance(queue, TimerQueue):
        return found
    timers = [(handle._deadline, handle) for handle in queue.handles()]
    # Timers already due wait in the ready queue for this pass: they end now.
    ready = getattr(loop, "_ready", ())
    timers += [(loop.time(), handle) for handle in list(ready) if isinstance(handle, TimerHandle)]
    for when, handle in timers:
        if handle._cancelled:
            continue
        for arg in getattr(handle, "_args", ()) or ():
            if isfuture(arg):
                found[id(arg)] = when
    return found


def _descriptors_by_future(loop: asyncio.AbstractEventLoop) -> dict[int, tuple[int, bool]]:
    """``id(future) -> (fd, writing)`` for the loop's socket waits (``sock_recv``, ...)."""
    table = getattr(loop, "_fd_handlers", None)
    found: dict[int, tuple[int, bool]] = {}
    if not isinstance(table, dict):
        return found
    for fd, pair in list(table.items()):
        for writing, handle in enumerate(list(pair)):
            for arg in getattr(handle, "_args", ()) or ():
                if isfuture(arg):
                    found[id(arg)] = (fd, bool(writing))
    return found
