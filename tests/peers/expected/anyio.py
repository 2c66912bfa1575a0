"""Tests of anyio's suite that are known not to pass here, each with its reason."""

from __future__ import annotations

import socket

from tests.peers.expected import not_run, spindle_only, timing
from tests.peers.outcomes import Expectation

__all__ = ["EXPECTED"]


def _localhost_has_ipv6() -> bool:
    try:
        return bool(socket.getaddrinfo("localhost", 0, socket.AF_INET6))
    except OSError:
        return False


_NO_IPV6_LOCALHOST = (
    "binds or resolves 'localhost' as IPv6; this sandbox's /etc/hosts gives localhost only "
    "127.0.0.1, so the fixture fails at once on either loop"
)

# The IPv6 ("-ipv6", "dualstack", "multi") variants of the socket tests, by class.
_IPV6 = {
    "TestTCPStream": [
        "test_aclose_forcefully[asyncio-ipv6]",
        "test_aclose_in_cancelled_scope_raises_cancelled_exc[asyncio-ipv6]",
        "test_cancelled_receive_pauses_reading[ipv6-asyncio]",
        "test_cancelled_send_does_not_send_the_next_one[asyncio-ipv6]",
        "test_close_during_receive[asyncio-ipv6]",
        "test_close_during_send[asyncio-ipv6]",
        "test_concurrent_aclose_forcefully_closes_socket[asyncio-ipv6]",
        "test_concurrent_receive[asyncio-ipv6]",
        "test_concurrent_send[asyncio-ipv6]",
        "test_connect_tcp_closes_winner_on_outer_cancellation[asyncio-ipv6]",
        "test_connect_tcp_with_local_port[asyncio-ipv6]",
        "test_connect_tcp_with_tls[asyncio-ipv6]",
        "test_connect_tcp_with_tls_cert_check_fail[asyncio-ipv6]",
        "test_connect_tcp_with_tls_unicode_hostname[asyncio-ipv6]",
        "test_connection_refused[asyncio-multi]",
        "test_extra_attributes[asyncio-ipv6]",
        "test_from_socket[asyncio-ipv6-fileno]",
        "test_from_socket[asyncio-ipv6-sock]",
        "test_happy_eyeballs[asyncio-dualstack]",
        "test_happy_eyeballs[asyncio-ipv6]",
        "test_iterate[asyncio-ipv6]",
        "test_receive_after_close[asyncio-ipv6]",
        "test_receive_after_peer_closed[asyncio-ipv6]",
        "test_receive_exception_cause_preserved[asyncio-ipv6]",
        "test_receive_invalid_max_bytes[asyncio-ipv6--1]",
        "test_receive_invalid_max_bytes[asyncio-ipv6-0]",
        "test_receive_timeout[asyncio-ipv6]",
        "test_reset_during_send[asyncio-ipv6]",
        "test_send_after_close[asyncio-ipv6]",
        "test_send_after_peer_closed[asyncio-ipv6]",
        "test_send_eof[asyncio-ipv6]",
        "test_send_exception_cause_preserved[asyncio-ipv6]",
        "test_send_large_buffer[asyncio-ipv6]",
        "test_send_receive[asyncio-ipv6]",
        "test_socket_options[asyncio-ipv6]",
        "test_unretrieved_future_exception_server_crash[ipv6-asyncio]",
    ],
    "TestTCPListener": [
        "test_accept[asyncio-ipv6]",
        "test_accept_after_close[asyncio-ipv6]",
        "test_aclose_in_cancelled_scope_raises_cancelled_exc[asyncio-ipv6-accepting]",
        "test_aclose_in_cancelled_scope_raises_cancelled_exc[asyncio-ipv6-idle]",
        "test_close_from_other_task[asyncio-ipv6]",
        "test_eof_after_send[asyncio-ipv6]",
        "test_extra_attributes[asyncio-ipv6]",
        "test_from_socket[asyncio-ipv6-fileno]",
        "test_from_socket[asyncio-ipv6-sock]",
        "test_reuse_port[asyncio-ipv6]",
        "test_send_after_eof[asyncio-ipv6]",
        "test_socket_options[asyncio-ipv6]",
        # These bind 'localhost' for both families and expect both to succeed.
        "test_tcp_listener_retry_after_partial_failure[asyncio]",
        "test_tcp_listener_same_port[asyncio-localhost-0-2-0]",
        "test_tcp_listener_same_port[asyncio-localhost-0-2-None]",
        "test_tcp_listener_total_bind_failure[asyncio]",
    ],
    "TestUDPSocket": [
        "test_extra_attributes[asyncio-ipv6]",
        "test_from_socket[asyncio-ipv6-fileno]",
        "test_from_socket[asyncio-ipv6-sock]",
        "test_iterate[asyncio-ipv6]",
        "test_reuse_port[asyncio-ipv6]",
        "test_send_receive[asyncio-ipv6]",
    ],
    "TestConnectedUDPSocket": [
        "test_aclose_in_cancelled_scope_raises_cancelled_exc[asyncio-ipv6]",
        "test_concurrent_aclose_forcefully_closes_socket[asyncio-ipv6]",
        "test_extra_attributes[asyncio-ipv6]",
        "test_from_socket[asyncio-ipv6-fileno]",
        "test_from_socket[asyncio-ipv6-sock]",
        "test_iterate[asyncio-ipv6]",
        "test_receive_after_close[asyncio-ipv6]",
        "test_reuse_port[asyncio-ipv6]",
        "test_send_after_close[asyncio-ipv6]",
        "test_send_receive[asyncio-ipv6]",
    ],
}

_PYTEST_IN_3_S = (
    "runs pytest in a subprocess that must finish within 3 s; a loaded machine misses that "
    "on either loop"
)

EXPECTED: dict[str, Expectation] = {
    "tests/test_sockets.py::test_getaddrinfo[asyncio]": not_run(
        "resolves 'faß.de' and 'fass.de' through DNS; this sandbox has no DNS"
    ),
    "tests/test_lazyimport.py::test_sourceless_install": not_run(
        "pip-installs anyio's source tree into a new virtual environment: packaging, not the "
        "event loop (and the runner removes the source tree so the installed release is tested)"
    ),
    "tests/test_pytest_plugin.py::test_dynamic_async_fixture_access_does_not_hang": timing(
        _PYTEST_IN_3_S
    ),
    "tests/test_pytest_plugin.py::test_keyboardinterrupt_during_test[asyncio]": timing(
        _PYTEST_IN_3_S
    ),
    "tests/test_from_thread.py::TestRunAsyncFromThread::test_run_sync_from_thread_pooling": (
        spindle_only(
            "counts the process's threads during asyncio.run(): spindle's runner adds its "
            "blocking-call watchdog thread ('spindle-watchdog', off with SPINDLE_DIAGNOSTICS=0), "
            "so there is one more than the test expects"
        )
    ),
}

if not _localhost_has_ipv6():
    for _class, _tests in _IPV6.items():
        for _test in _tests:
            EXPECTED[f"tests/test_sockets.py::{_class}::{_test}"] = not_run(_NO_IPV6_LOCALHOST)
