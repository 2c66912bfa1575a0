"""CPython's test_subprocess, run against the target.

Covers ``create_subprocess_exec``/``create_subprocess_shell``, ``Process`` and the loop's
``subprocess_exec``/``subprocess_shell`` with real children.  CPython runs its
``SubprocessMixin`` once per child watcher of asyncio's; ``TargetSubprocessTests``
(``adapters.py``) runs it on the target's loop.  The classes come from ``harness.collect``;
pytest collects them from this namespace.
"""

from .harness import collect

globals().update(collect("test_subprocess"))
