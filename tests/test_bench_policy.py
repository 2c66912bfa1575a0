"""The benchmark suites' pure decisions, checked with tables: names, rows, and the arithmetic.

A wrong ratio or a column silently timing the wrong build would make every table wrong while
every smoke test passes; these hold the policy itself.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bench import builds, report, targets
from bench.cases import by_name, rows
from bench.echo.run import rows as echo_rows
from bench.impls import check, ordered
from bench.pyperf.run import values_of


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("spindle", builds.Variant(builds.Build(), diagnostics=False)),
        ("spindle-diag", builds.Variant(builds.Build(), diagnostics=True)),
        ("spindle-pure", builds.Variant(builds.Build(pure=True), diagnostics=False)),
        ("spindle-pure-diag", builds.Variant(builds.Build(pure=True), diagnostics=True)),
        ("spindle@main", builds.Variant(builds.Build(pure=True, ref="main"), diagnostics=False)),
        ("spindle@v1-diag", builds.Variant(builds.Build(pure=True, ref="v1"), diagnostics=True)),
        ("spindle@", None),
        ("uvloop", None),
        ("spindle-compiled", None),
    ],
)
def test_a_column_name_says_which_spindle(name: str, expected: builds.Variant | None) -> None:
    assert builds.parse(name) == expected


def test_each_build_has_a_directory_of_its_own() -> None:
    keys = {
        builds.Build(pure=True).key,
        builds.Build(pure=True, ref="main").key,
        builds.Build(pure=True, ref="main~1").key,
        builds.Build(pure=True, ref="main/1").key,
    }
    assert len(keys) == 4


def test_an_unknown_implementation_is_named_in_the_error() -> None:
    assert check("spindle@HEAD") == "spindle@HEAD"
    with pytest.raises(ValueError, match="no implementation 'uvlop'"):
        check("uvlop")


def test_columns_are_ordered_asyncio_then_spindle_then_the_rest() -> None:
    names = ["uvloop", "spindle-diag", "asyncio", "spindle", "rloop", "spindle@main", "spindle"]
    expected = ["asyncio", "spindle-diag", "spindle", "spindle@main", "uvloop", "rloop"]
    assert ordered(names) == expected


@pytest.mark.parametrize(
    ("api", "labels"),
    [
        ("own", ["call_soon", "gather"]),
        ("asyncio", ["call_soon", "gather[asyncio-api]"]),
        ("both", ["call_soon", "gather", "gather[asyncio-api]"]),
    ],
)
def test_a_case_that_calls_primitives_gets_a_row_per_api(api: str, labels: list[str]) -> None:
    assert [row.label for row in rows([by_name("call_soon"), by_name("gather")], api)] == labels


def test_a_case_without_primitives_counts_in_both_geometric_means() -> None:
    own, asyncio_row = rows([by_name("call_soon"), by_name("queue")], "both")[1:]
    call_soon = rows([by_name("call_soon")], "both")[0]
    assert call_soon.modes == ("own", "asyncio")
    assert (own.modes, asyncio_row.modes) == (("own",), ("asyncio",))


def test_echo_rows_per_api() -> None:
    assert [row.label for row in echo_rows("asyncio", 1.0)] == [
        "protocol 1KiB",
        "protocol 100KiB",
        "streams 1KiB[asyncio-api]",
        "streams 100KiB[asyncio-api]",
    ]
    assert min(row.per_conn for row in echo_rows("both", 0.0001)) == 1


@pytest.mark.parametrize(
    ("timings", "reference", "seconds", "ratio"),
    [
        # The ratio pairs rounds: a round slow for both (round 1) does not move it.
        ({0: 1.0, 1: 4.0, 2: 1.0}, {0: 2.0, 1: 8.0, 2: 2.0}, 1.0, 2.0),
        # Rounds the reference lacks are left out of the ratio.
        ({0: 1.0, 1: 3.0}, {0: 1.5}, 2.0, 1.5),
        ({0: 1.0}, {}, 1.0, None),
    ],
)
def test_summary_takes_medians_and_pairs_rounds(
    timings: dict[int, float], reference: dict[int, float], seconds: float, ratio: float | None
) -> None:
    summary = report.summarise(timings, reference)
    assert summary.seconds == seconds
    assert summary.ratio == ratio


@pytest.mark.parametrize(
    ("n", "seconds", "rate", "time"),
    [
        (150_000, 0.1, "1.50M ±0%", "667 ns ±0%"),
        (1, 1.25, "0.80 ±0%", "1.25 s ±0%"),
        (10_000, 0.5, "20.00k ±0%", "50 us ±0%"),
    ],
)
def test_cells_show_a_rate_or_a_time_per_unit(n: int, seconds: float, rate: str, time: str) -> None:
    summary = report.Summary(seconds, 0.0, None)
    assert report.rate_cell(n, summary) == rate
    assert report.time_cell(n, summary) == time


def test_table_has_a_geometric_mean_per_group() -> None:
    results = report.Results(sizes={"a": 1, "b": 1}, impls=["asyncio", "x"])
    for row, ratio in (("a", 2.0), ("b", 8.0)):
        results.record(row, "asyncio", 0, 1.0)
        results.record(row, "x", 0, 1.0 / ratio)
    table = report.table(results, means={"both": ["a", "b"], "only b": ["b"]})
    assert table[-2] == ["both", "", "1.00x", "", "4.00x"]
    assert table[-1] == ["only b", "", "1.00x", "", "8.00x"]


def test_pyperf_values_are_read_without_the_warmups(tmp_path: Path) -> None:
    data = {
        "version": "1.0",
        "metadata": {},
        "benchmarks": [{"runs": [{"warmups": [[1, 9.0]], "values": [1.0, 2.0], "metadata": {}}]}],
    }
    path = tmp_path / "bench.json"
    path.write_text(json.dumps(data))
    assert values_of(path) == [1.0, 2.0]


def test_targets_pair_rounds_and_give_a_verdict_per_row() -> None:
    impls = ["asyncio", "spindle", "spindle-diag", "spindle-pure", "spindle@main", "uvloop"]
    results = report.Results(sizes={"fast": 1, "slow": 1}, impls=impls)
    # seconds per implementation: spindle beats uvloop on "fast" only; diagnostics cost 4%, 10%.
    timings = {
        "fast": {"asyncio": 2.0, "spindle": 1.0, "spindle-diag": 1.04, "uvloop": 1.1},
        "slow": {"asyncio": 2.0, "spindle": 1.0, "spindle-diag": 1.1, "uvloop": 0.9},
    }
    for row, by_impl in timings.items():
        for impl, seconds in {**by_impl, "spindle-pure": 1.0, "spindle@main": 1.0}.items():
            results.record(row, impl, 0, seconds)
    wanted = targets.for_columns(impls, beat_asyncio=True)
    assert [t.title for t in wanted] == [
        "spindle vs uvloop (>= 1.00)",
        "spindle vs asyncio (> 1.00)",
        "spindle-diag vs spindle (>= 0.95)",
        "spindle-pure vs spindle@main (>= 1.00)",
    ]
    rows_ = targets.table(results, wanted)
    assert rows_[1] == ["fast", "1.100x ok", "2.000x ok", "0.962x ok", "1.000x ok"]
    assert rows_[2] == ["slow", "0.900x MISS", "2.000x ok", "0.909x MISS", "1.000x ok"]
    assert rows_[3] == ["rows met", "1/2", "2/2", "1/2", "2/2"]


def test_no_targets_without_the_columns_they_compare() -> None:
    assert targets.for_columns(["asyncio", "uvloop"]) == []
