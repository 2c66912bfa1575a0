"""Smoke test of the benchmark suite: every case runs to completion on every implementation.

Tiny sizes, in this process, with no timing asserted: a benchmark is not a test.  One run of
the command line checks that the worker processes, the rounds and the table hang together.
"""

from __future__ import annotations

import warnings

import pytest
from bench import run
from bench.cases import CASES, Case
from bench.impls import IMPLS, Impl, Unavailable, load
from bench.worker import measure


def _load_or_skip(name: str) -> Impl:
    try:
        return load(name)
    except Unavailable as exc:
        pytest.skip(str(exc))


@pytest.mark.parametrize("impl_name", IMPLS)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_case_runs_to_completion(case: Case, impl_name: str) -> None:
    impl = _load_or_skip(impl_name)
    with warnings.catch_warnings():
        if impl_name == "rloop":
            # rloop 0.5's close() drops its self-pipe sockets without closing them.
            warnings.simplefilter("ignore", ResourceWarning)
        seconds = measure(impl, case, 25)
    assert seconds >= 0


def test_command_line_prints_a_table(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--rounds", "1", "--scale", "0.0001", "--only", "call_soon", "--impl", "asyncio"]
    assert run.main(argv) == 0
    out = capsys.readouterr().out
    assert "call_soon" in out
    assert "1.00x" in out
