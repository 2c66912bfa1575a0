"""Which columns a run can have: spindle's builds made, every implementation probed.

Shared by the three suites (``bench``, ``bench.pyperf``, ``bench.echo``), so that each says in
the same words which implementation, version and build every column is.  Probing starts each
implementation's worker once (``bench.worker``), which imports exactly what a timing worker
would, so a column that cannot run is dropped, with the reason, before the rounds begin.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Callable
from dataclasses import dataclass

from bench import builds
from bench.driver import Worker

__all__ = ["Column", "available", "header"]


@dataclass(frozen=True)
class Column:
    """An implementation that can run here: its version and which build it is."""

    name: str
    version: str
    build: str


def available(impls: list[str], log: Callable[[str], None]) -> list[Column]:
    """The columns of ``impls`` that can run, in order; the others are logged and dropped.

    spindle builds other than the venv's are built (or found up to date) first.
    """
    failed: dict[builds.Build, str | None] = {}  # each build tried once: None when it worked
    columns = []
    for impl in impls:
        variant = builds.parse(impl)
        if variant is not None and variant.build not in failed:
            try:
                builds.prepare(variant.build, log)
                failed[variant.build] = None
            except (RuntimeError, OSError) as exc:
                failed[variant.build] = str(exc)
        if variant is not None and failed[variant.build] is not None:
            log(f"skipping {impl}: {failed[variant.build]}")
            continue
        worker = Worker(impl)
        worker.close()
        if worker.version is None:
            log(f"skipping {impl}: {worker.unavailable}")
            continue
        columns.append(Column(impl, worker.version, worker.build))
    return columns


def header(columns: list[Column], *, rounds: int, seconds: float) -> str:
    """The lines above a table: the machine, then one line per column."""
    lines = [
        f"{rounds} rounds in {seconds:.0f} s; Python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs"
    ]
    for column in columns:
        build = f" ({column.build})" if column.build else ""
        lines.append(f"  {column.name}: {column.version}{build}")
    return "\n".join(lines)
