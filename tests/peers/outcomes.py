"""What a suite's run means: per-test outcomes, the registered expectations, the verdict.

Pure functions of their inputs (no pytest, no processes), tested with tables in
``tests/peers/test_outcomes.py``.  The driver (``run.py``) feeds them what the plugin recorded.

A test's outcome is one of three.  A test that passed its call but failed its teardown *failed*
(pytest counts it twice, "1 passed, 1 error"; here it is one test and it did not pass).  A test
the suite marks ``xfail`` itself is *skipped*: it did not run to a pass, on either loop.

An expectation registers a test that is known not to pass, with its reason:

* ``BOTH``: it fails on stock asyncio too, in this sandbox (root-only permission tests, no IPv6,
  no DNS).  It must fail on both targets; a pass on either is an unexpected pass.
* ``SPINDLE``: it fails on spindle only, because spindle differs from asyncio on purpose (argued
  in the README).  It must fail on spindle and pass on asyncio.
* ``NOT_RUN``: it is not run at all (it needs something the sandbox cannot give and would only
  wait for a time-out); it counts as skipped on both.
* ``TIMING``: it checks that something happens within a fixed time (a pytest subprocess that
  must start within 3 s, say), so on a loaded machine it fails on either loop now and then.
  It runs and is counted as it comes out; its failure is not held against the run.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

__all__ = [
    "Counts",
    "Expectation",
    "Kind",
    "Outcome",
    "Target",
    "Verdict",
    "combine",
    "count",
    "judge",
]


class Target(enum.Enum):
    """The loop a suite runs on."""

    SPINDLE = "spindle"
    ASYNCIO = "asyncio"


class Outcome(enum.Enum):
    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"


class Kind(enum.Enum):
    BOTH = "fails on stock asyncio too"
    SPINDLE = "deliberate difference"
    NOT_RUN = "not run"
    TIMING = "may miss a fixed time limit under load, on either loop"


@dataclass(frozen=True)
class Expectation:
    kind: Kind
    reason: str

    def expects_failure(self, target: Target) -> bool:
        return self.kind is Kind.BOTH or (self.kind is Kind.SPINDLE and target is Target.SPINDLE)


def combine(phases: Iterable[Outcome | None]) -> Outcome | None:
    """One test's outcome from the outcomes of its phases (setup, call, teardown), in order.

    A failure in any phase fails the test; a skip (in setup or call) before any failure makes
    it skipped; a call that passed makes it passed.  ``None`` for a phase that says nothing
    (a passing setup or teardown).
    """
    result: Outcome | None = None
    for phase in phases:
        if phase is Outcome.FAILED:
            return Outcome.FAILED
        if phase is not None and result is None:
            result = phase
    return result


@dataclass(frozen=True)
class Counts:
    passed: int = 0
    failed: int = 0
    skipped: int = 0

    def line(self) -> str:
        return f"{self.passed} passed, {self.failed} failed, {self.skipped} skipped"


def count(outcomes: Mapping[str, Outcome]) -> Counts:
    values = list(outcomes.values())
    return Counts(
        passed=values.count(Outcome.PASSED),
        failed=values.count(Outcome.FAILED),
        skipped=values.count(Outcome.SKIPPED),
    )


@dataclass(frozen=True)
class Verdict:
    """What one run of one suite on one target showed, against the registered expectations."""

    counts: Counts
    unexpected_failures: list[str] = field(default_factory=list)
    unexpected_passes: list[str] = field(default_factory=list)
    # Entries that name no test the run collected: the test was renamed or removed upstream.
    stale: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not (self.unexpected_failures or self.unexpected_passes or self.stale)


def judge(
    target: Target,
    outcomes: Mapping[str, Outcome],
    expected: Mapping[str, Expectation],
) -> Verdict:
    """Compare one run's outcomes with the registered expectations."""
    unexpected_failures = []
    unexpected_passes = []
    for nodeid, outcome in sorted(outcomes.items()):
        expectation = expected.get(nodeid)
        expects_failure = expectation is not None and expectation.expects_failure(target)
        tolerated = expectation is not None and expectation.kind is Kind.TIMING
        if outcome is Outcome.FAILED and not expects_failure and not tolerated:
            unexpected_failures.append(nodeid)
        elif outcome is Outcome.PASSED and expects_failure:
            unexpected_passes.append(nodeid)
    stale = sorted(nodeid for nodeid in expected if nodeid not in outcomes)
    return Verdict(count(outcomes), unexpected_failures, unexpected_passes, stale)
