"""The pollers: each one watches descriptors alike, and ``SPINDLE_POLLER`` chooses among them.

The whole I/O suite runs once with ``SPINDLE_POLLER=selectors`` in the test command, so the
fallback that macOS and the BSDs use is tested on Linux too; these tests hold each poller to
the same contract directly, whatever the environment says.
"""

from __future__ import annotations

import selectors
import socket
import warnings
from collections.abc import Iterator

import pytest

import spindle
from spindle._core.handles import Handle
from spindle._core.scheduler import ReadyEntry
from spindle._io.poller import (
    READ,
    WRITE,
    EpollPoller,
    Poller,
    PollerKind,
    SelectorPoller,
    available_pollers,
    choose_poller,
    new_poller,
)
from spindle._io.readiness import ReadyDescriptors

ALL = frozenset(PollerKind)
NO_EPOLL = frozenset({PollerKind.SELECTORS, PollerKind.POLL})

CHOICES = [
    # (SPINDLE_POLLER, what the platform has, poller, warning or None)
    ("", ALL, PollerKind.EPOLL, None),
    ("auto", ALL, PollerKind.EPOLL, None),
    ("", NO_EPOLL, PollerKind.SELECTORS, None),
    ("epoll", ALL, PollerKind.EPOLL, None),
    (" Selectors ", ALL, PollerKind.SELECTORS, None),
    ("poll", ALL, PollerKind.POLL, None),
    ("selectors", NO_EPOLL, PollerKind.SELECTORS, None),
    (
        "epoll",
        NO_EPOLL,
        PollerKind.SELECTORS,
        "cannot use SPINDLE_POLLER='epoll': this platform has no epoll; using selectors",
    ),
    (
        "kqueue",
        ALL,
        PollerKind.EPOLL,
        "cannot use SPINDLE_POLLER='kqueue': expected one of auto, epoll, selectors, poll; "
        "using epoll",
    ),
]


@pytest.mark.parametrize(("requested", "available", "kind", "warning"), CHOICES)
def test_choose_poller(
    requested: str, available: frozenset[PollerKind], kind: PollerKind, warning: str | None
) -> None:
    assert choose_poller(requested, available) == (kind, warning)


def make(kind: PollerKind) -> Poller:
    if kind is PollerKind.EPOLL:
        return EpollPoller()
    if kind is PollerKind.POLL:
        return SelectorPoller(selectors.PollSelector)
    return SelectorPoller()


@pytest.fixture(params=sorted(available_pollers(), key=lambda k: k.value), ids=lambda k: k.value)
def poller(request: pytest.FixtureRequest) -> Iterator[Poller]:
    made = make(request.param)
    yield made
    made.close()


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    left, right = socket.socketpair()
    yield left, right
    left.close()
    right.close()


def test_a_poller_reports_readiness_as_interest_changes(
    poller: Poller, pair: tuple[socket.socket, socket.socket]
) -> None:
    left, right = pair
    fd = left.fileno()
    poller.set_interest(fd, 0, READ)
    assert poller.poll(0) == []  # nothing to read yet
    right.send(b"x")
    assert poller.poll(1) == [(fd, READ)]
    assert poller.poll(0) == [(fd, READ)]  # level-triggered: still readable
    poller.set_interest(fd, READ, READ | WRITE)
    assert poller.poll(0) == [(fd, READ | WRITE)]
    poller.set_interest(fd, READ | WRITE, WRITE)
    assert poller.poll(0) == [(fd, WRITE)]
    poller.set_interest(fd, WRITE, 0)
    assert poller.poll(0) == []


def test_a_hang_up_wakes_a_reader(
    poller: Poller, pair: tuple[socket.socket, socket.socket]
) -> None:
    left, right = pair
    poller.set_interest(left.fileno(), 0, READ)
    right.close()
    [(fd, bits)] = poller.poll(1)
    assert fd == left.fileno() and bits & READ  # the reader's recv() then sees the end


def test_a_poller_waits_no_longer_than_its_timeout(poller: Poller) -> None:
    assert poller.poll(0.001) == []


async def echo_once() -> bytes:
    """A stream server and a client on this loop: one round trip through the poller."""

    async def handle(reader: spindle.StreamReader, writer: spindle.StreamWriter) -> None:
        writer.write(await reader.readexactly(4))
        await writer.drain()
        writer.close()

    async with await spindle.start_server(handle, "127.0.0.1", 0) as server:
        reader, writer = await spindle.open_connection(*server.sockets[0].getsockname()[:2])
        writer.write(b"ping")
        data = await reader.readexactly(4)
        writer.close()
        await writer.wait_closed()
        return data


@pytest.mark.parametrize("kind", sorted(available_pollers(), key=lambda k: k.value))
def test_new_loops_take_the_poller_spindle_poller_names(
    kind: PollerKind, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SPINDLE_POLLER", kind.value)
    loop = spindle.new_event_loop()
    try:
        poller = loop._poller
        if kind is PollerKind.EPOLL:
            assert type(poller) is EpollPoller
        else:
            assert type(poller) is SelectorPoller
            default = kind is PollerKind.SELECTORS
            selector = selectors.DefaultSelector if default else selectors.PollSelector
            assert type(poller._selector) is selector
        assert loop.run_until_complete(echo_once()) == b"ping"
    finally:
        loop.close()


def test_a_bad_setting_warns_and_falls_back(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPINDLE_POLLER", "kqueue")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        poller = new_poller()
    poller.close()
    [warning] = caught
    assert warning.category is RuntimeWarning
    assert str(warning.message).startswith("cannot use SPINDLE_POLLER='kqueue'")
    expected = EpollPoller if PollerKind.EPOLL in available_pollers() else SelectorPoller
    assert type(poller) is expected


# -- the loop's side: ReadyDescriptors, and the pass that calls it ----------------------------


def test_ready_descriptors_queue_each_ready_handle_once_with_every_poller(
    poller: Poller, pair: tuple[socket.socket, socket.socket]
) -> None:
    left, right = pair
    loop = spindle.new_event_loop()
    queued: list[ReadyEntry] = []
    try:
        reader = Handle(lambda: None, (), loop, None)
        writer = Handle(lambda: None, (), loop, None)
        fd = left.fileno()
        handlers: dict[int, list[Handle | None]] = {fd: [reader, writer]}
        ready = ReadyDescriptors(poller, handlers, queued.append)
        poller.set_interest(fd, 0, READ | WRITE)
        ready.wait(0)
        assert queued == [writer]  # writable, nothing to read yet
        right.send(b"x")
        queued.clear()
        ready.wait(1)
        assert queued == [reader, writer]
        writer.cancel()  # cancelled: not queued
        queued.clear()
        ready.wait(0)
        assert queued == [reader]
        del handlers[fd]  # no longer the loop's: skipped
        queued.clear()
        ready.wait(0)
        assert queued == []
        poller.set_interest(fd, READ | WRITE, 0)
    finally:
        loop.close()


class OwnPoll(spindle.EventLoop):
    """A loop with a ``_poll`` of its own, as the test plugin's virtual-clock loop has."""

    def __init__(self) -> None:
        super().__init__()
        self.polls = 0

    def _poll(self, timeout: float | None) -> None:
        self.polls += 1
        super()._poll(timeout)


def test_a_pass_waits_with_the_loops_ready_descriptors_unless_poll_is_overridden() -> None:
    # The FAST PATH in Scheduler._run_once: the waiter _poll would call, called directly; a
    # subclass's own _poll is still called, and both ways run the same I/O.
    loop = spindle.new_event_loop()
    own = OwnPoll()
    plain = spindle.new_event_loop()
    plain._io_waiter = None  # the pass calls _poll by name
    try:
        assert loop._io_waiter is loop._ready_descriptors
        assert own._io_waiter is None
        for each in (loop, own, plain):
            assert each.run_until_complete(echo_once()) == b"ping"
        assert own.polls > 0
    finally:
        loop.close()
        own.close()
        plain.close()
