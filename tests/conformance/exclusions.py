"""Which CPython tests are not run against spindle, and which are expected to fail, and why.

Two lists, never mixed:

* ``EXCLUDED``: tests that do not test the target: they inspect asyncio's private internals,
  exercise one of asyncio's own classes that spindle does not replace (the C Task, the
  selector loop), or belong to a later issue (sockets and subprocesses).  Skipped, with the
  reason shown by ``pytest -rs``.
* ``KNOWN_FAILURES``: tests that fail because spindle is wrong.  They run, as
  ``xfail(strict=True)``: the day spindle is fixed they XPASS, the run fails, and the entry
  must be removed.  Applied to the spindle target only.

Keys are ``module.Class.test`` or ``module.Class`` (every test of the class).
"""

from __future__ import annotations

__all__ = ["EXCLUDED", "KNOWN_FAILURES", "exclusion_reason"]

EXCLUDED: dict[str, str] = {}

KNOWN_FAILURES: dict[str, str] = {}


def exclusion_reason(key: str) -> str | None:
    """Why the test ``module.Class.test`` is excluded, or None when it runs."""
    module_class = key.rpartition(".")[0]
    return EXCLUDED.get(key) or EXCLUDED.get(module_class)
