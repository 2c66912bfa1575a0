"""Programs on which spindle once parted from asyncio, kept as explicit regression tests.

Each was found by the differential test (``test_differential.py``), by hand from the list in
issue 10, or both, and shrunk to the few operations that show the difference.  The comment
says what differed and on which Python; every one runs, and must agree, on every Python.
"""

from __future__ import annotations

import pytest

from tests.differential.compare import check_agreement
from tests.differential.programs import Program

REGRESSIONS: dict[str, Program] = {
    # wait() read every finished task's exception() (to check FIRST_EXCEPTION even when not
    # asked), which marks it retrieved: "Task exception was never retrieved" went missing.
    "wait_leaves_exceptions_unretrieved": Program(
        objects=(), specs=((("wait", (1,), None, "FIRST_COMPLETED"),), (("raise", "e1"),))
    ),
    # QueueFull and QueueEmpty carried a message; asyncio's carry none.
    "queue_exceptions_carry_no_message": Program(
        objects=(("queue", "fifo", 1),),
        specs=((("put_nowait", 0, 1), ("put_nowait", 0, 2), ("get_nowait", 0), ("get_nowait", 0)),),
    ),
    # gather(return_exceptions=True) gave a cancelled child as its own CancelledError("m1");
    # asyncio gives CancelledError('') for a task whose coroutine raised it.
    "gather_returns_a_bare_cancellation": Program(
        objects=(),
        specs=(
            (("spawn", 1), ("gather", ((2, "latest"),), True)),
            (("sleep", 1), ("cancel", 2, "m1")),
            (("sleep", 5),),
        ),
    ),
    # A cancelled gather whose child ends with an error as it is cancelled: spindle raised
    # without reading the children's outcomes, so the error was reported never retrieved.
    "cancelled_gather_reads_its_children": Program(
        objects=(),
        specs=(
            (("spawn", 2), ("gather", ((1, "task"),), True)),
            (("try", "CancelledError", (("sleep", 5),)), ("raise", "e1")),
            (("sleep", 1), ("cancel_main", None)),
        ),
    ),
    # gather() of a child already done finished at once on 3.11 (3.12's eager behaviour);
    # 3.11 schedules the callback, so a task created just before starts first.
    "gather_of_finished_children_on_311": Program(
        objects=(),
        specs=(
            (("spawn", 1), ("sleep", 0.25), ("spawn", 2), ("gather", ((1, "latest"),), False)),
            (),
            (),
        ),
    ),
    # Condition.wait() timing out handed a notification on (3.13) on 3.11/3.12, waking a
    # waiter nobody notified.
    "condition_timeout_wakes_nobody_before_313": Program(
        objects=(("condition",),),
        specs=(
            (("spawn", 1), ("spawn", 2), ("sleep", 3)),
            (("cond_wait", 0, ("timeout", 1)),),
            (("cond_wait", 0, None),),
        ),
    ),
    # A TaskGroup task failing while the group waits in __aexit__: 3.11/3.12 leave the
    # parent's cancelling() at 1 (their bookkeeping); spindle withdrew it (3.13's).
    "taskgroup_cancelling_count_on_311": Program(
        objects=(),
        specs=(
            (
                ("try", "ExceptionGroup", (("taskgroup", (1,), ()),)),
                ("cancelling",),
                ("sleep", 1),
            ),
            (("sleep", 1), ("raise", "e1")),
        ),
    ),
    # main() cancelled from outside while its TaskGroup handles a failure: 3.13 re-requests
    # the outside cancellation, so main ends in CancelledError; 3.11/3.12 let main return.
    "main_cancelled_inside_a_taskgroup": Program(
        objects=(),
        specs=(
            (
                ("spawn", 2),
                ("try", "ExceptionGroup", (("taskgroup", (1,), (("sleep", 5),)),)),
                ("sleep", 1),
            ),
            (("try", "CancelledError", (("sleep", 5),)), ("raise", "e1")),
            (("sleep", 0.5), ("cancel_main", None)),
        ),
    ),
    # wait_for(coroutine) ran the coroutine in the calling task (3.12) on 3.11, which wraps
    # it in a task: a task created just before starts first there.
    "wait_for_wraps_a_coroutine_on_311": Program(
        objects=(), specs=((("spawn", 2), ("wait_for", (1, "coro"), 5)), (), ())
    ),
    "wait_for_cancelled_by_a_child": Program(
        objects=(),
        specs=(
            (("spawn", 1), ("wait_for", (2, "coro"), 5), ("sleep", 1)),
            (("cancel_main", None),),
            (("sleep", 0),),
        ),
    ),
    # uncancel() down to zero withdrew a cancellation not yet delivered (3.13) on 3.11/3.12,
    # where the task still ends cancelled.
    "uncancel_keeps_a_pending_cancel_before_313": Program(
        objects=(),
        specs=((("gather", ((1, "task"),), False),), (("cancel_main", None), ("uncancel",))),
    ),
    # A task woken by a cancelled future stepped its coroutine inside an except clause, so
    # an error the coroutine raised later in that step had the CancelledError as __context__.
    "no_stray_exception_context": Program(
        objects=(),
        specs=(
            (
                ("timeout", 1, (("try", "CancelledError", (("sleep", 1),)),)),
                ("raise", "e1"),
            ),
        ),
    ),
    # A timeout whose block turns the cancellation into another error: 3.13 puts a
    # TimeoutError in that error's context chain; 3.11/3.12 leave the CancelledError.
    "timeout_and_a_converted_error": Program(
        objects=(),
        specs=((("timeout", 1, (("convert", "CancelledError", (("sleep", 5),), "e3"),)),),),
    ),
    # Timeouts around Barrier.wait(), Event.wait() and Queue.join(), racing what releases
    # them (issue 10 saw CancelledError for TimeoutError, and the reverse).
    "timeout_around_barrier_wait": Program(
        objects=(("barrier", 2),),
        specs=(
            (("spawn", 1), ("b_wait", 0, ("timeout", 1)), ("sleep", 2)),
            (("sleep", 1), ("b_wait", 0, None)),
        ),
    ),
    "timeout_around_event_wait": Program(
        objects=(("event",),),
        specs=((("spawn", 1), ("ev_wait", 0, ("timeout", 1))), (("sleep", 1), ("ev_set", 0))),
    ),
    "timeout_around_queue_join": Program(
        objects=(("queue", "fifo", 0),),
        specs=(
            (("spawn", 1), ("put_nowait", 0, 1), ("join", 0, ("timeout", 1))),
            (("sleep", 1), ("get", 0, None), ("task_done", 0)),
        ),
    ),
    # A semaphore waiter woken and then cancelled gives its unit back (3.11/3.12: to one
    # waiter at once; 3.13: to as many as the free units allow).
    "semaphore_waiter_woken_then_cancelled": Program(
        objects=(("semaphore", 0),),
        specs=(
            (
                ("spawn", 1),
                ("spawn", 1),
                ("spawn", 1),
                ("sleep", 1),
                ("release", 0),
                ("release", 0),
                ("cancel", 1, None),
                ("sleep", 1),
            ),
            (("acquire", 0, None),),
        ),
    ),
    # On 3.11 a gather's callback for a child already done is scheduled as the child comes,
    # before the next argument's task is created: spindle scheduled it after all of them.
    # (At the runner's shutdown: 1a catches its cancellation and gathers a cancelled task.)
    "gather_schedules_a_done_child_in_argument_order_on_311": Program(
        objects=(("event",),),
        specs=(
            (("spawn", 1),),
            (
                ("try", "CancelledError", (("await", 2),)),
                ("gather", ((2, "latest"), (2, "coro")), False),
            ),
            (("shield", (3, "task")),),
            (),
        ),
    ),
    # A task that gather() made for a coroutine, still pending when the loop closes, is not
    # reported "destroyed but it is pending" (its caller never saw it); spindle reported it.
    "gather_made_tasks_are_not_reported_destroyed_pending": Program(
        objects=(("lock",),),
        specs=(
            (("spawn", 1), ("shield", (3, "task"))),
            (("gather", ((2, "latest"), (2, "coro"), (2, "latest")), True),),
            (("finally", (("acquire", 0, None),), (("acquire", 0, None),)),),
            (),
        ),
    ),
    # A task woken by the failure of one of spindle's futures had the exception raised inside
    # its coroutine (the compiled core's wake-up), chaining it to an exception a frame further
    # up was handling (here the UserError of the finally); asyncio throws it in, and it is
    # chained only where it enters a frame that handles one.
    "a_failed_future_is_thrown_in_not_raised_inside": Program(
        objects=(),
        specs=(
            (
                ("sleep", 0),
                ("finally", (("raise", "e1"),), (("timeout", 0, (("sleep", 0.25),)),)),
            ),
        ),
    ),
    # A task cancelled after the task it awaited failed, before it was woken: asyncio reads
    # the failure (retrieved) and throws the cancellation in; spindle's wake-up skipped the
    # read, and the failure was reported never retrieved.
    "a_failure_is_retrieved_when_a_cancel_is_thrown_in_instead": Program(
        objects=(),
        specs=(
            (("spawn", 1), ("spawn", 2), ("await", 1)),
            (("sleep", 1), ("raise", "e1")),
            (("sleep", 1), ("cancel_main", None)),
        ),
    ),
}


@pytest.mark.parametrize("name", REGRESSIONS)
def test_spindle_agrees_with_asyncio_on(name: str) -> None:
    check_agreement(REGRESSIONS[name])
