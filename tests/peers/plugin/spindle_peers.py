"""The pytest plugin that points another project's test suite at one loop and records outcomes.

Loaded into the suite's own pytest run by the driver (``tests/peers/run.py``) through the
``PYTEST_PLUGINS`` environment variable, with this directory on ``PYTHONPATH``: that way a
pytest that the suite itself starts in a subprocess (anyio's and aiohttp's plugin tests do)
runs on the same loop.  It imports only the standard library, pytest and, for the spindle
target, spindle, because it runs in the suite's virtual environment, not spindle's.

``SPINDLE_PEERS_TARGET`` is ``spindle`` or ``asyncio``; every pytest of the run reads it.
``SPINDLE_PEERS_CONFIG`` names a JSON file written by the driver, for the outermost pytest only
(this module removes the variable from the environment as it reads it)::

    {"select": rule name or null, "not_run": {nodeid: reason}, "out": path for the results}

For the spindle target it calls ``spindle.install()`` before the suite's conftest runs, so every
loop the suite makes through asyncio's policy (``asyncio.run``, ``asyncio.Runner``,
``asyncio.new_event_loop``, ``IsolatedAsyncioTestCase``, anyio's and aiohttp's loop fixtures)
is spindle's.  A test that replaces the policy gets it put back before the next test, and the
run reports how often that happened and which classes of loop the policy made, so a run that
silently tested stock asyncio cannot pass for a run on spindle.

Only the outermost pytest session records: a suite that runs pytest in-process (pytester)
loads this module again into an inner session, which must not count its own tests.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

TARGET = os.environ.get("SPINDLE_PEERS_TARGET", "asyncio")
_CONFIG: dict[str, Any] = {}
_path = os.environ.pop("SPINDLE_PEERS_CONFIG", None)
if _path:
    with open(_path, encoding="utf-8") as _file:
        _CONFIG = json.load(_file)


def _install() -> None:
    if TARGET == "spindle":
        import spindle

        spindle.install()


_install()


class LoopCensus:
    """Counts the loops the current policy makes, by class, and policy replacements."""

    def __init__(self) -> None:
        self.loops: Counter[str] = Counter()
        self.policy_replaced = 0
        self._policy: object = None

    def watch(self) -> None:
        """Wrap the current policy's ``new_event_loop``, once per policy object."""
        policy = asyncio.get_event_loop_policy()
        if policy is self._policy:
            return
        self._policy = policy
        make = policy.new_event_loop
        census = self

        def new_event_loop() -> asyncio.AbstractEventLoop:
            loop = make()
            cls = type(loop)
            census.loops[f"{cls.__module__}.{cls.__qualname__}"] += 1
            return loop

        policy.new_event_loop = new_event_loop  # type: ignore[method-assign]

    def check(self) -> None:
        """Before each test: the policy the target wants is still the current one."""
        if TARGET == "spindle":
            import spindle.patch

            if not spindle.patch.is_installed():
                self.policy_replaced += 1
                _install()
        elif type(asyncio.get_event_loop_policy()) is not asyncio.DefaultEventLoopPolicy:
            self.policy_replaced += 1
            asyncio.set_event_loop_policy(None)
        self.watch()


def _selected(rule: str | None) -> Callable[[pytest.Item], bool]:
    """The named selection rule of a suite: which of its collected tests are run."""
    if rule is None:
        return lambda item: True
    if rule == "anyio-asyncio":
        # anyio parametrises its tests over backends; the plain asyncio one is "[asyncio]" or
        # "[asyncio-...]" (ids of other parameters follow).  Tests without a backend run too.
        def anyio_asyncio(item: pytest.Item) -> bool:
            callspec = getattr(item, "callspec", None)
            if callspec is None or "anyio_backend" not in callspec.params:
                return True
            return "asyncio" in callspec.id.split("-") and not any(
                other in callspec.id for other in ("uvloop", "eager", "trio")
            )

        return anyio_asyncio
    if rule == "uvloop-aio":
        # uvloop runs each test body twice: on uvloop (UVTestCase) and on
        # asyncio.new_event_loop() (AIOTestCase).  Only the second tests the policy's loop.
        from uvloop import _testbase

        def uvloop_aio(item: pytest.Item) -> bool:
            cls = getattr(item, "cls", None)
            return cls is not None and issubclass(cls, _testbase.AIOTestCase)

        return uvloop_aio
    raise ValueError(f"unknown selection rule {rule!r}")


def _phase(report: pytest.TestReport) -> str | None:
    if report.failed:
        return "failed"
    if report.skipped:
        return "skipped"  # a skip, or the suite's own xfail
    return "passed" if report.when == "call" else None


class Recorder:
    """Records each test's outcome and writes them, with the census, when the session ends."""

    def __init__(self, out: str) -> None:
        self.out = out
        with open(f"{out}.lines", "w", encoding="utf-8"):
            pass
        self.phases: dict[str, list[str | None]] = {}
        self.census = LoopCensus()
        self.census.watch()

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(
        self, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        keep = _selected(_CONFIG.get("select"))
        kept = [item for item in items if keep(item)]
        dropped = [item for item in items if not keep(item)]
        items[:] = kept
        if dropped:
            config.hook.pytest_deselected(items=dropped)
        not_run: dict[str, str] = _CONFIG.get("not_run", {})
        for item in kept:
            reason = not_run.get(item.nodeid)
            if reason is not None:
                item.add_marker(pytest.mark.skip(reason=f"not run here: {reason}"))

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        self.census.check()

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        phase = _phase(report)
        self.phases.setdefault(report.nodeid, []).append(phase)
        # Also as it happens, one line per phase: a run stopped before its end (a hang past
        # the time limit) still tells what ran, and where it stopped.
        with open(f"{self.out}.lines", "a", encoding="utf-8") as file:
            file.write(json.dumps([report.nodeid, phase]) + "\n")

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        results = {
            "target": TARGET,
            "phases": self.phases,
            "loops": dict(self.census.loops),
            "policy_replaced": self.census.policy_replaced,
        }
        with open(self.out, "w", encoding="utf-8") as file:
            json.dump(results, file, indent=0)


_recording: list[pytest.Config] = []


def pytest_configure(config: pytest.Config) -> None:
    if not _recording and _CONFIG:
        _recording.append(config)
        config.pluginmanager.register(Recorder(_CONFIG["out"]), "spindle-peers-recorder")


def pytest_unconfigure(config: pytest.Config) -> None:
    if _recording and _recording[0] is config:
        _recording.clear()
