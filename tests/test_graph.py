"""The call-graph API (Python 3.14's asyncio.graph names and shapes) on spindle.

Each test builds a real graph of tasks, suspends them, and checks who is awaited by whom,
through gather, TaskGroup, shield, wait_for, timeouts, wait and as_completed, with spindle's
functions and with asyncio's own functions running on spindle's loop.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

import spindle
from spindle import FutureCallGraph, capture_call_graph, format_call_graph


def names(graph: FutureCallGraph | None) -> list[Any]:
    """The graph as nested names: [name, [awaiter graphs...]]."""
    assert graph is not None
    future = graph.future
    name = future.get_name() if isinstance(future, (spindle.Task, asyncio.Task)) else "Future"
    return [name, [names(parent) for parent in graph.awaited_by]]


def functions(graph: FutureCallGraph | None) -> list[str]:
    assert graph is not None
    return [entry.frame.f_code.co_name for entry in graph.call_stack]


Body = Callable[[Any], Coroutine[Any, Any, Any]]


def run_and_capture(mod: Any, body: Body, child: str = "child") -> list[Any]:
    """Run ``body(mod)`` on spindle's loop; capture the graph of the task named ``child``."""
    captured: list[Any] = []

    async def main() -> None:
        task = asyncio.ensure_future(body(mod))
        task.set_name("body")
        for _ in range(5):
            await asyncio.sleep(0)
        target = next(t for t in asyncio.all_tasks() if t.get_name() == child)
        captured.append(names(capture_call_graph(target)))
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    spindle.run(main())
    return captured[0]


async def sleeper() -> None:
    await asyncio.sleep(3600)


def spawn(mod: Any) -> Any:
    return mod.ensure_future(sleeper()) if mod is asyncio else mod.create_task(sleeper())


async def via_gather(mod: Any) -> None:
    child = spawn(mod)
    child.set_name("child")
    await mod.gather(child, mod.sleep(3600))


async def via_taskgroup(mod: Any) -> None:
    async with mod.TaskGroup() as tg:
        tg.create_task(sleeper(), name="child")
        await mod.sleep(3600)  # the body still runs: the child is the group's all the same


async def via_shield(mod: Any) -> None:
    child = spawn(mod)
    child.set_name("child")
    await mod.shield(child)


async def via_wait_for(mod: Any) -> None:
    child = spawn(mod)
    child.set_name("child")
    await mod.wait_for(child, 3600)


async def via_timeout(mod: Any) -> None:
    child = spawn(mod)
    child.set_name("child")
    async with mod.timeout(3600):
        await child


async def via_wait(mod: Any) -> None:
    child = spawn(mod)
    child.set_name("child")
    await mod.wait([child])


@pytest.mark.parametrize("mod", [spindle, asyncio], ids=["spindle", "asyncio"])
@pytest.mark.parametrize(
    "body", [via_gather, via_taskgroup, via_shield, via_wait_for, via_timeout, via_wait]
)
def test_a_child_is_awaited_by_the_task_that_waits_for_it(mod: Any, body: Body) -> None:
    assert run_and_capture(mod, body) == ["child", [["body", []]]]


def test_as_completed_children_are_awaited_by_the_consumer() -> None:
    async def consume(mod: Any) -> None:
        child = spawn(mod)
        child.set_name("child")
        for next_done in mod.as_completed([child]):
            await next_done

    assert run_and_capture(spindle, consume) == ["child", [["body", []]]]


def test_a_cycle_is_drawn_once_round() -> None:
    async def main() -> list[Any]:
        loop = asyncio.get_running_loop()
        first, second = loop.create_future(), loop.create_future()
        spindle.future_add_to_awaited_by(first, second)
        spindle.future_add_to_awaited_by(second, first)
        return names(capture_call_graph(first))

    assert spindle.run(main()) == ["Future", [["Future", []]]]


def test_the_current_task_graph_starts_at_the_caller() -> None:
    async def inner() -> FutureCallGraph | None:
        return capture_call_graph()

    async def child() -> FutureCallGraph | None:
        return await inner()

    async def main() -> tuple[list[Any], list[str], str]:
        graph = await asyncio.create_task(child(), name="child")
        me = asyncio.current_task()
        assert me is not None
        return names(graph), functions(graph), me.get_name()

    graph, stack, main_name = spindle.run(main())
    assert graph == ["child", [[main_name, []]]]
    assert stack == ["inner", "child"]


def test_limit_keeps_the_entries_nearest_the_entry_point() -> None:
    async def leaf() -> None:
        await asyncio.sleep(3600)

    async def middle() -> None:
        await leaf()

    async def main() -> tuple[list[str], list[str], list[str]]:
        task = asyncio.create_task(middle(), name="t")
        await asyncio.sleep(0)
        results = (
            functions(capture_call_graph(task)),
            functions(capture_call_graph(task, limit=1)),
            functions(capture_call_graph(task, limit=-1)),
        )
        assert capture_call_graph(task, limit=0).call_stack == ()  # type: ignore[union-attr]
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return results

    whole, first, last = spindle.run(main())
    assert whole[-2:] == ["leaf", "middle"]
    assert first == ["middle"]
    assert last == whole[:1]


async def _child() -> None:
    await asyncio.sleep(3600)


async def _parent(task: Any) -> None:
    await task


def test_format_call_graph_reads_as_python_3_14s() -> None:
    async def main() -> str:
        task = asyncio.create_task(_child(), name="child")
        parent = asyncio.create_task(_parent(task), name="parent")
        await asyncio.sleep(0)
        out = io.StringIO()
        spindle.print_call_graph(task, file=out, limit=1)
        assert out.getvalue() == format_call_graph(task, limit=1) + "\n"
        text = format_call_graph(task, limit=1)
        parent.cancel()
        await asyncio.gather(task, parent, return_exceptions=True)
        return text.replace(f"{id(task):#x}", "ID").replace(f"{id(parent):#x}", "PARENT")

    child_code, parent_code = _child.__code__, _parent.__code__
    assert spindle.run(main()) == "\n".join(
        [
            "* Task(name='child', id=ID)",
            "  + Call stack:",
            f"  |   File {__file__!r}, line {child_code.co_firstlineno + 1}, in async _child()",
            "  + Awaited by:",
            "    * Task(name='parent', id=PARENT)",
            "      + Call stack:",
            f"      |   File {__file__!r}, line {parent_code.co_firstlineno + 1}, in async "
            "_parent()",
        ]
    )


def test_declared_awaiters_are_in_the_graph_until_discarded() -> None:
    async def main() -> tuple[list[Any], list[Any]]:
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        waiter = loop.create_future()
        spindle.future_add_to_awaited_by(fut, waiter)
        spindle.future_add_to_awaited_by(fut, waiter)  # once is enough
        before = names(capture_call_graph(fut))
        spindle.future_discard_from_awaited_by(fut, waiter)
        after = names(capture_call_graph(fut))
        return before, after

    assert spindle.run(main()) == (["Future", [["Future", []]]], ["Future", []])


def test_a_non_future_is_refused_and_no_task_gives_none() -> None:
    with pytest.raises(TypeError, match=r"does not appear to be compatible with asyncio\.Future"):
        capture_call_graph(object())  # type: ignore[arg-type]
    with pytest.raises(RuntimeError, match="outside of a running event loop"):
        capture_call_graph()
    assert format_call_graph.__name__ == "format_call_graph"
