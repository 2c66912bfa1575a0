"""Tests of uvloop's suite (its asyncio-flavoured classes) known not to pass here, with reasons."""

from __future__ import annotations

from tests.peers.expected import spindle_only
from tests.peers.outcomes import Expectation

__all__ = ["EXPECTED"]

EXPECTED: dict[str, Expectation] = {
    "tests/test_base.py::TestBaseAIO::test_handle_weakref": spindle_only(
        "takes a weak reference to the Handle call_soon returns; spindle's handles are native "
        "classes in its compiled build and take no weak references (mypyc's native classes do "
        "not clear them when they die, mypyc issue 1102; a Python subclass per handle, as for "
        "Future and Task, would cost every call_soon); CPython's conformance run excludes its "
        "own test_handle_weakref for the same reason"
    ),
    "tests/test_base.py::TestBaseAIO::test_set_task_factory": spindle_only(
        "after set_task_factory(None) asserts isinstance(loop.create_task(...), asyncio.Task); "
        "spindle's loop makes spindle's own Task, which is not a subclass of asyncio's C Task "
        "(the project's rule: its own Future and Task; asyncio.isfuture() and every Task "
        "method work, and a factory returning asyncio.Task subclasses is honoured, as the "
        "same test checks first)"
    ),
}
