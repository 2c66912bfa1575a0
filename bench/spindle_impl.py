"""spindle as an implementation under test: which build, and with diagnostics on or off.

Imported by a worker only once it has decided to time spindle, and it imports spindle only
after putting the build's directory first on ``sys.path`` (``builds``): so this module must not
import spindle at its top.

Diagnostics, and why two columns.  ``spindle.run()`` (and ``asyncio.run()`` after
``spindle.install()``) turns spindle's default diagnostics on for the loop it runs: task-origin
tracking and the blocking watchdog's thread (``spindle.diagnostics``).  A bare
``spindle.new_event_loop()`` has none.  So:

* ``spindle``: diagnostics off, the bare loop (``SPINDLE_DIAGNOSTICS`` does not matter);
* ``spindle-diag``: the loop of a ``spindle.Runner``, whose diagnostics session is active for the
  loop's whole life, each coroutine run by ``runner.run`` as ``spindle.run`` runs ``main()``;
  forced on with ``diagnostics.configure``, so a ``SPINDLE_DIAGNOSTICS=0`` in the environment
  cannot quietly make it the same as ``spindle``.

For programs run unmodified (``install``), both go through spindle's policy; its loops start
diagnostics when asyncio's runner runs its main *task* (``spindle.patch``).  pyperf's harness
runs its timing coroutine with ``loop.run_until_complete(coro)`` instead, which spindle does not
count as a main; the policy's loops here run a coroutine given to ``run_until_complete`` as a
task first, as ``asyncio.run`` does with ``main()``, so the harness looks like ``asyncio.run`` to
spindle in both columns (one task per run: nothing next to what the benchmarks run).
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import sys
from collections.abc import Awaitable, Generator, Iterator
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

from bench import builds
from bench.api import Api, QueueLike
from bench.impls import Impl, Running, plain_loop

__all__ = ["load_spindle"]

T = TypeVar("T")


def load_spindle(name: str, variant: builds.Variant) -> Impl:
    """spindle, as ``variant`` says: its build imported, diagnostics set; RuntimeError if not."""
    spindle = _import(variant.build)
    # Prove the core is there before timing anything: a loop must open and close.
    spindle.new_event_loop().close()
    _configure_diagnostics(spindle, variant.diagnostics)

    def queue(maxsize: int) -> QueueLike:
        made: QueueLike = spindle.Queue(maxsize)
        return made

    # spindle's own primitives, never asyncio's.
    api = Api(
        sleep=spindle.sleep,
        gather=spindle.gather,
        task_group=spindle.TaskGroup,
        queue=queue,
        start_server=spindle.start_server,
    )
    open_loop = _runner_loop if variant.diagnostics else lambda: plain_loop(spindle.new_event_loop)
    return Impl(
        name=name,
        version=getattr(spindle, "__version__", None) or _version(spindle),
        build=builds.describe(spindle),
        open_loop=open_loop,
        install=_install,
        api=api,
    )


def _import(build: builds.Build) -> ModuleType:
    """``import spindle``, from ``build``'s directory unless it is the venv's build."""
    if build.installed:
        import spindle

        return spindle
    where = builds.directory(build)
    if not (where / builds.STAMP).is_file():
        raise RuntimeError(f"no build in {where}: run through `python -m bench`, which builds")
    if "spindle" in sys.modules:
        raise RuntimeError("spindle was imported before its build's directory was on sys.path")
    sys.path.insert(0, str(where))
    importlib.invalidate_caches()
    module = importlib.import_module("spindle")
    if not Path(module.__file__ or "").is_relative_to(where):
        raise RuntimeError(f"imported spindle from {module.__file__}, not from {where}")
    return module


def _version(spindle: ModuleType) -> str:
    """The version of a build outside the venv, from its own dist-info beside the package."""
    package = Path(spindle.__file__ or "").parent
    for dist in metadata.distributions(path=[str(package.parent)]):
        if dist.metadata["Name"] in ("spindle-async", "spindle"):  # "spindle" before 0.1.0
            return dist.version
    return "?"


def _configure_diagnostics(spindle: ModuleType, enabled: bool) -> None:
    """Diagnostics on or off for every runner of this process, whatever the environment says."""
    diagnostics = getattr(spindle, "diagnostics", None)
    if diagnostics is None or not hasattr(diagnostics, "configure"):
        if enabled:
            raise RuntimeError("this build of spindle has no diagnostics to turn on")
        return
    diagnostics.reset()  # earlier configure() calls in this process do not carry over
    diagnostics.configure(enabled=enabled)


@contextmanager
def _runner_loop() -> Iterator[Running]:
    """A ``spindle.Runner``'s loop, run by ``runner.run``: diagnostics on until it closes."""
    import spindle

    with spindle.Runner() as runner:
        yield Running(runner.get_loop(), runner.run)


def _install() -> None:
    """``spindle.install()``, with loops that run a bare coroutine as a main task (see above).

    The policy set is a subclass of the one ``spindle.install()`` sets, differing only there.
    """
    from spindle.patch import RunnerAwareEventLoop, SpindleEventLoopPolicy

    # Defined here, not at the top: spindle is importable only once its build is on sys.path.
    class MainTaskLoop(RunnerAwareEventLoop):
        def run_until_complete(self, future: Generator[Any, None, T] | Awaitable[T]) -> T:
            if inspect.iscoroutine(future) and not self.is_running():
                future = self.create_task(future)
            result: T = super().run_until_complete(future)
            return result

    class MainTaskPolicy(SpindleEventLoopPolicy):
        def new_event_loop(self) -> asyncio.AbstractEventLoop:
            return MainTaskLoop()

    asyncio.set_event_loop_policy(MainTaskPolicy())
