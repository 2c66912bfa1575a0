"""``python -m bench.instructions``: instruction counts per operation, by valgrind.

What is held here: the process valgrind watches runs a row of each kind, the count is read
from callgrind's own summary (a real valgrind run), the arithmetic cancels what the two runs
share, and the command says so plainly when valgrind is missing.  Counting a whole row takes
valgrind half a minute, so no test does it: ``python -m bench.instructions --only future``.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from bench import instructions
from bench.cases import Row, by_name

import spindle


@pytest.fixture(autouse=True)
def _diagnostics_settings() -> Iterator[None]:
    """Loading a spindle column configures diagnostics for the process: undo it after."""
    yield
    spindle.diagnostics.reset()


@pytest.mark.parametrize(("case", "api"), [("future", "own"), ("gather", "asyncio")])
def test_the_counted_process_runs_a_row(case: str, api: str) -> None:
    assert instructions.main(["--run", "spindle", case, api, "20"]) == 0


def test_one_operation_is_the_difference_of_the_two_runs_over_their_sizes() -> None:
    shared = 40_000_000  # start-up, imports, warm-up: in both runs
    per_op = 18_700
    small = shared + per_op * instructions.SMALL
    large = shared + per_op * instructions.LARGE
    assert instructions.per_operation(small, large) == per_op


@pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind is not installed")
def test_the_count_is_read_from_callgrind_s_summary(tmp_path: Path) -> None:
    done = subprocess.run(
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={tmp_path / 'out'}", "true"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert instructions.collected(done.stderr) > 0


def test_output_without_a_count_is_an_error_that_shows_it() -> None:
    with pytest.raises(RuntimeError, match="no instruction count in valgrind's output:\nboom"):
        instructions.collected("boom")


def test_the_table_gives_thousands_of_instructions_per_operation() -> None:
    row = Row(by_name("future"), "own")
    small, large = instructions.SMALL, instructions.LARGE
    counts = [
        instructions.Count("spindle", row, 1_000 + 18_700 * small, 1_000 + 18_700 * large),
        instructions.Count("uvloop", row, 5_000 + 11_700 * small, 5_000 + 11_700 * large),
    ]
    assert instructions.table(counts, ["spindle", "uvloop"]).splitlines() == [
        "| case | spindle (k instr/op) | uvloop (k instr/op) |",
        "|:--|--:|--:|",
        "| future | 18.7 | 11.7 |",
    ]


def test_without_valgrind_the_command_says_what_is_missing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty directory: no valgrind on it
    assert instructions.main(["--only", "future"]) == 2
    assert "valgrind is not on PATH" in capsys.readouterr().err


def test_the_counted_runs_raise_the_watchdog_s_threshold_to_a_value_it_takes() -> None:
    # Under valgrind's slowdown the default threshold would report every large batch's step
    # as a blocked loop (and count the reports); a value the settings refused would fall
    # back to the default with only a warning, so the value is held to the parser here.
    from spindle.diagnostics.settings import parse_seconds

    environment = instructions.counted_environment()
    assert environment["SPINDLE_BLOCK_THRESHOLD"] == instructions.VALGRIND_THRESHOLD
    assert parse_seconds(instructions.VALGRIND_THRESHOLD) >= 50 * 0.1  # default x slowdown
