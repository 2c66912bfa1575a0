"""The two builds of spindle: what the compiled one compiled, and weak references in both.

The compiled build (``setup.py``, mypyc) turns the modules in ``compiled_modules.txt`` into
native code; the pure build runs the same sources as Python.  The test command builds and
tests the compiled one and sets ``SPINDLE_EXPECT_COMPILED=1``, so a build that quietly fell
back to pure Python fails here instead of passing as if it were compiled.
"""

from __future__ import annotations

import ast
import importlib
import os
import subprocess
import sys
import textwrap
import weakref
from importlib import resources

import pytest

import spindle


def listed_modules() -> list[str]:
    text = resources.files("spindle").joinpath("compiled_modules.txt").read_text()
    return [line.split("#")[0].strip() for line in text.splitlines() if line.split("#")[0].strip()]


def test_every_listed_module_is_built_the_same_way() -> None:
    # All compiled or all pure: a half-compiled spindle is never installed.
    kinds = {
        name: not importlib.import_module(name).__file__.endswith(".py")  # type: ignore[union-attr]
        for name in listed_modules()
    }
    assert set(kinds.values()) == {spindle.COMPILED}, kinds


def test_the_compiled_modules_write_no_raise_from() -> None:
    # mypyc compiles ``raise X from Y`` as ``raise X``: the cause is lost, and ``from None``
    # no longer hides the exception being handled.  Those modules use from_none() instead.
    found = []
    for name in listed_modules():
        source = resources.files("spindle").joinpath(*name.split(".")[1:]).with_suffix(".py")
        tree = ast.parse(source.read_text())
        found += [
            f"{name}:{node.lineno}"
            for node in ast.walk(tree)
            if isinstance(node, ast.Raise) and node.cause is not None
        ]
    assert not found, f"raise ... from in compiled modules (use from_none): {found}"


# A compiled coroutine passes a cancellation on to what it awaits with throw(type, value,
# traceback), which Python 3.12 deprecates (a DeprecationWarning in the program's output): the
# compiled modules define none but these.
COMPILED_COROUTINES = {
    # The task's runner: by design (_core/taskcore.py); its throws go through an interpreted
    # function (_core/resuming.py).
    "spindle._core.taskcore:_drive",
    # Cancelled only by a program that cancels the loop's own shutdown.
    "spindle._core.loop:shutdown_asyncgens",
    "spindle._core.loop:shutdown_default_executor",
}


def test_the_compiled_modules_define_no_other_coroutine() -> None:
    found = set()
    for name in listed_modules():
        source = resources.files("spindle").joinpath(*name.split(".")[1:]).with_suffix(".py")
        tree = ast.parse(source.read_text())
        found |= {
            f"{name}:{node.name}"
            for node in ast.walk(tree)
            if isinstance(node, ast.AsyncFunctionDef)
        }
    assert found == COMPILED_COROUTINES


def test_an_error_raised_from_none_hides_the_one_being_handled_in_both_builds() -> None:
    class Uninitialised(spindle.Future):
        def __init__(self) -> None:  # asyncio's tests make such futures
            pass

    with pytest.raises(RuntimeError, match="not initialized") as raised:
        Uninitialised().get_loop()
    assert raised.value.__suppress_context__ and raised.value.__cause__ is None


@pytest.mark.skipif(
    os.environ.get("SPINDLE_EXPECT_COMPILED") != "1",
    reason="SPINDLE_EXPECT_COMPILED=1 is set by the test command for the compiled build",
)
def test_the_compiled_build_is_the_one_running() -> None:
    assert spindle.COMPILED


def test_futures_tasks_and_loops_take_weak_references() -> None:
    # spindle's futures and tasks are native classes in the compiled build, and mypyc's native
    # classes do not clear weak references when they die: the classes users hold (Future,
    # Task) are Python subclasses whose weak-reference slot the interpreter owns.
    loop = spindle.new_event_loop()
    try:
        future = loop.create_future()
        assert weakref.ref(future)() is future
        assert isinstance(future, spindle.Future)

        async def nothing() -> None:
            pass

        task = loop.create_task(nothing())
        assert weakref.ref(task)() is task
        assert isinstance(task, spindle.Future)
        assert weakref.ref(loop)() is loop
        loop.run_until_complete(task)
        future_ref = weakref.ref(future)
        del future
        assert future_ref() is None
    finally:
        loop.close()


CHURN = """
import asyncio, gc, sys, weakref
import spindle

by_task = weakref.WeakKeyDictionary()
by_loop = weakref.WeakKeyDictionary()
callbacks = []

async def child(i):
    await asyncio.sleep(0)
    return i

async def main(n):
    loop = asyncio.get_running_loop()
    by_loop[loop] = "loop"
    for start in range(0, n, 1000):
        tasks = [loop.create_task(child(i)) for i in range(start, start + 1000)]
        refs = [weakref.ref(t, callbacks.append) for t in tasks]
        for t in tasks:
            by_task[t] = t.get_name()
        assert len(asyncio.all_tasks()) >= 1000
        assert sum(await asyncio.gather(*tasks)) == sum(range(start, start + 1000))
        del tasks, t
        # Resumed by gather's wake-up, whose handle holds gather's future and so its
        # children until this step ends: take a fresh step before counting.
        await asyncio.sleep(0)
        gc.collect()
        assert all(r() is None for r in refs)
        futures = [loop.create_future() for _ in range(1000)]
        by_future = weakref.WeakValueDictionary(enumerate(futures))
        future_refs = [weakref.ref(f, callbacks.append) for f in futures]
        for f in futures:
            f.set_result(None)
        del futures, f
        gc.collect()
        assert len(by_future) == 0 and all(r() is None for r in future_refs)

for round in range(int(sys.argv[2])):
    spindle.run(main(int(sys.argv[1])))
    gc.collect()
    assert len(by_task) == 0, len(by_task)
    assert len(by_loop) == 0, len(by_loop)
    assert asyncio.all_tasks.__module__ == "asyncio.tasks"
print("weak-references-called", len(callbacks))
"""


@pytest.mark.timeout(300)
def test_tasks_and_loops_die_cleanly_while_weakly_referenced() -> None:
    # Hundreds of thousands of tasks and futures, and a loop per round, with asyncio's task
    # registry, weak dictionaries keyed by task and loop, and weak-reference callbacks, in
    # development mode: a weak reference left dangling by a dead native object would crash
    # or show up in the counts.
    script = textwrap.dedent(CHURN)
    env = {**os.environ, "PYTHONDEVMODE": "1", "SPINDLE_DIAGNOSTICS": "0"}
    result = subprocess.run(
        [sys.executable, "-c", script, "30000", "3"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split() == ["weak-references-called", "180000"]
    # Development mode turns on asyncio's debug mode, whose slow-step warnings are expected;
    # nothing else may be said (no "Exception ignored", no unraisable errors, no warnings).
    unexpected = [line for line in result.stderr.splitlines() if not line.startswith("Executing")]
    assert unexpected == []
