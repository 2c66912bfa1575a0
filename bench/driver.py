"""Running the rounds: one process per implementation per round, requests interleaved.

``Worker`` (a process spoken to in JSON lines) and ``rotated`` serve ``bench.echo`` too.

Why processes, and why this order:

- **A process per implementation.** Timing spindle and uvloop in one interpreter would let one
  warm the other's caches (free lists, the allocator's arenas, the specialising interpreter's
  inline caches in shared asyncio code) or leave it garbage to collect.  Each implementation
  therefore runs in its own ``bench.worker`` process and never imports the others.
- **Fresh processes every round.** A process lives for one round only, so a slow drift inside a
  process (heap growth, fragmentation) cannot accumulate over the run, and each round starts
  from the same cold state for everyone.
- **Interleaved, rotating order.** Within a round, for each case, every implementation is
  measured in turn, and the order rotates with the round and the case, so each goes first
  equally often.  The measurements of one case by all implementations are then seconds apart:
  when another process steals the CPU (this is a shared 2-core machine) it disturbs them
  alike, which is what the paired ratio in ``report`` relies on.
- The workers of a round stay alive side by side but idle: only the one being asked runs.
"""

from __future__ import annotations

import contextlib
import json
import select
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.cases import Row
from bench.report import Results

__all__ = ["Plan", "Worker", "WorkerFailed", "rotated", "run"]

ROOT = Path(__file__).resolve().parent.parent
# A measurement that takes longer than this is a hang, not a result.
TIMEOUT = 120.0


class WorkerFailed(Exception):
    """A worker process died, hung, or answered nonsense."""


class Worker:
    """A worker process for one implementation, spoken to in JSON lines.

    ``python -m MODULE IMPL ARGS...`` must first answer ``{"ready": version, "build": ...}`` or
    ``{"unavailable": reason}``, then one line per request; it ends when its stdin closes.
    """

    def __init__(self, impl: str, module: str = "bench.worker", args: tuple[str, ...] = ()) -> None:
        self.impl = impl
        self._proc = subprocess.Popen(
            [sys.executable, "-m", module, impl, *args],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        hello = self._read()
        self.hello = hello  # the whole first line: a worker may say more than its version
        self.version: str | None = hello.get("ready")
        self.build: str = str(hello.get("build", ""))
        self.unavailable: str | None = hello.get("unavailable")

    def _read(self) -> dict[str, Any]:
        out = self._proc.stdout
        assert out is not None
        ready, _, _ = select.select([out], [], [], TIMEOUT)
        line = out.readline() if ready else ""
        if not line:
            self.close()
            raise WorkerFailed(f"cannot read from the {self.impl} worker: it hung or died")
        reply: dict[str, Any] = json.loads(line)
        return reply

    @property
    def alive(self) -> bool:
        return self._proc.poll() is None

    def ask(self, request: dict[str, Any]) -> dict[str, Any]:
        """Send one request; the worker's reply."""
        stdin = self._proc.stdin
        assert stdin is not None
        try:
            stdin.write(json.dumps(request) + "\n")
            stdin.flush()
        except BrokenPipeError:
            self.close()
            raise WorkerFailed(f"the {self.impl} worker is gone") from None
        return self._read()

    def close(self) -> None:
        if self._proc.poll() is None:
            assert self._proc.stdin is not None
            with contextlib.suppress(BrokenPipeError):
                self._proc.stdin.close()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        for pipe in (self._proc.stdin, self._proc.stdout):
            if pipe is not None and not pipe.closed:
                with contextlib.suppress(BrokenPipeError):
                    pipe.close()


@dataclass(frozen=True)
class Plan:
    """What to run: rows with their sizes, implementations, and how many rounds."""

    rows: list[Row]
    sizes: dict[str, int]  # row label -> size
    impls: list[str]
    rounds: int


def rotated(items: list[str], by: int) -> list[str]:
    """``items`` started at index ``by`` (wrapping): each goes first equally often."""
    by %= max(1, len(items))
    return items[by:] + items[:by]


def _measure(worker: Worker, row: Row, n: int, round_no: int, results: Results) -> str | None:
    """Ask ``worker`` for one measurement and record it; why it failed, or None."""
    reply = worker.ask({"case": row.case.name, "api": row.api, "n": n})
    if "seconds" in reply:
        results.record(row.label, worker.impl, round_no, float(reply["seconds"]))
        return None
    why = str(reply.get("error") or reply).strip()
    results.note(row.label, worker.impl, why)
    return why


def _run_round(plan: Plan, round_no: int, results: Results, log: Callable[[str], None]) -> None:
    workers: dict[str, Worker] = {}
    try:
        for impl in plan.impls:
            workers[impl] = Worker(impl)
        for index, row in enumerate(plan.rows):
            for impl in rotated(list(workers), round_no + index):
                seen = (row.label, impl) in results.notes
                try:
                    why = _measure(workers[impl], row, plan.sizes[row.label], round_no, results)
                except WorkerFailed as exc:
                    # The process is gone; this implementation sits out the rest of the round.
                    del workers[impl]
                    why = str(exc)
                    results.note(row.label, impl, why)
                if why is not None and not seen:
                    log(f"{row.label} on {impl}: {why}")
    finally:
        for worker in workers.values():
            worker.close()


def run(plan: Plan, log: Callable[[str], None]) -> Results:
    """Every round of ``plan``; progress and failures go to ``log``."""
    results = Results(sizes=dict(plan.sizes), impls=list(plan.impls))
    for round_no in range(plan.rounds):
        log(f"round {round_no + 1}/{plan.rounds}")
        _run_round(plan, round_no, results, log)
    return results
