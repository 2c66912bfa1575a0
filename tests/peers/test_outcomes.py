"""How a suite's run is judged against its registered expectations (``outcomes.py``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.peers import expected
from tests.peers.outcomes import (
    Counts,
    Expectation,
    Kind,
    Outcome,
    Target,
    combine,
    count,
    judge,
)
from tests.peers.suites import SUITES

P, F, S = Outcome.PASSED, Outcome.FAILED, Outcome.SKIPPED


@pytest.mark.parametrize(
    ("phases", "outcome"),
    [
        ([None, P, None], P),  # setup, call, teardown
        ([None, F, None], F),
        ([None, P, F], F),  # a teardown error fails a test whose call passed
        ([F], F),  # an error in setup
        ([S], S),  # skipped in setup
        ([None, S, None], S),  # skipped (or the suite's own xfail) in the call
        ([S, F], F),
        ([None, None], None),  # nothing said: not counted
    ],
)
def test_one_outcome_per_test(phases: list[Outcome | None], outcome: Outcome | None) -> None:
    assert combine(phases) is outcome


BOTH = Expectation(Kind.BOTH, "no IPv6 here")
OURS = Expectation(Kind.SPINDLE, "on purpose")
OFF = Expectation(Kind.NOT_RUN, "needs DNS")
SLOW = Expectation(Kind.TIMING, "3 s to start a process")


@pytest.mark.parametrize(
    ("target", "outcome", "expectation", "failure", "passed_unexpectedly"),
    [
        (Target.SPINDLE, P, None, False, False),
        (Target.SPINDLE, F, None, True, False),
        (Target.SPINDLE, F, BOTH, False, False),
        (Target.SPINDLE, P, BOTH, False, True),
        (Target.SPINDLE, F, OURS, False, False),
        (Target.SPINDLE, P, OURS, False, True),
        (Target.ASYNCIO, P, OURS, False, False),  # a deliberate difference passes on asyncio
        (Target.ASYNCIO, F, OURS, True, False),
        (Target.ASYNCIO, F, BOTH, False, False),
        (Target.ASYNCIO, P, BOTH, False, True),
        (Target.SPINDLE, S, OFF, False, False),
        (Target.SPINDLE, S, None, False, False),
        (Target.SPINDLE, F, SLOW, False, False),
        (Target.SPINDLE, P, SLOW, False, False),
        (Target.ASYNCIO, F, SLOW, False, False),
    ],
)
def test_judge_against_expectations(
    target: Target,
    outcome: Outcome,
    expectation: Expectation | None,
    failure: bool,
    passed_unexpectedly: bool,
) -> None:
    registered = {} if expectation is None else {"t": expectation}
    verdict = judge(target, {"t": outcome}, registered)
    assert (verdict.unexpected_failures == ["t"]) is failure
    assert (verdict.unexpected_passes == ["t"]) is passed_unexpectedly
    assert verdict.clean is not (failure or passed_unexpectedly)


def test_an_entry_for_a_test_that_was_not_collected_is_stale() -> None:
    verdict = judge(Target.SPINDLE, {"a": P}, {"gone": BOTH})
    assert verdict.stale == ["gone"]
    assert not verdict.clean


def test_counts_line() -> None:
    counts = count({"a": P, "b": P, "c": F, "d": S})
    assert counts == Counts(passed=2, failed=1, skipped=1)
    assert counts.line() == "2 passed, 1 failed, 1 skipped"


@pytest.mark.parametrize("suite", sorted(SUITES))
def test_every_suite_has_an_expectations_file_with_reasons(suite: str) -> None:
    registered = expected.load(suite)
    for nodeid, expectation in registered.items():
        assert nodeid.startswith("tests/"), nodeid
        assert isinstance(expectation, Expectation)
        assert len(expectation.reason) > 10, f"{nodeid}: give the reason in a sentence"


def test_the_plugin_imports_nothing_but_the_standard_library_pytest_and_spindle() -> None:
    # It runs inside each suite's own environment, where spindle's test helpers are absent.
    source = (Path(__file__).parent / "plugin" / "spindle_peers.py").read_text(encoding="utf-8")
    imported = {
        line.split()[1].split(".")[0]
        for line in source.splitlines()
        if line.startswith(("import ", "from "))
    }
    assert imported <= {"__future__", "asyncio", "json", "os", "collections", "typing", "pytest"}


def test_a_selection_is_dealt_out_as_whole_files_with_the_same_options(tmp_path: Path) -> None:
    from tests.peers.run import shard

    for name in ("test_a.py", "test_b.py", "test_c.py", "bench/test_d.py"):
        (tmp_path / "tests" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "tests" / name).touch()
    selection = ["tests", "--ignore=tests/bench", "-x"]
    assert shard(selection, tmp_path, 2) == [
        ["tests/test_a.py", "tests/test_c.py", "--ignore=tests/bench", "-x"],
        ["tests/test_b.py", "--ignore=tests/bench", "-x"],
    ]
    assert shard(selection, tmp_path, 1) == [selection]
    # Node ids stay whole.
    assert shard(["tests/test_a.py::t1", "tests/test_a.py::t2"], tmp_path, 2) == [
        ["tests/test_a.py::t1"],
        ["tests/test_a.py::t2"],
    ]
