"""``python -m spindle ps/pstree PID``, Ctrl-C and SPINDLE_DUMP_SIGNAL, on real processes.

Each test starts a real spindle program (``examples/deadlock.py``, or a small one written by
the test) in a subprocess, waits for it to say its pid, and asks it, or signals it.  Outputs
are checked exactly: paths are relative to the repository, the working directory of both.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.children import user_environment

ROOT = Path(__file__).resolve().parent.parent

DEADLOCK_LIST = """\
spindle: pid {pid} (python examples/deadlock.py): 3 tasks on 1 loop
loop in thread MainThread (idle: waiting for I/O or a timer), 3 tasks:
Task-1 main(): waiting
    created at  examples/deadlock.py:39 in <module>()
    waiting at  examples/deadlock.py:32 in main(): await asyncio.gather(
    on          gather() of 2 awaitables, 0 done; waiting for ping, pong
ping ping(ping_ready=<Event>, pong_ready=<Event>): waiting
    created at  examples/deadlock.py:33 in main()
    waiting at  examples/deadlock.py:19 in ping(): await pong_ready.wait()
    on          Event pong_ready (unset, waiting: 1)
    awaited by  Task-1
pong pong(ping_ready=<Event>, pong_ready=<Event>): waiting
    created at  examples/deadlock.py:34 in main()
    waiting at  examples/deadlock.py:24 in pong(): await ping_ready.wait()
    on          Event ping_ready (unset, waiting: 1)
    awaited by  Task-1"""

DEADLOCK_TREE = """\
spindle: pid {pid} (python examples/deadlock.py): 3 tasks on 1 loop
loop in thread MainThread (idle: waiting for I/O or a timer), 3 tasks:
└── Task-1 main(): waiting on gather() of 2 awaitables, 0 done; waiting for ping, pong
    │   main() at examples/deadlock.py:32: await asyncio.gather(
    ├── ping ping(ping_ready=<Event>, pong_ready=<Event>): waiting on Event pong_ready (unset, waiting: 1)
    │       ping() at examples/deadlock.py:19: await pong_ready.wait()
    └── pong pong(ping_ready=<Event>, pong_ready=<Event>): waiting on Event ping_ready (unset, waiting: 1)
            pong() at examples/deadlock.py:24: await ping_ready.wait()"""  # noqa: E501


def _env(**extra: str) -> dict[str, str]:
    return user_environment(PYTHONPATH=str(ROOT / "src"), **extra)


class Program:
    """A spindle program running in a subprocess, which printed ``pid N`` first."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, *args],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line.startswith("pid "), (line, self.proc.stderr and self.proc.stderr.read())
        self.pid = int(line.split()[1])

    def finish(self) -> tuple[int, str]:
        """Wait for the program to end (killing it if need be); its status and stderr."""
        try:
            _, err = self.proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
        return self.proc.returncode, err


def wait_for(program: Program, text: str) -> None:
    """Ask ``program`` with ``ps`` until its answer shows ``text`` (its tasks got there)."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if text in ps("ps", str(program.pid)).stdout:
            return
        time.sleep(0.05)
    raise AssertionError(f"process {program.pid} never showed {text!r}")


@pytest.fixture
def deadlocked() -> Iterator[Program]:
    program = Program(["examples/deadlock.py"], _env())
    wait_for(program, "awaited by  Task-1\n")
    yield program
    program.proc.kill()
    program.finish()


def ps(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "spindle", *args],
        cwd=ROOT,
        env=env or _env(),
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_ps_lists_the_tasks_of_a_deadlocked_program(deadlocked: Program) -> None:
    result = ps("ps", str(deadlocked.pid))
    assert result.returncode == 0, result.stderr
    assert result.stdout.rstrip("\n") == DEADLOCK_LIST.format(pid=deadlocked.pid)


def test_pstree_draws_the_call_tree_of_a_deadlocked_program(deadlocked: Program) -> None:
    result = ps("pstree", str(deadlocked.pid))
    assert result.returncode == 0, result.stderr
    assert result.stdout.rstrip("\n") == DEADLOCK_TREE.format(pid=deadlocked.pid)


BLOCKED = """\
import os, time
import spindle

async def sleeper():
    await spindle.sleep(3600)

async def main():
    task = spindle.create_task(sleeper(), name="sleeper")
    await spindle.sleep(0)
    print(f"pid {os.getpid()}", flush=True)
    time.sleep(60)
    await task

spindle.run(main())
"""


def test_ps_answers_while_the_loop_is_blocked(tmp_path: Path) -> None:
    script = tmp_path / "blocked.py"
    script.write_text(BLOCKED)
    program = Program([str(script)], _env())
    try:
        result = ps("ps", str(program.pid))
    finally:
        program.proc.kill()
        program.finish()
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[1] == (
        f"loop in thread MainThread (running Task-1 at {script}:11: time.sleep(60)), 2 tasks:"
    )
    assert lines[2:-1] == [
        "Task-1 main(): running",
        f"    created at  {script}:14 in <module>()",
        f"    running at  {script}:11 in main(): time.sleep(60)",
        "sleeper sleeper(): waiting",
        f"    created at  {script}:8 in main()",
        f"    waiting at  {script}:5 in sleeper(): await spindle.sleep(3600)",
    ]
    assert re.fullmatch(r"    on          sleep, 3\d\d\d\.\d s left", lines[-1])


def test_ps_of_a_process_with_diagnostics_off_says_why(tmp_path: Path) -> None:
    program = Program(["examples/deadlock.py"], _env(SPINDLE_DIAGNOSTICS="0"))
    try:
        result = ps("ps", str(program.pid))
    finally:
        program.proc.kill()
        program.finish()
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == (
        f"python -m spindle ps: process {program.pid} ({sys.executable} examples/deadlock.py) "
        "does not answer spindle's ps: it is not running a spindle loop under spindle.run() or "
        "python -m spindle, or spindle's diagnostics are off in it (SPINDLE_DIAGNOSTICS=0, "
        "SPINDLE_PS=0)\n"
    )


def test_ps_of_a_process_that_does_not_run_spindle_says_why() -> None:
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        result = ps("ps", str(sleeper.pid))
    finally:
        sleeper.kill()
        sleeper.wait()
    assert result.returncode == 1
    assert "does not answer spindle's ps: it is not running a spindle loop" in result.stderr


def test_ps_of_no_process_and_of_a_bad_pid() -> None:
    result = ps("ps", "999999999")
    assert (result.returncode, result.stderr) == (
        1,
        "python -m spindle ps: no process 999999999\n",
    )
    result = ps("pstree", "abc")
    assert (result.returncode, result.stderr) == (
        2,
        "python -m spindle pstree: not a process id: 'abc'\n",
    )


def test_the_socket_is_private_and_goes_with_the_process(deadlocked: Program) -> None:
    from spindle.diagnostics.control import socket_path

    path = Path(socket_path(deadlocked.pid))
    assert path.exists()
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.parent.stat().st_mode & 0o777 == 0o700
    deadlocked.proc.send_signal(signal.SIGINT)
    deadlocked.finish()
    assert not path.exists()


def test_ps_refuses_a_directory_open_to_others(tmp_path: Path) -> None:
    runtime = tmp_path / "run"
    (runtime / "spindle").mkdir(parents=True)
    (runtime / "spindle").chmod(0o777)
    env = _env(XDG_RUNTIME_DIR=str(runtime))
    program = Program(["examples/deadlock.py"], env)
    try:
        result = ps("ps", str(program.pid), env=env)
    finally:
        program.proc.kill()
        _, err = program.finish()
    assert result.returncode == 1
    assert "is open to other users (mode 777)" in result.stderr
    assert "python -m spindle ps will not reach this process" in err


def test_the_first_ctrl_c_prints_the_dump_and_keeps_asyncios_chain(deadlocked: Program) -> None:
    deadlocked.proc.send_signal(signal.SIGINT)
    status, err = deadlocked.finish()
    assert status == -signal.SIGINT  # KeyboardInterrupt at the top: Python's exit
    dump = err.split("spindle: interrupted (Ctrl-C); the tasks were:\n", 1)[1]
    listing = DEADLOCK_LIST.format(pid=deadlocked.pid)
    assert dump.startswith(listing + "\ncall tree:\n" + DEADLOCK_TREE.split("\n", 1)[1] + "\n")
    traceback = dump[len(listing) :]
    # asyncio's chain: the CancelledError (where main() waited), then KeyboardInterrupt.
    assert "asyncio.exceptions.CancelledError" in traceback
    assert "During handling of the above exception, another exception occurred:" in traceback
    assert traceback.rstrip().endswith("KeyboardInterrupt")


def test_ctrl_c_under_python_m_spindle_prints_the_dump(tmp_path: Path) -> None:
    script = tmp_path / "plain_asyncio.py"
    script.write_text(
        textwrap.dedent(
            """\
            import asyncio, os

            async def main():
                print(f"pid {os.getpid()}", flush=True)
                await asyncio.Event().wait()

            asyncio.run(main())
            """
        )
    )
    program = Program(["-m", "spindle", str(script)], _env())
    wait_for(program, "Event (unset")
    program.proc.send_signal(signal.SIGINT)
    status, err = program.finish()
    assert status == -signal.SIGINT
    assert "spindle: interrupted (Ctrl-C); the tasks were:\n" in err
    assert f"    waiting at  {script}:5 in main(): await asyncio.Event().wait()\n" in err
    assert "    on          Event (unset, waiting: 1)\n" in err
    assert err.rstrip().endswith("KeyboardInterrupt")


def test_the_dump_signal_prints_the_dump_and_the_program_goes_on() -> None:
    program = Program(["examples/deadlock.py"], _env(SPINDLE_DUMP_SIGNAL="SIGUSR1"))
    try:
        wait_for(program, "awaited by  Task-1\n")
        program.proc.send_signal(signal.SIGUSR1)
        result = ps("ps", str(program.pid))  # still running, and still answering
    finally:
        program.proc.send_signal(signal.SIGINT)
        _, err = program.finish()
    assert result.returncode == 0
    first = err.split("spindle: interrupted (Ctrl-C)")[0]
    assert first.startswith(DEADLOCK_LIST.format(pid=program.pid) + "\ncall tree:\n")
