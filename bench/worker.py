"""One implementation's measuring process, driven line by line over stdin/stdout.

``python -m bench.worker IMPL`` imports only that implementation, answers one JSON line
(``{"ready": version}`` or ``{"unavailable": reason}``), then serves requests: each input line
``{"case": name, "n": size}`` is answered by one line, ``{"seconds": t}`` or
``{"error": traceback}``.  The parent (``bench.run``) keeps one worker per implementation
alive for one round and interleaves its requests across them.

Each measurement runs in a fresh loop, after ``gc.collect()`` so no case pays for the garbage
of the one before.  The first time a case runs in this process it is run once, untimed, at a
tenth of its size: imports, code objects and free lists are then warm for every implementation
alike, and what is timed is the steady state rather than the first call.
"""

from __future__ import annotations

import gc
import json
import sys
import time
import traceback

from bench.cases import Case, by_name
from bench.impls import Impl, Unavailable, load

__all__ = ["main", "measure"]


def measure(impl: Impl, case: Case, n: int) -> float:
    """Seconds ``case`` takes to run ``n`` operations in a fresh loop of ``impl``."""
    if impl.under_runner:
        return _measure_under_runner(impl, case, n)
    loop = impl.new_event_loop()
    try:
        gc.collect()
        start = time.perf_counter()
        loop.run_until_complete(case.body(loop, impl.api, n))
        return time.perf_counter() - start
    finally:
        loop.close()


def _measure_under_runner(impl: Impl, case: Case, n: int) -> float:
    """As ``measure``, the way a program runs: ``spindle.Runner().run(main())``.

    The runner (and with it whatever diagnostics it starts) is set up before the clock starts
    and closed after it stops; what is timed is ``runner.run``, as ``run_until_complete`` is
    for a bare loop.
    """
    import spindle

    with spindle.Runner(loop_factory=impl.new_event_loop) as runner:
        loop = runner.get_loop()
        gc.collect()
        start = time.perf_counter()
        runner.run(case.body(loop, impl.api, n))
        return time.perf_counter() - start


def _answer(request: dict[str, object], impl: Impl, warmed: set[str]) -> dict[str, object]:
    try:
        case = by_name(str(request["case"]))
        n = int(str(request["n"]))
        if case.name not in warmed:
            measure(impl, case, max(1, n // 10))
            warmed.add(case.name)
        return {"seconds": measure(impl, case, n)}
    except Exception:
        return {"error": traceback.format_exc()}


def _send(reply: dict[str, object]) -> None:
    sys.stdout.write(json.dumps(reply) + "\n")
    sys.stdout.flush()


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m bench.worker IMPL", file=sys.stderr)
        return 2
    try:
        impl = load(argv[0])
    except Unavailable as exc:
        _send({"unavailable": str(exc)})
        return 0
    _send({"ready": impl.version})
    warmed: set[str] = set()
    for line in sys.stdin:
        _send(_answer(json.loads(line), impl, warmed))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
