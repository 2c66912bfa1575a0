"""Testing time-dependent asyncio code instantly and exactly, with spindle's pytest plugin.

    python -m pytest examples/test_virtual_clock.py

(With pytest-asyncio installed too, as in spindle's development extras, add
``-o asyncio_default_fixture_loop_scope=function``, or set that option in your pytest
configuration: pytest-asyncio warns at start-up until it is set.  Its plugin and spindle's live
side by side; these tests are spindle's.)

``@pytest.mark.spindle(virtual_clock=True)`` runs an ``async def`` test on a fresh spindle loop
whose clock jumps to the next timer whenever the loop would wait: an hour of backoff takes no
real time, and ``loop.time()`` is exact, so the test asserts *when* things happened with ``==``,
not with a tolerance.  The plugin comes with spindle (no ``conftest.py`` needed); it also closes
the loop after the test, and fails the test if an error reached the loop's exception handler.
"""

import asyncio

import pytest

import spindle


async def retry(operation, *, attempts, first_delay):
    """Call ``operation`` until it succeeds, doubling the wait after each failure."""
    delay = first_delay
    for attempt in range(1, attempts + 1):
        try:
            return await operation()
        except ConnectionError:
            if attempt == attempts:
                raise
            await asyncio.sleep(delay)
            delay *= 2


@pytest.mark.spindle(virtual_clock=True)
async def test_retry_backs_off_one_two_four_seconds():
    loop = asyncio.get_running_loop()
    calls = []

    async def flaky():
        calls.append(loop.time())
        if len(calls) < 4:
            raise ConnectionError("refused")
        return "connected"

    assert await retry(flaky, attempts=5, first_delay=1.0) == "connected"
    assert calls == [0.0, 1.0, 3.0, 7.0]


@pytest.mark.spindle(virtual_clock=True)
async def test_retry_gives_up_after_the_last_attempt():
    loop = asyncio.get_running_loop()

    async def down():
        raise ConnectionError("refused")

    with pytest.raises(ConnectionError):
        await retry(down, attempts=3, first_delay=10.0)
    assert loop.time() == 30.0  # waited 10 s, then 20 s; no wait after the last attempt


@pytest.mark.spindle(virtual_clock=True)
async def test_a_timeout_fires_at_its_deadline_not_later():
    loop = asyncio.get_running_loop()
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(30):
            await asyncio.sleep(3600)  # an hour, in no real time at all
    assert loop.time() == 30.0


def test_a_synchronous_test_drives_a_virtual_loop_itself(virtual_loop):
    # The fixture gives a fresh loop on a virtual clock to a test that is not async.
    assert isinstance(virtual_loop, spindle.EventLoop)
    virtual_loop.run_until_complete(asyncio.sleep(86400))
    assert virtual_loop.time() == 86400.0
