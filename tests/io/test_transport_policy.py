"""The rules every spindle transport shares (``spindle._io.transports.policy``), tested once:
water marks, dropped writes, and calling a protocol method.

Sockets, pipes, TLS and subprocess transports all use these; their own tests show the rules
at work on real connections (``test_faults``, ``test_pipes``, ``test_tls``, ``test_subprocess``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from typing import Any

import pytest

import spindle
from spindle._io.transports.policy import (
    DEFAULT_HIGH_WATER,
    DroppedWrites,
    call_protocol,
    warns_after_dropping,
    water_marks,
)


@pytest.mark.parametrize(
    ("high", "low", "default_high", "expected"),
    [
        (None, None, DEFAULT_HIGH_WATER, (65536, 16384)),  # a socket's or a pipe's writes
        (None, None, 512 * 1024, (524288, 131072)),  # a TLS application's writes
        (1000, None, DEFAULT_HIGH_WATER, (1000, 250)),  # only high: low is a quarter
        (None, 100, DEFAULT_HIGH_WATER, (400, 100)),  # only low: high is four times it
        (10, 10, DEFAULT_HIGH_WATER, (10, 10)),
        (0, None, DEFAULT_HIGH_WATER, (0, 0)),
        (0, 0, 1000, (0, 0)),
    ],
)
def test_water_marks_follow_asyncios_rules(
    high: int | None, low: int | None, default_high: int, expected: tuple[int, int]
) -> None:
    assert water_marks(high, low, default_high) == expected


def test_water_marks_default_to_a_sockets_write_buffer() -> None:
    assert water_marks(None, None) == (64 * 1024, 16 * 1024)


@pytest.mark.parametrize(("high", "low"), [(1, 2), (10, 20), (-1, None), (None, -4)])
def test_water_marks_refuse_inverted_or_negative_marks(high: int | None, low: int | None) -> None:
    with pytest.raises(ValueError, match=r"cannot set buffer limits: high \(.*\) must be >= low"):
        water_marks(high, low)


@pytest.mark.parametrize(
    ("count", "warns"),
    [(0, False), (1, False), (4, False), (5, True), (6, False), (9, False), (10, True),
     (15, False), (20, True), (30, False), (40, True), (80, True), (100, False), (160, True)],
)  # fmt: skip
def test_dropped_writes_are_warned_about_at_5_10_20_40(count: int, warns: bool) -> None:
    assert warns_after_dropping(count) is warns


def test_dropped_writes_say_how_much_was_lost(caplog: pytest.LogCaptureFixture) -> None:
    dropped = DroppedWrites()
    with caplog.at_level(logging.WARNING, logger="asyncio"):
        for _ in range(9):
            dropped.add("<the transport>", 3, closing=False)
        dropped.add("<the transport>", 3, closing=True)
    assert [record.getMessage() for record in caplog.records] == [
        "'<the transport>': 5 writes (15 bytes) dropped: cannot write, the connection is lost",
        "'<the transport>': 10 writes (30 bytes) dropped: cannot write, the connection is "
        "closing",
    ]
    assert (dropped.writes, dropped.nbytes) == (10, 30)


class Flaky(asyncio.Protocol):
    def __init__(self, error: BaseException | None) -> None:
        self.error = error
        self.calls: list[tuple[Any, ...]] = []

    def pause_writing(self, *args: Any) -> None:
        self.calls.append(args)
        if self.error is not None:
            raise self.error


@pytest.fixture
def reporting_loop() -> Iterator[tuple[asyncio.AbstractEventLoop, list[dict[str, Any]]]]:
    loop = spindle.new_event_loop()
    reports: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, context: reports.append(context))
    yield loop, reports
    loop.close()


def test_call_protocol_calls_the_method_with_its_arguments(
    reporting_loop: tuple[asyncio.AbstractEventLoop, list[dict[str, Any]]],
) -> None:
    loop, reports = reporting_loop
    protocol = Flaky(None)
    assert call_protocol(loop, "<transport>", protocol, protocol.pause_writing, 1, "two")
    assert protocol.calls == [(1, "two")]
    assert reports == []


def test_call_protocol_reports_what_the_method_raised(
    reporting_loop: tuple[asyncio.AbstractEventLoop, list[dict[str, Any]]],
) -> None:
    loop, reports = reporting_loop
    error = ValueError("the protocol's own bug")
    protocol = Flaky(error)
    assert not call_protocol(loop, "<transport>", protocol, protocol.pause_writing)
    assert reports == [
        {
            "message": "protocol.pause_writing() failed",
            "exception": error,
            "transport": "<transport>",
            "protocol": protocol,
        }
    ]


@pytest.mark.parametrize("stop", [SystemExit(3), KeyboardInterrupt()])
def test_call_protocol_lets_the_program_stop(
    reporting_loop: tuple[asyncio.AbstractEventLoop, list[dict[str, Any]]], stop: BaseException
) -> None:
    loop, reports = reporting_loop
    protocol = Flaky(stop)
    with pytest.raises(type(stop)):
        call_protocol(loop, "<transport>", protocol, protocol.pause_writing)
    assert reports == []
