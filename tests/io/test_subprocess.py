"""Child processes: ``spindle.subprocess`` and ``loop.subprocess_exec`` / ``subprocess_shell``.

Every test runs real children (``sys.executable -c ...``, ``/bin/sh -c ...``) on spindle's loop
with each child watcher (pidfd, and the waiter-thread fallback) and on asyncio's loop, with the
same expectations.  The module must leave no descriptor open and no zombie behind.
"""

from __future__ import annotations

import asyncio
import gc
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import spindle
from spindle import subprocess as sp
from spindle._io.subprocess.child_watcher import PIDFD_WORKS, ThreadWatcher, new_child_watcher
from spindle._io.subprocess.methods import SubprocessMethods
from spindle._io.subprocess.transport import SubprocessTransport
from tests.conftest import ExceptionHandlerRecorder

PY = sys.executable
ECHO = "import sys; sys.stdout.buffer.write(sys.stdin.buffer.read())"
COPY = "import shutil, sys; shutil.copyfileobj(sys.stdin.buffer, sys.stdout.buffer)"
BLOCK = "import sys; sys.stdin.read()"  # runs until its stdin is closed


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def zombie_children() -> list[int]:
    """Our children that have exited but were never reaped."""
    me = str(os.getpid())
    zombies = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[1] == me and fields[0] == "Z":
            zombies.append(int(entry))
    return zombies


@pytest.fixture(scope="module", autouse=True)
def no_leaks() -> Iterator[None]:
    before = open_fds()
    yield
    gc.collect()
    assert open_fds() == before
    assert zombie_children() == []


def _spindle_with_threads() -> asyncio.AbstractEventLoop:
    loop = spindle.new_event_loop()
    assert isinstance(loop, SubprocessMethods)
    loop._child_watcher = ThreadWatcher(loop)
    return loop


LOOPS: dict[str, Callable[[], asyncio.AbstractEventLoop]] = {
    "spindle": spindle.new_event_loop,
    "spindle-threads": _spindle_with_threads,
    "asyncio": asyncio.new_event_loop,
}


@pytest.fixture(params=sorted(LOOPS))
def loop(request: pytest.FixtureRequest) -> Iterator[asyncio.AbstractEventLoop]:
    """A fresh loop of each kind; teardown fails on unexpected exception-handler calls."""
    the_loop = LOOPS[request.param]()
    recorder = ExceptionHandlerRecorder()
    the_loop.set_exception_handler(recorder)
    try:
        yield the_loop
    finally:
        the_loop.run_until_complete(the_loop.shutdown_default_executor())
        the_loop.close()
        gc.collect()
    assert recorder.contexts == []


def run(loop: asyncio.AbstractEventLoop, coro: Any) -> Any:
    return loop.run_until_complete(coro)


# -- spindle.subprocess: Process and streams -----------------------------------------------


def test_exec_echoes_stdin_to_stdout(loop: asyncio.AbstractEventLoop) -> None:
    async def main() -> tuple[Any, ...]:
        proc = await sp.create_subprocess_exec(PY, "-c", ECHO, stdin=sp.PIPE, stdout=sp.PIPE)
        out, err = await proc.communicate(b"hello\nworld\n")
        return out, err, proc.returncode

    assert run(loop, main()) == (b"hello\nworld\n", None, 0)


def test_shell_runs_a_command_line(loop: asyncio.AbstractEventLoop) -> None:
    async def main() -> tuple[Any, ...]:
        proc = await sp.create_subprocess_shell(
            "echo one; echo two >&2; exit 4", stdout=sp.PIPE, stderr=sp.PIPE
        )
        out, err = await proc.communicate()
        return out, err, proc.returncode

    assert run(loop, main()) == (b"one\n", b"two\n", 4)


def test_stderr_can_go_to_stdout(loop: asyncio.AbstractEventLoop) -> None:
    async def main() -> tuple[Any, ...]:
        proc = await sp.create_subprocess_shell(
            "echo out; echo err >&2", stdout=sp.PIPE, stderr=sp.STDOUT
        )
        return (proc.stderr, *await proc.communicate())

    assert run(loop, main()) == (None, b"out\nerr\n", None)


def test_devnull_gives_no_streams(loop: asyncio.AbstractEventLoop) -> None:
    async def main() -> tuple[Any, ...]:
        proc = await sp.create_subprocess_exec(
            PY, "-c", "print('dropped')", stdin=sp.DEVNULL, stdout=sp.DEVNULL, stderr=sp.DEVNULL
        )
        streams = (proc.stdin, proc.stdout, proc.stderr)
        return (*streams, await proc.communicate(), await proc.wait())

    assert run(loop, main()) == (None, None, None, (None, None), 0)


def test_exit_codes_and_death_by_signal(loop: asyncio.AbstractEventLoop) -> None:
    async def returncode(code: str) -> int:
        proc = await sp.create_subprocess_exec(PY, "-c", code)
        return await proc.wait()

    async def main() -> list[int]:
        return [
            await returncode("pass"),
            await returncode("raise SystemExit(7)"),
            await returncode("import os, signal; os.kill(os.getpid(), signal.SIGKILL)"),
        ]

    assert run(loop, main()) == [0, 7, -signal.SIGKILL]


def test_several_megabytes_both_ways_through_communicate(loop: asyncio.AbstractEventLoop) -> None:
    data = os.urandom(6 * 1024 * 1024)

    async def main() -> bytes:
        proc = await sp.create_subprocess_exec(PY, "-c", COPY, stdin=sp.PIPE, stdout=sp.PIPE)
        out, _ = await proc.communicate(data)
        assert out is not None
        return out

    assert run(loop, main()) == data


def test_writing_with_drain_while_reading_does_not_deadlock(
    loop: asyncio.AbstractEventLoop,
) -> None:
    chunk = os.urandom(256 * 1024)

    async def write_all(proc: sp.Process) -> None:
        assert proc.stdin is not None
        for _ in range(16):
            proc.stdin.write(chunk)
            await proc.stdin.drain()
        proc.stdin.close()
        await proc.stdin.wait_closed()

    async def main() -> tuple[int, int]:
        proc = await sp.create_subprocess_exec(
            PY, "-c", COPY, stdin=sp.PIPE, stdout=sp.PIPE, limit=1024
        )
        assert proc.stdout is not None
        writer = asyncio.ensure_future(write_all(proc))
        total = 0
        while block := await proc.stdout.read(100_000):
            total += len(block)
        await writer
        return total, await proc.wait()

    assert run(loop, main()) == (16 * len(chunk), 0)


def test_readline_streams_lines_as_they_come(loop: asyncio.AbstractEventLoop) -> None:
    code = "import sys\nfor line in sys.stdin: print(line.strip().upper(), flush=True)"

    async def main() -> list[bytes]:
        proc = await sp.create_subprocess_exec(PY, "-c", code, stdin=sp.PIPE, stdout=sp.PIPE)
        assert proc.stdin is not None and proc.stdout is not None
        answers = []
        for word in (b"a", b"bc"):
            proc.stdin.write(word + b"\n")
            await proc.stdin.drain()
            answers.append(await proc.stdout.readline())
        proc.stdin.close()
        answers.append(await proc.stdout.read())
        await proc.wait()
        return answers

    assert run(loop, main()) == [b"A\n", b"BC\n", b""]


def test_communicate_ignores_a_child_that_does_not_read(loop: asyncio.AbstractEventLoop) -> None:
    async def main() -> tuple[Any, ...]:
        proc = await sp.create_subprocess_exec(
            PY, "-c", "print('bye')", stdin=sp.PIPE, stdout=sp.PIPE
        )
        out, err = await proc.communicate(b"x" * (4 * 1024 * 1024))
        return out, err, proc.returncode

    assert run(loop, main()) == (b"bye\n", None, 0)


@pytest.mark.parametrize(
    ("method", "expected"),
    [
        ("terminate", -signal.SIGTERM),
        ("kill", -signal.SIGKILL),
        ("send_signal", -signal.SIGUSR1),
    ],
)
def test_terminate_kill_and_send_signal(
    loop: asyncio.AbstractEventLoop, method: str, expected: int
) -> None:
    async def main() -> int:
        proc = await sp.create_subprocess_exec(PY, "-c", BLOCK, stdin=sp.PIPE)
        if method == "terminate":
            proc.terminate()
        elif method == "kill":
            proc.kill()
        else:
            proc.send_signal(signal.SIGUSR1)
        returncode = await proc.wait()
        assert proc.stdin is not None
        proc.stdin.close()
        return returncode

    assert run(loop, main()) == expected


def test_signalling_a_finished_process_raises_process_lookup_error(
    loop: asyncio.AbstractEventLoop,
) -> None:
    async def main() -> None:
        proc = await sp.create_subprocess_exec(PY, "-c", "pass")
        assert await proc.wait() == 0
        for act in (proc.terminate, proc.kill, lambda: proc.send_signal(signal.SIGTERM)):
            with pytest.raises(ProcessLookupError):
                act()

    run(loop, main())


def test_fifty_concurrent_children_are_all_reaped(loop: asyncio.AbstractEventLoop) -> None:
    async def child(n: int) -> tuple[bytes, int]:
        proc = await sp.create_subprocess_exec(
            "/bin/sh", "-c", f"echo {n}; exit {n % 7}", stdout=sp.PIPE
        )
        out, _ = await proc.communicate()
        return out, proc.returncode  # type: ignore[return-value]

    async def main() -> list[tuple[bytes, int]]:
        return await asyncio.gather(*(child(n) for n in range(50)))

    assert run(loop, main()) == [(f"{n}\n".encode(), n % 7) for n in range(50)]
    assert zombie_children() == []


def test_concurrent_waiters_all_get_the_return_code(loop: asyncio.AbstractEventLoop) -> None:
    async def main() -> list[int]:
        proc = await sp.create_subprocess_exec(PY, "-c", BLOCK, stdin=sp.PIPE)
        waiters = [asyncio.ensure_future(proc.wait()) for _ in range(3)]
        await asyncio.sleep(0)
        assert proc.stdin is not None
        proc.stdin.close()
        return [await w for w in waiters] + [await proc.wait()]

    assert run(loop, main()) == [0, 0, 0, 0]


def test_missing_program_raises_and_leaks_nothing(loop: asyncio.AbstractEventLoop) -> None:
    before = open_fds()

    async def main() -> None:
        with pytest.raises(FileNotFoundError):
            await sp.create_subprocess_exec("/nonexistent/program", stdout=sp.PIPE)

    run(loop, main())
    assert open_fds() == before


def test_asyncio_own_subprocess_api_runs_on_the_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Drop-in: asyncio.create_subprocess_exec, unmodified, on whichever loop runs."""

    async def main() -> tuple[Any, ...]:
        proc = await asyncio.create_subprocess_exec(
            PY, "-c", ECHO, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE
        )
        out, _ = await proc.communicate(b"through asyncio")
        return out, proc.returncode

    assert run(loop, main()) == (b"through asyncio", 0)


# -- loop.subprocess_exec: the transport and the order of protocol events ------------------


def pipe(transport: asyncio.SubprocessTransport, fd: int) -> Any:
    """The pipe transport of ``fd`` (typeshed types it as a bare BaseTransport)."""
    found = transport.get_pipe_transport(fd)
    assert found is not None
    return found


class Recorder(asyncio.SubprocessProtocol):
    """Records every event; ``done`` resolves at connection_lost."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.events: list[Any] = []
        self.data: dict[int, bytearray] = {1: bytearray(), 2: bytearray()}
        self.done: asyncio.Future[None] = loop.create_future()
        self.exited: asyncio.Future[None] = loop.create_future()
        self.transport: Any = None
        self.on_exit: Callable[[], None] = lambda: None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.events.append("connection_made")

    def pipe_data_received(self, fd: int, data: bytes | str) -> None:
        assert isinstance(data, bytes)
        self.data[fd] += data

    def pipe_connection_lost(self, fd: int, exc: Exception | None) -> None:
        self.events.append(("pipe_connection_lost", fd, exc))

    def process_exited(self) -> None:
        self.events.append(("process_exited", self.transport.get_returncode()))
        self.on_exit()
        self.exited.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        self.events.append(("connection_lost", exc))
        self.done.set_result(None)


def test_transport_interface_and_event_order(loop: asyncio.AbstractEventLoop) -> None:
    async def main() -> Recorder:
        transport, protocol = await loop.subprocess_exec(
            lambda: Recorder(loop), PY, "-c", "import sys; print(input()); sys.exit(2)"
        )
        assert protocol.events == ["connection_made"]  # already, when subprocess_exec returns
        assert isinstance(transport, asyncio.SubprocessTransport)
        assert transport.get_pid() > 0 and transport.get_returncode() is None
        assert isinstance(transport.get_pipe_transport(0), asyncio.WriteTransport)
        assert isinstance(transport.get_pipe_transport(1), asyncio.ReadTransport)
        assert isinstance(transport.get_pipe_transport(2), asyncio.ReadTransport)
        assert transport.get_pipe_transport(3) is None
        assert isinstance(transport.get_extra_info("subprocess").pid, int)
        pipe(transport, 0).write(b"ping\n")
        await protocol.done
        assert transport.get_returncode() == 2
        assert not transport.is_closing()
        transport.close()
        assert transport.is_closing()
        return protocol

    protocol = run(loop, main())
    assert protocol.events[0] == "connection_made"
    assert protocol.events[-1] == ("connection_lost", None)
    assert ("process_exited", 2) in protocol.events
    lost = sorted(e[1] for e in protocol.events if e[0] == "pipe_connection_lost")
    assert lost == [0, 1, 2]
    assert protocol.data == {1: b"ping\n", 2: b""}


def test_every_pipe_transport_has_the_reading_calls_asyncio_gives_it(
    loop: asyncio.AbstractEventLoop,
) -> None:
    # asyncio's write pipe is a full Transport: its reading calls exist and raise
    # NotImplementedError; the read pipes pause and resume for real.
    async def main() -> None:
        transport, protocol = await loop.subprocess_exec(lambda: Recorder(loop), PY, "-c", ECHO)
        stdin = transport.get_pipe_transport(0)
        assert isinstance(stdin, asyncio.ReadTransport)
        for call in (stdin.pause_reading, stdin.resume_reading, stdin.is_reading):
            with pytest.raises(NotImplementedError):
                call()
        for fd in (1, 2):
            reader = pipe(transport, fd)
            assert reader.is_reading()
            reader.pause_reading()
            assert not reader.is_reading()
            reader.resume_reading()
            assert reader.is_reading()
        pipe(transport, 0).write(b"still works")
        pipe(transport, 0).close()
        await protocol.done
        assert protocol.data[1] == b"still works"
        transport.close()

    run(loop, main())


def test_child_that_exits_before_its_pipes_close(loop: asyncio.AbstractEventLoop) -> None:
    # The child leaves a grandchild holding stdout and stdin; it prints once stdin closes.
    grandchild = "import sys; sys.stdin.read(); print('late')"
    child = f"import subprocess, sys; subprocess.Popen([sys.executable, '-c', {grandchild!r}])"

    async def main() -> Recorder:
        transport, protocol = await loop.subprocess_exec(
            lambda: Recorder(loop), PY, "-c", child, stderr=sp.DEVNULL
        )
        await protocol.exited
        assert not protocol.done.done()  # the grandchild still holds the pipes
        pipe(transport, 0).close()  # the grandchild prints and exits
        await protocol.done
        transport.close()
        return protocol

    protocol = run(loop, main())
    assert protocol.events[:2] == ["connection_made", ("process_exited", 0)]
    assert protocol.events[-1] == ("connection_lost", None)
    assert protocol.data[1] == b"late\n"


def test_pipes_that_close_before_the_child_exits(loop: asyncio.AbstractEventLoop) -> None:
    code = "import os, sys; os.close(1); os.close(2); sys.stdin.read()"

    async def main() -> Recorder:
        transport, protocol = await loop.subprocess_exec(lambda: Recorder(loop), PY, "-c", code)
        while len(protocol.events) < 3:  # both output pipes reach EOF while the child runs
            await asyncio.sleep(0)
        pipe(transport, 0).close()
        await protocol.done
        transport.close()
        return protocol

    protocol = run(loop, main())
    assert protocol.events[0] == "connection_made"
    assert sorted(protocol.events[1:3]) == [
        ("pipe_connection_lost", 1, None),
        ("pipe_connection_lost", 2, None),
    ]
    assert protocol.events[3:] == [
        ("pipe_connection_lost", 0, None),
        ("process_exited", 0),
        ("connection_lost", None),
    ]


def test_signalling_between_exit_and_connection_lost_is_not_an_error(
    loop: asyncio.AbstractEventLoop,
) -> None:
    async def main() -> None:
        transport, protocol = await loop.subprocess_exec(lambda: Recorder(loop), PY, "-c", "pass")
        protocol.on_exit = lambda: transport.send_signal(signal.SIGTERM)
        await protocol.done
        transport.close()

    run(loop, main())


def test_close_kills_a_running_child(loop: asyncio.AbstractEventLoop) -> None:
    async def main() -> int | None:
        transport, protocol = await loop.subprocess_exec(
            lambda: Recorder(loop), PY, "-c", "import time; time.sleep(600)"
        )
        transport.close()
        transport.close()  # harmless
        await protocol.done
        return transport.get_returncode()

    assert run(loop, main()) == -signal.SIGKILL


def test_shell_transport(loop: asyncio.AbstractEventLoop) -> None:
    async def main() -> Recorder:
        transport, protocol = await loop.subprocess_shell(
            lambda: Recorder(loop), "echo $((6 * 7))", stdin=None
        )
        await protocol.done
        transport.close()
        return protocol

    assert run(loop, main()).data[1] == b"42\n"


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ({"universal_newlines": True}, "universal_newlines must be False"),
        ({"bufsize": 1}, "bufsize must be 0"),
        ({"text": True}, "text must be False"),
        ({"encoding": "utf-8"}, "encoding must be None"),
        ({"errors": "strict"}, "errors must be None"),
    ],
)
def test_options_that_would_decode_or_buffer_are_refused(
    loop: asyncio.AbstractEventLoop, option: dict[str, Any], message: str
) -> None:
    async def main() -> None:
        with pytest.raises(ValueError, match=message):
            await loop.subprocess_exec(asyncio.SubprocessProtocol, PY, "-c", "pass", **option)
        with pytest.raises(ValueError, match=message):
            await loop.subprocess_shell(asyncio.SubprocessProtocol, "true", **option)

    run(loop, main())


def test_shell_flag_must_match_the_method(loop: asyncio.AbstractEventLoop) -> None:
    async def main() -> None:
        with pytest.raises(ValueError, match="shell must be False"):
            await loop.subprocess_exec(asyncio.SubprocessProtocol, "true", shell=True)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="shell must be True"):
            await loop.subprocess_shell(asyncio.SubprocessProtocol, "true", shell=False)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="cmd must be a string"):
            await loop.subprocess_shell(asyncio.SubprocessProtocol, ["true"])  # type: ignore[arg-type]

    run(loop, main())


# -- spindle only ---------------------------------------------------------------------------


def test_unclosed_transport_warns_with_its_name() -> None:
    loop = spindle.new_event_loop()

    async def main() -> None:
        _, protocol = await loop.subprocess_exec(lambda: Recorder(loop), PY, "-c", "pass")
        await protocol.done

    try:
        with pytest.warns(ResourceWarning, match="unclosed transport <SubprocessTransport"):
            run(loop, main())
            gc.collect()
    finally:
        loop.close()


@pytest.mark.skipif(not PIDFD_WORKS, reason="pidfd_open is not available here")
def test_spindle_uses_pidfds_where_the_kernel_has_them() -> None:
    from spindle._io.subprocess.child_watcher import PidfdWatcher

    loop = spindle.new_event_loop()

    async def main() -> object:
        proc = await sp.create_subprocess_exec(PY, "-c", "pass")
        await proc.wait()
        assert isinstance(loop, SubprocessMethods)
        return loop._child_watcher

    try:
        assert isinstance(run(loop, main()), PidfdWatcher)
    finally:
        loop.close()


@pytest.mark.parametrize("kind", ["spindle", "spindle-threads"])
def test_closing_the_loop_leaves_running_children_to_be_reaped(kind: str) -> None:
    loop = LOOPS[kind]()

    async def main() -> tuple[int, Any]:
        transport, _ = await loop.subprocess_exec(
            lambda: Recorder(loop), PY, "-c", BLOCK, stdout=None, stderr=None
        )
        return transport.get_pid(), transport

    pid, transport = run(loop, main())
    loop.close()
    transport.close()  # after the loop: closes stdin, so the child exits
    popen = transport.get_extra_info("subprocess")
    deadline = time.monotonic() + 30
    while popen.returncode is None:  # set by whoever reaps the child
        assert time.monotonic() < deadline, f"child {pid} was not reaped after its loop closed"
        time.sleep(0.005)
    assert popen.returncode == 0
    assert not os.path.exists(f"/proc/{pid}")  # a zombie would still have its entry


class DataRecorder(Recorder):
    """Also records each chunk of data as an event, to check where it comes in the order."""

    def pipe_data_received(self, fd: int, data: bytes | str) -> None:
        super().pipe_data_received(fd, data)
        self.events.append(("data", fd, data))


@pytest.mark.parametrize("kind", ["spindle", "spindle-threads"])
def test_events_before_connection_made_are_held_and_replayed_in_order(kind: str) -> None:
    # The child has written and exited before its transport even starts connecting its
    # pipes: the protocol still hears connection_made first, then the rest in order.
    loop = spindle.new_event_loop()
    assert isinstance(loop, SubprocessMethods)
    popen = subprocess.Popen(
        [PY, "-c", "print('early')"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE
    )
    os.waitid(os.P_PID, popen.pid, os.WEXITED | os.WNOWAIT)  # exited, not reaped yet
    watcher = new_child_watcher(loop) if kind == "spindle" else ThreadWatcher(loop)

    async def main() -> DataRecorder:
        protocol = DataRecorder(loop)
        transport = SubprocessTransport(loop, protocol, popen, watcher)
        waiter = loop.create_future()
        transport._connect(waiter)
        await waiter
        await protocol.done
        transport.close()
        return protocol

    try:
        protocol = run(loop, main())
    finally:
        watcher.close()
        loop.close()
    events = protocol.events
    assert events[0] == "connection_made"
    assert events[-1] == ("connection_lost", None)
    middle = [("data", 1, b"early\n"), ("pipe_connection_lost", 1, None), ("process_exited", 0)]
    assert sorted(events[1:-1], key=str) == middle
    assert events.index(middle[0]) < events.index(middle[1])  # a pipe's data, then its EOF


@pytest.mark.parametrize("kind", ["spindle", "spindle-threads"])
def test_a_child_reaped_by_its_popen_keeps_its_real_return_code(kind: str) -> None:
    loop = LOOPS[kind]()

    async def main() -> int | None:
        transport, protocol = await loop.subprocess_exec(
            lambda: Recorder(loop), PY, "-c", "raise SystemExit(3)",
            stdin=None, stdout=None, stderr=None,
        )  # fmt: skip
        transport.get_extra_info("subprocess").wait()  # reaps it behind the loop's back
        await protocol.done
        transport.close()
        return transport.get_returncode()

    try:
        assert run(loop, main()) == 3
    finally:
        loop.close()
