"""Builds of spindle side by side: which one a column times, and how it gets into its directory.

spindle ships one source as two builds (issue 8): compiled with mypyc, or pure Python (what
``pip install`` gives with ``SPINDLE_PURE=1`` set at build time, or without a C compiler).  To
time them in one run, each build other than the one installed in the venv lives in a directory
of its own, made by ``pip install --no-deps --target DIR``; a worker timing that build puts
the directory first on ``sys.path`` before it imports spindle, and checks ``spindle.__file__``
to prove it got that build and not the venv's.

An implementation name says which spindle a column is:

    spindle             the build installed in the venv (after issue 8: the compiled one)
    spindle-pure        this checkout's source, built pure (``SPINDLE_PURE=1``)
    spindle@REF         a git ref of this repository (or a path to another checkout), built pure
    ...-diag            the same build with spindle's default diagnostics on (see ``impls``)

Builds are cached: a directory is rebuilt only when its source changed (a hash of the files a
build reads, or the commit a ref points at) or the Python version differs.  The parent process
builds (``prepare``) before any worker starts; workers only look the directory up
(``directory``), so a missing build is an error, never a silent fallback to the venv's spindle.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import machinery
from pathlib import Path
from types import ModuleType

__all__ = ["BUILDS_ENV", "Build", "Variant", "describe", "directory", "parse", "prepare"]

ROOT = Path(__file__).resolve().parent.parent
# Where the builds go; tests point it at a temporary directory.
BUILDS_ENV = "SPINDLE_BENCH_BUILDS"
DIAG_SUFFIX = "-diag"
STAMP = ".bench-build"
# Top-level directories of a checkout that a build never reads: not hashed, not copied.
_SKIP_DIRS = frozenset({".git", ".venv", "__pycache__", "build", ".mypy_cache", ".ruff_cache"})


@dataclass(frozen=True)
class Build:
    """Which spindle: the venv's (``ref`` None, ``pure`` False), this checkout's pure build
    (``ref`` None, ``pure`` True), or a git ref / another checkout built pure (``ref`` set)."""

    pure: bool = False
    ref: str | None = None

    @property
    def installed(self) -> bool:
        return not self.pure and self.ref is None

    @property
    def key(self) -> str:
        """The directory name: one per build and Python version."""
        py = f"py{sys.version_info[0]}{sys.version_info[1]}"
        if self.ref is None:
            return f"pure-{py}"
        slug = re.sub(r"[^A-Za-z0-9._-]+", "_", self.ref).strip("_")[:40]
        digest = hashlib.sha256(self.ref.encode()).hexdigest()[:8]
        return f"ref-{slug}-{digest}-{py}"


@dataclass(frozen=True)
class Variant:
    """A spindle column: a build, with diagnostics on or off."""

    build: Build
    diagnostics: bool


def parse(name: str) -> Variant | None:
    """The spindle variant called ``name``; None for a name that is not spindle's.

    ``-diag`` is read off the end first, so a ref whose name ends in ``-diag`` cannot be named.
    """
    diagnostics = name.endswith(DIAG_SUFFIX)
    base = name.removesuffix(DIAG_SUFFIX) if diagnostics else name
    if base == "spindle":
        return Variant(Build(), diagnostics)
    if base == "spindle-pure":
        return Variant(Build(pure=True), diagnostics)
    if base.startswith("spindle@") and len(base) > len("spindle@"):
        return Variant(Build(pure=True, ref=base.removeprefix("spindle@")), diagnostics)
    return None


def builds_root() -> Path:
    return Path(os.environ.get(BUILDS_ENV) or ROOT / "bench" / "results" / "builds")


def directory(build: Build) -> Path:
    """Where ``build`` is installed (for a worker: it must already be there)."""
    return builds_root() / build.key


def describe(spindle: ModuleType) -> str:
    """Which build ``spindle`` (an imported package) is: compiled modules counted, and where.

    ``spindle.COMPILED`` is asked first if the build defines it; the extension modules found
    under the package are counted either way, so the line is true of builds before issue 8 too.
    """
    package = Path(spindle.__file__ or "").parent
    suffixes = tuple(machinery.EXTENSION_SUFFIXES)
    native = sum(1 for path in package.rglob("*") if path.name.endswith(suffixes))
    flag = getattr(spindle, "COMPILED", None)
    compiled = bool(flag) if flag is not None else native > 0
    what = f"compiled, {native} extension modules" if compiled else "pure Python"
    return f"{what}, {package}"


def prepare(build: Build, log: Callable[[str], None]) -> Path | None:
    """Make sure ``build`` is installed in its directory, building it if stale; that directory.

    None for the venv's build, which needs no directory.  Raises RuntimeError saying why a build
    failed (a bad ref, pip's error).
    """
    if build.installed:
        return None
    target = directory(build)
    stamp = target / STAMP
    key = _source_key(build)
    if stamp.is_file() and stamp.read_text() == key:
        return target
    name = f"spindle@{build.ref}" if build.ref else "spindle-pure"
    log(f"building {name} (pure) into {target}")
    with tempfile.TemporaryDirectory(prefix="spindle-bench-src-") as tmp:
        source = Path(tmp)
        _fill(build, source)
        _pip_install(source, target)
    stamp.write_text(key)
    return target


def _checkout(build: Build) -> Path | None:
    """The directory whose working tree ``build`` is made from; None for a git ref."""
    if build.ref is None:
        return ROOT
    path = Path(build.ref).expanduser()
    return path.resolve() if path.is_dir() else None


def _source_key(build: Build) -> str:
    """What the build depends on: the commit of a ref, else a hash of the files it reads."""
    version = f"python {sys.version_info[0]}.{sys.version_info[1]}"
    checkout = _checkout(build)
    if checkout is None:
        return f"{_resolve(str(build.ref))} {version}"
    digest = hashlib.sha256()
    for path in _build_files(checkout):
        digest.update(str(path.relative_to(checkout)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return f"{digest.hexdigest()} {version}"


def _build_files(checkout: Path) -> Iterator[Path]:
    """The files a build of ``checkout`` reads: its top-level files and ``src/``.

    Compiled leftovers (extension modules, bytecode) are left out: a pure build must not pick
    up an in-place compiled module, and they do not change what is built.
    """
    skip = (*machinery.EXTENSION_SUFFIXES, ".pyc")
    for path in sorted(checkout.iterdir()):
        if path.is_file():
            yield path
    for path in sorted((checkout / "src").rglob("*")):
        parts = path.relative_to(checkout).parts
        leftover = path.name.endswith(skip) or any(p.endswith(".egg-info") for p in parts)
        if path.is_file() and not leftover and not set(parts) & _SKIP_DIRS:
            yield path


def _resolve(ref: str) -> str:
    """The commit ``ref`` names in this repository; RuntimeError if it names none."""
    done = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(f"cannot build spindle@{ref}: not a commit of {ROOT}, nor a directory")
    return done.stdout.strip()


def _fill(build: Build, source: Path) -> None:
    """Put the source of ``build`` into the empty directory ``source``."""
    checkout = _checkout(build)
    if checkout is None:
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", "--format=tar", _resolve(str(build.ref))],
            capture_output=True,
            check=True,
        ).stdout
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(source, filter="data")
        return
    for path in _build_files(checkout):
        copy = source / path.relative_to(checkout)
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, copy)


def _pip_install(source: Path, target: Path) -> None:
    """``pip install --target``, pure (``SPINDLE_PURE=1``), replacing ``target`` only on success."""
    staging = target.with_name(target.name + ".new")
    shutil.rmtree(staging, ignore_errors=True)
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps"]
    command += ["--disable-pip-version-check", "--target", str(staging), str(source)]
    done = subprocess.run(
        command, env={**os.environ, "SPINDLE_PURE": "1"}, capture_output=True, text=True
    )
    if done.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
        raise RuntimeError(f"pip could not build spindle from {source}:\n{tail}")
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
