"""Bring a suite's pinned source archive onto the machine, check it, unpack its tests.

Archives are kept in the cache directory (``~/.cache/spindle-peers`` or
``$SPINDLE_PEERS_CACHE``) under their own file name and are fetched only when missing; every
use checks the SHA-256 pinned in ``suites.py``, so a changed archive stops the run.

* A PyPI sdist is fetched with ``pip download --no-binary``.
* A Debian original tarball is fetched with ``apt-get source --download-only`` against a private
  apt state directory in the cache: the machine's own apt configuration is not touched.  Its
  ``deb-src`` line uses the Debian mirror the machine is already configured with, for the
  Debian release named in ``suites.py``.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

from tests.peers.suites import Origin, Source

__all__ = ["SourceError", "fetch", "unpack"]


class SourceError(RuntimeError):
    """A suite's source could not be had, or is not the pinned one."""


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def archive_name(source: Source) -> str:
    if source.origin is Origin.PYPI_SDIST:
        return f"{source.name}-{source.version}.tar.gz"
    return f"{source.name}_{source.release}.orig.tar.gz"


def fetch(source: Source, cache: Path) -> Path:
    """The path of the checked archive, fetched into ``cache/sources`` when missing."""
    where = cache / "sources"
    where.mkdir(parents=True, exist_ok=True)
    archive = where / archive_name(source)
    if not archive.exists():
        if source.origin is Origin.PYPI_SDIST:
            _pip_download(source, where)
        else:
            _apt_source(source, cache / "apt", where)
    if not archive.exists():
        raise SourceError(f"{source.name} {source.version}: no {archive.name} after fetching")
    actual = sha256(archive)
    if actual != source.sha256:
        raise SourceError(
            f"{archive}: SHA-256 {actual}, pinned {source.sha256}; delete it to fetch again"
        )
    return archive


def unpack(source: Source, archive: Path, into: Path) -> Path:
    """Unpack the archive under ``into`` (once) and return its top directory."""
    top = into / source.top
    stamp = into / f".{source.top}.unpacked"
    if stamp.exists() and top.is_dir():
        return top
    if top.exists():
        shutil.rmtree(top)
    into.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")
    if not top.is_dir():
        raise SourceError(f"{archive.name} has no top directory {source.top}")
    if source.library:
        shutil.rmtree(top / source.library)
    stamp.touch()
    return top


def _pip_download(source: Source, where: Path) -> None:
    command = [
        sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
        "--no-binary", source.name, "--dest", str(where), f"{source.name}=={source.version}",
    ]  # fmt: skip
    _run(command, f"pip download of {source.name} {source.version}")


def _apt_source(source: Source, state: Path, where: Path) -> None:
    if shutil.which("apt-get") is None:
        raise SourceError(f"{source.name}: fetching a Debian source package needs apt-get")
    mirror = debian_mirror()
    lists = state / "lists"
    (lists / "partial").mkdir(parents=True, exist_ok=True)
    (state / "cache" / "archives" / "partial").mkdir(parents=True, exist_ok=True)
    sources_list = state / "sources.list"
    sources_list.write_text(f"deb-src {mirror} {source.debian_release} main\n")
    options = [
        "-o", f"Dir::Etc::SourceList={sources_list}",
        "-o", "Dir::Etc::SourceParts=/dev/null",
        "-o", f"Dir::State::Lists={lists}",
        "-o", f"Dir::Cache={state / 'cache'}",
    ]  # fmt: skip
    _run(["apt-get", *options, "-qq", "update"], "apt-get update of the source lists")
    # The original tarball is all that is used; the Debian packaging files beside it may be
    # missing from a mirror without harm, so the command's status is not the judge: the
    # tarball's SHA-256 is.
    subprocess.run(
        ["apt-get", *options, "-qq", "source", "--download-only",
         f"{source.name}={source.version}"],
        cwd=where, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    for extra in where.glob(f"{source.name}_{source.version}*"):
        extra.unlink()  # the .dsc and .debian.tar.*, if they came


_URI = re.compile(r"^\s*URIs:\s*(\S+)", re.MULTILINE)
_ONE_LINE = re.compile(r"^\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+\S+", re.MULTILINE)


def debian_mirror(etc: Path = Path("/etc/apt")) -> str:
    """The first Debian archive mirror in the machine's apt sources (not its security one)."""
    candidates: list[str] = []
    for path in sorted((etc / "sources.list.d").glob("*.sources")):
        candidates += _URI.findall(path.read_text())
    for path in [etc / "sources.list", *sorted((etc / "sources.list.d").glob("*.list"))]:
        if path.exists():
            candidates += _ONE_LINE.findall(path.read_text())
    for uri in candidates:
        if uri.rstrip("/").endswith("/debian"):
            return uri
    raise SourceError(f"no Debian archive mirror in the apt sources under {etc}")


def _run(command: list[str], what: str) -> None:
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SourceError(f"{what} failed ({result.returncode}):\n{result.stderr[-3000:]}")
