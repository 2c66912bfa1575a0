"""Which asyncio benchmarks the installed pyperformance has, read with its own manifest reader.

pyperformance lists its benchmarks in a MANIFEST; each names a run script (a pyperf program),
the options it is run with (``extra_opts``: ``async_tree_io_tg`` is ``bm_async_tree`` run with
``io --task-groups``) and the Pythons it supports.  Reading them through pyperformance's own
loader (``pyperformance._manifest``: the package has no public one) means a benchmark runs here
exactly as ``pyperformance run`` would start it, and a new pyperformance cannot silently rename
one: a name asked for and not found is an error.  pyperformance is pinned in the dev extras.
"""

from __future__ import annotations

import importlib
import platform
from dataclasses import dataclass

__all__ = ["DEFAULT", "Benchmark", "asyncio_group"]

# The benchmarks issue 8 names: async_tree and its io / memoization / cpu_io_mixed variants,
# each also with TaskGroups, async_generators, asyncio_tcp and asyncio_tcp_ssl.  The rest of the
# group (the eager variants: 3.12+; asyncio_websockets: needs websockets) run with --all.
DEFAULT: tuple[str, ...] = (
    "async_tree",
    "async_tree_io",
    "async_tree_memoization",
    "async_tree_cpu_io_mixed",
    "async_tree_tg",
    "async_tree_io_tg",
    "async_tree_memoization_tg",
    "async_tree_cpu_io_mixed_tg",
    "async_generators",
    "asyncio_tcp",
    "asyncio_tcp_ssl",
)


@dataclass(frozen=True)
class Benchmark:
    """One pyperformance benchmark: its run script, the options it takes, its Pythons."""

    name: str
    runscript: str
    extra_opts: tuple[str, ...]
    python: str  # a version specifier, e.g. ">=3.11"
    supported: bool  # whether it supports the running Python


def asyncio_group() -> dict[str, Benchmark]:
    """Every benchmark of pyperformance's ``asyncio`` group, by name, sorted.

    ImportError when pyperformance is not installed (``pip install -e .[dev]`` installs it).
    """
    manifest_module = importlib.import_module("pyperformance._manifest")
    manifest = manifest_module.load_manifest(None)
    group = sorted(manifest.resolve_group("asyncio"), key=lambda bench: str(bench.name))
    found: dict[str, Benchmark] = {}
    for bench in group:
        spec = bench.python
        found[bench.name] = Benchmark(
            name=bench.name,
            runscript=str(bench.runscript),
            extra_opts=tuple(bench.extra_opts),
            python=str(spec),
            supported=bool(spec.contains(platform.python_version())),
        )
    return found
