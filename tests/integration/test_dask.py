"""Dask's distributed on spindle: ``examples/dask_cluster.py`` run as a real program.

The example runs on ``spindle.run``; it starts a ``LocalCluster`` whose scheduler runs on the
program's own loop and whose two workers are processes of their own, computes a graph of 421
tasks and counts primes through ``loop.run_in_executor(client.get_executor(), ...)``, checking
both results itself.  The test reads what it printed: the scheduler ran on spindle's loop (as
the scheduler itself reported, from ``client.run_on_scheduler``, and as the cluster's IOLoop
says), the executor's calls ran in the workers' processes, not the program's.  The program must
exit 0 with nothing on stderr but spindle's reports of slow steps (Dask pickles functions on
the loop) and, on a loaded machine, Dask's word that it killed a worker slow to close, leave no
process behind, and turn any ResourceWarning into an error.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import spindle
from tests.integration.asgi_app import qualified_name
from tests.integration.conftest import run_on_spindle
from tests.integration.process_tree import ProcessTree, process_tree

pytestmark = [pytest.mark.usefixtures("fd_guard"), pytest.mark.timeout(180)]

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "dask_cluster.py"
PIDS = r"\[(?P<pids>\d+, \d+)\]"
EXPECTED = [
    r"this program runs on (?P<loop>\S+)",
    r"scheduler: tcp://127\.0\.0\.1:\d+, on (?P<scheduler_loop>\S+), this loop: (?P<same>\w+)",
    rf"workers: 2 processes, pids {PIDS}",
    r"sum of the squares below 400, by 421 tasks: 21253400 \(checked\)",
    r"primes below 100000, counted in 8 chunks by run_in_executor: 9592 \(checked\)",
    r"those chunks ran in processes \[(?P<ran_in>[\d, ]+)\] \(this one is (?P<pid>\d+)\)",
]
FAULTHANDLER_TIMEOUT = re.compile(r"Timeout \(\d+:\d\d:\d\d(\.\d+)?\)!")
# Dask's nanny gives its worker process 4 s to close, then kills it, saying so: on a loaded
# machine a worker (on asyncio's loop, in a process of its own) can take longer than that.
NANNY_KILLS_A_SLOW_WORKER = re.compile(
    r"[\d-]+ [\d:,]+ - distributed\.nanny - WARNING - "
    r"Worker process still alive after [\d.]+ seconds, killing"
)

# A worker (on asyncio's loop) whose heartbeat falls in the cluster's shutdown logs it, with the
# traceback of the connection its pool was closing: Dask's own noise at shutdown, seen on stock
# asyncio too (dask/distributed#7192, NVIDIA-NeMo/Curator#9).
WORKER_HEARTBEAT_AT_SHUTDOWN = re.compile(
    r"[\d-]+ [\d:,]+ - distributed\.worker - ERROR - "
    r"Failed to communicate with scheduler during heartbeat\."
)
# The lines of a Python traceback: its head, frames, the links between chained exceptions,
# and the exception lines themselves.
TRACEBACK_LINE = re.compile(
    r"Traceback \(most recent call last\):|  .*|"
    r"The above exception was the direct cause of the following exception:|"
    r"During handling of the above exception, another exception occurred:|"
    r"[\w.]*(Error|Exception|Exit|Interrupt)\b.*"
)


def program_lines(log: list[str]) -> list[str]:
    """The program's own lines: spindle's reports of slow steps left out.

    A report is a line that starts with ``spindle: `` and the indented lines of its detail
    that follow it (a step that lasts twice the threshold, as one may on a loaded machine, is
    reported while it runs, with its task and stack, and again with its total when it ends).
    When the watchdog itself cannot run for two seconds (a machine so loaded that the program
    waits that long for a CPU), faulthandler, which spindle arms for that, prints every
    thread's stack: ``Timeout (0:00:02)!``, then a ``Thread 0x...`` line per thread, its
    indented frames and a blank line; the watchdog's report that explains it follows.
    Dask's own warning that it killed a worker slow to close (``NANNY_KILLS_A_SLOW_WORKER``) is
    left out too, and so is a worker's heartbeat error at shutdown with its traceback
    (``WORKER_HEARTBEAT_AT_SHUTDOWN``).
    """
    kept: list[str] = []
    in_report = in_dump = in_traceback = False
    for line in log:
        if in_traceback and (not line or TRACEBACK_LINE.fullmatch(line)):
            continue
        in_traceback = False
        if WORKER_HEARTBEAT_AT_SHUTDOWN.fullmatch(line):
            in_report = in_dump = False
            in_traceback = True
        elif line.startswith("spindle: "):
            in_report, in_dump = True, False
        elif FAULTHANDLER_TIMEOUT.fullmatch(line):
            in_report, in_dump = False, True
        elif in_dump and (not line or line.startswith(("  ", "Thread 0x", "Current thread 0x"))):
            pass
        elif NANNY_KILLS_A_SLOW_WORKER.fullmatch(line):
            in_report = in_dump = False
        elif not (in_report and line.startswith("  ")):
            in_report = in_dump = False
            kept.append(line)
    return kept


async def run_example(scratch: Path) -> tuple[int, ProcessTree]:
    args = ("-W", "error::ResourceWarning", str(EXAMPLE))
    # The workers' scratch space (spilled data, lock files) goes to the test's own directory.
    async with process_tree(*args, DASK_TEMPORARY_DIRECTORY=str(scratch)) as tree:
        status = await tree.exited()
        await tree.wait_until_group_is_empty()
        return status, tree


def test_dask_cluster_example_schedules_on_spindle_and_computes_in_the_workers(
    tmp_path: Path,
) -> None:
    status, tree = run_on_spindle(run_example(tmp_path))
    assert status == 0, str(tree)
    printed = program_lines(tree.log)
    assert len(printed) == len(EXPECTED), str(tree)
    seen: dict[str, str] = {}
    for pattern, line in zip(EXPECTED, printed, strict=True):
        match = re.fullmatch(pattern, line)
        assert match is not None, f"{line!r} does not match {pattern!r}; {tree}"
        seen.update(match.groupdict())

    spindle_loop = qualified_name(spindle.EventLoop)
    assert seen["loop"] == seen["scheduler_loop"] == spindle_loop
    assert seen["same"] == "True"
    workers = {int(pid) for pid in seen["pids"].split(", ")}
    ran_in = {int(pid) for pid in seen["ran_in"].split(", ")}
    assert ran_in <= workers, (ran_in, workers)
    assert int(seen["pid"]) not in workers


def test_program_lines_leave_out_a_live_report_and_a_final_one() -> None:
    log = [
        "this program runs on spindle._io.loop.EventLoop",
        "spindle: callback f() has been blocking the event loop for 0.2 s, at a.py:3",
        "  the loop's thread, in this step (most recent call last):",
        '    File "a.py", line 3, in f',
        "  spindle says so again at 1 s, 2 s, 4 s ... (at most once a minute) while it lasts.",
        "spindle: callback f() blocked the event loop for 0.4 s at a.py:3",
        "workers: 2 processes",
    ]
    assert program_lines(log) == [log[0], log[-1]]


def test_program_lines_leave_out_faulthandler_s_stacks_and_the_report_after_them() -> None:
    log = [
        "scheduler: tcp://127.0.0.1:40000",
        "Timeout (0:00:02)!",
        "Thread 0x00007f9a613476c0 (most recent call first):",
        '  File "threading.py", line 982 in run',
        "",
        "Current thread 0x00007f9a6467cb80 (most recent call first):",
        '  File "a.py", line 4 in main',
        "spindle: for 2.5 s no Python thread could run, spindle's watchdog neither: ...",
        "  the loop was running main()",
        "workers: 2 processes",
    ]
    assert program_lines(log) == [log[0], log[-1]]


def test_program_lines_leave_out_dask_killing_a_worker_slow_to_close() -> None:
    log = [
        "those chunks ran in processes [23195, 23197] (this one is 23186)",
        "2026-12-04 10:33:23,815 - distributed.nanny - WARNING - Worker process still alive "
        "after 4.0 seconds, killing",
    ]
    assert program_lines(log) == [log[0]]


def test_program_lines_leave_out_a_worker_s_heartbeat_error_at_shutdown() -> None:
    # As a trial printed it on 3.12: the traceback of a heartbeat cut off by the closing pool.
    log = [
        "those chunks ran in processes [16345, 16349] (this one is 16334)",
        "2026-12-04 21:31:24,168 - distributed.worker - ERROR - Failed to communicate with "
        "scheduler during heartbeat.",
        "Traceback (most recent call last):",
        '  File ".../distributed/core.py", line 1422, in connect',
        "    return await self._connect(addr=addr, timeout=timeout)",
        "           ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^",
        "asyncio.exceptions.CancelledError",
        "",
        "The above exception was the direct cause of the following exception:",
        "",
        "Traceback (most recent call last):",
        '  File ".../asyncio/timeouts.py", line 115, in __aexit__',
        "    raise TimeoutError from exc_val",
        "TimeoutError",
        "",
        "During handling of the above exception, another exception occurred:",
        "",
        "Traceback (most recent call last):",
        '  File ".../distributed/core.py", line 1434, in connect',
        "    raise CommClosedError(reason)",
        "distributed.comm.core.CommClosedError: ConnectionPool closing.",
        "workers: 2 processes",
    ]
    assert program_lines(log) == [log[0], log[-1]]
