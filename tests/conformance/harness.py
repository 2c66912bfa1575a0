"""Load CPython's asyncio test modules against the target and hand their test classes to pytest.

``collect("test_locks")`` returns the ``unittest.TestCase`` classes of CPython's
``test.test_asyncio.test_locks``, executed afresh so that, inside it:

* ``asyncio`` (and ``asyncio.locks``, ``asyncio.tasks``, ...) is a proxy in which every public
  name the target implements is the target's (``asyncio.Lock`` is ``spindle.locks.Lock``) and
  every other name is asyncio's;
* ``test_utils`` is a proxy of ``test.test_asyncio.utils`` whose ``TestCase`` makes the
  target's virtual-time loop in ``new_test_loop()``.

plus the ``Target...`` classes from ``adapters.py``.  Each conformance test file puts these
classes in its namespace, and pytest's unittest support collects them from there.
"""

from __future__ import annotations

import asyncio
import functools
import types
import unittest
from pathlib import Path
from typing import Any

import test.test_asyncio
from test.test_asyncio import utils as test_utils

from .adapters import ADAPTERS, make_test_case
from .proxy import ImportRedirect, load_fresh, proxy_module
from .targets import Target, current_target

__all__ = ["CPYTHON_TESTS", "MODULES", "asyncio_proxies", "collect", "load"]

CPYTHON_TESTS = Path(test.test_asyncio.__file__).parent

# The CPython test modules this harness runs, in the order count.py reports them.
MODULES = (
    "test_base_events",
    "test_events",
    "test_futures",
    "test_futures2",
    "test_tasks",
    "test_taskgroups",
    "test_timeouts",
    "test_runners",
    "test_waitfor",
    "test_locks",
    "test_queues",
    "test_context",
    "test_pep492",
    "test_threads",
    "test_sock_lowlevel",
    "test_server",
    "test_streams",
    "test_ssl",
    "test_sslproto",
    "test_sendfile",
    "test_buffered_proto",
    "test_protocols",
    "test_transports",
    "test_subprocess",
    "test_unix_events",
)


def asyncio_proxies(replacements: dict[str, object]) -> dict[str, types.ModuleType]:
    """Proxies of ``asyncio`` and of each submodule that has a replaced public name."""
    proxies: dict[str, types.ModuleType] = {}
    submodules: dict[str, types.ModuleType] = {}
    for attribute, value in vars(asyncio).items():
        if not isinstance(value, types.ModuleType) or value.__name__ != f"asyncio.{attribute}":
            continue
        public = getattr(value, "__all__", ())
        own = {name: replacements[name] for name in public if name in replacements}
        if own:
            submodules[attribute] = proxies[value.__name__] = proxy_module(value, own)
    proxies["asyncio"] = proxy_module(asyncio, {**replacements, **submodules})
    return proxies


@functools.cache
def _redirect(target: Target) -> ImportRedirect:
    proxies = asyncio_proxies(target.replacements())
    utils = proxy_module(test_utils, {"TestCase": make_test_case(target, test_utils.TestCase)})
    proxies["test.test_asyncio.utils"] = utils
    proxies["test.test_asyncio"] = proxy_module(test.test_asyncio, {"utils": utils})
    return ImportRedirect(proxies)


@functools.cache
def load(name: str, target: Target | None = None) -> types.ModuleType:
    """CPython's ``test.test_asyncio.<name>``, executed afresh against ``target``."""
    target = current_target() if target is None else target
    path = CPYTHON_TESTS / f"{name}.py"
    return load_fresh(path, f"{name}__on_{target.name}", _redirect(target))


def collect(name: str, target: Target | None = None) -> dict[str, type[Any]]:
    """The test classes to run for CPython module ``name``: its own and the adapters'."""
    target = current_target() if target is None else target
    module = load(name, target)
    classes = {
        attribute: value
        for attribute, value in vars(module).items()
        if isinstance(value, type)
        and issubclass(value, unittest.TestCase)
        and value.__module__ == module.__name__
    }
    adapter = ADAPTERS.get(name)
    if adapter is not None:
        classes.update(adapter(module, target))
    return classes
