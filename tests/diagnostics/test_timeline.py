"""The timeline: what each task did, run by run and wait by wait, in three formats.

Recordings are made on a virtual clock, so every time is exact; the formats and the summary are
pure functions of the tracks, tested with tables.
"""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import pytest

import spindle
from spindle import diagnostics
from spindle.diagnostics.timeline import RUN, Segment, Track, summarize
from spindle.diagnostics.timeline_render import render, render_json, render_text, trace_events
from spindle.diagnostics.timeline_waits import WaitKind, classify
from spindle.patch import RunnerAwareEventLoop
from spindle.testing import VirtualClock
from tests.diagnostics.conftest import ROOT, run_program


def virtual_loop() -> asyncio.AbstractEventLoop:
    return spindle.EventLoop(clock=VirtualClock())


def record(main: Any, tmp_path: Path, suffix: str = ".json") -> dict[str, Any]:
    """Run ``main()`` under spindle.run on a virtual clock; the timeline as Chrome JSON."""
    path = tmp_path / f"timeline{suffix}"
    diagnostics.configure(timeline=path)
    spindle.run(main(), loop_factory=virtual_loop)
    document: dict[str, Any] = json.loads(path.read_text())
    return document


def tracks_of(document: dict[str, Any]) -> dict[str, list[tuple[str, float, float, str]]]:
    """task name -> [(kind, start, end, what)], from the trace events (times in seconds)."""
    names = {
        e["tid"]: e["args"]["name"].split()[0]
        for e in document["traceEvents"]
        if e["ph"] == "M" and e["name"] == "thread_name"
    }
    found: dict[str, list[tuple[str, float, float, str]]] = {name: [] for name in names.values()}
    for event in document["traceEvents"]:
        if event["ph"] != "X":
            continue
        kind = "run" if event["cat"] == "run" else event["name"].removeprefix("wait: ")
        start, end = event["ts"] / 1e6, (event["ts"] + event["dur"]) / 1e6
        found[names[event["tid"]]].append(
            (kind, round(start, 6), round(end, 6), event["args"].get("on", ""))
        )
    return found


async def scene() -> None:
    """Named tasks waiting on each kind of thing, at exact virtual times."""
    lock = spindle.Lock()
    queue: spindle.Queue[int] = spindle.Queue()

    async def holder() -> None:
        async with lock:
            await spindle.sleep(2)

    async def locked() -> None:
        await spindle.sleep(0.5)
        async with lock:
            pass

    async def consumer() -> None:
        await queue.get()

    async def producer() -> None:
        await spindle.sleep(3)
        queue.put_nowait(1)

    async with spindle.TaskGroup() as group:
        group.create_task(holder(), name="holder")
        group.create_task(locked(), name="locked")
        group.create_task(consumer(), name="consumer")
        group.create_task(producer(), name="producer")
        renamed = group.create_task(spindle.sleep(1))
        renamed.set_name("renamed-later")


def test_each_task_is_recorded_running_and_waiting_on_what_with_its_name(
    tmp_path: Path,
) -> None:
    tracks = tracks_of(record(scene, tmp_path))
    assert tracks["holder"] == [
        ("run", 0.0, 0.0, ""),
        ("sleep", 0.0, 2.0, "sleep"),
        ("run", 2.0, 2.0, ""),
    ]
    assert tracks["locked"] == [
        ("run", 0.0, 0.0, ""),
        ("sleep", 0.0, 0.5, "sleep"),
        ("run", 0.5, 0.5, ""),
        ("lock", 0.5, 2.0, "Lock.acquire"),
        ("run", 2.0, 2.0, ""),
    ]
    assert tracks["consumer"] == [
        ("run", 0.0, 0.0, ""),
        ("queue", 0.0, 3.0, "Queue.get"),
        ("run", 3.0, 3.0, ""),
    ]
    assert tracks["producer"][1] == ("sleep", 0.0, 3.0, "sleep")
    assert tracks["renamed-later"][1] == ("sleep", 0.0, 1.0, "sleep")
    # main waits for its group's tasks.
    [main] = [name for name in tracks if name.startswith("Task-")]
    assert tracks[main][1] == ("task", 0.0, 3.0, "TaskGroup.__aexit__")


def test_a_task_waiting_for_another_and_for_a_gather(tmp_path: Path) -> None:
    async def child() -> None:
        await spindle.sleep(1)

    async def main() -> None:
        await spindle.create_task(child(), name="child")
        await spindle.gather(child(), child())

    tracks = tracks_of(record(main, tmp_path))
    [main_name] = [name for name in tracks if name.startswith("Task-") and tracks[name][0][1] == 0]
    waits = [(kind, what) for kind, _, _, what in tracks[main_name] if kind != "run"]
    assert waits == [("task", "child"), ("task", "gather")]


def test_names_given_to_create_task_are_kept(tmp_path: Path) -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        await loop.create_task(spindle.sleep(0), name="given-to-the-loop")
        await spindle.create_task(spindle.sleep(0), name="given-to-create_task")

    tracks = tracks_of(record(main, tmp_path))
    assert {"given-to-the-loop", "given-to-create_task"} <= set(tracks)


def test_the_chrome_trace_has_a_named_thread_per_task_and_complete_events(
    tmp_path: Path,
) -> None:
    document = record(scene, tmp_path)
    assert document["displayTimeUnit"] == "ms"
    events = document["traceEvents"]
    assert events[0] == {
        "name": "process_name",
        "ph": "M",
        "pid": 1,
        "tid": 0,
        "args": {"name": events[0]["args"]["name"]},
    }
    threads = [e for e in events if e["name"] == "thread_name"]
    assert len(threads) == 6  # main and its five
    slices = [e for e in events if e["ph"] == "X"]
    assert all(set(e) == {"name", "cat", "ph", "pid", "tid", "ts", "dur", "args"} for e in slices)
    assert {e["cat"] for e in slices} == {"run", "wait"}
    lock_wait = next(e for e in slices if e["name"] == "wait: lock")
    assert (lock_wait["ts"], lock_wait["dur"], lock_wait["args"]["on"]) == (
        500000.0,
        1500000.0,
        "Lock.acquire",
    )


def test_the_runner_writes_the_format_the_extension_names(tmp_path: Path) -> None:
    async def main() -> None:
        await spindle.sleep(1)

    for suffix, starts in [
        (".json", '{"traceEvents":'),
        (".html", "<!doctype html>"),
        (".txt", "1 task"),
    ]:
        path = tmp_path / f"timeline{suffix}"
        diagnostics.configure(timeline=path)
        spindle.run(main(), loop_factory=virtual_loop)
        assert path.read_text().startswith(starts), suffix


def test_asyncio_runner_writes_the_timeline_with_its_main_task(tmp_path: Path) -> None:
    path = tmp_path / "timeline.json"
    diagnostics.configure(timeline=path)

    async def main() -> None:
        await asyncio.create_task(asyncio.sleep(1), name="inner")

    with asyncio.Runner(loop_factory=lambda: RunnerAwareEventLoop(clock=VirtualClock())) as runner:
        runner.run(main())
    tracks = tracks_of(json.loads(path.read_text()))
    # main() was made before the runner ran the loop: it is followed from then on.
    [main_name] = [name for name in tracks if name != "inner"]
    assert tracks[main_name][0] == ("run", 0.0, 0.0, "")
    assert tracks["inner"][1] == ("sleep", 0.0, 1.0, "sleep")


def test_recording_stops_when_main_returns_and_the_runner_shuts_down(tmp_path: Path) -> None:
    async def main() -> None:
        spindle.create_task(spindle.sleep(5), name="left-behind")
        await spindle.sleep(1)

    tracks = tracks_of(record(main, tmp_path))
    # Cut where main returned (the runner's own shutdown tasks are not the program's).
    assert tracks["left-behind"] == [("run", 0.0, 0.0, ""), ("sleep", 0.0, 1.0, "sleep")]
    assert len(tracks) == 2


def test_a_thousand_tasks_give_a_summary_first(tmp_path: Path) -> None:
    async def worker() -> None:
        await spindle.sleep(0.001)

    async def main() -> None:
        async with spindle.TaskGroup() as group:
            for number in range(1000):
                group.create_task(worker(), name=f"worker-{number}")

    path = tmp_path / "timeline.txt"
    diagnostics.configure(timeline=path)
    spindle.run(main(), loop_factory=virtual_loop)
    lines = path.read_text().splitlines()
    assert lines[0] == "1001 tasks in 1.0 ms"
    assert lines[1] == "running time per task name:"
    assert re.fullmatch(r"  worker-# \(1000 tasks\): .*", lines[2])


# -- what a wait is: a table ---------------------------------------------------------------

SPINDLE = str(Path(spindle.__file__).resolve().parent)  # where this build of spindle lives
ASYNCIO = asyncio.__file__.rsplit("/", 1)[0]


@pytest.mark.parametrize(
    ("chain", "waiter", "expected"),
    [
        (
            [("/app.py", "main"), (f"{SPINDLE}/tasks.py", "sleep")],
            "Future",
            (WaitKind.SLEEP, "sleep"),
        ),
        (
            [("/app.py", "main"), (f"{ASYNCIO}/tasks.py", "sleep")],
            "Future",
            (WaitKind.SLEEP, "sleep"),
        ),
        (
            [("/app.py", "main"), (f"{SPINDLE}/locks.py", "Lock.acquire")],
            "Future",
            (WaitKind.LOCK, "Lock.acquire"),
        ),
        (
            [("/app.py", "main"), (f"{ASYNCIO}/locks.py", "Semaphore.acquire")],
            "Future",
            (WaitKind.LOCK, "Semaphore.acquire"),
        ),
        (
            # Queue.join waits on an event: the outermost known function names it.
            [
                ("/a.py", "m"),
                (f"{SPINDLE}/queues.py", "Queue.join"),
                (f"{SPINDLE}/locks.py", "Event.wait"),
            ],
            "Future",
            (WaitKind.QUEUE, "Queue.join"),
        ),
        (
            # wait_for is looked through.
            [
                ("/a.py", "m"),
                (f"{ASYNCIO}/tasks.py", "wait_for"),
                (f"{ASYNCIO}/queues.py", "Queue.get"),
            ],
            "Future",
            (WaitKind.QUEUE, "Queue.get"),
        ),
        (
            [
                ("/a.py", "m"),
                (f"{SPINDLE}/streams_reader.py", "StreamReader.readline"),
                (f"{SPINDLE}/streams_reader.py", "StreamReader._wait_for_data"),
            ],
            "Future",
            (WaitKind.IO, "StreamReader.readline"),
        ),
        (
            [("/a.py", "m"), (f"{SPINDLE}/_io/sockets.py", "SocketMethods.sock_recv")],
            "Future",
            (WaitKind.IO, "SocketMethods.sock_recv"),
        ),
        (
            [("/a.py", "m"), (f"{SPINDLE}/taskgroups.py", "TaskGroup.__aexit__")],
            "Future",
            (WaitKind.TASK, "TaskGroup.__aexit__"),
        ),
        ([("/a.py", "m")], "task:worker-3", (WaitKind.TASK, "worker-3")),
        ([("/a.py", "m")], "gather", (WaitKind.TASK, "gather")),
        ([("/a.py", "m")], "TaskGroup", (WaitKind.TASK, "TaskGroup.__aexit__")),
        ([("/a.py", "m")], "Future", (WaitKind.FUTURE, "Future")),
        # The program's own Queue class is the program's business: a plain future.
        ([("/a.py", "m"), ("/a.py", "Queue.get")], "Future", (WaitKind.FUTURE, "Future")),
    ],
)
def test_what_a_task_waits_on(
    chain: list[tuple[str, str]], waiter: str, expected: tuple[WaitKind, str]
) -> None:
    assert classify(chain, waiter) == expected


# -- the summary and the formats: tables ---------------------------------------------------


def track(
    number: int, name: str, segments: list[tuple[float, float, str, str]], **kw: Any
) -> Track:
    return Track(
        number,
        name,
        kw.get("call", "work()"),
        None,
        0.0,
        kw.get("ended"),
        kw.get("outcome", "pending"),
        [Segment(*s) for s in segments],
    )


TRACKS = [
    track(
        1,
        "Task-1",
        [(0, 0.1, RUN, ""), (0.1, 2.0, "task", "gather"), (2.0, 2.0, RUN, "")],
        ended=2.0,
        outcome="returned",
        call="main()",
    ),
    track(
        2,
        "worker-1",
        [(0, 0.5, RUN, ""), (0.5, 1.5, "lock", "Lock.acquire"), (1.5, 1.7, RUN, "")],
        ended=1.7,
        outcome="returned",
    ),
    track(3, "worker-2", [(0, 0.2, RUN, ""), (0.2, 2.0, "sleep", "sleep")], outcome="pending"),
]


def test_the_summary_totals_per_task_name_and_the_longest_steps_and_waits() -> None:
    summary = summarize(TRACKS, 2.0)
    assert (summary.tasks, summary.duration) == (3, 2.0)
    assert summary.run_by_name == [
        ("worker-#", 2, pytest.approx(0.9)),
        ("Task-1", 1, pytest.approx(0.1)),
    ]
    assert summary.longest_steps[:2] == [("worker-1", 0, 0.5), ("worker-2", 0, 0.2)]
    assert summary.longest_waits == [
        ("Task-1", "task", "gather", 0.1, pytest.approx(1.9)),
        ("worker-2", "sleep", "sleep", 0.2, pytest.approx(1.8)),
        ("worker-1", "lock", "Lock.acquire", 0.5, 1.0),
    ]


def test_the_text_timeline() -> None:
    lines = render_text(TRACKS, 2.0).splitlines()
    assert lines[:4] == [
        "3 tasks in 2.000 s",
        "running time per task name:",
        "  worker-# (2 tasks): 900.0 ms",
        "  Task-1 (1 task): 100.0 ms",
    ]
    table = lines[lines.index("") + 1 :]
    assert table[0].split() == ["task", "coroutine", "created", "ended", "ran", "outcome"]
    assert table[1] == (
        "Task-1    main()       0.000  2.000  0.100  returned  |##" + "." * 37 + "#|"
    )
    assert table[3].startswith("worker-2  work()       0.000      -  0.200  pending   |####....")
    assert table[-1] == "(# running, . waiting; the bar spans the whole run)"


def test_the_trace_events_of_a_track() -> None:
    events = trace_events(TRACKS[1:2], "title")
    assert events[1:3] == [
        {"name": "thread_name", "ph": "M", "pid": 1, "tid": 2, "args": {"name": "worker-1 work()"}},
        {"name": "thread_sort_index", "ph": "M", "pid": 1, "tid": 2, "args": {"sort_index": 2}},
    ]
    assert events[4] == {
        "name": "wait: lock",
        "cat": "wait",
        "ph": "X",
        "pid": 1,
        "tid": 2,
        "ts": 500000.0,
        "dur": 1000000.0,
        "args": {"task": "worker-1", "on": "Lock.acquire"},
    }
    assert json.loads(render_json(TRACKS, 2.0, "t"))["otherData"]["tasks"] == 3


def test_the_html_page_is_self_contained_and_escapes_what_it_shows() -> None:
    nasty = [track(1, "</script><b>x", [(0, 1, RUN, "")])]
    page = render("t.html", nasty, 1.0, "<title>")
    assert "</script><b>x" not in page  # neither in the JSON nor in the summary
    assert "&lt;/script&gt;&lt;b&gt;x" in page
    assert "spindle timeline: &lt;title&gt;" in page
    # Nothing is fetched from anywhere: no URL but the SVG namespace.
    assert re.findall(r"https?://[^\"' ]+", page) == ["http://www.w3.org/2000/svg"]
    assert "<script src" not in page and "<link" not in page


# -- from a real program -------------------------------------------------------------------


def test_the_example_pipeline_records_io_queue_and_lock_waits(tmp_path: Path) -> None:
    path = tmp_path / "timeline.json"
    result = run_program(
        (ROOT / "examples" / "timeline.py").read_text(), cwd=tmp_path, SPINDLE_TIMELINE=str(path)
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "12 items stored\n", "")
    tracks = tracks_of(json.loads(path.read_text()))
    kinds = {kind for segments in tracks.values() for kind, *_ in segments}
    assert {"run", "I/O", "queue", "lock", "sleep", "task"} <= kinds
    assert {f"fetcher-{n}" for n in range(4)} | {"writer-0", "writer-1"} <= set(tracks)
    fetcher = {what for kind, _, _, what in tracks["fetcher-0"] if kind == "I/O"}
    assert "StreamReader.readline" in fetcher
