"""One pyperformance benchmark on one implementation, in a process of its own.

``python -m bench.pyperf.worker IMPL NAME OUTPUT VALUES WARMUPS`` loads the implementation
(``bench.impls``: only that one, and for spindle only that build), makes asyncio's entry points
create its loops (``Impl.install``: a loop policy, as users of uvloop and rloop set it;
``spindle.install()`` for spindle), then runs the benchmark's script from the pyperformance
package as ``__main__``, unmodified, in pyperf's worker mode:

    run_benchmark.py --worker --loops=1 --values=VALUES --warmups=WARMUPS --output=OUTPUT OPTS

That is the process pyperf itself would start to take values (``pyperformance run`` spawns such
workers): pyperf's ``bench_async_func`` makes a loop with ``asyncio.new_event_loop()`` for each
value and times ``await benchmark()`` in it, so the loop is the installed implementation's and
the timing is pyperf's own.  The values land in OUTPUT, pyperf's JSON; the exit status says
whether it worked (3: the implementation could not be loaded), and stderr says why not.
"""

from __future__ import annotations

import os
import runpy
import sys

from bench.impls import Unavailable, load
from bench.pyperf.suite import asyncio_group

__all__ = ["main", "pyperf_argv"]

UNAVAILABLE = 3


def pyperf_argv(name: str, output: str, values: int, warmups: int) -> list[str]:
    """``sys.argv`` for benchmark ``name``'s script in pyperf's worker mode."""
    bench = asyncio_group()[name]
    worker = ["--worker", "--loops=1", f"--values={values}", f"--warmups={warmups}"]
    return [bench.runscript, *worker, f"--output={output}", *bench.extra_opts]


def main(argv: list[str]) -> int:
    if len(argv) != 5:
        usage = "usage: python -m bench.pyperf.worker IMPL NAME OUTPUT VALUES WARMUPS"
        print(usage, file=sys.stderr)
        return 2
    impl_name, name, output, values, warmups = argv
    try:
        impl = load(impl_name)
    except Unavailable as exc:
        print(exc, file=sys.stderr)
        return UNAVAILABLE
    script_argv = pyperf_argv(name, output, int(values), int(warmups))
    impl.install()
    # As `python run_benchmark.py ...` would have it: the script's directory first on the path
    # (inserted: the entry before it may be the spindle build this worker imported).
    sys.argv = script_argv
    sys.path.insert(0, os.path.dirname(script_argv[0]))
    runpy.run_path(script_argv[0], run_name="__main__")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
