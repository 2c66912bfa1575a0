"""Smoke tests of the benchmark suites: every mode runs once, at a tiny scale, to its table.

No timing is asserted: a benchmark is not a test.  What is held here is that the code that
makes the numbers does not rot: every case on every implementation and with both APIs, the
worker processes and rounds of each suite, spindle's side-by-side builds (each worker importing
the build it names), pyperformance's benchmarks taken from the installed package, and the echo
server driven from a client process.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from bench import builds, run
from bench.api import asyncio_api
from bench.cases import CASES, Row, rows
from bench.echo import run as echo_run
from bench.impls import DEFAULT_IMPLS, Impl, Unavailable, load
from bench.pyperf import run as pyperf_run
from bench.pyperf.suite import DEFAULT, asyncio_group
from bench.worker import measure

import spindle

_head = builds.Build(pure=True, ref="HEAD")

# What a test process can load itself: spindle is imported here already, so the builds that
# live in a directory of their own are exercised through worker processes only.
IN_PROCESS = [name for name in DEFAULT_IMPLS if name != "spindle-pure"]


@pytest.fixture(autouse=True)
def _diagnostics_settings() -> Iterator[None]:
    """Loading a spindle column configures diagnostics for the process: undo it after."""
    yield
    spindle.diagnostics.reset()


def _load_or_skip(name: str) -> Impl:
    try:
        return load(name)
    except Unavailable as exc:
        pytest.skip(str(exc))


@pytest.mark.parametrize("impl_name", IN_PROCESS)
@pytest.mark.parametrize("row", rows(list(CASES), "both"), ids=lambda r: r.label)
def test_case_runs_to_completion(row: Row, impl_name: str) -> None:
    impl = _load_or_skip(impl_name)
    with warnings.catch_warnings():
        if impl_name == "rloop":
            # rloop 0.5's close() drops its self-pipe sockets without closing them.
            warnings.simplefilter("ignore", ResourceWarning)
        api = asyncio_api() if row.api == "asyncio" else None
        seconds = measure(impl, row.case, 25, api)
    assert seconds >= 0


def test_command_line_prints_a_table(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--rounds", "1", "--scale", "0.0001", "--only", "call_soon", "--impl", "asyncio"]
    assert run.main(argv) == 0
    out = capsys.readouterr().out
    assert "call_soon" in out
    assert "1.00x" in out


@pytest.mark.timeout(600)  # building spindle with pip, on a busy machine
def test_builds_side_by_side_each_worker_importing_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(builds.BUILDS_ENV, str(tmp_path))
    argv = ["--rounds", "1", "--scale", "0.0001", "--only", "gather", "--only", "call_soon"]
    argv += ["--impl", "asyncio", "--impl", "spindle-pure", "--spindle-ref", "HEAD"]
    assert run.main(argv) == 0
    out = capsys.readouterr().out
    # Each build's column names it, in the directory made for it; both API rows are there.
    for build, name in ((builds.Build(pure=True), "spindle-pure"), (_head, "spindle@HEAD")):
        where = tmp_path / build.key / "spindle"
        assert f"{name}: 0.1.0 (pure Python, {where})" in out
    assert "gather[asyncio-api]" in out
    assert "geometric mean, asyncio API" in out
    assert "n/a" not in out


@pytest.mark.timeout(300)
def test_pyperf_runs_a_pyperformance_benchmark(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--quick", "--only", "async_generators", "--impl", "asyncio", "--impl", "spindle-diag"]
    assert pyperf_run.main(argv) == 0
    out = capsys.readouterr().out
    assert "async_generators" in out
    assert "n/a" not in out


def test_pyperformance_has_every_benchmark_the_issue_names() -> None:
    group = asyncio_group()
    missing = [name for name in DEFAULT if name not in group]
    assert missing == []
    assert all(group[name].supported for name in DEFAULT)


@pytest.mark.timeout(300)
def test_echo_measures_a_server_from_a_client_process(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--rounds", "1", "--scale", "0.05", "--conns", "3"]
    argv += ["--impl", "asyncio", "--impl", "spindle", "--impl", "spindle-diag"]
    assert echo_run.main(argv) == 0
    out = capsys.readouterr().out
    assert "server CPU time per request" in out
    assert "streams 100KiB[asyncio-api]" in out
    assert "n/a" not in out


@pytest.mark.timeout(300)
def test_echo_can_give_every_row_a_server_process_of_its_own(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["--rounds", "1", "--scale", "0.05", "--conns", "2", "--api", "own"]
    argv += ["--impl", "asyncio", "--impl", "spindle", "--server-per-row"]
    assert echo_run.main(argv) == 0
    out = capsys.readouterr().out
    for row in ("protocol 1KiB", "protocol 100KiB", "streams 1KiB", "streams 100KiB"):
        assert row in out
    assert "n/a" not in out
