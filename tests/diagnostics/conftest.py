"""Fixtures for the diagnostics tests: settings reset around each test, reports captured."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from spindle import diagnostics
from tests.children import user_environment

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src"


@pytest.fixture(autouse=True)
def fresh_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No SPINDLE_* from the environment, no configure() left over, paths from the repo."""
    for name in list(os.environ):
        if name.startswith("SPINDLE_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(ROOT)  # reports show paths relative to the repository
    diagnostics.reset()
    yield
    diagnostics.reset()


Reports = Callable[[], list[logging.LogRecord]]


@pytest.fixture
def reports(caplog: pytest.LogCaptureFixture) -> Iterator[Reports]:
    """The records of the ``spindle`` logger (which does not pass them on to the root's)."""
    spindle_logger = logging.getLogger("spindle")
    spindle_logger.addHandler(caplog.handler)
    try:
        yield lambda: [r for r in caplog.records if r.name == "spindle"]
    finally:
        spindle_logger.removeHandler(caplog.handler)


def line_of(path: Path, marker: str) -> int:
    """The line of ``path`` that ends with the comment ``# <marker>``."""
    lines = path.read_text().splitlines()
    found = [n for n, line in enumerate(lines, 1) if line.rstrip().endswith(f"# {marker}")]
    assert len(found) == 1, marker
    return found[0]


def run_program(
    source: str, *, cwd: Path, timeout: float = 60, **env: str
) -> subprocess.CompletedProcess[str]:
    """Run ``source`` as ``program.py`` in ``cwd`` with spindle importable; its output."""
    (cwd / "program.py").write_text(textwrap.dedent(source))
    return subprocess.run(
        [sys.executable, "program.py"],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=user_environment(PYTHONPATH=str(SRC), **env),
        timeout=timeout,
        check=False,
    )
