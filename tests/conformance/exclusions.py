"""Which CPython tests are not run against spindle, which are expected to fail, and why.

Two lists, never mixed:

* ``EXCLUDED``: tests that do not test spindle.  They inspect or mock asyncio's private
  internals; run one of asyncio's own implementations (the C Task, the selector loop); assert
  a 3.11 behaviour that a later CPython changed and spindle follows the later one; or check
  something spindle does differently *by design* (each such reason starts with "by design:",
  so the lead can review them).  Skipped, with the reason shown by ``pytest -rs``.
* ``KNOWN_FAILURES``: tests that fail because spindle is wrong.  They run as
  ``xfail(strict=True)`` (spindle target only): the day spindle is fixed they XPASS, the run
  fails, and the entry must go.

Keys are ``module.Class.test``, or ``module.Class`` for every test of a class.
"""

from __future__ import annotations

import sys

__all__ = ["EXCLUDED", "KNOWN_FAILURES", "exclusion_reason"]

# The tests are the running Python's own copy; some exist, or need excluding, only on some
# versions.
PY311 = sys.version_info < (3, 12)


def _each(prefix: str, reasons: dict[str, str]) -> dict[str, str]:
    """``{prefix.name: reason}``: keeps the tables below readable."""
    return {f"{prefix}.{name}": reason for name, reason in reasons.items()}


def _private(what: str) -> str:
    return f"inspects or mocks asyncio's private {what}"


def _if(applies: bool, entries: dict[str, str]) -> dict[str, str]:
    """``entries`` on the Pythons where ``applies``; nothing elsewhere."""
    return entries if applies else {}


# == test_subprocess and test_unix_events: child processes, signals, Unix pipes ============
# Each table is folded into the group of the same kind below (asyncio's, private, ...).

_WATCHER_MIXIN = (
    "runs the mixin with one of asyncio's child watchers attached to the loop; "
    "TargetSubprocessTests runs it on spindle's loop, which reaps its own children"
)
_ASYNCIO_PIPE = (
    "tests asyncio's own unix_events._Unix{}PipeTransport over a mock pipe; spindle's pipe "
    "transports run in test_events' pipe tests and tests/io/test_pipes.py"
)
_ASYNCIO_WATCHER = (
    "tests asyncio's child-watcher classes (with os.waitpid mocked); spindle reaps its own "
    "children (a pidfd, or a thread per child) and never uses them"
)

SUBPROCESS_UNIX_ASYNCIO = {
    **_each(
        "test_subprocess",
        {
            f"Subprocess{watcher}WatcherTests": _WATCHER_MIXIN
            # 3.12 renamed the MultiLoop class (MultiLoopChildWatcherTests tests the watcher).
            for watcher in ("Threaded", "MultiLoop" if PY311 else "", "Safe", "Fast", "Pidfd")
            if watcher
        },
    ),
    "test_subprocess.SubprocessTransportTests": (
        "tests asyncio's base_subprocess.BaseSubprocessTransport (subclassed around a mock "
        "Popen); TargetSubprocessTests runs spindle's subprocess transport"
    ),
    "test_unix_events.UnixReadPipeTransportTests": _ASYNCIO_PIPE.format("Read"),
    "test_unix_events.UnixWritePipeTransportTests": _ASYNCIO_PIPE.format("Write"),
    **_each(
        "test_unix_events",
        {
            f"{kind}ChildWatcherTests": _ASYNCIO_WATCHER
            for kind in ("Abstract", "Base", "Safe", "Fast")
        },
    ),
    "test_unix_events.PolicyTests": (
        "tests the child-watcher bookkeeping of asyncio's DefaultEventLoopPolicy "
        "(get/set_child_watcher, attaching the watcher in set_event_loop); spindle's loop "
        "never consults a child watcher"
    ),
}

# adapters.py makes spindle's signal calls follow the tests' mock of unix_events.signal.
_MOCK_RETURNS_A_MOCK = (
    "counts the calls of a mocked signal.set_wakeup_fd, whose set_wakeup_fd(-1) returns a "
    "Mock instead of the previous descriptor; spindle then puts that 'descriptor' back (it "
    "restores a wake-up descriptor that is not its own), one call more than the test expects"
)
_FAKE_HANDLER = (
    "puts a fake entry (a lambda, an object()) in asyncio's private loop._signal_handlers "
    "table, which spindle's loop then fails to cancel when it closes"
)

SUBPROCESS_UNIX_PRIVATE = {
    **_each(
        "test_unix_events.SelectorEventLoopSignalTests",
        {
            "test_add_signal_handler_install_error2": _FAKE_HANDLER,
            "test_add_signal_handler_install_error3": _MOCK_RETURNS_A_MOCK,
            "test_remove_signal_handler_2": _FAKE_HANDLER,
            "test_close": _MOCK_RETURNS_A_MOCK,
            "test_close_on_finalizing": (
                "mocks asyncio's private unix_events.sys and unix_events.signal module "
                "references (to fake interpreter shutdown)"
            ),
            "test_check_signal": "calls asyncio's private loop._check_signal()",
            "test_handle_signal_no_handler": "calls asyncio's private loop._handle_signal()",
            "test_handle_signal_cancelled_handler": (
                "calls asyncio's private loop._handle_signal() on a handle it put in "
                "loop._signal_handlers"
            ),
        },
    ),
    **_each(
        "test_unix_events.SelectorEventLoopUnixSocketTests",
        {
            "test_create_unix_server_bind_error": (
                "mocks asyncio's private unix_events.socket module reference to fake a "
                "failing bind(); spindle's listeners do not go through it, so the test would "
                "do real I/O"
            ),
        },
    ),
    "test_unix_events.SelectorEventLoopUnixSockSendfileTests": (
        "calls asyncio's private loop._sock_sendfile_native() / _sock_sendfile_native_impl() "
        "and inspects loop._selector"
    ),
}

SUBPROCESS_UNIX_NEWER = _each(
    "test_unix_events.SelectorEventLoopUnixSocketTests",
    {
        "test_create_unix_server_path_stream_bittype": (
            "closing a Unix server removes its socket file (CPython 3.13's "
            "cleanup_socket=True, which spindle implements); the 3.11 test then fails to "
            "unlink the file itself"
        ),
    },
)

SUBPROCESS_UNIX_DESIGN = {
    "test_subprocess.TargetSubprocessTests.test_close_kill_running": (
        "by design: close() kills a running child through spindle's child watcher "
        "(pidfd_send_signal where the kernel has it: it cannot reach a recycled pid), not "
        "through Popen.kill(), which the test replaces to observe the kill; "
        "tests/io/test_subprocess.py checks that close() kills a running child"
    ),
    "test_subprocess.GenericWatcherTests": (
        "by design: spindle's loop reaps its own children and never consults the watcher set "
        "with asyncio.set_child_watcher(), so an inactive one cannot make "
        "create_subprocess_exec() fail"
    ),
}


# == The I/O suites: sockets, servers, streams, TLS, sendfile =============================
# Each table is folded into the group of the same kind below.

_SELECTOR_LOOP = (
    "runs the mixin on asyncio's selector loop with one selector; TargetEventLoopTests runs it "
    "on spindle's loop"
)

IO_ASYNCIO_IMPLEMENTATIONS = {
    **{
        f"{module}.{selector}EventLoopTests": _SELECTOR_LOOP
        for module in ("test_sock_lowlevel", "test_sendfile")
        for selector in ("Select", "Poll", "EPoll")
    },
    "test_sslproto.SslProtoHandshakeTests": (
        "tests asyncio's own sslproto.SSLProtocol class, fed a mock transport and a mock "
        "SSLObject; spindle's TLS layer is its own (test_ssl and SelectorStartTLSTests run it "
        "over real sockets)"
    ),
}

_SERVER_SOCKETS = (
    "asserts asyncio's private Server._sockets and _waiters are None once serve_forever() is "
    "cancelled (without those two assertions the test passes on spindle; the public part is "
    "tests/io/test_servers.py::test_serve_forever_until_cancelled_closes_the_server)"
)

IO_PRIVATE_INTERNALS = {
    **_if(
        sys.version_info >= (3, 13),
        {
            "test_base_events.BaseEventLoopTests.test_custom_run_forever_integration": _private(
                "BaseEventLoop._run_forever_setup() / _run_forever_cleanup() and _process_events"
            ),
        },
    ),
    **_if(
        not PY311,
        {
            "test_server.TestServer2.test_wait_closed_basic": _private("Server._attach()"),
            "test_server.TestServer2.test_wait_closed_race": _private("Server._attach()"),
        },
    ),
    "test_server.SelectorStartServerTests.test_start_server_1": _SERVER_SOCKETS,
    "test_server.SelectorStartServerTests.test_start_unix_server_1": _SERVER_SOCKETS,
    "test_ssl.TestSSL.test_flush_before_shutdown": (
        "pauses and resumes asyncio's private SSLProtocol (writer.transport._ssl_protocol) "
        "behind the transport's back"
    ),
    "test_ssl.TestSSL.test_remote_shutdown_receives_trailing_data": (
        "fills the write backlog through asyncio's private test hook "
        "transport._test__append_write_backlog()"
    ),
    "test_sendfile.TargetEventLoopTests.test_sendfile_force_unsupported_native": (
        "replaces the loop's private _sendfile_native with asyncio's BaseEventLoop._sendfile_native"
    ),
    "test_transports.TransportTests.test_flowcontrol_mixin_set_write_limits": (
        "tests asyncio's private transports._FlowControlMixin"
    ),
}





# -- asyncio's own implementations (the Target classes of adapters.py run spindle's) -------

_C_OR_PY = "runs the mixin on asyncio's own {}; Target{} runs it on spindle's"
_ASYNCIO_LOOP = "runs on asyncio's selector loop; TargetEventLoopTests runs it on spindle's"
_ASYNCIO_REGISTRY = (
    "tests asyncio's own task registry (tasks._py_/_c_register_task, _enter_task...), which "
    "spindle calls rather than replaces"
)
_GET_EVENT_LOOP_IMPLS = (
    "swaps asyncio's C and Python get_event_loop/_get_running_loop into the asyncio module "
    "and tests them with asyncio's policy classes"
)

ASYNCIO_IMPLEMENTATIONS = {
    **SUBPROCESS_UNIX_ASYNCIO,
    **IO_ASYNCIO_IMPLEMENTATIONS,
    **_each(
        "test_futures",
        {
            "CFutureTests": _C_OR_PY.format("C Future", "FutureTests"),
            "CSubFutureTests": _C_OR_PY.format("C Future (subclassed)", "FutureTests"),
            "PyFutureTests": _C_OR_PY.format("Python Future", "FutureTests"),
            "CFutureDoneCallbackTests": _C_OR_PY.format("C Future", "FutureDoneCallbackTests"),
            "CSubFutureDoneCallbackTests": _C_OR_PY.format(
                "C Future (subclassed)", "FutureDoneCallbackTests"
            ),
            "PyFutureDoneCallbackTests": _C_OR_PY.format(
                "Python Future", "FutureDoneCallbackTests"
            ),
            "CFutureInheritanceTests": _C_OR_PY.format("C Future", "FutureInheritanceTests"),
            "PyFutureInheritanceTests": _C_OR_PY.format("Python Future", "FutureInheritanceTests"),
        },
    ),
    **_each(
        "test_futures2",
        {
            "CFutureTests": _C_OR_PY.format("C Task", "FutureTests"),
            "PyFutureTests": _C_OR_PY.format("Python Task", "FutureTests"),
        },
    ),
    **_each(
        "test_tasks",
        {
            "CTask_CFuture_Tests": _C_OR_PY.format("C Task and C Future", "Task_Tests"),
            "CTask_PyFuture_Tests": _C_OR_PY.format("C Task and Python Future", "Task_Tests"),
            "PyTask_CFuture_Tests": _C_OR_PY.format("Python Task and C Future", "Task_Tests"),
            "PyTask_PyFuture_Tests": _C_OR_PY.format("Python Task and Future", "Task_Tests"),
            "CTask_CFuture_SubclassTests": _C_OR_PY.format(
                "C Task and C Future", "Task_SubclassTests"
            ),
            "CTaskSubclass_PyFuture_Tests": _C_OR_PY.format(
                "C Task and Python Future", "Task_SubclassTests"
            ),
            "PyTask_CFutureSubclass_Tests": _C_OR_PY.format(
                "Python Task and C Future", "Task_SubclassTests"
            ),
            "PyTask_PyFuture_SubclassTests": _C_OR_PY.format(
                "Python Task and Future", "Task_SubclassTests"
            ),
            "PyCurrentLoopTests": _C_OR_PY.format("Python Task", "CurrentLoopTests"),
            "CCurrentLoopTests": _C_OR_PY.format("C Task", "CurrentLoopTests"),
            "PyIntrospectionTests": _ASYNCIO_REGISTRY,
            "CIntrospectionTests": _ASYNCIO_REGISTRY,
        },
    ),
    **_each(
        "test_events",
        {
            "SelectEventLoopTests": _ASYNCIO_LOOP,
            "PollEventLoopTests": _ASYNCIO_LOOP,
            "EPollEventLoopTests": _ASYNCIO_LOOP,
            "TestPyGetEventLoop": _GET_EVENT_LOOP_IMPLS,
            "TestCGetEventLoop": _GET_EVENT_LOOP_IMPLS,
            "PolicyTests": "tests asyncio's policy classes (spindle keeps no policies)",
            "AbstractEventLoopTests": (
                "tests that asyncio's AbstractEventLoop raises NotImplementedError; spindle's "
                "loop subclasses it unchanged"
            ),
        },
    ),
}

# -- asyncio's private internals -------------------------------------------------------------


def _fakes_network(what: str) -> str:
    return (
        f"mocks asyncio's private {what} to fake the network; spindle's sockets do not go "
        "through it, so the test would do real I/O"
    )


_SOCKET_MODULE = _fakes_network("base_events.socket module")
_LOG_TRACEBACK = _private("_log_traceback setter (only False may be assigned)")
_CALL_SOON_ON_INSTANCE = (
    "replaces call_soon on the loop instance and expects Task() to call it; spindle's Task "
    "puts its first step on spindle's own loop directly"
)

PRIVATE_INTERNALS = {
    **SUBPROCESS_UNIX_PRIVATE,
    **IO_PRIVATE_INTERNALS,
    **_each(
        "test_base_events.BaseEventLoopTests",
        {
            "test__add_callback_handle": _private("loop._add_callback and _ready"),
            "test__add_callback_cancelled_handle": _private("loop._add_callback and _ready"),
            "test__run_once": _private("loop._scheduled heap and mock selector"),
            "test__run_once_schedule_handle": _private("loop._scheduled and mock selector"),
            "test__run_once_cancelled_event_cleanup": _private("loop._timer_cancelled_count"),
            "test_call_later": _private("loop._scheduled heap"),
            "test_not_implemented": _private("loop._make_*_transport hooks"),
            "test_run_forever_pre_stopped": _private("mock selector (loop._selector.select)"),
            "test_single_selecter_event_callback_after_stopping": _private(
                "mock selector and loop._process_events"
            ),
            "test_asyncgen_finalization_by_gc_in_other_thread": _private(
                "loop._write_to_self (mocked away: a real loop then never wakes up)"
            ),
        },
    ),
    **_each(
        "test_base_events.BaseEventLoopWithSelectorTests",
        {
            "test_accept_connection_exception": _fakes_network("loop._accept_connection"),
            "test_accept_connection_retry": _fakes_network("loop._accept_connection"),
            "test_create_connection_bluetooth": _SOCKET_MODULE,
            "test_create_connection_ip_addr": _SOCKET_MODULE,
            "test_create_connection_ipv6_scope": _SOCKET_MODULE,
            "test_create_connection_multiple_errors": _SOCKET_MODULE,
            "test_create_connection_multiple_errors_local_addr": _SOCKET_MODULE,
            "test_create_connection_no_inet_pton": _SOCKET_MODULE,
            "test_create_connection_service_name": _SOCKET_MODULE,
            "test_create_connection_ssl_server_hostname_default": _fakes_network(
                "loop._make_ssl_transport"
            ),
            "test_create_connection_timeout": _SOCKET_MODULE,
            "test_create_datagram_endpoint_cant_bind": _SOCKET_MODULE,
            "test_create_datagram_endpoint_ip_addr": _SOCKET_MODULE,
            "test_create_datagram_endpoint_no_addrinfo": _SOCKET_MODULE,
            "test_create_datagram_endpoint_nosoreuseport": _SOCKET_MODULE,
            "test_create_datagram_endpoint_setblk_err": _SOCKET_MODULE,
            "test_create_datagram_endpoint_socket_err": _SOCKET_MODULE,
            "test_create_server_cant_bind": _SOCKET_MODULE,
            "test_create_server_nosoreuseport": _SOCKET_MODULE,
            "test_create_server_soreuseport_only_defined": _SOCKET_MODULE,
        },
    ),
    **_each(
        "test_events.TargetEventLoopTests",
        {
            "test_create_server_multiple_hosts_ipv4": _SOCKET_MODULE,
            "test_create_server_multiple_hosts_ipv6": _SOCKET_MODULE,
            "test_prompt_cancellation": _private("loop._stop_serving (at the end of the test)"),
            "test_timeout_rounding": _private("loop._run_once (counted) and loop._selector"),
        },
    ),
    "test_futures.TargetFutureTests.test_log_traceback": _LOG_TRACEBACK,
    "test_tasks.TargetTask_Tests.test_log_traceback": _LOG_TRACEBACK,
    "test_tasks.TargetTask_SubclassTests.test_log_traceback": _LOG_TRACEBACK,
    "test_tasks.TargetTask_Tests.test_error_in_call_soon": _CALL_SOON_ON_INSTANCE,
    "test_tasks.TargetTask_SubclassTests.test_error_in_call_soon": _CALL_SOON_ON_INSTANCE,
    "test_tasks.CoroutineGatherTests.test_issue46672": _private(
        "BaseEventLoop.call_exception_handler (patched on asyncio's loop class)"
    ),
    "test_runners.RunTests.test_asyncio_run_debug": _private(
        "coroutines._is_debug_mode (patched to fake -X dev)"
    ),
}

# -- asyncio's TestLoop, and newer CPython behaviour -----------------------------------------

_TEST_LOOP_TIME = (
    "asserts the loop.time() that asyncio's TestLoop reaches by advancing its clock once more "
    "while stopping; a real loop (and spindle's virtual clock) stops at the time it is at"
)


NOT_SPINDLES_BEHAVIOUR = {
    **SUBPROCESS_UNIX_NEWER,
    "test_tasks.TargetTask_Tests.test_stop_while_run_in_complete": _TEST_LOOP_TIME,
    "test_tasks.TargetTask_SubclassTests.test_stop_while_run_in_complete": _TEST_LOOP_TIME,
}

# -- spindle's design (for the lead to confirm) ----------------------------------------------

_NO_POLICIES = (
    "by design: spindle.run()/Runner make spindle loops directly and never call the policy "
    "(spindle keeps no policies); asyncio's run() calls policy.set_event_loop()"
)
_KEEPS_PENDING_TASKS = (
    "by design: spindle keeps every pending task referenced (no task is garbage-collected "
    "mid-flight, the pitfall asyncio's docs warn about); the test expects it to be collected"
)
_TIMER_IDENTITY = (
    "by design: spindle's TimerHandle hashes and compares by identity (its timer queue orders "
    "the timers, not the handles); asyncio's compares (when, callback, args)"
)
_NATIVE_HANDLES = (
    "by design: spindle's handles are native classes in its compiled build, not subclasses of "
    "asyncio's Python Handle (as with uvloop and rloop), and take no weak references: mypyc's "
    "native classes do not clear them when they die (mypyc issue 1102)"
)

DESIGN = {
    **SUBPROCESS_UNIX_DESIGN,
    "test_runners.RunTests.test_asyncio_run_set_event_loop": _NO_POLICIES,
    "test_runners.RunnerTests.test_set_event_loop_called_once": _NO_POLICIES,
    "test_runners.RunTests.test_asyncio_run_without_uncancel": (
        f"{_NO_POLICIES}; here the policy's loop would have injected a Task without "
        "uncancel(), and on spindle the simulated Ctrl-C ends the whole pytest session"
    ),
    "test_tasks.TargetTask_Tests.test_log_destroyed_pending_task": _KEEPS_PENDING_TASKS,
    "test_tasks.TargetTask_SubclassTests.test_log_destroyed_pending_task": _KEEPS_PENDING_TASKS,
    "test_events.TimerTests.test_hash": _TIMER_IDENTITY,
    "test_events.TimerTests.test_timer_comparison": _TIMER_IDENTITY,
    "test_events.HandleTests.test_handle_weakref": _NATIVE_HANDLES,
}

EXCLUDED: dict[str, str] = {
    **ASYNCIO_IMPLEMENTATIONS,
    **PRIVATE_INTERNALS,
    **NOT_SPINDLES_BEHAVIOUR,
    **DESIGN,
}

# -- spindle is wrong ------------------------------------------------------------------------

# None at present: every test that runs passes.  An entry is "module.Class.test": "reason".
KNOWN_FAILURES: dict[str, str] = {}


def exclusion_reason(key: str) -> str | None:
    """Why the test ``module.Class.test`` is excluded, or None when it runs."""
    module_class = key.rpartition(".")[0]
    return EXCLUDED.get(key) or EXCLUDED.get(module_class)
