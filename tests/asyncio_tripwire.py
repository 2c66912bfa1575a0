"""The run-time half of ``test_asyncio_seam.py``, run in a child process of its own.

asyncio is made to use its pure-Python Future and Task (the C accelerator ``_asyncio`` is
blocked before asyncio is imported), so that every object asyncio makes is an instance of a
Python class.  Each of those classes then records any private attribute read on one of its
instances by code in spindle's source.  The scenario builds what a program run with ``python
-m spindle`` builds: asyncio's gather, TaskGroup, shield, wait, wait_for, as_completed,
timeout, queues, locks and streams on spindle's loop, tasks of asyncio's own Task class (a
task factory), and the same on asyncio's own loop; then it takes the task dump (on the loop's
thread and from another thread, as ``ps`` does) and the call graph of every task, blocks the
loop inside asyncio's gather (the watchdog reports who awaits the blocked task) and records a
timeline (``SPINDLE_TIMELINE``, set by the test).  It prints one line of JSON: the reads it
saw, and what the dump and the graph showed.
"""

from __future__ import annotations

import sys

sys.modules["_asyncio"] = None  # type: ignore[assignment]  # asyncio's pure-Python classes

import asyncio  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from typing import Any  # noqa: E402

import spindle  # noqa: E402
from spindle import diagnostics  # noqa: E402
from spindle.diagnostics.dump import format_dump  # noqa: E402

SPINDLE_DIR = os.path.dirname(os.path.abspath(spindle.__file__)) + os.sep
PROTOCOL = "_asyncio_future_blocking"  # asyncio's documented future protocol (isfuture)
reads: list[str] = []


def record_private_reads(cls: type, original: Any) -> None:
    """Make ``cls`` note each private attribute read that spindle's code makes on an object
    of asyncio's own (not on spindle's objects whose classes derive from asyncio's).
    ``original``: the class's attribute lookup before any class was changed."""

    def __getattribute__(self: object, name: str) -> Any:
        if name[:1] == "_" and name[-2:] != "__" and name != PROTOCOL:
            caller = sys._getframe(1)
            where = caller.f_code.co_filename
            if where.startswith(SPINDLE_DIR) and type(self).__module__.startswith("asyncio"):
                reads.append(f"{type(self).__qualname__}.{name} at {where}:{caller.f_lineno}")
        return original(self, name)

    cls.__getattribute__ = __getattribute__  # type: ignore[method-assign]


def asyncio_classes() -> list[type]:
    found: dict[int, type] = {}
    for name, module in list(sys.modules.items()):
        if module is None or not (name == "asyncio" or name.startswith("asyncio.")):
            continue
        for value in vars(module).values():
            if isinstance(value, type) and value.__module__.startswith("asyncio"):
                found[id(value)] = value
    return list(found.values())


async def sleeper() -> None:
    await asyncio.sleep(3600)


def asyncio_tasks(loop: Any, coro: Any, **kwargs: Any) -> asyncio.Task[Any]:
    return asyncio.Task(coro, loop=loop, **kwargs)


async def via(kind: str) -> None:
    """Wait for a child task (named ``child-`` + this task's name) through ``kind``."""
    loop = asyncio.get_running_loop()
    me = asyncio.current_task()
    assert me is not None
    name = f"child-{me.get_name()}"
    child = loop.create_task(sleeper(), name=name)
    if kind == "gather":
        await asyncio.gather(child, asyncio.sleep(3600))
    elif kind == "shield":
        await asyncio.shield(child)
    elif kind == "wait_for":
        await asyncio.wait_for(child, 3600)
    elif kind == "wait":
        await asyncio.wait([child])
    elif kind == "as_completed":
        for next_done in asyncio.as_completed([child]):
            await next_done
    elif kind == "timeout":
        async with asyncio.timeout(3600):
            await child
    elif kind == "await":
        await child
    elif kind == "tg-exit":
        child.cancel()
        async with asyncio.TaskGroup() as tg:
            tg.create_task(sleeper(), name=name)
    elif kind == "tg-body":
        child.cancel()
        async with asyncio.TaskGroup() as tg:
            tg.create_task(sleeper(), name=name)
            await asyncio.sleep(3600)


KINDS = ["gather", "shield", "wait_for", "wait", "as_completed", "timeout", "tg-exit", "tg-body"]
ASYNCIO_TASK_KINDS = ["await", "gather", "tg-exit", "shield"]
STOCK_KINDS = ["gather", "shield", "wait", "tg-exit", "await"]


async def primitives(reader: asyncio.StreamReader) -> list[asyncio.Task[Any]]:
    lock = asyncio.Lock()
    await lock.acquire()
    event = asyncio.Event()
    condition = asyncio.Condition()
    semaphore = asyncio.Semaphore(0)
    barrier = asyncio.Barrier(2)
    empty: asyncio.Queue[int] = asyncio.Queue()
    full: asyncio.Queue[int] = asyncio.Queue(maxsize=1)
    full.put_nowait(0)

    async def in_condition() -> None:
        async with condition:
            await condition.wait()

    waits = {
        "lock": lock.acquire(),
        "event": event.wait(),
        "condition": in_condition(),
        "semaphore": semaphore.acquire(),
        "barrier": barrier.wait(),
        "get": empty.get(),
        "put": full.put(1),
        "read": reader.read(1),
    }
    loop = asyncio.get_running_loop()
    return [loop.create_task(coro, name=name) for name, coro in waits.items()]


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


def dump_from_another_thread(loop: asyncio.AbstractEventLoop) -> str:
    """The dump as ``ps`` takes it: from a thread of its own, the loop's thread blocked."""
    out: list[str] = []
    thread = threading.Thread(target=lambda: out.append(format_dump([loop])))
    thread.start()
    thread.join()  # the loop's thread waits here: a blocked loop, as ps may find it
    return out[0]


def graph_edges() -> dict[str, list[str]]:
    edges = {}
    for task in asyncio.all_tasks():
        if task.get_name().startswith("child-"):
            graph = spindle.capture_call_graph(task)
            assert graph is not None
            edges[task.get_name()] = sorted(
                parent.future.get_name()  # type: ignore[union-attr]
                for parent in graph.awaited_by
            )
    return edges


async def blocker() -> None:
    time.sleep(0.3)  # holds the loop: the watchdog reports it, with who awaits this task


async def blocking_parent() -> None:
    await asyncio.gather(blocker())


async def finish(extra: list[Any]) -> None:
    rest = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    for task in rest:
        task.cancel()
    await asyncio.gather(*rest, return_exceptions=True)
    for closing in extra:
        closing.close()


async def on_spindles_loop() -> tuple[str, dict[str, list[str]]]:
    loop = asyncio.get_running_loop()
    accepted: list[asyncio.StreamWriter] = []
    server = await asyncio.start_server(lambda r, w: accepted.append(w), "127.0.0.1", 0)
    reader, writer = await asyncio.open_connection("127.0.0.1", server.sockets[0].getsockname()[1])
    tasks = [loop.create_task(via(kind), name=f"body-{kind}") for kind in KINDS]
    tasks += await primitives(reader)
    loop.set_task_factory(asyncio_tasks)  # tasks of asyncio's own class (their children not)
    tasks += [loop.create_task(via(k), name=f"asyncio-task-{k}") for k in ASYNCIO_TASK_KINDS]
    loop.set_task_factory(None)
    await settle()
    text = io.StringIO()
    diagnostics.dump_tasks(file=text)
    dump = text.getvalue() + dump_from_another_thread(loop)
    edges = graph_edges()
    await loop.create_task(blocking_parent(), name="blocking-parent")
    await finish([writer, *accepted, server])
    assert all(task.done() for task in tasks)
    return dump, edges


async def on_asyncios_loop() -> str:
    loop = asyncio.get_running_loop()
    tasks = [loop.create_task(via(kind), name=f"stock-{kind}") for kind in STOCK_KINDS]
    await settle()
    text = io.StringIO()
    diagnostics.dump_tasks(file=text)
    for task in asyncio.all_tasks():
        spindle.format_call_graph(task)
    await finish([])
    assert all(task.done() for task in tasks)
    return text.getvalue()


SPINDLE_LOOP_BODIES = [f"body-{k}" for k in KINDS] + [
    f"asyncio-task-{k}" for k in ASYNCIO_TASK_KINDS
]
EXPECTED_IN_DUMP = [
    "gather() of 2 awaitables, 0 done; waiting for child-body-gather",
    "shield(task child-body-shield)",
    "wait() for 1 future",
    "as_completed(): 1 not done",
    "the end of its TaskGroup's 1 task",
    "Lock (locked, waiting: 1)",
    "Event (unset, waiting: 1)",
    "get() on Queue (empty)",
    "put() on Queue (full, 1 items)",
    "data from StreamReader",
    "asyncio-task-await via(kind='await'): waiting",
    "stock-gather via(kind='gather'): waiting",
]
# Each body's child is awaited by that body alone.
EXPECTED_EDGES = {f"child-{body}": [body] for body in SPINDLE_LOOP_BODIES}


def main() -> None:
    classes = asyncio_classes()
    originals = [cls.__getattribute__ for cls in classes]  # before any is changed
    for cls, original in zip(classes, originals, strict=True):
        record_private_reads(cls, original)
    dump, edges = spindle.run(on_spindles_loop())
    # asyncio's own loop, under spindle's runner: its diagnostics session runs on it too.
    with spindle.Runner(loop_factory=asyncio.new_event_loop) as runner:
        dump += runner.run(on_asyncios_loop())
    report = {
        "reads": sorted(set(reads)),
        "pure_python_asyncio": asyncio.Task.__module__ == "asyncio.tasks",
        "dump": dump,
        "expected_in_dump": EXPECTED_IN_DUMP,
        "graph_edges": edges,
        "expected_edges": EXPECTED_EDGES,
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
