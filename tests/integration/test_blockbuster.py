"""spindle under blockbuster: a real program, run with every module scanned, blocks nowhere.

blockbuster (used by aiohttp's and anyio's test suites, and by applications') makes a blocking
call inside a running loop raise ``BlockingError``, except for the calls it knows asyncio's own
functions make.  ``blockbuster_program.py`` starts a child process, sends a file with
``loop.sendfile``, serves a Unix socket over a stale socket file, closes a socket while a
receive waits and talks TLS, under ``blockbuster_ctx()``: on stock asyncio (where blockbuster
exempts asyncio's calls by name) and on spindle (which makes those calls on worker threads,
where no loop runs).  It runs in a child process of its own, because blockbuster patches
functions process-wide while it is active.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.io.tls_support import PKI

pytest.importorskip("blockbuster")
PROGRAM = Path(__file__).with_name("blockbuster_program.py")
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("kind", ["spindle", "asyncio"])
def test_a_program_doing_real_io_blocks_nowhere(kind: str, tmp_path: Path, pki: PKI) -> None:
    env = dict(
        os.environ,
        PYTHONPATH=str(ROOT / "src"),
        BB_CERT=pki.path("server.pem"),
        BB_KEY=pki.path("server.key"),
        BB_CA=pki.path("ca.pem"),
    )
    result = subprocess.run(
        [sys.executable, str(PROGRAM), kind, str(tmp_path)],
        capture_output=True, text=True, timeout=60, env=env, check=False,
    )  # fmt: skip
    assert (result.returncode, result.stdout.strip()) == (0, "ok"), result.stdout + result.stderr
