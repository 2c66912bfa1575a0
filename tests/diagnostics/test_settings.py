"""Settings never break a program: every bad value warns once and falls back; the reports reach
stderr whatever the program did to logging; ``--help`` and the README list every setting."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from spindle import diagnostics
from spindle.diagnostics import settings
from spindle.diagnostics.settings import SETTINGS, Settings
from tests.diagnostics.conftest import ROOT, Reports, run_program


@pytest.fixture(autouse=True)
def forget_warnings() -> Iterator[None]:
    settings._reported.clear()
    yield
    settings._reported.clear()


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, Settings()),
        ({"SPINDLE_DIAGNOSTICS": "0"}, Settings(enabled=False)),
        ({"SPINDLE_DIAGNOSTICS": "Off"}, Settings(enabled=False)),
        ({"SPINDLE_DIAGNOSTICS": " yes "}, Settings(enabled=True)),
        ({"SPINDLE_DIAGNOSTICS": ""}, Settings(enabled=True)),  # empty: as if unset
        ({"SPINDLE_BLOCK_THRESHOLD": "0.5"}, Settings(block_threshold=0.5)),
        ({"SPINDLE_BLOCK_THRESHOLD": "2"}, Settings(block_threshold=2.0)),
        ({"SPINDLE_TIMELINE": "t.html"}, Settings(timeline_path="t.html")),
        ({"SPINDLE_FAULTHANDLER": "false"}, Settings(faulthandler=False)),
        ({"SPINDLE_PURE": "1", "HOME": "/root"}, Settings()),  # not a runtime setting: ignored
    ],
)
def test_settings_from_the_environment(
    environ: dict[str, str], expected: Settings, reports: Reports
) -> None:
    assert settings.resolve(environ) == expected
    assert reports() == []


BAD_VALUES = [
    (
        {"SPINDLE_BLOCK_THRESHOLD": "fast"},
        Settings(),
        "spindle: ignoring SPINDLE_BLOCK_THRESHOLD='fast' (expected a number of seconds, "
        "e.g. 0.25); using 0.1 instead",
    ),
    (
        {"SPINDLE_BLOCK_THRESHOLD": "-1"},
        Settings(),
        "spindle: ignoring SPINDLE_BLOCK_THRESHOLD='-1' (expected a number of seconds above 0, "
        "e.g. 0.25); using 0.1 instead",
    ),
    (
        {"SPINDLE_BLOCK_THRESHOLD": "nan"},
        Settings(),
        "spindle: ignoring SPINDLE_BLOCK_THRESHOLD='nan' (expected a number of seconds above 0, "
        "e.g. 0.25); using 0.1 instead",
    ),
    (
        {"SPINDLE_DIAGNOSTICS": "maybe"},
        Settings(),
        "spindle: ignoring SPINDLE_DIAGNOSTICS='maybe' (expected 1/0, true/false, yes/no or "
        "on/off); using on instead",
    ),
    (
        {"SPINDLE_FAULTHANDLER": "2"},
        Settings(),
        "spindle: ignoring SPINDLE_FAULTHANDLER='2' (expected 1/0, true/false, yes/no or "
        "on/off); using on instead",
    ),
    (
        {"SPINDLE_TIMELINE": "/no/such/dir/t.html"},
        Settings(),
        "spindle: ignoring SPINDLE_TIMELINE='/no/such/dir/t.html' (its directory /no/such/dir "
        "does not exist); using none (no timeline is written) instead",
    ),
    (
        {"SPINDLE_BLOCK_TRESHOLD": "0.5"},
        Settings(),
        "spindle: ignoring SPINDLE_BLOCK_TRESHOLD: no such setting (did you mean "
        "SPINDLE_BLOCK_THRESHOLD?); SPINDLE_BLOCK_THRESHOLD is 0.1 unless set",
    ),
]


@pytest.mark.parametrize(("environ", "expected", "warning"), BAD_VALUES)
def test_a_bad_value_warns_once_naming_it_and_falls_back(
    environ: dict[str, str], expected: Settings, warning: str, reports: Reports
) -> None:
    assert settings.resolve(environ) == expected
    assert settings.resolve(environ) == expected  # a second runner: no second warning
    assert [r.getMessage() for r in reports()] == [warning]


def test_configure_wins_over_the_environment() -> None:
    diagnostics.configure(enabled=True, block_threshold=0.25)
    environ = {"SPINDLE_DIAGNOSTICS": "0", "SPINDLE_BLOCK_THRESHOLD": "3"}
    assert settings.resolve(environ) == Settings(enabled=True, block_threshold=0.25)
    diagnostics.reset()
    assert settings.resolve(environ) == Settings(enabled=False, block_threshold=3.0)


@pytest.mark.parametrize(
    ("arguments", "error", "match"),
    [
        ({"block_threshold": 0}, ValueError, r"configure\(block_threshold=0\): expected"),
        ({"block_threshold": "0.5"}, TypeError, r"configure\(block_threshold=...\) takes"),
        ({"enabled": "no"}, TypeError, r"configure\(enabled=...\) takes True or False"),
        ({"faulthandler": 1}, TypeError, r"configure\(faulthandler=...\) takes True or False"),
    ],
)
def test_configure_refuses_a_bad_argument_naming_it(
    arguments: dict[str, Any], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        diagnostics.configure(**arguments)


# -- in a real program ---------------------------------------------------------------------

BLOCKS = """
    import time, spindle

    async def main():
        time.sleep(0.3)
        print("ran")

    spindle.run(main())
"""


def test_a_program_with_bad_settings_runs_with_one_warning_each(tmp_path: Path) -> None:
    result = run_program(
        BLOCKS, cwd=tmp_path, SPINDLE_BLOCK_THRESHOLD="soon", SPINDLE_DIAGNOSTICS="sometimes"
    )
    assert (result.returncode, result.stdout) == (0, "ran\n")
    lines = result.stderr.splitlines()
    assert lines[:2] == [
        "spindle: ignoring SPINDLE_DIAGNOSTICS='sometimes' (expected 1/0, true/false, yes/no "
        "or on/off); using on instead",
        "spindle: ignoring SPINDLE_BLOCK_THRESHOLD='soon' (expected a number of seconds, "
        "e.g. 0.25); using 0.1 instead",
    ]
    # And the defaults it fell back on are at work.
    assert any("has been blocking the event loop" in line for line in lines)


EXITS = """
    import sys, spindle

    async def main():
        await spindle.sleep(0)

    spindle.run(main())
    sys.exit({status})
"""


@pytest.mark.parametrize("status", [0, 3])
def test_a_timeline_that_cannot_be_written_warns_and_keeps_the_exit_status(
    tmp_path: Path, status: int
) -> None:
    directory = tmp_path / "a-directory.html"
    directory.mkdir()  # the path names a directory: open() fails when the run ends
    result = run_program(
        EXITS.replace("{status}", str(status)), cwd=tmp_path, SPINDLE_TIMELINE=str(directory)
    )
    assert result.returncode == status
    assert result.stderr.splitlines() == [
        f"spindle: cannot write the timeline to {directory} (Is a directory); "
        "the program is not affected"
    ]


QUIET_LOGGING = """
    import logging, time, spindle
    logging.basicConfig(level=logging.ERROR)   # the application silences warnings

    async def main():
        time.sleep(0.3)

    spindle.run(main())
"""


def test_reports_reach_stderr_when_the_application_sets_logging_to_error(tmp_path: Path) -> None:
    result = run_program(QUIET_LOGGING, cwd=tmp_path, SPINDLE_BLOCK_THRESHOLD="0.1")
    assert result.returncode == 0
    assert result.stderr.startswith("spindle: main() has been blocking the event loop for ")
    # Once each: the root logger's own handler does not print them again.
    assert result.stderr.count("blocked the event loop for") == 1


ROUTED = """
    import logging, time, spindle, spindle.diagnostics
    log = logging.getLogger("spindle")
    log.removeHandler(spindle.diagnostics.log.STDERR_HANDLER)   # as the README says
    log.propagate = True
    logging.basicConfig(filename="app.log", level=logging.WARNING, format="APP %(message)s")

    async def main():
        time.sleep(0.3)

    spindle.run(main())
"""


def test_reports_can_be_routed_through_the_applications_logging(tmp_path: Path) -> None:
    result = run_program(ROUTED, cwd=tmp_path, SPINDLE_BLOCK_THRESHOLD="0.1")
    assert (result.returncode, result.stderr) == (0, "")
    logged = (tmp_path / "app.log").read_text()
    assert logged.startswith("APP spindle: main() has been blocking the event loop for ")
    assert "APP spindle: main() blocked the event loop for " in logged


# -- every setting, listed -----------------------------------------------------------------


def test_help_lists_every_setting() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "spindle", "--help"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    for setting in SETTINGS:
        assert f"  {setting.name}  " in result.stdout or f"  {setting.name} " in result.stdout
        assert f"{setting.name}={setting.example}" in result.stdout


def test_the_readme_has_the_table_of_every_setting() -> None:
    readme = (ROOT / "README.md").read_text()
    assert settings.markdown_table() in readme
