"""spindle as a package: one version everywhere, a license that matches, a wheel that works alone.

The distribution is called ``spindle-async`` (``spindle`` on the package index is another
project) and installs the import package ``spindle``.  The build test makes the sdist and the
wheel with ``python -m build``, as a maintainer would, installs the wheel into a fresh virtual
environment and runs a seed program there from a directory outside the source tree.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tarfile
import tomllib
import venv
import zipfile
from pathlib import Path

import pytest

import spindle

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
DISTRIBUTION = "spindle-async"
# What a copy of the tree to build from leaves out: environments, caches, build products.
NOT_SOURCES = (
    ".git",
    ".venv*",
    ".hypothesis",
    ".*_cache",
    "__pycache__",
    "build",
    "dist",
    "site",
    "*.egg-info",
    "*.so",
)


def test_the_distribution_name_and_import_name() -> None:
    assert PYPROJECT["project"]["name"] == DISTRIBUTION
    assert (ROOT / "src" / "spindle" / "__init__.py").exists()


def test_the_version_is_written_once_and_read_from_there() -> None:
    assert "version" not in PYPROJECT["project"]
    assert "version" in PYPROJECT["project"]["dynamic"]
    attr = PYPROJECT["tool"]["setuptools"]["dynamic"]["version"]["attr"]
    assert attr == "spindle._version.__version__"
    assert re.fullmatch(r"\d+\.\d+\.\d+((a|b|rc)\d+)?", spindle.__version__)


def test_the_changelog_has_an_entry_for_this_version() -> None:
    changelog = (ROOT / "CHANGELOG.md").read_text()
    assert "[Keep a Changelog](https://keepachangelog.com/" in changelog
    headings = re.findall(r"^## \[([^\]]+)\](?: - (\d{4}-\d\d-\d\d))?$", changelog, re.M)
    assert headings[0] == ("Unreleased", "")
    assert headings[1][0] == spindle.__version__ and headings[1][1]  # with its release date


def test_the_license_file_matches_pyproject() -> None:
    assert PYPROJECT["project"]["license"] == "MIT"
    assert PYPROJECT["project"]["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License\n")
    assert "Permission is hereby granted, free of charge" in text


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sdist and the wheel, as ``python -m build`` makes them (the wheel from the sdist).

    The build compiles spindle's hot path with mypyc (a build requirement), as a user's
    ``pip install`` from the sdist would: it takes a minute or two.
    """
    # From a copy of the tree: making the sdist writes its metadata (an egg-info directory)
    # into the tree it builds, and the test command runs this test on several Pythons at once.
    tree = tmp_path_factory.mktemp("tree") / "spindle"
    shutil.copytree(ROOT, tree, ignore=shutil.ignore_patterns(*NOT_SOURCES))
    out = tmp_path_factory.mktemp("dist")
    build = subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(out), str(tree)],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    return out


def only(directory: Path, pattern: str) -> Path:
    [path] = directory.glob(pattern)
    return path


@pytest.mark.timeout(1000)
def test_build_makes_an_sdist_with_the_license_and_the_changelog(dist: Path) -> None:
    sdist = only(dist, f"spindle_async-{spindle.__version__}.tar.gz")
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    assert {"LICENSE", "README.md", "CHANGELOG.md", "pyproject.toml"} <= names
    assert "src/spindle/__init__.py" in names


@pytest.mark.timeout(1000)
def test_the_wheel_carries_metadata_plugin_and_type_information(dist: Path) -> None:
    # Compiled where mypyc and a C compiler are (this machine): a wheel for this Python only.
    wheel = only(dist, f"spindle_async-{spindle.__version__}-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        info = f"spindle_async-{spindle.__version__}.dist-info"
        metadata = archive.read(f"{info}/METADATA").decode()
        entry_points = archive.read(f"{info}/entry_points.txt").decode()
    assert "spindle/py.typed" in names
    assert f"{info}/licenses/LICENSE" in names
    assert f"Name: {DISTRIBUTION}\n" in metadata
    assert f"Version: {spindle.__version__}\n" in metadata
    assert "License-Expression: MIT\n" in metadata
    assert "Requires-Python: >=3.11\n" in metadata
    assert not re.search(r"^Requires-Dist: (?!.*extra ==)", metadata, re.M)  # stdlib only
    assert "spindle = spindle.testing.pytest_plugin" in entry_points
    assert not any(name.startswith(("tests/", "bench/", "examples/")) for name in names)


@pytest.mark.timeout(1000)
def test_the_wheel_installed_in_a_fresh_venv_runs_a_seed_program(
    dist: Path, tmp_path: Path
) -> None:
    wheel = only(dist, "*.whl")
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    # The test run's pip installs into the new environment: no index, no dependencies needed.
    install = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "-q",
            "--no-index",
            "--no-deps",
            str(wheel),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert install.returncode == 0, install.stderr
    work = tmp_path / "elsewhere"  # no source tree here, nor on the path (-I: isolated mode)
    work.mkdir()
    (work / "hello_world.py").write_text((ROOT / "examples" / "hello_world.py").read_text())

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(python), "-I", *args],
            cwd=work,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    where = run("-c", "import spindle; print(spindle.__file__); print(spindle.COMPILED)")
    assert where.returncode == 0, where.stderr
    path, compiled = where.stdout.split()
    assert Path(path).is_relative_to(env_dir)
    assert compiled == str(not wheel.name.endswith("-py3-none-any.whl"))
    seed = run("hello_world.py")
    assert (seed.returncode, seed.stdout, seed.stderr) == (0, "hello\nworld\n", "")
    version = run("-m", "spindle", "--version")
    build = "compiled" if compiled == "True" else "pure Python"
    assert version.stdout.startswith(f"spindle {spindle.__version__}, {build} (")
