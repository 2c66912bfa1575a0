"""One implementation's measuring process, driven line by line over stdin/stdout.

``python -m bench.worker IMPL`` imports only that implementation, answers one JSON line
(``{"ready": version, "build": which}`` or ``{"unavailable": reason}``), then serves requests:
each input line ``{"case": name, "api": "own" | "asyncio", "n": size}`` is answered by one
line, ``{"seconds": t}`` or ``{"error": traceback}``.  ``api`` says whose primitives the case
calls: the implementation's own, or asyncio's on the implementation's loop.  The parent
(``bench.run``) keeps one worker per implementation alive for one round and interleaves its
requests across them.

Each measurement runs in a fresh loop (``Impl.open_loop``: for ``spindle-diag``, a runner's, the
case run by ``runner.run`` as ``spindle.run`` runs ``main()``), after ``gc.collect()`` so no case
pays for the garbage of the one before.  The first time a
case runs in this process it is run once, untimed, at a tenth of its size: imports, code objects
and free lists are then warm for every implementation alike, and what is timed is the steady
state rather than the first call.
"""

from __future__ import annotations

import gc
import json
import sys
import time
import traceback

from bench.api import Api
from bench.cases import Case, by_name
from bench.impls import Impl
from bench.lines import load_or_report, send

__all__ = ["main", "measure"]


def measure(impl: Impl, case: Case, n: int, api: Api | None = None) -> float:
    """Seconds ``case`` takes to run ``n`` operations in a fresh loop of ``impl``.

    The case calls ``api``'s primitives; by default the implementation's own.
    """
    with impl.open_loop() as running:
        body = case.body(running.loop, impl.api if api is None else api, n)
        gc.collect()
        start = time.perf_counter()
        running.run(body)
        return time.perf_counter() - start


def _answer(
    request: dict[str, object], impl: Impl, warmed: set[tuple[str, str]]
) -> dict[str, object]:
    try:
        case = by_name(str(request["case"]))
        n = int(str(request["n"]))
        mode = str(request.get("api", "own"))
        api = impl.primitives(mode)
        if (case.name, mode) not in warmed:
            measure(impl, case, max(1, n // 10), api)
            warmed.add((case.name, mode))
        return {"seconds": measure(impl, case, n, api)}
    except Exception:
        return {"error": traceback.format_exc()}


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m bench.worker IMPL", file=sys.stderr)
        return 2
    impl = load_or_report(argv[0])
    if impl is None:
        return 0
    send({"ready": impl.version, "build": impl.build})
    warmed: set[tuple[str, str]] = set()
    for line in sys.stdin:
        send(_answer(json.loads(line), impl, warmed))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
