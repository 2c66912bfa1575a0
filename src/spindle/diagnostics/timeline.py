"""A timeline of a run's tasks: when each ran, when it waited, and on what.

Asked for with ``SPINDLE_TIMELINE=path`` (or ``configure(timeline=path)``); the runner writes it
when it closes, in the format the extension names (``timeline_render``): ``.html`` a page for a
browser, ``.json`` Chrome trace events for Perfetto or ``chrome://tracing``, anything else text.

The recorder is an instrument (``spindle._core.instruments``): the loop tells it when each task
is spawned, when each of its steps begins and ends, and when it exits.  Between two steps a task
waits; at the end of a step the recorder reads what on (``waits.wait_of``: a sleep, a lock, a
queue, I/O, another task, a future).  Each task is a track of segments, running or waiting, with
the name the program gave it (``create_task(..., name=...)``, read again at each step, so a later
``set_name`` shows too).  Times are loop time (``loop.time()``) from the moment recording began,
so on a virtual clock they are exact.

Tasks that already exist when recording starts are followed too, as created at that moment
(the main task, when asyncio's own runner drives the loop: it creates the task before it runs
the loop).  The summary (``summarize``) is pure: tested with tables.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import re
from typing import Any

from spindle._core.scheduler import Scheduler
from spindle._core.tasks import all_tasks, origin_of
from spindle.diagnostics.frames import call_name, display_path
from spindle.diagnostics.instruments import Instrument
from spindle.diagnostics.timeline_waits import wait_of

__all__ = ["RUN", "Recorder", "Segment", "Summary", "Track", "summarize"]

RUN = "run"  # a segment's kind while the task runs; waits use WaitKind values
_TOP = 10  # rows in each "longest" list of the summary


@dataclasses.dataclass
class Segment:
    """A stretch of a task's life: running, or waiting on something."""

    start: float
    end: float
    kind: str  # RUN, or a WaitKind's value ("sleep", "lock", "queue", "I/O", "task", "future")
    label: str = ""  # what it waited on: "Queue.get", "sleep", "Task-3"


@dataclasses.dataclass
class Track:
    """One task's life, in seconds from the start of the recording."""

    number: int  # in the order tasks were spawned
    name: str
    call: str  # "worker()"
    origin: str | None  # "app.py:12", where it was created
    created: float
    ended: float | None = None
    outcome: str = "pending"
    segments: list[Segment] = dataclasses.field(default_factory=list)
    # The segment under way: (kind, label, since when).
    open: tuple[str, str, float] | None = None

    def switch(self, now: float, kind: str | None, label: str = "") -> None:
        """Close the open segment at ``now``; open one of ``kind`` (None: none)."""
        if self.open is not None:
            was, what, since = self.open
            self.segments.append(Segment(since, now, was, what))
        self.open = None if kind is None else (kind, label, now)


def _call_of(task: Any) -> str:
    coro = task.get_coro()
    code = getattr(coro, "cr_code", None) or getattr(coro, "gi_code", None)
    return call_name(code.co_qualname) if code is not None else type(coro).__name__


def _started(task: Any) -> bool:
    coro = task.get_coro()
    if inspect.iscoroutine(coro):
        return inspect.getcoroutinestate(coro) != inspect.CORO_CREATED
    return not (
        inspect.isgenerator(coro) and inspect.getgeneratorstate(coro) == inspect.GEN_CREATED
    )


def _origin_text(task: Any) -> str | None:
    origin = origin_of(task)
    return None if origin is None else f"{display_path(origin[0])}:{origin[1]}"


class Recorder(Instrument):
    """Records the tasks of ``loop`` between ``start()`` and ``stop()``."""

    def __init__(self, loop: Scheduler) -> None:
        self._loop = loop
        self._origin = loop.time()
        self.tracks: list[Track] = []
        self._live: dict[Any, Track] = {}  # task -> its track, until it exits

    def start(self) -> None:
        now = self._now()
        for task in sorted(all_tasks(self._loop._as_asyncio_loop()), key=lambda t: t.get_name()):
            track = self._track(task, now)
            if _started(task):
                kind, label = wait_of(task)
                track.switch(now, kind.value, label)
        self._loop._add_instrument(self)

    def stop(self) -> None:
        """Stop recording; what is under way is closed at this moment."""
        self._loop._remove_instrument(self)
        now = self._now()
        for track in self._live.values():
            track.switch(now, None)
        self._live.clear()

    def end(self) -> float:
        """When the recording ends: the last moment anything was seen."""
        moments = [0.0]
        for track in self.tracks:
            moments.append(track.created)
            if track.ended is not None:
                moments.append(track.ended)
            if track.segments:
                moments.append(track.segments[-1].end)
        return max(moments)

    def _now(self) -> float:
        return self._loop.time() - self._origin

    def _track(self, task: Any, now: float) -> Track:
        track = Track(
            len(self.tracks) + 1, task.get_name(), _call_of(task), _origin_text(task), now
        )
        self.tracks.append(track)
        self._live[task] = track
        return track

    # -- the hooks -------------------------------------------------------------------------

    def task_spawned(self, task: asyncio.Task[Any]) -> None:
        self._track(task, self._now())

    def before_task_step(self, task: asyncio.Task[Any], time: float) -> None:
        track = self._live.get(task)
        if track is not None:
            track.name = task.get_name()  # set_name() may have changed it
            track.switch(time - self._origin, RUN)

    def after_task_step(self, task: asyncio.Task[Any], time: float) -> None:
        track = self._live.get(task)
        if track is None:
            return
        now = time - self._origin
        if task.done():
            track.switch(now, None)
            self._finished(task, track, now)
        else:
            kind, label = wait_of(task)
            track.switch(now, kind.value, label)

    def task_exited(self, task: asyncio.Task[Any]) -> None:
        track = self._live.get(task)
        if track is not None and track.open is not None and track.open[0] != RUN:
            # Ended without a step of its own (cancelled before it ever ran, say).
            now = self._now()
            track.switch(now, None)
            self._finished(task, track, now)

    def _finished(self, task: asyncio.Task[Any], track: Track, now: float) -> None:
        track.name = task.get_name()
        track.ended = now
        if task.cancelled():
            track.outcome = "cancelled"
        elif task.exception() is not None:
            track.outcome = f"raised {type(task.exception()).__name__}"
        else:
            track.outcome = "returned"
        self._live.pop(task, None)


# -- the summary ----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Summary:
    """What a timeline's reader wants first."""

    duration: float
    tasks: int
    # (task name, with numbers as "#" when several tasks share it; tasks; seconds running)
    run_by_name: list[tuple[str, int, float]]
    # (task, start, seconds), longest first
    longest_steps: list[tuple[str, float, float]]
    # (task, kind, label, start, seconds), longest first
    longest_waits: list[tuple[str, str, str, float, float]]


def _name_pattern(name: str) -> str:
    return re.sub(r"\d+", "#", name)


def summarize(tracks: list[Track], duration: float) -> Summary:
    """Totals per task name, the longest steps and the longest waits (pure)."""
    patterns: dict[str, list[Track]] = {}
    for track in tracks:
        patterns.setdefault(_name_pattern(track.name), []).append(track)
    run_by_name = []
    for pattern, members in patterns.items():
        name = members[0].name if len(members) == 1 else pattern
        running = sum(s.end - s.start for t in members for s in t.segments if s.kind == RUN)
        run_by_name.append((name, len(members), running))
    run_by_name.sort(key=lambda row: (-row[2], -row[1], row[0]))
    steps = [
        (t.name, s.start, s.end - s.start) for t in tracks for s in t.segments if s.kind == RUN
    ]
    waits = [
        (t.name, s.kind, s.label, s.start, s.end - s.start)
        for t in tracks
        for s in t.segments
        if s.kind != RUN
    ]
    steps.sort(key=lambda row: (-row[2], row[1]))
    waits.sort(key=lambda row: (-row[4], row[3]))
    return Summary(duration, len(tracks), run_by_name, steps[:_TOP], waits[:_TOP])
