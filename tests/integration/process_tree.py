"""A program that starts processes of its own (a server's workers, a cluster), run by a test.

The program is started in a new session, so it and every process it forks or spawns form one
process group whose id is the program's pid: whatever happens in the test, ``process_tree``
ends by killing that group, and a test that saw the program end properly checks that the group
is empty (no worker outlived the program).

The program's output (stdout and stderr, one pipe) is read all the time by a task of its own,
line by line, so the pipe never fills and stalls the program; ``wait_for`` waits until the
output shows a pattern a number of times.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import spindle

TIMEOUT = 60.0  # for any one thing a program is waited for: generous for a loaded machine


class ProcessTree:
    """A running program, its output so far, and ways to wait for what it prints."""

    def __init__(self, process: spindle.subprocess.Process) -> None:
        self.process = process
        self.log: list[str] = []
        self._grown = asyncio.Event()
        self._reader = asyncio.create_task(self._read_output())

    async def _read_output(self) -> None:
        assert self.process.stdout is not None
        while line := await self.process.stdout.readline():
            self.log.append(line.decode(errors="replace").rstrip("\n"))
            self._grown.set()
        self._grown.set()  # the end of the output: waiters see that nothing more will come

    def matches(self, pattern: re.Pattern[str], since: int = 0) -> list[re.Match[str]]:
        return [m for line in self.log[since:] if (m := pattern.search(line)) is not None]

    async def wait_for(
        self, pattern: re.Pattern[str], count: int = 1, since: int = 0
    ) -> list[re.Match[str]]:
        """The first ``count`` output lines from line ``since`` on that match ``pattern``."""
        try:
            async with asyncio.timeout(TIMEOUT):
                while len(found := self.matches(pattern, since)) < count:
                    if self._reader.done():
                        raise AssertionError(f"the program ended before printing {pattern.pattern}")
                    self._grown.clear()
                    await self._grown.wait()
        except (AssertionError, TimeoutError) as exc:
            raise AssertionError(f"waited for {count} x {pattern.pattern!r}; {self}") from exc
        return found[:count]

    async def exited(self) -> int:
        """The program's exit status, once it has ended and its output is read to the end."""
        async with asyncio.timeout(TIMEOUT):
            status = await self.process.wait()
            await self._reader
        return status

    async def stop(self, signum: int) -> int:
        """Sends ``signum`` to the program and returns its exit status."""
        self.process.send_signal(signum)
        return await self.exited()

    async def wait_until_group_is_empty(self) -> None:
        """Waits until no process of the program's group is left (workers may exit last)."""
        async with asyncio.timeout(TIMEOUT):
            while group_alive(self.process.pid):
                await asyncio.sleep(0.05)

    def __str__(self) -> str:
        return "output:\n" + "\n".join(self.log)


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


@asynccontextmanager
async def process_tree(*args: str, **env: str) -> AsyncIterator[ProcessTree]:
    """Runs ``python args...`` (``env`` added to the environment) in a new session; kills its
    whole process group at the end."""
    process = await spindle.create_subprocess_exec(
        sys.executable, *args,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1", **env},
        start_new_session=True,
    )  # fmt: skip
    tree = ProcessTree(process)
    try:
        yield tree
    finally:
        # Only after a failure is anything left: then no process may outlive the test.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        await process.wait()
        tree._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await tree._reader
