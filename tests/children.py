"""The environment a test gives a program it starts as a user would start it, and a child
made by ``fork()`` that reports one line back (``in_forked_child``).

The test run sets spindle's own settings for itself (``SPINDLE_DIAGNOSTICS=0`` for the suite,
``SPINDLE_POLLER=selectors`` on the selectors lane, ...).  A child that stands for a user's
program must not inherit them: it gets the test run's environment without any ``SPINDLE_*``
variable (and without whatever else ``without`` names), plus the settings the test gives it.
"""

from __future__ import annotations

import os
from collections.abc import Callable

__all__ = ["in_forked_child", "user_environment"]


def user_environment(*, without: tuple[str, ...] = (), **settings: str) -> dict[str, str]:
    """``os.environ`` less ``SPINDLE_*`` and the names or ``NAME_`` prefixes in ``without``.

    ``settings`` are added last, so a test can set a spindle setting for its child.
    """
    dropped = ("SPINDLE_", *without)
    kept = {name: value for name, value in os.environ.items() if not _named(name, dropped)}
    return {**kept, **settings}


def _named(name: str, dropped: tuple[str, ...]) -> bool:
    """``name`` is one of ``dropped``, or starts with one of them that ends in ``_``."""
    return any(name == drop or (drop.endswith("_") and name.startswith(drop)) for drop in dropped)


def in_forked_child(report: Callable[[], str]) -> str:
    """Fork; the child writes ``report()`` (one line) and exits at once; returns the line."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report, never return into pytest
        try:
            os.close(read_end)
            os.write(write_end, report().encode())
        finally:
            os._exit(0)
    os.close(write_end)
    try:
        with os.fdopen(read_end, "rb") as reader:
            return reader.read().decode()
    finally:
        os.waitpid(pid, 0)
