"""uvicorn, unmodified, serving an ASGI application on spindle's loop, in a real subprocess.

The server is started the way a user would: ``python -m uvicorn --loop spindle:new_event_loop
asgi_app:app``.  uvicorn (0.36 and later) treats a ``--loop`` value that is not one of its own
names as ``module:callable`` and uses the callable as the loop factory of its runner, so no
spindle-specific setup code is needed.  (Older uvicorn accepts only its own names; there,
``python -m spindle -m uvicorn --loop asyncio app:app`` runs it on spindle through
``spindle.install()``'s event-loop policy; ``--loop auto`` would pick uvloop's instead.)

``--port 0`` lets the kernel pick the port, and the test reads the real one from uvicorn's
"Uvicorn running on" line: no window in which another process could take a port chosen in
advance.

The application reports the class of the running loop and of the current Task, which is how
the test knows the server really ran on spindle.  The test itself drives the subprocess with
spindle's subprocess support and talks to it with httpx and websockets on spindle's loop.
"""

from __future__ import annotations

import asyncio
import re
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect

import spindle
from tests.integration.asgi_app import qualified_name
from tests.integration.conftest import run_on_spindle

pytestmark = pytest.mark.usefixtures("fd_guard")

APP_DIR = Path(__file__).parent
RUNNING = re.compile(rb"Uvicorn running on (http://[\d.]+:\d+)")
STOP_TIMEOUT = 20.0


@dataclass
class Uvicorn:
    process: spindle.subprocess.Process
    url: str
    log: list[str]

    async def stop(self, signum: int) -> int:
        """Sends ``signum`` and returns the exit status, with the rest of the log read."""
        self.process.send_signal(signum)
        async with asyncio.timeout(STOP_TIMEOUT):
            assert self.process.stderr is not None
            rest = await self.process.stderr.read()
            self.log += rest.decode().splitlines()
            return await self.process.wait()


@asynccontextmanager
async def uvicorn() -> AsyncIterator[Uvicorn]:
    process = await spindle.create_subprocess_exec(
        sys.executable, "-m", "uvicorn", "--loop", "spindle:new_event_loop",
        "--app-dir", str(APP_DIR), "asgi_app:app",
        "--host", "127.0.0.1", "--port", "0", "--no-access-log",
        stdin=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        yield await started(process)
    finally:
        if process.returncode is None:  # the test failed before stopping it
            process.kill()
            await process.communicate()


async def started(process: spindle.subprocess.Process) -> Uvicorn:
    """Reads uvicorn's log until it says where it listens."""
    assert process.stderr is not None
    log: list[str] = []
    async with asyncio.timeout(STOP_TIMEOUT):
        while line := await process.stderr.readline():
            log.append(line.decode().rstrip("\n"))
            if match := RUNNING.search(line):
                return Uvicorn(process, match.group(1).decode(), log)
    raise AssertionError("uvicorn exited before serving:\n" + "\n".join(log))


# After its graceful shutdown uvicorn raises a captured SIGTERM again with the default handler
# restored, so that its parent sees it die of the signal, as it does on asyncio's loop.  A
# SIGINT is turned into a normal exit.
STOPS = [(signal.SIGINT, 0), (signal.SIGTERM, -signal.SIGTERM)]


@pytest.mark.parametrize(("signum", "exit_status"), STOPS, ids=["SIGINT", "SIGTERM"])
def test_uvicorn_serves_http_and_websockets_on_spindle_and_shuts_down_gracefully(
    signum: int, exit_status: int
) -> None:
    async def main() -> tuple[object, list[str], int, Uvicorn]:
        async with uvicorn() as server:
            async with httpx.AsyncClient(trust_env=False) as client:
                info = (await client.get(f"{server.url}/hello")).json()
            ws_url = server.url.replace("http://", "ws://") + "/echo"
            async with connect(ws_url) as ws:
                replies = []
                for text in ("abc", "spindle"):
                    await ws.send(text)
                    replies.append(str(await ws.recv()))
            status = await server.stop(signum)
            return info, replies, status, server

    info, replies, status, server = run_on_spindle(main())
    assert info == {
        "loop": qualified_name(spindle.EventLoop),
        "task": qualified_name(spindle.Task),
        "pid": server.process.pid,
        "path": "/hello",
    }
    assert replies == ["cba", "eldnips"]
    assert status == exit_status
    app_lines = [line for line in server.log if line.startswith("asgi-app:")]
    phases = ("startup", "shutdown")
    loop = qualified_name(spindle.EventLoop)
    pid = server.process.pid
    assert app_lines == [f"asgi-app: {phase} on {loop} in {pid}" for phase in phases]
    assert server.log[-1] == f"INFO:     Finished server process [{server.process.pid}]"
