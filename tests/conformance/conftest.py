"""Run CPython's asyncio tests on the target: policy around each test, exclusions, timeouts.

Every test runs with the target's event-loop policy installed (``spindle.patch.install()``),
so that the loops CPython's tests make through asyncio's own entry points
(``asyncio.Runner`` in ``IsolatedAsyncioTestCase``, ``asyncio.new_event_loop()`` in
``test.test_asyncio.utils``) are the target's.  Whatever policy and current loop a test leaves
behind are reset afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest

from .adapters import follow_patched_asyncio_logger
from .exclusions import KNOWN_FAILURES, exclusion_reason
from .targets import SPINDLE, current_target

HERE = Path(__file__).parent

# A hang is a failure, and must not eat the run's budget (CPython's slowest test takes ~2 s).
TEST_TIMEOUT = 15
# A known failure may fail by hanging: give it less rope (they pass, once fixed, in < 1 s).
KNOWN_FAILURE_TIMEOUT = 3


def test_key(item: pytest.Item) -> str:
    """``module.Class.test``: how exclusions.py names a collected test."""
    cls = getattr(item, "cls", None)
    class_name = cls.__name__ if cls is not None else ""
    return f"{item.path.stem}.{class_name}.{item.name}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    target = current_target()
    for item in items:
        if HERE not in item.path.parents:
            continue
        key = test_key(item)
        reason = exclusion_reason(key)
        if reason is not None:
            item.add_marker(pytest.mark.skip(reason=f"excluded: {reason}"))
        elif target is SPINDLE and key in KNOWN_FAILURES:
            item.add_marker(pytest.mark.xfail(strict=True, reason=KNOWN_FAILURES[key]))
            item.add_marker(pytest.mark.timeout(KNOWN_FAILURE_TIMEOUT))
        else:
            item.add_marker(pytest.mark.timeout(TEST_TIMEOUT))


# Known failures whose failing assertions are in unittest subtests: pytest reports each
# subtest as an expected failure, and then the test itself as a strict XPASS.
_subtests_failed_as_expected: set[str] = set()


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if hasattr(report, "context") and hasattr(report, "wasxfail"):  # an xfailed subtest
        _subtests_failed_as_expected.add(report.nodeid)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    xpassed = report.failed and str(report.longrepr).startswith("[XPASS(strict)]")
    if call.when == "call" and xpassed and item.nodeid in _subtests_failed_as_expected:
        report.outcome = "skipped"
        report.wasxfail = KNOWN_FAILURES[test_key(item)]
    return report


@pytest.fixture(autouse=True)
def _young_heap_only() -> Iterator[None]:
    """Freeze what exists before the test, so the test's own ``gc.collect()`` calls walk only
    what the test made.

    Some CPython tests collect in a loop (``test_task_del_collect`` calls ``gc.collect()``
    from 100 finalizers); late in a full run the heap holds every module and test loaded so
    far, and those tests took 10-15 s each on two cores.  Frozen objects are ordinary again
    (and collectable) when the test ends.
    """
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


@pytest.fixture(autouse=True)
def _target_policy() -> Iterator[None]:
    target = current_target()
    policy = asyncio.get_event_loop_policy()
    target.install()
    try:
        with follow_patched_asyncio_logger() if target is SPINDLE else contextlib.nullcontext():
            yield
        # Collect now what the test dropped, so that a failing __del__ or a coroutine never
        # awaited is reported against this test rather than a later one (or the session).
        gc.collect(1)
    finally:
        asyncio.set_event_loop(None)
        target.uninstall()
        if asyncio.get_event_loop_policy() is not policy:
            asyncio.set_event_loop_policy(policy)
