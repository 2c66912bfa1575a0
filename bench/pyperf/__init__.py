"""pyperformance's asyncio benchmarks, unmodified, on every loop: ``python -m bench.pyperf``.

The benchmarks are taken from the installed ``pyperformance`` package (a dev extra) and run by
pyperf's own harness; nothing of theirs is copied here.  See ``bench/README.md``.
"""
