"""spindle reads no private asyncio name outside the loop-implementer hooks in ``_compat``.

The project's rule: asyncio's documented hooks for loop implementers
(``events._get_running_loop`` / ``_set_running_loop``, ``tasks._register_task`` /
``_unregister_task`` / ``_enter_task`` / ``_leave_task``) stay in ``spindle/_compat.py``, and
no other private asyncio name is used anywhere.  Two checks hold it:

* **a scan of the source** (AST): imports of asyncio's private modules or names; attribute
  chains through an asyncio module with a private segment (``asyncio.tasks._GatheringFuture``);
  a private name that asyncio's own classes define, given as data (``getattr``/``hasattr``/...,
  ``__getattribute__``, ``attrgetter``, ``vars(x)[...]``, ``x.__dict__.get(...)``); type or
  function names compared with an asyncio private name (``type(f).__name__ ==
  "_GatheringFuture"``); and attribute reads of private names that only asyncio defines.
  Private names spindle defines itself (its Task's ``_fut_waiter``, its loop's ``_ready``)
  are spindle's, and reading them is fine, but a scan cannot tell whose object ``x`` is in
  ``x._fut_waiter``; so:
* **a tripwire at run time**: a child process makes asyncio use its pure-Python Future and
  Task (the C accelerator is blocked), has every asyncio class record a private attribute
  read made from spindle's source on an object of asyncio's, runs the task dump and the call
  graph over asyncio's own gather, TaskGroup, shield, wait, wait_for, as_completed, queues,
  locks, streams and Tasks (on spindle's loop and on asyncio's), and reports what was read.

``_asyncio_future_blocking`` is not counted: it is asyncio's documented duck-typing protocol
for futures (``asyncio.isfuture``), which spindle's Future and Task must speak to be awaited.
"""

from __future__ import annotations

import ast
import asyncio
import json
import subprocess
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.children import user_environment

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src" / "spindle"
COMPAT = SRC / "_compat.py"

# The loop-implementer hooks, the only private asyncio names spindle uses (in _compat.py).
HOOKS = frozenset(
    {
        "_get_running_loop",
        "_set_running_loop",
        "_register_task",
        "_unregister_task",
        "_enter_task",
        "_leave_task",
    }
)
PROTOCOL = frozenset({"_asyncio_future_blocking"})
GETATTR_LIKE = frozenset({"getattr", "hasattr", "setattr", "delattr", "getattr_static"})
NAME_ATTRIBUTES = frozenset({"__name__", "__qualname__", "co_name", "co_qualname"})


def is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def defined_private_names(paths: Iterator[Path]) -> set[str]:
    """Every private name the code in ``paths`` defines: functions, classes, attributes it
    assigns or declares, module names, ``__slots__`` entries."""
    names: set[str] = set()
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                found = [node.name]
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                found = [node.attr]
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                found = [node.id]
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                found = [node.value] if node.value.isidentifier() else []
            else:
                continue
            names.update(name for name in found if is_private(name))
    return names


def asyncio_private_names() -> frozenset[str]:
    """The private names asyncio's own code defines (its Python modules and its C types)."""
    names = defined_private_names(Path(asyncio.__file__).parent.glob("*.py"))
    try:
        import _asyncio
    except ImportError:  # an interpreter without the accelerator
        pass
    else:
        names.update(n for n in dir(_asyncio) if is_private(n))
        for value in vars(_asyncio).values():
            if isinstance(value, type):
                names.update(n for n in dir(value) if is_private(n))
    return frozenset(names - PROTOCOL)


ASYNCIO_PRIVATE = asyncio_private_names()
SPINDLE_PRIVATE = frozenset(defined_private_names(SRC.rglob("*.py")))


def asyncio_aliases(tree: ast.AST) -> set[str]:
    """The names a module binds to asyncio or to one of its submodules."""
    aliases: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "asyncio" or alias.name.startswith("asyncio."):
                    aliases.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(node, ast.ImportFrom) and node.module == "asyncio":
            for alias in node.names:
                if isinstance(getattr(asyncio, alias.name, None), types.ModuleType):
                    aliases.add(alias.asname or alias.name)
    return aliases


def chain(node: ast.expr) -> list[str]:
    """``a.b.c`` as ``["a", "b", "c"]``; [] for anything that is not a dotted name."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return []
    parts.append(node.id)
    return parts[::-1]


def private_components(text: str) -> list[str]:
    """The asyncio private names inside ``"gather.<locals>._done_callback"`` and the like."""
    parts = text.replace("<locals>", "").split(".")
    return [p for p in parts if p in ASYNCIO_PRIVATE]


def string_values(node: ast.expr) -> list[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return [v for element in node.elts for v in string_values(element)]
    return []


def namespace_of(node: ast.expr) -> ast.expr | None:
    """``x`` for ``vars(x)`` or ``x.__dict__`` (an object's attributes as a dict), else None."""
    if isinstance(node, ast.Attribute) and node.attr == "__dict__":
        return node.value
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "vars":
        return node.args[0] if node.args else None
    return None


def reads_by_name(node: ast.expr) -> list[tuple[ast.expr | None, ast.expr]]:
    """``(object, name)`` for each attribute ``node`` reaches by a name given as data:
    ``getattr(x, name)`` and its kin, ``object.__getattribute__(x, name)``,
    ``x.__getattribute__(name)``, ``attrgetter(name, ...)`` (object unknown: None),
    ``vars(x)[name]``, ``x.__dict__.get(name)``."""
    if isinstance(node, ast.Subscript):
        owner = namespace_of(node.value)
        return [] if owner is None else [(owner, node.slice)]
    if not isinstance(node, ast.Call):
        return []
    func, args = node.func, node.args
    name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
    if name == "attrgetter":
        return [(None, arg) for arg in args]
    if name in GETATTR_LIKE or (name == "__getattribute__" and len(args) >= 2):
        return [(args[0], args[1])] if len(args) >= 2 else []
    if isinstance(func, ast.Attribute) and args:
        if name == "__getattribute__":
            return [(func.value, args[0])]
        owner = namespace_of(func.value)
        if owner is not None and name in ("get", "pop", "setdefault"):
            return [(owner, args[0])]
    return []


def names_a_type_or_function(node: ast.expr) -> bool:
    return isinstance(node, ast.Attribute) and node.attr in NAME_ATTRIBUTES


def offences(path: Path, allowed: frozenset[str] = frozenset()) -> list[str]:
    """Every read of a private asyncio name in ``path`` (``allowed``: names it may use)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    aliases = asyncio_aliases(tree)
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "_asyncio":
                    found.append((node.lineno, f"import {alias.name}"))
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            parts = node.module.split(".")
            if parts[0] == "_asyncio":
                found.append((node.lineno, f"from {node.module} import ..."))
            elif parts[0] == "asyncio":
                private = [p for p in parts[1:] if is_private(p)]
                private += [a.name for a in node.names if is_private(a.name)]
                private = [p for p in private if p not in allowed]
                if private:
                    found.append((node.lineno, f"from {node.module} import {', '.join(private)}"))
        elif isinstance(node, ast.Attribute):
            parts = chain(node)
            if parts and parts[0] in aliases and len(parts) >= 2 and node.attr == parts[-1]:
                private = [p for p in parts[1:] if is_private(p) and p not in allowed]
                if private and isinstance(node.ctx, ast.Load):
                    found.append((node.lineno, ast.unparse(node)))
                continue
            owner = ast.unparse(node.value)
            if (
                node.attr in ASYNCIO_PRIVATE
                and node.attr not in SPINDLE_PRIVATE
                and owner not in ("self", "cls")
                and not (chain(node.value) and chain(node.value)[0] in aliases)
            ):
                found.append((node.lineno, f"{ast.unparse(node)} (a name only asyncio defines)"))
        elif isinstance(node, (ast.Call, ast.Subscript)):
            for target, literal in reads_by_name(node):
                for text in string_values(literal):
                    if (
                        text in ASYNCIO_PRIVATE
                        and text not in allowed
                        and not (target is not None and ast.unparse(target) in ("self", "cls"))
                    ):
                        found.append((node.lineno, ast.unparse(node)))
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            if (
                isinstance(func, ast.Attribute)
                and func.attr in ("startswith", "endswith")
                and names_a_type_or_function(func.value)
            ):
                for argument in node.args:
                    for text in string_values(argument):
                        if private_components(text) or text.startswith("_"):
                            found.append((node.lineno, ast.unparse(node)))
        elif isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            if any(names_a_type_or_function(operand) for operand in operands):
                for operand in operands:
                    for text in string_values(operand):
                        if private_components(text):
                            found.append((node.lineno, ast.unparse(node)))
    shown = path.relative_to(SRC) if path.is_relative_to(SRC) else path
    return [f"{shown}:{line}: {text}" for line, text in sorted(set(found))]


MODULES = sorted(p for p in SRC.rglob("*.py") if p != COMPAT)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(SRC)))
def test_no_module_reads_a_private_asyncio_name(path: Path) -> None:
    assert offences(path) == []


def test_compat_holds_only_the_loop_implementer_hooks() -> None:
    assert offences(COMPAT, allowed=HOOKS) == []
    tree = ast.parse(COMPAT.read_text())
    used = {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
    assert {name for name in used if is_private(name)} == HOOKS


@pytest.mark.parametrize(
    "source",
    [
        "import asyncio\nx = asyncio.tasks._GatheringFuture",
        "import asyncio.tasks as t\nx = t._enter_task",
        "from asyncio.tasks import _GatheringFuture",
        "from asyncio import base_events\nx = base_events._run_until_complete_cb",
        "import _asyncio",
        "def f(fut):\n    return type(fut).__name__ == '_GatheringFuture'",
        "def f(cb):\n    return cb.__qualname__ in ('gather.<locals>._done_callback',)",
        "def f(task):\n    return getattr(task, '_fut_waiter', None)",
        "def f(group):\n    return hasattr(group, '_parent_task')",
        "def f(loop):\n    return loop._csock",
        "import inspect\ndef f(group):\n    return inspect.getattr_static(group, '_tasks')",
        "def f(task):\n    return object.__getattribute__(task, '_coro')",
        "def f(task):\n    return task.__getattribute__('_coro')",
        "import operator\nf = operator.attrgetter('_children')",
        "def f(queue):\n    return vars(queue)['_getters']",
        "def f(fut):\n    return fut.__dict__.get('_children')",
    ],
)
def test_the_scan_sees_each_kind_of_read(source: str, tmp_path: Path) -> None:
    """The scan itself, on a module written to break the rule in each way it can be broken."""
    probe = tmp_path / "probe.py"
    probe.write_text(source)
    assert offences(probe), f"not caught: {source!r}"


# -- the tripwire ------------------------------------------------------------------------

TRIPWIRE = ROOT / "tests" / "asyncio_tripwire.py"


@pytest.mark.timeout(180)
def test_diagnostics_read_no_private_field_of_asyncios_objects(tmp_path: Path) -> None:
    # The child imports the spindle this test runs with (the compiled build or the pure one).
    timeline = tmp_path / "timeline.json"
    env = user_environment(SPINDLE_BLOCK_THRESHOLD="0.1", SPINDLE_TIMELINE=str(timeline))
    done = subprocess.run(
        [sys.executable, "-X", "dev", str(TRIPWIRE)],
        capture_output=True,
        text=True,
        timeout=150,
        env=env,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.splitlines()[-1])
    assert report["reads"] == []
    # The scenario reached what it was written for: asyncio's pure-Python classes, each kind
    # of wait described, and the graph drawn through asyncio's functions.
    assert report["pure_python_asyncio"] is True
    for text in report["expected_in_dump"]:
        assert text in report["dump"], text
    assert report["graph_edges"] == report["expected_edges"]
    assert "awaited by blocking-parent blocking_parent()" in done.stderr  # the watchdog's
    assert '"wait: ' in timeline.read_text()  # the timeline saw the tasks wait
