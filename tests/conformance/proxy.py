"""Loading a CPython test module so that the names it imports resolve to the target's.

CPython's tests say ``import asyncio`` and then call ``asyncio.Lock()``, ``asyncio.timeout()``,
``taskgroups.TaskGroup()``.  To run them against spindle without editing them, each test module
is executed afresh (a new module object, separate from ``test.test_asyncio.*`` in
``sys.modules``) with its own ``__builtins__``, whose ``__import__`` hands out *proxy modules*
for a few names instead of the real ones.  Every ``import`` statement in the module, at top level
or inside a test function, goes through that ``__import__``; the rest of the process is untouched.

A proxy module holds only the replacements and forwards every other attribute, live, to the
real module (PEP 562's module ``__getattr__``).  Live forwarding matters: a test that does
``mock.patch('asyncio.base_events.logger')`` patches the real module, and must see its patch
through the proxy too.
"""

from __future__ import annotations

import builtins
import functools
import importlib.util
import sys
import types
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["ImportRedirect", "load_fresh", "proxy_module"]


def proxy_module(real: types.ModuleType, replacements: Mapping[str, object]) -> types.ModuleType:
    """A module named like ``real`` that has ``replacements`` and forwards everything else."""
    proxy = types.ModuleType(real.__name__, real.__doc__)
    vars(proxy).update(replacements)
    proxy.__getattr__ = functools.partial(getattr, real)  # type: ignore[method-assign]
    return proxy


class ImportRedirect:
    """An ``__import__`` that returns a proxy wherever the import would return a proxied module.

    ``proxies`` maps full module names (``"asyncio"``, ``"asyncio.tasks"``,
    ``"test.test_asyncio.utils"``) to their proxies.  The real import always runs first, so
    the real modules are loaded and initialised exactly as usual.
    """

    def __init__(self, proxies: Mapping[str, types.ModuleType]) -> None:
        self.proxies = dict(proxies)

    def __call__(
        self,
        name: str,
        globals: Mapping[str, object] | None = None,
        locals: Mapping[str, object] | None = None,
        fromlist: tuple[str, ...] | list[str] | None = (),
        level: int = 0,
    ) -> types.ModuleType:
        module: types.ModuleType = builtins.__import__(name, globals, locals, fromlist, level)
        if level != 0:
            return module
        if fromlist:
            # `from a.b import c` binds attributes of a.b itself.
            return self.proxies.get(name, module)
        # `import a.b` binds the top-level package a.
        return self.proxies.get(name.partition(".")[0], module)

    def builtins(self) -> dict[str, Any]:
        """A ``__builtins__`` namespace whose ``__import__`` is this redirect."""
        namespace = dict(vars(builtins))
        namespace["__import__"] = self
        return namespace


def load_fresh(path: Path, module_name: str, redirect: ImportRedirect) -> types.ModuleType:
    """Execute the source file ``path`` as a new module ``module_name``, imports redirected.

    The module is registered in ``sys.modules`` (tracebacks, ``inspect`` and ``pickle`` look
    it up there); the real module of the same file, if loaded, is left alone.
    """
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}: no loader for it")
    module = importlib.util.module_from_spec(spec)
    # exec() keeps a __builtins__ that is already in the globals: every function defined in
    # the module, and so every import statement it runs later, uses the redirect.
    vars(module)["__builtins__"] = redirect.builtins()
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module
