"""spindle's loop in every worker of a multi-process server: gunicorn and ``uvicorn --workers``.

Each server runs as a real process tree (``process_tree``) with two workers on a port the kernel
picks, serving ``asgi_app``, which reports the class of its loop and of its current Task and its
pid.  The test reaches every worker (``reach_every_worker``), has the master replace its workers
(SIGHUP: a graceful reload) and then lose one to SIGKILL (the master starts a replacement), and
reaches every worker again after each.  SIGTERM must then stop the whole tree: exit status 0,
every worker's lifespan shutdown run, no process of the tree left.

How each server gets spindle's loop into its workers is what a user would write:

- gunicorn with uvicorn's worker: ``-k spindle_worker.SpindleUvicornWorker``, a two-line
  subclass whose ``CONFIG_KWARGS`` names ``spindle:new_event_loop`` as the loop;
- gunicorn's own ``asgi`` worker: ``--asgi-loop asyncio`` with ``spindle.install()`` in a
  ``post_fork`` hook (``gunicorn_conf.py``);
- uvicorn: ``--workers 2 --loop spindle:new_event_loop`` (its workers are spawned, not forked,
  and each builds its loop from the same setting).
"""

from __future__ import annotations

import json
import os
import re
import signal
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

import spindle
from tests.integration.asgi_app import qualified_name
from tests.integration.conftest import run_on_spindle
from tests.integration.process_tree import TIMEOUT, ProcessTree, process_tree

pytestmark = [pytest.mark.usefixtures("fd_guard"), pytest.mark.timeout(180)]

APP_DIR = Path(__file__).parent
WORKERS = 2
STARTED = re.compile(r"asgi-app: startup on \S+ in (?P<pid>\d+)")
STOPPED = re.compile(r"asgi-app: shutdown on \S+ in (?P<pid>\d+)")


@dataclass(frozen=True)
class Server:
    args: tuple[str, ...]  # the application (asgi_app:app) goes after these
    listening: re.Pattern[str]  # the log line that says where it listens: group "url"


GUNICORN = (
    "-m", "gunicorn", "--pythonpath", str(APP_DIR), "--workers", str(WORKERS),
    "--bind", "127.0.0.1:0", "--no-control-socket", "--graceful-timeout", "10",
)  # fmt: skip
GUNICORN_LISTENING = re.compile(r"Listening at: (?P<url>http://[\d.]+:\d+) ")
GUNICORN_ASGI_WORKER = ("--worker-class", "asgi", "--asgi-loop", "asyncio")
UVICORN = (
    "-m", "uvicorn", "--app-dir", str(APP_DIR), "--workers", str(WORKERS),
    "--loop", "spindle:new_event_loop", "--host", "127.0.0.1", "--port", "0", "--no-access-log",
)  # fmt: skip
UVICORN_LISTENING = re.compile(r"Uvicorn running on (?P<url>http://[\d.]+:\d+) ")

SERVERS = {
    "gunicorn-uvicorn-worker": Server(
        (*GUNICORN, "--worker-class", "spindle_worker.SpindleUvicornWorker"),
        GUNICORN_LISTENING,
    ),
    "gunicorn-asgi-worker": Server(
        (*GUNICORN, "--config", str(APP_DIR / "gunicorn_conf.py"), *GUNICORN_ASGI_WORKER),
        GUNICORN_LISTENING,
    ),
    "uvicorn-workers": Server(UVICORN, UVICORN_LISTENING),
}


# What a spindle worker reports: the loop a runner gets from spindle.new_event_loop(), or the
# one spindle.install()'s policy makes (gunicorn's own asgi worker asks the policy for it).
SPINDLE_LOOPS = {
    qualified_name(spindle.EventLoop),
    qualified_name(spindle.patch.RunnerAwareEventLoop),
}
SPINDLE_TASK = qualified_name(spindle.Task)


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
    """One report from each of ``pids``: a ``/hold`` request blocks the worker that takes it
    (see ``asgi_app``), so the next connection is accepted by another worker."""
    wanted = set(pids)
    reports: dict[int, dict[str, Any]] = {}
    for _ in range(attempts):
        async with http.stream("GET", f"{url}/hold") as held:
            lines = held.aiter_lines()
            first = json.loads(await anext(lines))
            reports[first["pid"]] = first
            other = await get(http, url)  # the held worker is blocked: another one accepts
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


@dataclass
class Story:
    """What the test saw, checked after the loop has closed."""

    first: list[int]
    reloaded: list[int]
    killed: int
    replacement: int
    reports: list[dict[str, object]]
    status: int
    tree: ProcessTree


async def started_workers(tree: ProcessTree, since: int) -> list[int]:
    return pids_of(await tree.wait_for(STARTED, WORKERS, since))


async def run_the_story(server: Server) -> Story:
    async with process_tree(*server.args, "asgi_app:app") as tree, client() as http:
        [listening] = await tree.wait_for(server.listening)
        url = listening.group("url")
        first = await started_workers(tree, 0)
        reports = list((await reach_every_worker(http, url, first)).values())

        # A graceful reload: new workers start, the old ones finish and leave.
        mark = len(tree.log)
        tree.process.send_signal(signal.SIGHUP)
        reports.append(await get(http, url))  # the server keeps answering while it reloads
        reloaded = await started_workers(tree, mark)
        assert sorted(pids_of(await tree.wait_for(STOPPED, WORKERS, mark))) == sorted(first)
        reports += (await reach_every_worker(http, url, reloaded)).values()

        # A worker dies: the master starts another in its place.
        killed, survivor = reloaded
        mark = len(tree.log)
        os.kill(killed, signal.SIGKILL)
        [replacement] = pids_of(await tree.wait_for(STARTED, 1, mark))
        reports += (await reach_every_worker(http, url, [survivor, replacement])).values()

        status = await tree.stop(signal.SIGTERM)
        await tree.wait_until_group_is_empty()
        return Story(first, reloaded, killed, replacement, reports, status, tree)


@pytest.mark.parametrize("name", sorted(SERVERS))
def test_every_worker_runs_spindle_across_a_reload_and_a_crash_and_sigterm_stops_all(
    name: str,
) -> None:
    story = run_on_spindle(run_the_story(SERVERS[name]))
    assert_on_spindle(story.reports)
    workers = {*story.first, *story.reloaded, story.replacement}
    assert len(workers) == 2 * WORKERS + 1  # every start was a new process
    assert {report["pid"] for report in story.reports} == workers
    assert story.status == 0
    # Every worker ran its lifespan startup; every one not killed ran its shutdown.
    tree = story.tree
    assert sorted(pids_of(tree.matches(STARTED))) == sorted(workers)
    assert sorted(pids_of(tree.matches(STOPPED))) == sorted(workers - {story.killed})
    assert not [line for line in tree.log if "Traceback" in line], str(tree)
