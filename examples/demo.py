"""Run every seed program on spindle, one after another, each in its own process.

    bash scripts/demo.sh                 all of them (about 20 seconds: one sleeps for 10)
    bash scripts/demo.sh hello_world     only the ones named

Each program prints what it printed on asyncio; where asyncio would have stayed silent about a
mistake (``tasks_not_awaited``), spindle explains it on stderr.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

# (program, what it shows), in the order the seed posts present them.
PROGRAMS = [
    ("hello_world", "print, sleep 1 s, print"),
    ("say_after_sequential", "two coroutines awaited in turn: 1 s + 2 s = 3 s"),
    ("say_after_tasks", "the same two as tasks, running concurrently: 2 s"),
    ("tasks_not_awaited", "tasks never awaited, main() calls time.sleep(10): nothing printed"),
    ("taskgroup", "the tasks in a TaskGroup, awaited when the block exits: 2 s"),
    ("gather", "gather() of two sleeps, driven by loop.run_until_complete: [1, 2] in 2 s"),
    ("run_in_executor", "time.sleep in the default executor's threads: [1, 2] in 2 s"),
    ("timeline", "named tasks over a queue, a lock and sockets (SPINDLE_TIMELINE=t.html draws it)"),
]


def run_one(number: int, name: str, what: str) -> int:
    print(f"\n=== {number}/{len(PROGRAMS)}  examples/{name}.py: {what}", flush=True)
    started = time.monotonic()
    # The repository root as working directory, so reports name "examples/<name>.py".
    completed = subprocess.run(
        [sys.executable, str(HERE / f"{name}.py")], cwd=HERE.parent, check=False
    )
    print(f"--- exit status {completed.returncode}, {time.monotonic() - started:.1f} s", flush=True)
    return completed.returncode


def main(names: list[str]) -> int:
    known = dict(PROGRAMS)
    unknown = [name for name in names if name not in known]
    if unknown:
        print(f"demo: no such example: {', '.join(unknown)} (have: {', '.join(known)})")
        return 2
    selected = [
        (number, name, what)
        for number, (name, what) in enumerate(PROGRAMS, 1)
        if not names or name in names
    ]
    statuses = [run_one(number, name, what) for number, name, what in selected]
    return 1 if any(statuses) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
