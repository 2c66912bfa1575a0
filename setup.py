"""Build spindle: compiled with mypyc where possible, pure Python otherwise.

spindle's hot path (the modules listed in ``src/spindle/compiled_modules.txt``) is written so that
mypyc can compile it into native classes.  The same sources run as ordinary Python, so the
build decides only *how* they run:

* with mypyc (a pinned release, a build requirement in pyproject.toml) and a working C
  compiler, the hot modules become extension modules beside their ``.py`` files, which Python
  then imports instead;
* with ``SPINDLE_PURE=1`` in the environment, or without mypyc or a C compiler, nothing is
  compiled and spindle runs as pure Python (a warning says why).

A compiled build that fails half-way is thrown away whole: a shim whose shared library did not
build would make ``import spindle`` fail, where the pure build would have worked.
``spindle.COMPILED`` says which build is running.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent
MODULE_LIST = ROOT / "src" / "spindle" / "compiled_modules.txt"


def compiled_module_paths() -> list[str]:
    """The source files to compile, relative to the project root, from the module list."""
    paths = []
    for line in MODULE_LIST.read_text().splitlines():
        name = line.split("#", 1)[0].strip()
        if name:
            paths.append(os.path.join("src", *name.split(".")) + ".py")
    return paths


def _warn(message: str) -> None:
    print(f"spindle build: {message}; building the pure-Python spindle", file=sys.stderr)


def _required() -> bool:
    """``SPINDLE_REQUIRE_COMPILED=1``: fail the build rather than fall back (CI sets it)."""
    return os.environ.get("SPINDLE_REQUIRE_COMPILED", "").strip() not in ("", "0")


class AllOrNothingBuildExt(build_ext):
    """build_ext that falls back to the pure build when any compiled module fails."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as exc:  # a compiler error, a missing compiler, ...
            if _required():
                raise
            _warn(f"compiling with mypyc failed ({exc})")
            self._discard_outputs()

    def _discard_outputs(self) -> None:
        for ext in self.extensions:
            for path in (self.get_ext_fullpath(ext.name), self._inplace_path(ext.name)):
                if path and os.path.exists(path):
                    os.remove(path)
        self.extensions = []

    def _inplace_path(self, name: str) -> str | None:
        build_py = self.get_finalized_command("build_py")
        package = ".".join(name.split(".")[:-1])
        try:
            package_dir = os.path.abspath(build_py.get_package_dir(package))
        except Exception:
            return None
        return os.path.join(package_dir, os.path.basename(self.get_ext_filename(name)))


def extensions() -> list[object]:
    if os.environ.get("SPINDLE_PURE", "").strip() not in ("", "0"):
        print("spindle build: SPINDLE_PURE is set: building pure-Python spindle", file=sys.stderr)
        return []
    try:
        from mypyc.build import mypycify
    except ImportError:
        if _required():
            raise
        _warn("mypyc is not installed")
        return []
    try:
        return list(
            mypycify(
                compiled_module_paths(),
                opt_level="3",
                debug_level="0",
                group_name="spindle_native",
            )
        )
    except BaseException as exc:  # mypyc reports compile errors with SystemExit
        if _required():
            raise
        _warn(f"mypyc could not compile the hot modules ({exc!r})")
        return []


setup(ext_modules=extensions(), cmdclass={"build_ext": AllOrNothingBuildExt})
