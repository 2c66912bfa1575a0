"""Which CPython tests are not run against spindle, and which are expected to fail, and why.

Two lists, never mixed:

* ``EXCLUDED``: tests that do not test the target: they inspect asyncio's private internals,
  exercise one of asyncio's own classes that spindle does not replace (the C Task, the
  selector loop), or belong to a later issue (sockets and subprocesses).  Skipped, with the
  reason shown by ``pytest -rs``.
* ``KNOWN_FAILURES``: tests that fail because spindle is wrong.  They run, as
  ``xfail(strict=True)``: the day spindle is fixed they XPASS, the run fails, and the entry
  must be removed.  Applied to the spindle target only.

Keys are ``module.Class.test`` or ``module.Class`` (every test of the class).
"""

from __future__ import annotations

__all__ = ["EXCLUDED", "KNOWN_FAILURES", "exclusion_reason"]

# -- reasons shared by many entries ---------------------------------------------------------

C_OR_PY = "runs the mixin on one of asyncio's own {}; the Target{} class runs it on spindle's"
ASYNCIO_LOOP = (
    "runs the tests on asyncio's selector loop; TargetEventLoopTests runs them on spindle's"
)
ASYNCIO_REGISTRY = (
    "tests asyncio's own task-registry functions (tasks._py_/_c_register_task, _enter_task...), "
    "which spindle calls rather than replaces"
)
GET_EVENT_LOOP_IMPLS = (
    "swaps asyncio's C and Python get_event_loop/_get_running_loop implementations into the "
    "asyncio module and tests them against asyncio's policy classes"
)

PRIVATE = "inspects or mocks asyncio's private {}"
IO_MOCKS = (
    "mocks asyncio's private {} to fake the network; spindle's sockets are its own, so the "
    "test would do real I/O"
)
TEST_LOOP_TIME = (
    "asserts the loop.time() that asyncio's TestLoop reaches by advancing its clock once more "
    "while stopping; a real loop (and spindle's virtual clock) stops at the time it is at"
)
NEWER_PYTHON = (
    "asserts 3.11 behaviour that CPython {version} changed and spindle implements the newer "
    "way ({change}); CPython {version} changed or removed this test"
)
NO_POLICIES = (
    "by design: spindle.run()/Runner make spindle loops directly and never call the policy "
    "(spindle keeps no policies); asyncio's run() calls policy.set_event_loop()"
)
KEEPS_PENDING_TASKS = (
    "by design: spindle keeps every pending task referenced (no task is garbage-collected "
    "mid-flight, the pitfall asyncio's docs warn about); the test expects it to be collected"
)
TIMER_IDENTITY = (
    "by design: spindle's TimerHandle hashes and compares by identity (its timer queue orders "
    "timers, not the handles); asyncio's compares (when, callback, args)"
)

EXCLUDED: dict[str, str] = {
    # -- asyncio's own implementations: the Target classes of adapters.py cover spindle's ----
    "test_futures.CFutureTests": C_OR_PY.format("Future classes (C)", "FutureTests"),
    "test_futures.CSubFutureTests": C_OR_PY.format("Future classes (C subclass)", "FutureTests"),
    "test_futures.PyFutureTests": C_OR_PY.format("Future classes (Python)", "FutureTests"),
    "test_futures.CFutureDoneCallbackTests": C_OR_PY.format(
        "Future classes (C)", "FutureDoneCallbackTests"
    ),
    "test_futures.CSubFutureDoneCallbackTests": C_OR_PY.format(
        "Future classes (C subclass)", "FutureDoneCallbackTests"
    ),
    "test_futures.PyFutureDoneCallbackTests": C_OR_PY.format(
        "Future classes (Python)", "FutureDoneCallbackTests"
    ),
    "test_futures.CFutureInheritanceTests": C_OR_PY.format(
        "Future classes (C)", "FutureInheritanceTests"
    ),
    "test_futures.PyFutureInheritanceTests": C_OR_PY.format(
        "Future classes (Python)", "FutureInheritanceTests"
    ),
    "test_futures2.CFutureTests": C_OR_PY.format("Task classes (C)", "FutureTests"),
    "test_futures2.PyFutureTests": C_OR_PY.format("Task classes (Python)", "FutureTests"),
    "test_tasks.CTask_CFuture_Tests": C_OR_PY.format("Task/Future pairs (C/C)", "Task_Tests"),
    "test_tasks.CTask_CFuture_SubclassTests": C_OR_PY.format(
        "Task/Future pairs (C/C, subclassed)", "Task_SubclassTests"
    ),
    "test_tasks.CTaskSubclass_PyFuture_Tests": C_OR_PY.format(
        "Task/Future pairs (C/Python, subclassed)", "Task_SubclassTests"
    ),
    "test_tasks.PyTask_CFutureSubclass_Tests": C_OR_PY.format(
        "Task/Future pairs (Python/C, subclassed)", "Task_SubclassTests"
    ),
    "test_tasks.CTask_PyFuture_Tests": C_OR_PY.format("Task/Future pairs (C/Python)", "Task_Tests"),
    "test_tasks.PyTask_CFuture_Tests": C_OR_PY.format("Task/Future pairs (Python/C)", "Task_Tests"),
    "test_tasks.PyTask_PyFuture_Tests": C_OR_PY.format(
        "Task/Future pairs (Python/Python)", "Task_Tests"
    ),
    "test_tasks.PyTask_PyFuture_SubclassTests": C_OR_PY.format(
        "Task/Future pairs (Python/Python, subclassed)", "Task_SubclassTests"
    ),
    "test_tasks.PyCurrentLoopTests": C_OR_PY.format("Task classes (Python)", "CurrentLoopTests"),
    "test_tasks.CCurrentLoopTests": C_OR_PY.format("Task classes (C)", "CurrentLoopTests"),
    "test_tasks.PyIntrospectionTests": ASYNCIO_REGISTRY,
    "test_tasks.CIntrospectionTests": ASYNCIO_REGISTRY,
    "test_events.SelectEventLoopTests": ASYNCIO_LOOP,
    "test_events.PollEventLoopTests": ASYNCIO_LOOP,
    "test_events.EPollEventLoopTests": ASYNCIO_LOOP,
    "test_events.TestPyGetEventLoop": GET_EVENT_LOOP_IMPLS,
    "test_events.TestCGetEventLoop": GET_EVENT_LOOP_IMPLS,
    "test_events.PolicyTests": "tests asyncio's policy classes (spindle keeps no policies)",
    "test_events.AbstractEventLoopTests": (
        "tests that asyncio's AbstractEventLoop raises NotImplementedError; spindle's loop "
        "subclasses that class unchanged"
    ),
    "test_runners.RunTests.test_asyncio_run_without_uncancel": (
        "injects a Task without uncancel() through a custom policy's loop; spindle.run() takes "
        "no loop from policies, so the simulated Ctrl-C ends the whole pytest session"
    ),
    # -- asyncio's private internals ----------------------------------------------------
    "test_base_events.BaseEventLoopTests.test__add_callback_handle": PRIVATE.format(
        "loop._add_callback and _ready"
    ),
    "test_base_events.BaseEventLoopTests.test__add_callback_cancelled_handle": PRIVATE.format(
        "loop._add_callback and _ready"
    ),
    "test_base_events.BaseEventLoopTests.test__run_once": PRIVATE.format(
        "loop._scheduled heap and mock selector"
    ),
    "test_base_events.BaseEventLoopTests.test__run_once_schedule_handle": PRIVATE.format(
        "loop._scheduled heap and mock selector"
    ),
    "test_base_events.BaseEventLoopTests.test__run_once_cancelled_event_cleanup": PRIVATE.format(
        "loop._timer_cancelled_count and _scheduled"
    ),
    "test_base_events.BaseEventLoopTests.test_call_later": PRIVATE.format("loop._scheduled heap"),
    "test_base_events.BaseEventLoopTests.test_not_implemented": PRIVATE.format(
        "loop._make_*_transport hooks (a bare BaseEventLoop's NotImplementedErrors)"
    ),
    "test_base_events.BaseEventLoopTests.test_run_forever_pre_stopped": PRIVATE.format(
        "mock selector (loop._selector.select calls)"
    ),
    "test_base_events.BaseEventLoopTests.test_single_selecter_event_callback_after_stopping": PRIVATE.format(
        "mock selector and loop._process_events"
    ),
    "test_base_events.BaseEventLoopTests.test_asyncgen_finalization_by_gc_in_other_thread": PRIVATE.format(
        "loop._write_to_self (mocked away, so a real loop never wakes up)"
    ),
    "test_events.TargetEventLoopTests.test_prompt_cancellation": PRIVATE.format(
        "loop._stop_serving (called at the end of the test)"
    ),
    "test_events.TargetEventLoopTests.test_timeout_rounding": PRIVATE.format(
        "loop._run_once (counted) and loop._selector"
    ),
    "test_futures.TargetFutureTests.test_log_traceback": PRIVATE.format(
        "Future._log_traceback setter (only False may be assigned)"
    ),
    "test_tasks.TargetTask_Tests.test_log_traceback": PRIVATE.format(
        "Task._log_traceback setter (only False may be assigned)"
    ),
    "test_tasks.TargetTask_SubclassTests.test_log_traceback": PRIVATE.format(
        "Task._log_traceback setter (only False may be assigned)"
    ),
    "test_tasks.CoroutineGatherTests.test_issue46672": PRIVATE.format(
        "BaseEventLoop.call_exception_handler (patched on asyncio's class)"
    ),
    "test_runners.RunTests.test_asyncio_run_debug": PRIVATE.format(
        "coroutines._is_debug_mode (patched to fake -X dev)"
    ),
    "test_tasks.TargetTask_Tests.test_error_in_call_soon": (
        "replaces call_soon on the loop instance and expects Task() to call it; spindle's Task puts its first step on spindle's own loop directly"
    ),
    "test_tasks.TargetTask_SubclassTests.test_error_in_call_soon": (
        "replaces call_soon on the loop instance and expects Task() to call it; spindle's Task puts its first step on spindle's own loop directly"
    ),
    "test_base_events.BaseEventLoopWithSelectorTests.test_accept_connection_exception": IO_MOCKS.format(
        "loop._accept_connection and _start_serving"
    ),
    "test_base_events.BaseEventLoopWithSelectorTests.test_accept_connection_retry": IO_MOCKS.format(
        "loop._accept_connection"
    ),
    "test_base_events.BaseEventLoopWithSelectorTests.test_create_connection_bluetooth": IO_MOCKS.format(
        "base_events.socket module"
    ),
    "test_base_events.BaseEventLoopWithSelectorTests.test_create_connection_ip_addr": IO_MOCKS.format(
        "base_events.socket module"
    ),
    "test_base_events.BaseEventLoopWithSelectorTests.test_create_connection_ipv6_scope": IO_MOCKS.format(
        "base_events.socket module and loop._add_reader"
    ),
    "test_base_events.BaseEventLoopWithSelectorTests.test_create_connection_multiple_errors": IO_MOCKS.format(
        "base_events.socket module"
    ),
    "test_base_events.BaseEventLoopWithSelectorTests.test_create_connection_multiple_errors_local_addr": IO_MOCKS.format(
        "base_events.socket module"
    ),
    "test_base_events.BaseEventLoopWithSelectorTests.test_create_connection_no_inet_pton": IO_MOCKS.format(
        "base_events.socket module"
    ),
    "test_base_events.BaseEventLoopWithSelectorTests.test_create_connection_service_name": IO_MOCKS.format(
        "base_events.socket module and loop._add_reader"
    ),
    "test_base_events.BaseEventLoopWithSelectorTests.test_create_connection_ssl_server_hostname_default": IO_MOCKS.format(
        "loop._make_ssl_transport"
    ),
    "test_base_events.BaseEventLoopWithSelectorTests.test_create_connection_timeout": IO_MOCKS.format(
        "base_events.socket module"
    ),
    "test_base_events.BaseEventLoopWithSelectorTests.test_create_datagram_endpoint_cant_bind": IO_MOCKS.format(
        "base_events.socket module"
    ),
    "test_base_events.BaseEventLoopWithSelectorTests.test_create_datagram_endpoint_ip_addr": IO_MOCKS.format(
        "base_events.socket module"
    ),
    "test_base_events.BaseEventLoopWithSelectorTests.test_create_datagram_endpoint_no_addrinfo": IO_MOCKS.format(
        "base_events.socket module"
    ),
    "test_base_events.BaseEventLoopWithSelectorTests.test_create_datagram_endpoint_nosoreuseport": IO_MOCKS.format(
        "base_events.socket module"
    ),
    "test_base_events.BaseEventLoopWithSelectorTests.test_create_datagram_endpoint_setblk_err": IO_MOCKS.format(
        "base_events.socket module"
    ),
    "test_base_events.BaseEventLoopWithSelectorTests.test_create_datagram_endpoint_socket_err": IO_MOCKS.format(
        "base_events.socket module"
    ),
    "test_base_events.BaseEventLoopWithSelectorTests.test_create_server_cant_bind": IO_MOCKS.format(
        "base_events.socket module"
    ),
    "test_base_events.BaseEventLoopWithSelectorTests.test_create_server_nosoreuseport": IO_MOCKS.format(
        "base_events.socket module"
    ),
    "test_base_events.BaseEventLoopWithSelectorTests.test_create_server_soreuseport_only_defined": IO_MOCKS.format(
        "base_events.socket module"
    ),
    "test_events.TargetEventLoopTests.test_create_server_multiple_hosts_ipv4": IO_MOCKS.format(
        "base_events.socket module and loop._start_serving"
    ),
    "test_events.TargetEventLoopTests.test_create_server_multiple_hosts_ipv6": IO_MOCKS.format(
        "base_events.socket module and loop._start_serving"
    ),
    # -- asyncio's TestLoop -----------------------------------------------------------------
    "test_tasks.TargetTask_Tests.test_stop_while_run_in_complete": TEST_LOOP_TIME,
    "test_tasks.TargetTask_SubclassTests.test_stop_while_run_in_complete": TEST_LOOP_TIME,
    # -- newer Python semantics -------------------------------------------------------------
    "test_taskgroups.TestTaskGroup.test_taskgroup_finished": NEWER_PYTHON.format(
        version="3.13", change="TaskGroup.create_task() closes the coroutine it refuses"
    ),
    "test_taskgroups.TestTaskGroup.test_taskgroup_not_entered": NEWER_PYTHON.format(
        version="3.13", change="TaskGroup.create_task() closes the coroutine it refuses"
    ),
    "test_taskgroups.TestTaskGroup.test_taskgroup_without_parent_task": NEWER_PYTHON.format(
        version="3.13", change="TaskGroup.create_task() closes the coroutine it refuses"
    ),
    "test_taskgroups.TestTaskGroup.test_taskgroup_no_create_task_after_failure": NEWER_PYTHON.format(
        version="3.13", change="TaskGroup.create_task() closes the coroutine it refuses"
    ),
    "test_waitfor.AsyncioWaitForTest.test_wait_for_self_cancellation": NEWER_PYTHON.format(
        version="3.12", change="wait_for() runs the awaitable without wrapping it in a task"
    ),
    "test_futures2.FutureReprTests.test_recursive_repr_for_pending_tasks": NEWER_PYTHON.format(
        version="3.12", change="wait_for() runs the awaitable without wrapping it in a task"
    ),
    # -- spindle's design ------------------------------------------------------------------
    "test_runners.RunTests.test_asyncio_run_set_event_loop": NO_POLICIES,
    "test_runners.RunnerTests.test_set_event_loop_called_once": NO_POLICIES,
    "test_tasks.TargetTask_Tests.test_log_destroyed_pending_task": KEEPS_PENDING_TASKS,
    "test_tasks.TargetTask_SubclassTests.test_log_destroyed_pending_task": KEEPS_PENDING_TASKS,
    "test_events.TimerTests.test_hash": TIMER_IDENTITY,
    "test_events.TimerTests.test_timer_comparison": TIMER_IDENTITY,
}

HANDLE_NEEDS_SPINDLE_LOOP = (
    "spindle's Handle reads its loop's private _debug and _capture_source_traceback, so a "
    "Handle on any other loop (here a Mock) fails; asyncio's uses loop.get_debug()"
)
RUN_MESSAGE = (
    "message differs: spindle says '<caller> expects a coroutine, got ...' where asyncio says "
    "'a coroutine was expected, got ...' (the test matches asyncio's words)"
)

KNOWN_FAILURES: dict[str, str] = {
    "test_events.HandleTests.test_handle": HANDLE_NEEDS_SPINDLE_LOOP,
    "test_events.HandleTests.test_callback_with_exception": HANDLE_NEEDS_SPINDLE_LOOP,
    "test_events.HandleTests.test_handle_repr": HANDLE_NEEDS_SPINDLE_LOOP,
    "test_events.HandleTests.test_handle_repr_debug": HANDLE_NEEDS_SPINDLE_LOOP,
    "test_events.TimerTests.test_timer": HANDLE_NEEDS_SPINDLE_LOOP,
    "test_events.TimerTests.test_timer_repr": HANDLE_NEEDS_SPINDLE_LOOP,
    "test_events.TimerTests.test_timer_repr_debug": HANDLE_NEEDS_SPINDLE_LOOP,
    "test_base_events.BaseEventLoopTests.test_create_task_error_closes_coro": (
        "ensure_future()/create_task() on a closed loop raise RuntimeError but leave the "
        "coroutine unclosed (RuntimeWarning: never awaited)"
    ),
    "test_base_events.BaseEventLoopTests.test_set_default_executor_error": (
        "message differs: asyncio says 'executor must be ThreadPoolExecutor instance'"
    ),
    "test_base_events.BaseEventLoopWithSelectorTests.test_log_slow_callbacks": (
        "the slow-callback warning appends ' (scheduled at file:line)' after 'took X seconds', "
        "where asyncio's message ends"
    ),
    "test_events.TargetEventLoopTests.test_create_ssl_connection": (
        "the TLS transport's class name does not contain 'ssl' (the test checks the name)"
    ),
    "test_events.TargetEventLoopTests.test_create_ssl_unix_connection": (
        "the TLS transport's class name does not contain 'ssl' (the test checks the name)"
    ),
    "test_futures.TargetFutureTests.test_exception": (
        "set_exception(StopIteration) is accepted; asyncio raises TypeError ('StopIteration ..."
        " cannot be raised into a Future')"
    ),
    "test_futures.TargetFutureTests.test_future_repr": (
        "a repr with many callbacks reads 'a, b, <8 more>'; asyncio's reads 'a, <8 more>, z' "
        "(first and last)"
    ),
    "test_futures.TargetFutureTests.test_isfuture": (
        "isfuture() is False for a duck-typed future (class attribute _asyncio_future_blocking,"
        " instance value not None)"
    ),
    "test_futures.TargetFutureTests.test_uninitialized": (
        "Future.__new__ without __init__: result()/exception() raise AttributeError ('_state') "
        "instead of InvalidStateError"
    ),
    "test_futures.TargetFutureInheritanceTests.test_inherit_without_calling_super_init": (
        "a Future subclass that skips super().__init__(): get_loop() raises AttributeError, not"
        " RuntimeError('Future object is not initialized.'), and __del__ raises AttributeError"
    ),
    "test_runners.RunTests.test_asyncio_run_only_coro": RUN_MESSAGE,
    "test_runners.RunnerTests.test_run_non_coro": RUN_MESSAGE,
    "test_runners.RunnerTests.test_run_future": RUN_MESSAGE,
    "test_runners.RunTests.test_asyncio_run_reports_hanging_tasks_errors": (
        "the shutdown error is reported as 'unhandled exception during spindle.run() shutdown';"
        " the test expects 'asyncio.run.*shutdown'"
    ),
    "test_tasks.CTask_Future_Tests.test_foobar": (
        "a task awaiting a Future subclass whose get_loop raises AttributeError hangs (asyncio "
        "falls back to the future's _loop)"
    ),
    "test_tasks.TargetTask_Tests.test_task_repr": (
        "a callback without __qualname__ is shown as '<Dummy>'; asyncio shows '<Dummy>()'"
    ),
    "test_tasks.TargetTask_SubclassTests.test_task_repr": (
        "a callback without __qualname__ is shown as '<Dummy>'; asyncio shows '<Dummy>()'"
    ),
    "test_tasks.TargetTask_Tests.test_uncancel_basic": (
        "the repr of a task with a pending cancellation request lacks asyncio's ' cancelling ' "
        "state"
    ),
    "test_tasks.TargetTask_SubclassTests.test_uncancel_basic": (
        "the repr of a task with a pending cancellation request lacks asyncio's ' cancelling ' "
        "state"
    ),
}


def exclusion_reason(key: str) -> str | None:
    """Why the test ``module.Class.test`` is excluded, or None when it runs."""
    module_class = key.rpartition(".")[0]
    return EXCLUDED.get(key) or EXCLUDED.get(module_class)
