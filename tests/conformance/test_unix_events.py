"""CPython's test_unix_events, run against the target.

Covers signal handlers, ``create_unix_server``/``create_unix_connection``, and the loop's
behaviour around file descriptors.  Most of the module tests asyncio's own Unix internals
(its pipe transport classes, child watchers, ``_UnixSelectorEventLoop`` internals): those are
excluded with their reasons in ``exclusions.py``.  The classes come from
``harness.collect``; pytest collects them from this namespace.
"""

from .harness import collect

globals().update(collect("test_unix_events"))
