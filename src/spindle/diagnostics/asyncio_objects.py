"""asyncio's own objects on spindle's loop, read through public introspection only.

A program run with ``python -m spindle`` calls asyncio's own gather, TaskGroup, shield, wait,
wait_for, as_completed, Queue, Lock and streams, and they run on spindle's loop.  The tasks
they make are spindle's (they ask ``loop.create_task``), but their bookkeeping lives in
asyncio's objects, under private names spindle does not read (the project's rule: asyncio's
loop-implementer hooks in ``spindle._compat``, no other private asyncio name).  What the task
dump and the call graph need is recovered from the other side, with public introspection:

* **A child's done-callbacks** sit in spindle's own slots, and asyncio registers there a
  closure over what the child settles (gather: its outer future and the list of its children;
  shield: its outer future; wait: its waiter), a ``functools.partial`` carrying it (wait_for on
  3.11), or a bound method of the object collecting it (a TaskGroup; as_completed's iterator on
  3.13).  ``__closure__`` cells, ``partial.args`` and ``__self__`` name those objects
  (``callback_refs``, ``Links``).
* **The waiting task's coroutine chain** (``cr_await``, ``gi_yieldfrom``) runs through
  asyncio's Python frames, whose ``self`` is the primitive: the Lock in ``Lock.acquire``, the
  Queue in ``Queue.get``, the TaskGroup in ``__aexit__`` (``library_frames``).  A TaskGroup whose
  body still runs is a local of the frame that entered it (``groups_held``).
* **A task of asyncio's own Task class** (made by a task factory) keeps the future it waits on
  private; its coroutine chain ends at that future's iterator: spindle's own (which says
  its future), or, for asyncio's C futures, a C iterator whose one referent is the future
  (``gc.get_referents``, the public way to ask a C object what it holds)
  (``innermost_future``).

What cannot be had this way is left out, and the text says what is shown instead:

* the socket under an asyncio StreamReader: spindle's own readers show the peer's address,
  asyncio's are shown by the name the program's frame gives them (``data from StreamReader
  reader``);
* the members of a gather or TaskGroup when they are tasks of asyncio's own Task class (their
  done-callbacks are private): the waiting task says so (``gather() (asyncio Tasks, not
  listed: ...)``), and each member still shows what it waits on, but not who waits for it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import gc
import types
from typing import Any

from spindle._core.awaiting import await_future
from spindle._core.futures import isfuture
from spindle._core.tasks import Task
from spindle.diagnostics.frames import FrameKind, classify

__all__ = [
    "PRIMITIVES",
    "Links",
    "asyncio_made",
    "await_chain",
    "callback_refs",
    "groups_held",
    "innermost_future",
    "is_asyncio_gather",
    "library_frames",
]

# asyncio's primitives, recognised as ``self`` of a frame in a task's await chain.
PRIMITIVES = (
    asyncio.Lock,
    asyncio.Event,
    asyncio.Condition,
    asyncio.Semaphore,
    asyncio.Barrier,
    asyncio.Queue,
    asyncio.StreamReader,
    asyncio.TaskGroup,
)


def asyncio_made(obj: object) -> bool:
    """True for functions, methods and objects defined by asyncio's own modules."""
    module = getattr(obj, "__module__", None)
    if not isinstance(module, str):
        return False
    return module == "asyncio" or module.startswith("asyncio.")


def is_asyncio_gather(fut: object) -> bool:
    """Whether ``fut`` is the outer future of asyncio's ``gather()``: the only subclass of
    asyncio.Future that asyncio's own code makes on a Unix loop (the other futures it needs
    come from ``loop.create_future()``, spindle's on spindle's loop)."""
    cls = type(fut)
    return (
        issubclass(cls, asyncio.Future)
        and cls is not asyncio.Future
        and not issubclass(cls, asyncio.Task)
        and asyncio_made(cls)
    )


def await_chain(coro: object) -> list[types.FrameType]:
    """The frames of ``coro`` and of everything it awaits, outermost first.

    Follows ``cr_await`` (coroutines), ``gi_yieldfrom`` (generators, ``Future.__await__``)
    and ``ag_await`` (async generators); stops at an object without frames (a C iterator, a
    compiled coroutine).
    """
    return [frame for _, frame in _links_of_chain(coro) if frame is not None]


def _links_of_chain(coro: object) -> list[tuple[object, types.FrameType | None]]:
    """Each object of ``coro``'s await chain with its frame (None for the last, frameless)."""
    links: list[tuple[object, types.FrameType | None]] = []
    while coro is not None and len(links) < 1000:
        frame = (
            getattr(coro, "cr_frame", None)
            or getattr(coro, "gi_frame", None)
            or getattr(coro, "ag_frame", None)
        )
        if not isinstance(frame, types.FrameType):
            links.append((coro, None))
            break
        links.append((coro, frame))
        coro = (
            getattr(coro, "cr_await", None)
            or getattr(coro, "gi_yieldfrom", None)
            or getattr(coro, "ag_await", None)
        )
    return links


# The code of spindle's ``await future`` steps (never compiled: it has a frame to read).
_AWAIT_FUTURE = await_future.__code__


def innermost_future(coro: object) -> Any:
    """The pending future at the bottom of ``coro``'s await chain, or None.

    For tasks whose class keeps its awaited future private (asyncio's own Task): the chain
    ends in the future's iterator.  spindle's is the interpreted ``await_future`` generator
    (in both builds), whose frame holds the future as ``future``; asyncio's pure-Python
    ``Future.__await__`` holds it as ``self``; asyncio's C iterator has that future as its
    single referent.  A chain that ends anywhere else (a bare ``yield``: the task only gives
    the loop a turn) waits on no future.
    """
    links = _links_of_chain(coro)
    if len(links) < 2:
        return None  # running, not started, or finished: it awaits nothing now
    last, frame = links[-1]
    if frame is not None:
        found = frame.f_locals.get("future" if frame.f_code is _AWAIT_FUTURE else "self")
    else:
        futures = [ref for ref in gc.get_referents(last) if isfuture(ref)]
        found = futures[0] if len(futures) == 1 else None
    return found if found is not None and isfuture(found) and not found.done() else None


def library_frames(coro: object) -> list[types.FrameType]:
    """The frames of ``coro``'s await chain below its innermost user frame, innermost first:
    the library code (asyncio's, spindle's) the task is waiting in."""
    found: list[types.FrameType] = []
    for frame in reversed(await_chain(coro)):
        if classify(frame.f_code.co_filename) is FrameKind.USER:
            break
        found.append(frame)
    return found


def groups_held(coro: object) -> list[Any]:
    """The asyncio TaskGroups held by the frames of ``coro``'s chain, as ``self`` or as a
    local: the groups whose ``async with`` the task may be inside (the caller tells the
    group's own members apart).  Types are tested with ``type()``, so that a program's proxy
    object runs no code of its own here."""
    found: list[Any] = []
    for frame in await_chain(coro):
        for value in list(frame.f_locals.values()):
            if issubclass(type(value), asyncio.TaskGroup) and not any(
                value is seen for seen in found
            ):
                found.append(value)
    return found


def callback_refs(callback: object) -> list[Any]:
    """The objects an asyncio done-callback refers to: what it settles when it runs.

    ``partial(fn, *args)`` gives its args, a bound method its ``__self__``, a closure its
    cells.  Callbacks that are not asyncio's (the program's, spindle's own) give nothing: what
    they do is their own business, and spindle's own primitives say it with ``_owner``.
    """
    found: list[Any] = []
    if isinstance(callback, functools.partial):
        found.extend(callback.args)
        callback = callback.func
    if not asyncio_made(callback):
        return []
    owner = getattr(callback, "__self__", None)
    if owner is not None and not isfuture(owner):  # a task's own wake-up settles nothing
        found.append(owner)
    for cell in getattr(callback, "__closure__", None) or ():
        try:
            found.append(cell.cell_contents)
        except ValueError:  # a cell not yet filled
            continue
    return found


@dataclasses.dataclass
class Links:
    """What the done-callbacks of a loop's pending spindle tasks say about asyncio's objects.

    ``settlers[id(obj)]``: the pending tasks whose asyncio callbacks refer to ``obj`` (a
    future they settle, a TaskGroup or as_completed iterator or queue they report to).
    ``gathered[id(outer)]``: the list of a gather's children, found as the closure cell that
    holds the child itself next to the outer future.  ``groups``: the asyncio TaskGroups
    among those objects.  ``held`` keeps every object named by a key alive while the links
    are in use, so an id is not reused meanwhile.
    """

    settlers: dict[int, list[Any]] = dataclasses.field(default_factory=dict)
    gathered: dict[int, list[Any]] = dataclasses.field(default_factory=dict)
    groups: set[int] = dataclasses.field(default_factory=set)
    held: list[object] = dataclasses.field(default_factory=list)

    @classmethod
    def of(cls, tasks: list[Any]) -> Links:
        links = cls()
        for task in tasks:
            if isinstance(task, Task) and not task.done():
                for callback, _ in task._callbacks:
                    refs = callback_refs(callback)
                    if refs:
                        links._add(task, refs)
        return links

    def _add(self, task: Any, refs: list[Any]) -> None:
        siblings = [r for r in refs if type(r) is list and any(x is task for x in r)]
        for ref in refs:
            if ref is task or isinstance(ref, asyncio.AbstractEventLoop):
                continue
            if not (isfuture(ref) or asyncio_made(type(ref))):
                continue  # counters, flags, lists: nothing a task waits on
            tasks = self.settlers.setdefault(id(ref), [])
            if not any(t is task for t in tasks):
                tasks.append(task)
            self.held.append(ref)
            if siblings and isfuture(ref):
                self.gathered[id(ref)] = list(siblings[0])
            elif isinstance(ref, asyncio.TaskGroup):
                self.groups.add(id(ref))

    def settled_by(self, obj: object) -> list[Any]:
        """The pending tasks whose asyncio callbacks report to ``obj``."""
        return [task for task in self.settlers.get(id(obj), ()) if not task.done()]
