"""One virtual environment per suite and Python, kept in the cache, made again when pins change.

The environment holds the suite's library at its pinned release and what the suite's tests
need, nothing of spindle's: spindle is put on ``PYTHONPATH`` from this checkout when the suite
runs, so one environment serves every checkout and every commit.  Its directory name carries
a hash of the Python version and the requirements; a ``.complete`` stamp written last means a
half-made environment (an interrupted install) is made again rather than used.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

from tests.peers.suites import Suite

__all__ = ["VenvError", "ensure"]


class VenvError(RuntimeError):
    """A suite's environment could not be made."""


def key(suite: Suite, python: str) -> str:
    text = "\n".join([python, *sorted(suite.requirements)])
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def ensure(suite: Suite, cache: Path, python: str = sys.executable) -> Path:
    """The Python executable of the suite's environment, made first if needed."""
    version = subprocess.run(
        [python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    venv = cache / "venvs" / f"py{version}" / f"{suite.name}-{key(suite, version)}"
    executable = venv / "bin" / "python"
    if (venv / ".complete").exists():
        return executable
    if venv.exists():
        shutil.rmtree(venv)
    venv.parent.mkdir(parents=True, exist_ok=True)
    # Stale environments of this suite (older pins) go, so the cache does not grow.
    for old in venv.parent.glob(f"{suite.name}-*"):
        shutil.rmtree(old, ignore_errors=True)
    _run([python, "-m", "venv", str(venv)], f"making {venv}")
    _run(
        [str(executable), "-m", "pip", "install", "--quiet", *suite.requirements],
        f"installing {suite.name}'s requirements",
    )
    (venv / ".complete").touch()
    return executable


def _run(command: list[str], what: str) -> None:
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise VenvError(f"{what} failed ({result.returncode}):\n{result.stderr[-3000:]}")
