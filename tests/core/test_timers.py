"""The timer queue on its own: no loop, just handles and a sink."""

from __future__ import annotations

from collections import deque
from typing import Any

import pytest

import spindle
from spindle._core.handles import Handle, TimerHandle
from spindle._core.timers import TimerQueue, TupleTimerQueue, new_timer_queue, should_purge


@pytest.fixture
def loop() -> Any:
    loop = spindle.new_event_loop()
    yield loop
    loop.close()


@pytest.fixture(params=[TimerQueue, TupleTimerQueue], ids=["native-heap", "tuple-heap"])
def queue_class(request: pytest.FixtureRequest) -> type[TimerQueue]:
    """Both heaps: the compiled build's and the pure build's (timers.py says why two)."""
    cls: type[TimerQueue] = request.param
    return cls


def make_timer(loop: Any, when: float, label: str) -> TimerHandle:
    return TimerHandle(when, print, (label,), loop)


def labels(ready: deque[Handle]) -> list[str]:
    return [handle._args[0] for handle in ready]  # type: ignore[index]


@pytest.mark.parametrize(
    ("cancelled", "total", "expected"),
    [
        (0, 0, False),
        (99, 100, False),  # too few to bother, even though nearly all are dead
        (100, 100, True),
        (100, 200, False),  # exactly half: not yet worth rebuilding
        (101, 200, True),
        (5000, 20000, False),
    ],
)
def test_purge_policy(cancelled: int, total: int, expected: bool) -> None:
    assert should_purge(cancelled, total) is expected


def test_due_timers_come_out_in_deadline_order(loop: Any, queue_class: type[TimerQueue]) -> None:
    queue = queue_class()
    for when, label in [(3.0, "c"), (1.0, "a"), (2.0, "b"), (9.0, "late")]:
        queue.push(make_timer(loop, when, label))
    ready: deque[Handle] = deque()
    queue.pop_due(5.0, ready.append)
    assert labels(ready) == ["a", "b", "c"]
    assert queue.next_deadline() == 9.0


def test_equal_deadlines_fire_in_scheduling_order(loop: Any, queue_class: type[TimerQueue]) -> None:
    queue = queue_class()
    names = [f"t{i}" for i in range(50)]
    for name in names:
        queue.push(make_timer(loop, 1.0, name))
    ready: deque[Handle] = deque()
    queue.pop_due(1.0, ready.append)
    assert labels(ready) == names


def test_cancelled_timers_are_skipped_and_forgotten(
    loop: Any, queue_class: type[TimerQueue]
) -> None:
    queue = queue_class()
    keep = make_timer(loop, 2.0, "keep")
    drop = make_timer(loop, 1.0, "drop")
    queue.push(keep)
    queue.push(drop)
    drop._cancelled = True
    queue.note_cancelled()
    assert queue.next_deadline() == 2.0  # the dead head is dropped on the way
    ready: deque[Handle] = deque()
    queue.pop_due(10.0, ready.append)
    assert labels(ready) == ["keep"]
    assert len(queue) == 0


def test_mostly_cancelled_heap_is_rebuilt(loop: Any, queue_class: type[TimerQueue]) -> None:
    queue = queue_class()
    timers = [make_timer(loop, float(i), str(i)) for i in range(300)]
    for timer in timers:
        queue.push(timer)
    for timer in timers[:200]:
        timer._cancelled = True
        queue.note_cancelled()
    queue.purge_if_worthwhile()
    assert len(queue) == 100
    assert queue.next_deadline() == 200.0
    assert not timers[0]._scheduled


def test_nothing_due_before_the_deadline(loop: Any, queue_class: type[TimerQueue]) -> None:
    queue = queue_class()
    queue.push(make_timer(loop, 1.0, "a"))
    ready: deque[Handle] = deque()
    queue.pop_due(0.999, ready.append)
    assert not ready
    assert queue.next_deadline() == 1.0


def test_both_heaps_agree_on_a_random_schedule(loop: Any) -> None:
    # The two heaps are one policy written twice (FAST PATH for the pure build): random
    # deadlines (many equal), random cancellations, pops at random times, same output.
    import random

    rng = random.Random(1234)
    queues = [TimerQueue(), TupleTimerQueue()]
    outputs: list[list[str]] = [[], []]
    live: list[list[TimerHandle]] = [[], []]
    for step in range(3000):
        action = rng.random()
        if action < 0.6:
            when = float(rng.randint(0, 200))
            for i, queue in enumerate(queues):
                timer = make_timer(loop, when, f"t{step}")
                queue.push(timer)
                live[i].append(timer)
        elif action < 0.8 and live[0]:
            index = rng.randrange(len(live[0]))
            for i in range(2):
                live[i].pop(index).cancel()
        else:
            end = float(rng.randint(0, 200))
            for i, queue in enumerate(queues):
                ready: deque[Handle] = deque()
                queue.purge_if_worthwhile()
                queue.pop_due(end, ready.append)
                outputs[i] += labels(ready)
                assert queue.next_deadline() == queues[0].next_deadline()
    assert outputs[0] == outputs[1]
    assert len(outputs[0]) > 500


def test_the_build_gets_its_heap() -> None:
    expected = TimerQueue if spindle.COMPILED else TupleTimerQueue
    assert type(new_timer_queue()) is expected
