"""Other projects' test suites run on spindle: which release, where from, how to run it.

Each suite is a pinned release of a library together with its own tests, unmodified:

* the tests come from the release's source archive, checked against its SHA-256: the sdist on
  PyPI, or, for websockets, whose sdist leaves its tests out, the same release's original
  tarball as Debian packages it (``apt-get source``);
* the library itself and what its tests need are installed from PyPI into a virtual environment
  of the suite's own (``requirements``), so no suite's plugins or pins leak into another's or
  into spindle's; spindle comes from this checkout's ``src`` (on ``PYTHONPATH``);
* ``args`` are the pytest arguments, run in the unpacked source; ``ini`` overrides the suite's
  own pytest settings only where they ask for plugins that are not installed (coverage,
  xdist, benchmarks), and keeps the rest (``filterwarnings = error``, strict markers,
  time-outs) as the project runs them;
* ``select`` names the rule (in ``plugin/spindle_peers.py``) that keeps the tests that run on an
  asyncio loop, where a suite also runs them on other loops (uvloop, trio).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

__all__ = ["SUITES", "Origin", "Source", "Suite"]


class Origin(enum.Enum):
    PYPI_SDIST = "PyPI sdist"
    DEBIAN_ORIG = "Debian source package's original tarball"


@dataclass(frozen=True)
class Source:
    origin: Origin
    name: str  # the PyPI project, or the Debian source package
    version: str  # the release; for Debian, the package version (release + Debian revision)
    sha256: str
    debian_release: str = ""  # for DEBIAN_ORIG: the Debian release whose archive carries it
    top: str = ""  # the archive's top directory
    # The library's own source in the archive, removed after unpacking: the installed release
    # (with its compiled extensions) must be what the tests, and the children they start
    # (``python -c "import uvloop"`` in the source directory), import.
    library: str = ""

    @property
    def release(self) -> str:
        return self.version.split("-")[0]


@dataclass(frozen=True)
class Suite:
    name: str
    source: Source
    requirements: tuple[str, ...]
    args: tuple[str, ...]
    ini: tuple[str, ...] = ()
    select: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    # Seconds for one run of the suite on one loop, after which it is stopped (a hang).
    time_limit: int = 1500
    # pytest processes run at once, each on its share of the test files (CI has 2 cores).
    shards: int = 2
    # Part of the default run of `python -m tests.peers`.  aiohttp's is not: it takes as long
    # as the other four together, so the test command runs it by name, as a step of its own
    # that can run beside the others (scripts/test.sh).
    by_default: bool = True
    # For a suite without a pytest configuration of its own: pytest would otherwise take the
    # nearest one above it, spindle's.
    needs_config: bool = False


_PYTEST = ("pytest==9.2.0", "pytest-timeout==2.4.0")

ANYIO = Suite(
    name="anyio",
    source=Source(
        Origin.PYPI_SDIST,
        "anyio",
        "4.16.0",
        "59bb03251907983d1603d27c3087ddb1e93299ea2163adcdba37899a4fb12ffb",
        top="anyio-4.16.0",
        library="src",
    ),
    requirements=(
        "anyio==4.16.0",
        "blockbuster==1.5.29",
        "hypothesis==6.170.17",
        "psutil==7.2.2",
        "pytest-mock==3.17.0",
        "trustme==1.2.1",
        "truststore==0.10.5",
        *_PYTEST,
    ),
    args=("tests",),
    # The project's 20 s per test is for its own CI; pytest-in-pytest tests take longer on a
    # busy 2-core machine.
    ini=("timeout=90",),
    select="anyio-asyncio",
)

AIOHTTP = Suite(
    name="aiohttp",
    source=Source(
        Origin.PYPI_SDIST,
        "aiohttp",
        "3.14.5",
        "5558a7f5a05af9ecf744af91e5baefc436f93c9333e656c27ec253f9a6bbe178",
        top="aiohttp-3.14.5",
        library="aiohttp",
    ),
    requirements=(
        "aiohttp[speedups]==3.14.5",
        "blockbuster==1.5.29",
        "coverage==7.17.5",  # only named by the suite's warning filters
        "freezegun==1.5.5",
        "gunicorn==27.0.1",
        "isal==1.9.1",
        "proxy.py==2.4.10",
        "pytest-mock==3.17.0",
        "trustme==1.2.1",
        "uvloop==0.23.0",
        "zlib_ng==1.1.0",
        *_PYTEST,
    ),
    args=("tests", "--aiohttp-loop=pyloop"),
    # The project's addopts ask for xdist, coverage and doctests of every module; its marker
    # filter (the autobahn and dev-mode jobs run separately) is kept.
    ini=("addopts=--strict-markers -m 'not dev_mode and not autobahn and not internal'",),
    # Its own pytest.ini keeps each test to 120 s (pytest-timeout).
    time_limit=2400,
    by_default=False,
)

UVLOOP = Suite(
    name="uvloop",
    source=Source(
        Origin.PYPI_SDIST,
        "uvloop",
        "0.23.0",
        "28d160f51ab4da3b187063652e643dea6831072add4adc1e6d62afbe73b6be27",
        top="uvloop-0.23.0",
        library="uvloop",
    ),
    requirements=(
        "uvloop==0.23.0",
        "aiohttp==3.14.5",
        "psutil==7.2.2",
        "pyOpenSSL==26.4.0",
        *_PYTEST,
    ),
    args=("tests",),
    ini=("timeout=120",),
    select="uvloop-aio",
)

WEBSOCKETS = Suite(
    name="websockets",
    source=Source(
        Origin.DEBIAN_ORIG,
        "python-websockets",
        "15.0.1-1",
        "8451495265af3e368f794c4dc15c99ce90c771d95560f542bff8c64b5455af3b",
        debian_release="trixie",
        top="websockets-15.0.1",
        library="src",
    ),
    requirements=(
        "websockets==15.0.1",
        "python-socks[asyncio]==3.2.1",
        "werkzeug==3.1.9",  # the router's tests
        *_PYTEST,
    ),
    # The parts of the suite that run on an event loop: the asyncio implementation and the
    # legacy one (also asyncio).  The Sans-I/O core and the threaded implementation do not
    # touch a loop; the trio implementation needs trio.
    args=("tests/asyncio", "tests/legacy"),
    ini=("timeout=120",),
    needs_config=True,
)

UVICORN = Suite(
    name="uvicorn",
    source=Source(
        Origin.PYPI_SDIST,
        "uvicorn",
        "0.55.0",
        "b65ae5f0f30cdcbc26a104b93d7d19723aa5f46fec3915a6c247d5795449331c",
        top="uvicorn-0.55.0",
        library="uvicorn",
    ),
    requirements=(
        "uvicorn==0.55.0",
        "a2wsgi==1.10.10",
        "cryptography==50.0.2",
        "httptools==0.9.0",
        "httpx2==2.16.2",
        "python-dotenv==1.2.4",
        "PyYAML==6.0.4",
        "pytest-mock==3.17.0",
        "trustme==1.2.1",
        "watchfiles==1.3.0",
        "websockets==17.4",
        "wsproto==1.3.2",
        "zttp==0.0.35",
        *_PYTEST,
    ),
    # Benchmarks need pytest-codspeed and measure nothing about correctness.
    args=("tests", "--ignore=tests/benchmarks"),
    # The project's addopts ask for xdist (-n 8).
    ini=("addopts=-rxXs --strict-config --strict-markers", "timeout=120"),
)

SUITES: dict[str, Suite] = {
    suite.name: suite for suite in (ANYIO, AIOHTTP, UVLOOP, WEBSOCKETS, UVICORN)
}
