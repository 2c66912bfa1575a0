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
* asyncio's own objects running on spindle's loop (an ``asyncio.Lock``, gather or TaskGroup
  in a program run with ``python -m spindle``) are read with public introspection only: the
  task's await chain (asyncio's Python frames, with the primitive as ``self``) and the
  done-callbacks asyncio leaves on spindle's tasks (``asyncio_objects``);
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

from spindle import locks, queues, subprocess
from spindle import tasks as api_tasks
from spindle._core.futures import FutureCore, isfuture
from spindle._core.handles import TimerHandle
from spindle._core.scheduler import Scheduler
from spindle._core.tasks import Task
from spindle._io.readiness import ReadinessLoop
from spindle.diagnostics import asyncio_objects
from spindle.diagnostics.asyncio_objects import PRIMITIVES, Links, await_chain
from spindle.streams import flow_control as streams_flow
from spindle.streams import reader as streams_reader
from spindle.taskgroups import TaskGroup

__all__ = [
    "LoopView",
    "Wait",
    "WaitKind",
    "await_chain",
    "declared_awaiters",
    "name_in",
    "owner_of",
    "task_waiter",
]


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


class LoopView:
    """One reading of a loop's tasks, timers and descriptors, to describe waits from."""

    def __init__(self, loop: asyncio.AbstractEventLoop, tasks: list[Any]) -> None:
        self.loop = loop
        self.tasks = tasks
        self._links = Links.of(tasks)
        self._groups = _spindle_groups(tasks)
        self._timers = _timers_by_future(loop)
        self._descriptors = _descriptors_by_future(loop)
        self._targets: dict[int, tuple[Any, ...]] = {}  # what each task's wait stands for
        self._reached: dict[int, list[Any]] = {}

    # -- what a task waits on ------------------------------------------------------------

    def wait_of(self, task: Any, user_frame: types.FrameType | None = None) -> Wait | None:
        """What ``task`` waits on; None when it waits on nothing (running, or ready)."""
        wait = self._wait_of(task, user_frame)
        self._targets[id(task)] = () if wait is None else wait.targets
        return wait

    def _wait_of(self, task: Any, user_frame: types.FrameType | None) -> Wait | None:
        waiter = task_waiter(task)
        if waiter is None:
            return None
        owner = owner_of(waiter)
        if owner is not None or self._speaks_for_itself(waiter):
            return self.describe(waiter, owner, user_frame)
        # Not one of spindle's primitives: maybe asyncio's, seen in the task's await chain.
        frames = asyncio_objects.library_frames(task.get_coro())
        selves = [(frame.f_locals.get("self"), frame) for frame in frames]
        for obj, _ in selves:
            if obj is None or isfuture(obj) or isinstance(obj, asyncio.TaskGroup):
                continue
            reporting = self._links.settled_by(obj)
            if reporting:
                # Only as_completed() has its tasks report to an object its consumer reads
                # (a Queue on 3.11 and 3.12, its iterator on 3.13).
                return _as_completed_wait(reporting)
        for obj, frame in selves:
            if isinstance(obj, PRIMITIVES):
                return self.describe(waiter, obj, user_frame, frame.f_code.co_name)
        in_wait = any(frame.f_code is _ASYNCIO_WAIT_CODE for frame in frames)
        return self.describe(waiter, None, user_frame, in_wait=in_wait)

    def describe(
        self,
        fut: Any,
        owner: Any,
        user_frame: types.FrameType | None,
        method: str | None = None,
        *,
        in_wait: bool = False,
    ) -> Wait:
        """The ``Wait`` that ``fut`` (made by ``owner``, None if unknown) stands for.

        ``method``: the asyncio method the task waits in (``get`` of an asyncio Queue);
        ``in_wait``: the task is inside asyncio's ``wait()``.
        """
        if isinstance(fut, (Task, asyncio.Task)):
            return Wait(WaitKind.TASK, f"task {fut.get_name()}", (fut,))
        children = self.gather_children(fut)
        if children is not None:
            return _gather_wait(children)
        if owner is not None:
            described = self._describe_owner(fut, owner, user_frame, method)
            if described is not None:
                return described
        shielded = _shielded_by_asyncio(fut)
        if shielded is not None:
            inner = self.describe(shielded, owner_of(shielded), user_frame)
            return Wait(WaitKind.SHIELD, f"shield({inner.text})", (shielded,))
        settlers = self._links.settled_by(fut)
        if settlers:
            return _settled_wait(settlers, in_wait)
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
        if asyncio_objects.is_asyncio_gather(fut):
            return Wait(WaitKind.GATHER, f"gather() ({_HIDDEN})")
        return Wait(WaitKind.FUTURE, _future_text(fut))

    def _describe_owner(
        self, fut: Any, owner: Any, user_frame: types.FrameType | None, method: str | None
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
        if isinstance(owner, queues.Queue):
            return _queue_wait(owner, called, any(g is fut for g in list(owner._getters)))
        if isinstance(owner, asyncio.Queue):
            return _queue_wait(owner, called, method == "get")
        if isinstance(owner, (TaskGroup, asyncio.TaskGroup)):
            members = tuple(self.group_members(owner))
            if not members and isinstance(owner, asyncio.TaskGroup):
                return Wait(WaitKind.TASK_GROUP, f"the end of its TaskGroup's tasks ({_HIDDEN})")
            return Wait(
                WaitKind.TASK_GROUP,
                f"the end of its TaskGroup's {_count(len(members), 'task')}",
                members,
            )
        if isinstance(owner, streams_reader.StreamReader):
            peer = _stream_peer(owner)
            return Wait(WaitKind.STREAM_READ, f"data from a stream{f' ({peer})' if peer else ''}")
        if isinstance(owner, asyncio.StreamReader):
            # asyncio's reader keeps its transport private: the peer's address is not shown,
            # the reader is named as the program's frame names it.
            return Wait(WaitKind.STREAM_READ, f"data from StreamReader{called}")
        if isinstance(owner, streams_flow.FlowControlMixin):
            return Wait(WaitKind.DRAIN, "drain(): the peer to read what was written")
        if isinstance(owner, subprocess.Process):
            return Wait(WaitKind.PROCESS, f"process {owner.pid} to exit")
        if isinstance(owner, api_tasks._AsCompleted):
            return _as_completed_wait([f for f in list(owner._todo) if not f.done()])
        if isinstance(owner, (set, frozenset)):
            pending = tuple(f for f in list(owner) if isfuture(f) and not f.done())
            return Wait(WaitKind.WAIT, f"wait() for {_count(len(pending), 'future')}", pending)
        if isfuture(owner):
            inner = self.describe(owner, None, user_frame)
            return Wait(WaitKind.SHIELD, f"shield({inner.text})", (owner,))
        return None

    def _speaks_for_itself(self, waiter: Any) -> bool:
        """A task or a gather needs no look at the frames of the task awaiting it."""
        return isinstance(waiter, (Task, asyncio.Task)) or self.gather_children(waiter) is not None

    # -- the pieces a wait is made of ------------------------------------------------------

    def gather_children(self, fut: Any) -> list[Any] | None:
        """The children of a ``gather()`` future (spindle's or asyncio's); None for others."""
        if isinstance(fut, api_tasks._GatheringFuture):
            return list(fut._children)
        found = self._links.gathered.get(id(fut))
        return None if found is None else list(found)

    def group_members(self, group: Any) -> list[Any]:
        """The unfinished tasks of a TaskGroup (spindle's, or asyncio's: those whose
        done-callback reports to it)."""
        if isinstance(group, TaskGroup):
            return [task for task in list(group._tasks) if not task.done()]
        return self._links.settled_by(group)

    def _groups_led_by(self, task: Any) -> list[Any]:
        """The TaskGroups ``task`` entered and has not left: their tasks are its children,
        while its body still runs as well as once it waits in ``__aexit__``.

        spindle's groups say who entered them; an asyncio group (which keeps that private) is
        taken to be led by a task that holds it in its frames and is not one of its members.
        Only groups with a task pending are looked for, so frames are read only when the loop
        has such an asyncio group.
        """
        led = [g for g in self._groups if g._parent_task is task]
        if self._links.groups:
            for group in asyncio_objects.groups_held(task.get_coro()):
                if id(group) in self._links.groups and not any(
                    member is task for member in self._links.settled_by(group)
                ):
                    led.append(group)  # held, and not as one of its members: the one in the body
        return led

    # -- who waits on a future -------------------------------------------------------------

    def _reach(self, task: Any) -> list[Any]:
        """Every future and task ``task`` waits for, through gathers, groups and shields."""
        cached = self._reached.get(id(task))
        if cached is not None:
            return cached
        found: list[Any] = []
        waiter = task_waiter(task)
        if waiter is not None:
            found.append(waiter)
            targets = self._targets.get(id(task))
            if targets is None:
                self.wait_of(task)
                targets = self._targets[id(task)]
            self._expand(targets, found, depth=0)
        for group in self._groups_led_by(task):
            self._expand(tuple(self.group_members(group)), found, depth=0)
        self._reached[id(task)] = found
        return found

    def _expand(self, targets: tuple[Any, ...], found: list[Any], depth: int) -> None:
        """Add ``targets`` and, for those that stand for others (a gather), those too."""
        for target in targets:
            if depth > 50 or any(target is seen for seen in found):
                continue
            found.append(target)
            if isinstance(target, (Task, asyncio.Task)) or not isfuture(target):
                continue
            self._expand(self.describe(target, owner_of(target), None).targets, found, depth + 1)

    def awaiters(self, fut: Any) -> list[Any]:
        """The tasks and futures that wait on ``fut`` (Python 3.14's ``awaited_by``)."""
        found = [t for t in self.tasks if t is not fut and any(f is fut for f in self._reach(t))]
        for waiter in declared_awaiters(fut) or ():
            if not any(waiter is seen for seen in found):
                found.append(waiter)
        return found

    def awaited(self, task: Any) -> list[Any]:
        """The tasks ``task`` waits for (its children in the call tree), in order."""
        return [
            f for f in self._reach(task) if isinstance(f, (Task, asyncio.Task)) and f is not task
        ]


# What a wait says when the tasks behind it are of asyncio's own Task class (a task factory):
# their done-callbacks, which would name them, are private to asyncio.
_HIDDEN = "asyncio Tasks, not listed: asyncio keeps them private"

# The code of asyncio's public ``wait()``: a task running it waits for the futures it was given.
_ASYNCIO_WAIT_CODE = getattr(asyncio.wait, "__code__", None)


def task_waiter(task: Any) -> Any:
    """The future ``task`` is suspended on, or None.

    spindle's Task says it (``_fut_waiter``); a task of another class (asyncio's own, from a
    task factory) is read from its coroutine chain.
    """
    if isinstance(task, Task):
        return task._fut_waiter
    if task.done():
        return None
    return asyncio_objects.innermost_future(task.get_coro())


def owner_of(fut: Any) -> Any:
    """What made spindle's future ``fut`` (its ``_owner``, unset on most); None for others."""
    return getattr(fut, "_owner", None) if isinstance(fut, FutureCore) else None


def _spindle_groups(tasks: list[Any]) -> list[TaskGroup]:
    """spindle's TaskGroups with a pending task (found by the group's done-callback on it)."""
    found: list[TaskGroup] = []
    for task in tasks:
        if isinstance(task, Task):
            for callback, _ in task._callbacks:
                group = getattr(callback, "__self__", None)
                if isinstance(group, TaskGroup) and not any(group is g for g in found):
                    found.append(group)
    return found


def _shielded_by_asyncio(fut: Any) -> Any:
    """The future asyncio's ``shield()`` protects behind ``fut``, its outer future; or None.

    shield() is the one asyncio function that puts its own callback on the future the caller
    awaits: a closure over the inner future, to forget it when the outer one is cancelled.
    """
    if not isinstance(fut, FutureCore):
        return None
    for callback, _ in fut._callbacks:
        for ref in asyncio_objects.callback_refs(callback):
            if ref is not fut and isfuture(ref) and not ref.done():
                return ref
    return None


def _settled_wait(settlers: list[Any], in_wait: bool) -> Wait:
    """A future that asyncio's wait() or wait_for() (3.11) settles when ``settlers`` finish."""
    if in_wait or len(settlers) > 1:
        return Wait(WaitKind.WAIT, f"wait() for {_count(len(settlers), 'future')}", tuple(settlers))
    return Wait(WaitKind.TASK, f"task {settlers[0].get_name()}", (settlers[0],))


def _as_completed_wait(pending: list[Any]) -> Wait:
    return Wait(WaitKind.AS_COMPLETED, f"as_completed(): {len(pending)} not done", tuple(pending))


def _stream_peer(reader: streams_reader.StreamReader) -> str | None:
    """The address at the other end of the stream ``reader`` reads, when it has one."""
    transport = reader._transport
    peer = None if transport is None else transport.get_extra_info("peername")
    if isinstance(peer, tuple) and len(peer) >= 2:
        return f"{peer[0]}:{peer[1]}"
    return None if peer is None else str(peer)


def _queue_wait(queue: Any, called: str, getting: bool) -> Wait:
    if getting:
        return Wait(WaitKind.QUEUE_GET, f"get() on Queue{called} (empty)")
    return Wait(WaitKind.QUEUE_PUT, f"put() on Queue{called} (full, {queue.qsize()} items)")


def _gather_wait(children: list[Any]) -> Wait:
    pending = tuple(child for child in children if not child.done())
    names = ", ".join(_future_name(child) for child in pending[:5])
    more = f", +{len(pending) - 5} more" if len(pending) > 5 else ""
    done = len(children) - len(pending)
    return Wait(
        WaitKind.GATHER,
        f"gather() of {_count(len(children), 'awaitable')}, {done} done; waiting for {names}{more}",
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
    """``id(future) -> deadline`` for the loop's timers that will complete a future.

    Only spindle's loop is read (its timer queue and ready queue are its own); another loop's
    sleeps are described as plain futures.
    """
    found: dict[int, float] = {}
    if not isinstance(loop, Scheduler):
        return found
    timers = [(handle._deadline, handle) for handle in loop._timers.handles()]
    # Timers already due wait in the ready queue for this pass: they end now.
    now = loop.time()
    timers += [(now, handle) for handle in list(loop._ready) if isinstance(handle, TimerHandle)]
    for when, handle in timers:
        if handle._cancelled:
            continue
        for arg in handle._args or ():
            if isfuture(arg):
                found[id(arg)] = when
    return found


def _descriptors_by_future(loop: asyncio.AbstractEventLoop) -> dict[int, tuple[int, bool]]:
    """``id(future) -> (fd, writing)`` for the loop's socket waits (``sock_recv``, ...)."""
    found: dict[int, tuple[int, bool]] = {}
    if not isinstance(loop, ReadinessLoop):
        return found
    for fd, pair in list(loop._fd_handlers.items()):
        for writing, handle in enumerate(list(pair)):
            for arg in (handle._args or ()) if handle is not None else ():
                if isfuture(arg):
                    found[id(arg)] = (fd, bool(writing))
    return found
