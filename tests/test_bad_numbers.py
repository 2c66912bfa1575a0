"""NaN, infinity, negatives and wrong types at every public entry point that takes a time, a
size or a count.

The policy, one row of each table per entry point:

* **NaN** is refused with a ValueError naming the argument.  A NaN deadline compares false
  with every time: as a timer it would never come due yet always be the next one, and the
  loop would spin on it (asyncio runs it at some undefined moment; 3.13's ``sleep`` refuses
  it, as spindle does everywhere).  A NaN count would silently disable a limit.
* **Infinity** is "never" for a time (asyncio's meaning) and "no limit" for a count where
  asyncio takes it so.  A timer at infinity never fires and never makes the loop spin, nor
  the poll overflow.
* **Negatives** are "already due" for a time; a count refuses them where asyncio does.
* **Wrong types** raise TypeError, where asyncio does.
"""

from __future__ import annotations

import asyncio
import math
import re
import threading
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

import pytest

import spindle
from spindle.testing import VirtualClock

NAN = math.nan
INF = math.inf
Loop = asyncio.AbstractEventLoop


@pytest.fixture
def vloop() -> Iterator[Loop]:
    loop = spindle.EventLoop(clock=VirtualClock())
    yield loop
    leftover = spindle.all_tasks(loop)
    for task in leftover:
        task.cancel()
    if leftover:
        loop.run_until_complete(spindle.gather(*leftover, return_exceptions=True))
    loop.close()


def run(loop: Loop, coro: Coroutine[Any, Any, Any]) -> Any:
    return loop.run_until_complete(coro)


def _noop() -> None:
    pass


# -- times --------------------------------------------------------------------------------

# How each entry point is called with a time ``t`` (seconds from now, or a deadline of now+t),
# inside a running spindle loop on a virtual clock; each returns what the call came to.


async def _call_later(t: float) -> Any:
    loop = asyncio.get_running_loop()
    fired: list[str] = []
    loop.call_later(t, fired.append, "fired")
    await spindle.sleep(1)
    return fired


async def _call_at(t: float) -> Any:
    loop = asyncio.get_running_loop()
    fired: list[str] = []
    loop.call_at(loop.time() + t, fired.append, "fired")
    await spindle.sleep(1)
    return fired


async def _sleep(t: float) -> Any:
    try:
        return await spindle.wait_for(spindle.sleep(t, "slept"), 10)
    except TimeoutError:
        return "still asleep after 10 s"


async def _wait_for(t: float) -> Any:
    work = spindle.sleep(5, "done")
    try:
        return await spindle.wait_for(work, t)
    finally:
        work.close()  # refused before it started: spare the "never awaited" warning


async def _wait(t: float) -> Any:
    task = spindle.create_task(spindle.sleep(5))
    done, pending = await spindle.wait([task], timeout=t)
    task.cancel()
    return (len(done), len(pending))


async def _as_completed(t: float) -> Any:
    task = spindle.create_task(spindle.sleep(5, "done"))
    return [await next_done for next_done in spindle.as_completed([task], timeout=t)]


async def _timeout(t: float) -> Any:
    async with spindle.timeout(t):
        return await spindle.sleep(5, "done")


async def _timeout_at(t: float) -> Any:
    loop = asyncio.get_running_loop()
    async with spindle.timeout_at(loop.time() + t):
        return await spindle.sleep(5, "done")


async def _reschedule(t: float) -> Any:
    loop = asyncio.get_running_loop()
    async with spindle.timeout(None) as cm:
        cm.reschedule(loop.time() + t)
        return await spindle.sleep(5, "done")


async def _shutdown_default_executor(t: float) -> Any:
    loop = asyncio.get_running_loop()
    # The executor's one thread is kept busy until the loop's next pass, the pass in which a
    # timeout already due fires: so a negative timeout runs out before the threads could
    # finish, every time (a thread that happened to finish first would make it a race).
    release = threading.Event()
    busy = loop.run_in_executor(None, release.wait)
    loop.call_soon(release.set)
    await loop.shutdown_default_executor(t)
    await busy
    return "shut down"


TIME_ENTRY_POINTS: dict[str, Callable[[float], Coroutine[Any, Any, Any]]] = {
    "loop.call_later() delay": _call_later,
    "loop.call_at() when": _call_at,
    "sleep() delay": _sleep,
    "wait_for() timeout": _wait_for,
    "wait() timeout": _wait,
    "as_completed() timeout": _as_completed,
    "timeout() delay": _timeout,
    "timeout_at() when": _timeout_at,
    "Timeout.reschedule() when": _reschedule,
    "loop.shutdown_default_executor() timeout": _shutdown_default_executor,
}

# The NaN error names the argument: (entry point, words in the message).
NAN_MESSAGES = {
    "loop.call_later() delay": "call_later() delay is NaN",
    "loop.call_at() when": "call_at() when is NaN",
    "sleep() delay": "sleep() delay is NaN",
    "wait_for() timeout": "wait_for() timeout is NaN",
    "wait() timeout": "wait() timeout is NaN",
    "as_completed() timeout": "as_completed() timeout is NaN",
    "timeout() delay": "timeout() delay is NaN",
    "timeout_at() when": "timeout_at() when is NaN",
    "Timeout.reschedule() when": "timeout deadline is NaN",
    "loop.shutdown_default_executor() timeout": "shutdown_default_executor() timeout is NaN",
}

# Infinity: never due.  Negative: due at once.  (What each entry point then returns.)
NEVER = {
    "loop.call_later() delay": [],
    "loop.call_at() when": [],
    "sleep() delay": "still asleep after 10 s",
    "wait_for() timeout": "done",
    "wait() timeout": (1, 0),
    "as_completed() timeout": ["done"],
    "timeout() delay": "done",
    "timeout_at() when": "done",
    "Timeout.reschedule() when": "done",
    "loop.shutdown_default_executor() timeout": "shut down",
}
AT_ONCE: dict[str, Any] = {
    "loop.call_later() delay": ["fired"],
    "loop.call_at() when": ["fired"],
    "sleep() delay": "slept",
    "wait_for() timeout": TimeoutError,
    "wait() timeout": (0, 1),
    "as_completed() timeout": TimeoutError,
    "timeout() delay": TimeoutError,
    "timeout_at() when": TimeoutError,
    "Timeout.reschedule() when": TimeoutError,
    "loop.shutdown_default_executor() timeout": "shut down",
}


@pytest.mark.parametrize("entry", TIME_ENTRY_POINTS)
def test_a_nan_time_is_refused_naming_the_argument(vloop: Loop, entry: str) -> None:
    with pytest.raises(ValueError, match=re.escape(NAN_MESSAGES[entry])):
        run(vloop, TIME_ENTRY_POINTS[entry](NAN))


@pytest.mark.parametrize("entry", TIME_ENTRY_POINTS)
def test_an_infinite_time_is_never(vloop: Loop, entry: str) -> None:
    assert run(vloop, TIME_ENTRY_POINTS[entry](INF)) == NEVER[entry]


@pytest.mark.parametrize("entry", TIME_ENTRY_POINTS)
def test_a_negative_time_is_due_at_once(vloop: Loop, entry: str) -> None:
    started = vloop.time()
    expected = AT_ONCE[entry]
    if entry == "loop.shutdown_default_executor() timeout":
        # As asyncio 3.12+: no time to join the threads, which it says.
        with pytest.warns(RuntimeWarning, match="did not finish"):
            assert run(vloop, TIME_ENTRY_POINTS[entry](-1)) == expected
    elif isinstance(expected, type):
        with pytest.raises(expected):
            run(vloop, TIME_ENTRY_POINTS[entry](-1))
    else:
        assert run(vloop, TIME_ENTRY_POINTS[entry](-1)) == expected
    assert vloop.time() - started <= 1  # (call_later's and call_at's own sleep(1))


@pytest.mark.parametrize("entry", TIME_ENTRY_POINTS)
def test_a_time_that_is_not_a_number_is_a_type_error(vloop: Loop, entry: str) -> None:
    with pytest.raises(TypeError):
        run(vloop, TIME_ENTRY_POINTS[entry]("1"))  # type: ignore[arg-type]


def test_a_timer_at_infinity_never_makes_the_real_poll_overflow() -> None:
    # Only a timer at infinity is pending while the loop waits for a thread: the poll must
    # block (or wake now and then), not be asked to wait an infinite time.
    async def main() -> str:
        loop = asyncio.get_running_loop()
        never = loop.call_later(INF, _noop)
        done = loop.create_future()
        threading.Timer(0.05, loop.call_soon_threadsafe, (done.set_result, "thread")).start()
        try:
            return await done  # type: ignore[no-any-return]
        finally:
            never.cancel()

    assert spindle.run(main()) == "thread"


def test_a_timer_at_infinity_does_not_move_a_virtual_clock(vloop: Loop) -> None:
    async def main() -> float:
        loop = asyncio.get_running_loop()
        loop.call_later(INF, _noop)
        await spindle.sleep(2)
        return loop.time()

    assert run(vloop, main()) == 2.0


def test_the_virtual_clock_refuses_non_finite_times() -> None:
    for start in (NAN, INF):
        with pytest.raises(ValueError, match="finite"):
            VirtualClock(start)
    clock = VirtualClock()
    for seconds in (NAN, INF):
        with pytest.raises(ValueError, match="finite"):
            clock.advance(seconds)
    with pytest.raises(ValueError, match="backwards"):
        clock.advance(-1)


# -- sizes and counts ---------------------------------------------------------------------


@pytest.mark.parametrize("cls", [spindle.Semaphore, spindle.BoundedSemaphore])
def test_semaphore_values(vloop: Loop, cls: type[spindle.Semaphore]) -> None:
    with pytest.raises(ValueError, match="initial value must be >= 0, not nan"):
        cls(NAN)
    with pytest.raises(ValueError, match="initial value must be >= 0, not -1"):
        cls(-1)
    with pytest.raises(TypeError):
        cls("1")  # type: ignore[arg-type]

    async def never_blocks() -> bool:
        unlimited = cls(INF)  # type: ignore[arg-type]
        for _ in range(100):
            await unlimited.acquire()
        return unlimited.locked()

    assert run(vloop, never_blocks()) is False


def test_barrier_parties(vloop: Loop) -> None:
    for bad in (NAN, 0, -1):
        with pytest.raises(ValueError, match="parties must be > 0"):
            spindle.Barrier(bad)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        spindle.Barrier("2")  # type: ignore[arg-type]

    async def never_trips() -> str:
        barrier = spindle.Barrier(INF)  # type: ignore[arg-type]
        try:
            await spindle.wait_for(barrier.wait(), 5)
        except TimeoutError:
            return "still waiting"
        return "tripped"

    assert run(vloop, never_trips()) == "still waiting"


def test_queue_maxsize(vloop: Loop) -> None:
    with pytest.raises(ValueError, match="Queue maxsize is NaN"):
        spindle.Queue(NAN)  # type: ignore[arg-type]
    for unbounded in (INF, 0, -1):
        queue: spindle.Queue[int] = spindle.Queue(unbounded)  # type: ignore[arg-type]
        for item in range(100):
            queue.put_nowait(item)
        assert not queue.full() and queue.qsize() == 100
    wrong: spindle.Queue[int] = spindle.Queue("1")  # type: ignore[arg-type]
    with pytest.raises(TypeError):  # as asyncio: when first compared, on the first put
        wrong.put_nowait(1)


def test_condition_notify_counts(vloop: Loop) -> None:
    async def woken_by(n: Any) -> int:
        cond = spindle.Condition()

        async def waiter() -> None:
            async with cond:
                await cond.wait()

        tasks = [spindle.create_task(waiter()) for _ in range(3)]
        await spindle.sleep(0)
        async with cond:
            cond.notify(n)
        await spindle.sleep(0)
        woken = sum(t.done() for t in tasks)
        for task in tasks:
            task.cancel()
        await spindle.gather(*tasks, return_exceptions=True)
        return woken

    assert run(vloop, woken_by(INF)) == 3
    assert run(vloop, woken_by(-1)) == 0
    with pytest.raises(ValueError, match=r"notify\(\) n is NaN"):
        run(vloop, woken_by(NAN))
    with pytest.raises(TypeError):
        run(vloop, woken_by("1"))


def test_stream_reader_limit(vloop: Loop) -> None:
    async def read_line(limit: Any) -> bytes:
        reader = spindle.StreamReader(limit=limit)
        reader.feed_data(b"x" * 100_000 + b"\n")
        reader.feed_eof()
        return await reader.readline()

    assert len(run(vloop, read_line(INF))) == 100_001
    with pytest.raises(ValueError, match="StreamReader limit is NaN"):
        run(vloop, read_line(NAN))
    with pytest.raises(ValueError, match="Limit cannot be <= 0"):
        run(vloop, read_line(-1))
    with pytest.raises(TypeError):
        run(vloop, read_line("1"))


def test_write_buffer_limits() -> None:
    async def main() -> list[str]:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(asyncio.Protocol, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        transport, _ = await loop.create_connection(asyncio.Protocol, "127.0.0.1", port)
        seen = []
        try:
            for high in (NAN, -1, "1"):
                try:
                    transport.set_write_buffer_limits(high=high)  # type: ignore[arg-type]
                except (ValueError, TypeError) as exc:
                    seen.append(type(exc).__name__)
            transport.set_write_buffer_limits(high=INF, low=0)  # type: ignore[arg-type]
            seen.append(repr(transport.get_write_buffer_limits()[1]))
        finally:
            transport.close()
            server.close()
            await server.wait_closed()
        return seen

    assert spindle.run(main()) == ["ValueError", "ValueError", "TypeError", "inf"]


@pytest.mark.parametrize("argument", ["ssl_handshake_timeout", "ssl_shutdown_timeout"])
def test_tls_timeouts(argument: str) -> None:
    import ssl

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)

    async def create(value: Any) -> str:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(
            asyncio.Protocol, "127.0.0.1", 0, ssl=context, **{argument: value}
        )
        server.close()
        await server.wait_closed()
        return "created"

    assert spindle.run(create(INF)) == "created"
    for bad in (NAN, -1):
        with pytest.raises(ValueError, match=f"{argument} should be a positive number"):
            spindle.run(create(bad))
    with pytest.raises(TypeError):
        spindle.run(create("1"))


def test_happy_eyeballs_delay() -> None:
    async def connect(delay: Any) -> str:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(asyncio.Protocol, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            transport, _ = await loop.create_connection(
                asyncio.Protocol, "127.0.0.1", port, happy_eyeballs_delay=delay
            )
            transport.close()
            return "connected"
        finally:
            server.close()
            await server.wait_closed()

    for delay in (INF, -1, 0.25):
        assert spindle.run(connect(delay)) == "connected"
    with pytest.raises(ValueError, match="happy_eyeballs_delay is NaN"):
        spindle.run(connect(NAN))
    with pytest.raises(TypeError):
        spindle.run(connect("1"))
