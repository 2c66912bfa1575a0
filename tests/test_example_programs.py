"""The example programs under examples/ do what their docstrings say, run as a user runs them.

Each one runs as a real process from the repository root (so reports name
``examples/<name>.py``): the echo server and its client talk over loopback, uvicorn serves the
HTTP example on spindle's loop, the blocking program gets its report, the deadlocked one is
looked at with ``python -m spindle ps`` and Ctrl-C, and pytest runs the virtual-clock test
file.  The seed programs have their own tests in ``test_examples.py``.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

from tests.children import user_environment

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def start(*args: str) -> subprocess.Popen[str]:
    environ = {k: v for k, v in os.environ.items() if k != "SPINDLE_DIAGNOSTICS"}
    return subprocess.Popen(
        [sys.executable, *args],
        cwd=ROOT,
        env=environ,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def run(*args: str) -> subprocess.CompletedProcess[str]:
    process = start(*args)
    stdout, stderr = process.communicate(timeout=60)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def read_until(stream: Iterable[str] | None, pattern: str) -> tuple[re.Match[str], list[str]]:
    """Lines of ``stream`` up to the first that matches ``pattern`` (fails at its end)."""
    assert stream is not None
    seen = []
    for line in stream:
        seen.append(line)
        match = re.search(pattern, line)
        if match:
            return match, seen
    pytest.fail(f"never printed {pattern!r}; printed: {seen!r}")


def line_of(example: str, text: str) -> int:
    lines = (EXAMPLES / example).read_text().splitlines()
    [number] = [n for n, line in enumerate(lines, 1) if line.strip() == text]
    return number


def stop_with_ctrl_c(process: subprocess.Popen[str]) -> tuple[str, str]:
    process.send_signal(signal.SIGINT)
    return process.communicate(timeout=30)


@pytest.fixture
def echo_server() -> Iterator[tuple[subprocess.Popen[str], int]]:
    server = start("examples/echo_server.py", "0")
    try:
        match, _ = read_until(server.stdout, r"^serving on 127\.0\.0\.1:(\d+)$")
        yield server, int(match.group(1))
    finally:
        if server.poll() is None:  # the test failed before stopping it
            server.kill()
            server.communicate()


def test_the_echo_client_gets_its_lines_back_and_ctrl_c_stops_the_server(
    echo_server: tuple[subprocess.Popen[str], int],
) -> None:
    server, port = echo_server
    client = run("examples/echo_client.py", str(port), "hello", "two words")
    assert (client.returncode, client.stderr) == (0, "")
    assert client.stdout.splitlines() == [
        "sent 'hello', got back 'hello'",
        "sent 'two words', got back 'two words'",
    ]
    stdout, stderr = stop_with_ctrl_c(server)
    assert server.returncode == 0
    # What the tasks were doing at the Ctrl-C: main() serving (spindle's diagnostics).
    assert stderr.startswith("spindle: interrupted (Ctrl-C); the tasks were:\n")
    serving = line_of("echo_server.py", "await server.serve_forever()")
    assert (
        f"waiting at  examples/echo_server.py:{serving} in main(): await server.serve_forever()"
        in stderr
    )
    lines = stdout.splitlines()
    assert re.fullmatch(r"127\.0\.0\.1:\d+ connected", lines[0])
    assert re.fullmatch(r"127\.0\.0\.1:\d+ disconnected", lines[1])
    assert lines[2:] == ["server stopped"]


def get_json(url: str) -> object:
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.load(response)


def test_the_http_service_answers_under_uvicorn_on_spindles_loop() -> None:
    command = "-m uvicorn --loop spindle:new_event_loop --app-dir examples http_service:app"
    server = start(*command.split(), "--port", "0", "--no-access-log")
    try:
        match, _ = read_until(server.stderr, r"Uvicorn running on (http://127\.0\.0\.1:\d+)")
        url = match.group(1)
        hello = get_json(f"{url}/")
        assert isinstance(hello, dict)
        assert (hello["hello"], hello["on_spindle"], hello["served"]) == ("world", True, 1)
        assert get_json(f"{url}/wait?s=0.01") == {"waited": 0.01}
        _, stderr = stop_with_ctrl_c(server)
    finally:
        if server.poll() is None:
            server.kill()
            server.communicate()
    assert server.returncode == 0
    assert "Application shutdown complete." in stderr


def test_the_blocking_call_is_reported_with_its_line_and_the_thread_version_is_not() -> None:
    result = run("-m", "spindle", "examples/blocking_call.py")
    assert (result.returncode, result.stdout) == (0, "tea costs 3\ncoffee costs 4\n")
    sleep = line_of("blocking_call.py", "time.sleep(0.5)")
    call = line_of("blocking_call.py", "return lookup_price(item)")
    tea = line_of("blocking_call.py", 'print("tea costs", await handle_blocking("tea"))')
    run_main = line_of("blocking_call.py", "asyncio.run(main())")
    # One step reported, while it blocks and when it ends: the direct call; to_thread() kept
    # the loop free.  Times are real, known to a tenth of a second (more on a loaded machine).
    file = r"examples/blocking_call\.py"
    where = rf"{file}:{sleep}: time\.sleep\(0\.5\)"
    expected = [
        rf"spindle: main\(\) has been blocking the event loop for \d+\.\d s, at {where}",
        rf"  task Task-1 main\(\), created at {file}:{run_main} in <module>\(\)",
        r"  the loop's thread, in this step \(most recent call last\):",
        rf"    {file}:{tea} in main: .*",
        rf"    {file}:{call} in handle_blocking: return lookup_price\(item\)",
        rf"    {file}:{sleep} in lookup_price: time\.sleep\(0\.5\)",
        r"  spindle says so again at 1 s, 2 s, 4 s \.\.\. \(at most once a minute\) while it"
        r" lasts\.",
        rf"spindle: main\(\) blocked the event loop for \d+\.\d s at {where}",
    ]
    lines = result.stderr.splitlines()
    assert len(lines) == len(expected), result.stderr
    for pattern, line in zip(expected, lines, strict=True):
        assert re.fullmatch(pattern, line), (pattern, result.stderr)


def test_the_deadlock_is_shown_by_ps_and_pstree_and_on_ctrl_c() -> None:
    program = start("examples/deadlock.py")
    try:
        match, _ = read_until(program.stdout, r"^pid (\d+)$")
        assert int(match.group(1)) == program.pid
        ps = run("-m", "spindle", "ps", str(program.pid))
        pstree = run("-m", "spindle", "pstree", str(program.pid))
        _, stderr = stop_with_ctrl_c(program)
    finally:
        if program.poll() is None:
            program.kill()
            program.communicate()
    ping = line_of("deadlock.py", "await pong_ready.wait()")
    waits = (
        f"    waiting at  examples/deadlock.py:{ping} in ping(): await pong_ready.wait()\n"
        "    on          Event pong_ready (unset, waiting: 1)\n"
        "    awaited by  Task-1\n"
    )
    assert (ps.returncode, ps.stderr) == (0, "")
    assert waits in ps.stdout
    assert waits in stderr  # the same dump, on Ctrl-C
    assert (pstree.returncode, pstree.stderr) == (0, "")
    assert "├── ping ping(ping_ready=<Event>, pong_ready=<Event>): waiting on Event pong_ready" in (
        pstree.stdout
    )
    assert stderr.startswith("spindle: interrupted (Ctrl-C); the tasks were:\n")
    assert stderr.endswith("KeyboardInterrupt\n")


# pytest-asyncio (in spindle's development extras) warns at start-up unless its fixture loop
# scope is configured; the example's command sets it for this run, as a project's pytest
# configuration would (the docs' testing page shows the same command).
PYTEST_EXAMPLE = (
    "-m", "pytest", "-q", "-p", "no:cacheprovider",
    "-o", "asyncio_default_fixture_loop_scope=function", "examples/test_virtual_clock.py",
)  # fmt: skip


def test_the_virtual_clock_test_file_passes_under_pytest(tmp_path: Path) -> None:
    # From outside the repository (its pytest configuration does not apply), as a user runs it.
    (tmp_path / "examples").symlink_to(EXAMPLES)
    process = subprocess.run(
        [sys.executable, *PYTEST_EXAMPLE],
        cwd=tmp_path,
        env=user_environment(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = process.stdout + process.stderr
    assert process.returncode == 0, output
    assert re.search(r"^4 passed in [\d.]+s$", process.stdout, re.M), output
    assert "warning" not in output.lower(), output
