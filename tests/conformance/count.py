"""Print how much of CPython's asyncio test suite the target passes, module by module.

    .venv/bin/python -m tests.conformance.count            # spindle
    .venv/bin/python -m tests.conformance.count --target asyncio
    .venv/bin/python -m tests.conformance.count --failures  # also list unexpected failures

It runs the conformance tests in-process with pytest and tallies each CPython test's outcome:

* *passed*;
* *known*: in KNOWN_FAILURES, failing as expected;
* *failed*: unexpectedly (a regression, an XPASS of a fixed known failure, or not triaged);
* *excluded*: in EXCLUDED for a reason about the test (asyncio internals, a newer CPython's
  behaviour, spindle's design);
* *asyncio's*: CPython's instantiations of a test mixin for asyncio's own C/Python classes or
  selector loops (exclusions.ASYNCIO_IMPLEMENTATIONS); the Target classes run the same tests
  on spindle;
* *skipped*: by CPython's own skip decorators.

It also lists entries of exclusions.py that match no collected test, which are stale.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter, defaultdict
from pathlib import Path

import pytest

HERE = Path(__file__).parent
COLUMNS = ("passed", "known", "failed", "excluded", "asyncio's", "skipped")
# When a test reports several phases, the one to count: the first of these that occurred.
PRECEDENCE = ("failed", "known", "excluded", "asyncio's", "skipped", "passed")


class Tally:
    """A pytest plugin that records each conformance test's outcome under its module."""

    def __init__(self) -> None:
        self.counts: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self.keys: set[str] = set()
        self.failures: list[str] = []
        self._outcome: dict[str, str] = {}

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        from tests.conformance.conftest import test_key

        self.keys.update(test_key(item) for item in items)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        outcome = _classify(report)
        if outcome is None:
            return
        # A test has one outcome: a teardown error fails a pass, for instance.
        previous = self._outcome.get(report.nodeid)
        if previous is None or PRECEDENCE.index(outcome) < PRECEDENCE.index(previous):
            self._outcome[report.nodeid] = outcome
        if outcome == "failed":
            self.failures.append(f"{report.nodeid} ({report.when})")

    def pytest_sessionfinish(self) -> None:
        from tests.conformance.harness import MODULES

        for nodeid, outcome in self._outcome.items():
            module = Path(nodeid.split("::")[0]).stem
            if module in MODULES:
                self.counts[module][outcome] += 1


def _classify(report: pytest.TestReport) -> str | None:
    from tests.conformance.exclusions import ASYNCIO_IMPLEMENTATIONS

    if hasattr(report, "wasxfail"):
        return "failed" if report.passed else "known"  # a strict XPASS is reported failed
    if report.skipped:
        reason = str(report.longrepr[-1]) if isinstance(report.longrepr, tuple) else ""
        if "excluded: " not in reason:
            return "skipped"
        module, cls = Path(report.nodeid.split("::")[0]).stem, report.nodeid.split("::")[1]
        return "asyncio's" if f"{module}.{cls}" in ASYNCIO_IMPLEMENTATIONS else "excluded"
    if report.failed:
        return "failed"
    return "passed" if report.when == "call" else None


def _table(tally: Tally) -> str:
    header = f"{'module':<18}" + "".join(f"{column:>10}" for column in COLUMNS)
    lines = [header, "-" * len(header)]
    total: Counter[str] = Counter()
    for module in sorted(tally.counts):
        counts = tally.counts[module]
        total.update(counts)
        lines.append(f"{module:<18}" + "".join(f"{counts[c]:>10}" for c in COLUMNS))
    lines.append("-" * len(header))
    lines.append(f"{'total':<18}" + "".join(f"{total[c]:>10}" for c in COLUMNS))
    return "\n".join(lines)


def _stale_entries(keys: set[str]) -> list[str]:
    from tests.conformance.exclusions import EXCLUDED, KNOWN_FAILURES

    classes = {key.rpartition(".")[0] for key in keys}
    return sorted(k for k in [*EXCLUDED, *KNOWN_FAILURES] if k not in keys and k not in classes)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--target", choices=("spindle", "asyncio"), default="spindle")
    parser.add_argument("--failures", action="store_true", help="list unexpected failures")
    parser.add_argument("pytest_args", nargs="*", help="extra pytest arguments")
    options = parser.parse_args()
    os.environ["SPINDLE_CONFORMANCE_TARGET"] = options.target
    tally = Tally()
    args = [str(HERE), "-q", "-p", "no:randomly", "--no-header", "-o", "console_output_style=count"]
    pytest.main([*args, *options.pytest_args], plugins=[tally])
    print(f"\nCPython {sys.version.split()[0]} test_asyncio on {options.target}:\n")
    print(_table(tally))
    stale = _stale_entries(tally.keys)
    if stale:
        print("\nstale entries in exclusions.py (no such test):", *stale, sep="\n  ")
    if options.failures and tally.failures:
        print("\nunexpected failures:", *tally.failures, sep="\n  ")
    return 1 if stale or tally.failures else 0


if __name__ == "__main__":
    sys.exit(main())
