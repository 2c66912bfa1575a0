"""A multi-process server (gunicorn, ``uvicorn --workers``) that a test runs as a real process tree.

The server is started in a new session, so it and every worker it forks or spawns form one
process group whose id is the server's pid: whatever happens in the test, ``server_tree`` ends
by killing that group, and a test that stopped the server properly checks that the group is
empty (no worker outlived its master).

The server's output (stdout and stderr, one pipe) is read all the time by a task of its own,
line by line, so the pipe never fills and stalls the server; ``wait_for`` waits until the log
shows a pattern a number of times.  Requests go through ``reach_every_worker``: one ``/hold``
request blocks the worker that takes it (see ``asgi_app``), so the next connection is accepted
by another worker; repeated until every worker the test expects has answered.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import sys
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Any

import httpx

import spindle
from tests.integration.asgi_app import qualified_name

TIMEOUT = 30.0  # for any one thing a server is waited for: generous for a loaded machine

# What a spindle worker reports: the loop a runner gets from spindle.new_event_loop(), or the
# one spindle.install()'s policy makes (gunicorn's own asgi worker asks the policy for it).
SPINDLE_LOOPS = {
    qualified_name(spindle.EventLoop),
    qualified_name(spindle.patch.RunnerAwareEventLoop),
}
SPINDLE_TASK = qualified_name(spindle.Task)


class ServerTree:
    """A running server process, its log so far, and a way to wait for what it logs."""

    def __init__(self, process: spindle.subprocess.Process) -> None:
        self.process = process
        self.log: list[str] = []
        self._grown = asyncio.Event()
        self._reader = asyncio.create_task(self._read_log())

    async def _read_log(self) -> None:
        assert self.process.stdout is not None
        while line := await self.process.stdout.readline():
            self.log.append(line.decode(errors="replace").rstrip("\n"))
            self._grown.set()
        self._grown.set()  # the end of the log: waiters see that nothing more will come

    def matches(self, pattern: re.Pattern[str], since: int = 0) -> list[re.Match[str]]:
        return [m for line in self.log[since:] if (m := pattern.search(line)) is not None]

    async def wait_for(
        self, pattern: re.Pattern[str], count: int = 1, since: int = 0
    ) -> list[re.Match[str]]:
        """The first ``count`` log lines from line ``since`` on that match ``pattern``."""
        try:
            async with asyncio.timeout(TIMEOUT):
                while len(found := self.matches(pattern, since)) < count:
                    if self._reader.done():
                        raise AssertionError(f"the server exited before logging {pattern.pattern}")
                    self._grown.clear()
                    await self._grown.wait()
        except (AssertionError, TimeoutError) as exc:
            log = "\n".join(self.log)
            raise AssertionError(f"waited for {count} x {pattern.pattern!r}; log:\n{log}") from exc
        return found[:count]

    async def stop(self, signum: int) -> int:
        """Sends ``signum`` to the server and returns its exit status, its log read to the end."""
        self.process.send_signal(signum)
        async with asyncio.timeout(TIMEOUT):
            status = await self.process.wait()
            await self._reader
        return status

    async def wait_until_group_is_empty(self) -> None:
        """Waits until no process of the server's group is left (its workers exit first)."""
        async with asyncio.timeout(TIMEOUT):
            while group_alive(self.process.pid):
                await asyncio.sleep(0.05)


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


@asynccontextmanager
async def server_tree(*args: str) -> AsyncIterator[ServerTree]:
    """Runs ``python args...`` in a new session; kills its whole process group at the end."""
    process = await spindle.create_subprocess_exec(
        sys.executable, *args,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    tree = ServerTree(process)
    try:
        yield tree
    finally:
        # Only after a failure is anything left: then no worker may outlive the test.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        await process.wait()
        tree._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await tree._reader


def client() -> httpx.AsyncClient:
    """A client that opens a new connection for every request, so workers take turns."""
    limits = httpx.Limits(max_keepalive_connections=0)
    return httpx.AsyncClient(trust_env=False, limits=limits, timeout=TIMEOUT)


async def get(http: httpx.AsyncClient, url: str) -> dict[str, Any]:
    response = await http.get(f"{url}/where")
    response.raise_for_status()
    report: dict[str, Any] = response.json()
    return report


async def reach_every_worker(
    http: httpx.AsyncClient, url: str, pids: Iterable[int], attempts: int = 8
) -> dict[int, dict[str, Any]]:
    """One report from each of ``pids``, got by blocking the worker that answers first."""
    wanted = set(pids)
    reports: dict[int, dict[str, Any]] = {}
    for _ in range(attempts):
        async with http.stream("GET", f"{url}/hold") as held:
            lines = held.aiter_lines()
            first = await anext(lines)
            report = json.loads(first)
            reports[report["pid"]] = report
            # The held worker is blocked now: another one accepts this connection.
            other = await get(http, url)
            reports[other["pid"]] = other
            async for _ in lines:  # the held worker's end of the answer
                pass
        if wanted <= reports.keys():
            break
    assert reports.keys() == wanted, f"answers came from {sorted(reports)}, workers are {wanted}"
    return reports


def assert_on_spindle(reports: Iterable[dict[str, Any]]) -> None:
    for report in reports:
        assert report["loop"] in SPINDLE_LOOPS, report
        assert report["task"] == SPINDLE_TASK, report


def pids_of(matches: Iterable[re.Match[str]]) -> list[int]:
    return [int(m.group("pid")) for m in matches]
