"""Every code example on the documentation site runs, and prints what the page says it prints.

The pages under ``docs/`` hold three kinds of fenced blocks, and every block is one of them:

* ``python``: a program, run with this test's Python (it must exit with status 0).  Preceded by
  ``<!-- file: NAME -->`` it is a file a later command of the page uses, written to NAME
  instead of run on its own.  A block that only includes a file (``--8<-- "examples/x.py"``)
  shows an example program, which ``test_example_programs.py`` runs.
* ``console``: commands (``$ ...``), each followed by the output it prints (stdout and stderr
  together, unbuffered).  A line ``...`` in the output stands for any number of lines, and
  ``...`` inside a line for any text; times and durations that differ from run to run are
  compared in shape only (``NORMALIZE``).  Preceded by ``<!-- serve: ARGS -->``, the command
  is an HTTP server: it is started with ARGS added (a free port), asked for ``/``, and stopped
  with Ctrl-C, which must end it cleanly.
* anything else must be preceded by ``<!-- not run: REASON -->`` (an install command, say).

A ``python`` or ``console`` block preceded by ``<!-- build: compiled -->`` (or ``pure``) shows
what one build of spindle does: it runs only on that build (``spindle.COMPILED``), so the
compiled run of the test command checks the one and the pure-Python run the other.

Each page's commands run in a temporary directory holding the page's files and a link to the
repository's ``examples/``, with this test's environment first on PATH (``python``,
``uvicorn``, ``gunicorn``).
"""

from __future__ import annotations

import dataclasses
import json
import re
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

import spindle
from spindle.diagnostics import settings
from tests.children import user_environment

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.glob("*.md"))
FENCE = re.compile(
    r"(?:<!-- (?P<directive>[a-z ]+):(?P<argument>[^>]*)-->\n)?"
    r"^```(?P<lang>[a-z]*)[^\n]*\n(?P<body>.*?)^```$",
    re.M | re.S,
)
SNIPPET = re.compile(r'^--8<-- "(?P<path>[^"]+)"$')
NORMALIZE = [
    (re.compile(r"\d\d:\d\d:\d\d"), "HH:MM:SS"),
    (re.compile(r"\b\d+\.\d+ ?m?s\b"), "N s"),  # durations: "0.5 s", "in 0.04s", "12.5 ms"
    (re.compile(r"(?<![\w.])\d+\.\d{3}\b"), "T"),  # timeline times
    (re.compile(r"\|[#. ]+\|"), "|bar|"),  # timeline bars
    (re.compile(r"127\.0\.0\.1:\d+"), "127.0.0.1:PORT"),
    (re.compile(r"\[\d+\]"), "[PID]"),
    (re.compile(r"\bpid \d+"), "pid PID"),
    (re.compile(r"0x[0-9a-f]+"), "0xADDR"),
]


@dataclasses.dataclass
class Block:
    page: Path
    line: int
    lang: str
    body: str
    directive: str | None
    argument: str

    def __str__(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def blocks(page: Path) -> list[Block]:
    text = page.read_text()
    return [
        Block(
            page,
            text.count("\n", 0, match.start("lang")) + 1,
            match["lang"],
            match["body"],
            match["directive"],
            (match["argument"] or "").strip(),
        )
        for match in FENCE.finditer(text)
    ]


def normalize(text: str) -> str:
    for pattern, replacement in NORMALIZE:
        text = pattern.sub(replacement, text)
    return text


def line_matches(expected: str, actual: str) -> bool:
    parts = [re.escape(part) for part in normalize(expected).split("...")]
    return re.fullmatch(".*".join(parts), normalize(actual)) is not None


def output_matches(expected: list[str], actual: list[str]) -> bool:
    """Whether ``actual`` fits ``expected``, where a line ``...`` is any number of lines."""
    if not expected:
        return not actual
    if expected[0] == "...":
        return any(output_matches(expected[1:], actual[i:]) for i in range(len(actual) + 1))
    return (
        bool(actual)
        and line_matches(expected[0], actual[0])
        and (output_matches(expected[1:], actual[1:]))
    )


def commands(body: str) -> Iterator[tuple[str, list[str]]]:
    """(command, the lines it prints) for each ``$ command`` of a console block."""
    command: str | None = None
    output: list[str] = []
    for line in body.splitlines():
        if line.startswith("$ "):
            if command is not None:
                yield command, output
            command, output = line[2:], []
        else:
            output.append(line)
    if command is not None:
        yield command, output


# What a reader's shell has: no spindle settings, and not a CI machine (pytest prints its
# short summary uncut when CI or BUILD_NUMBER is set, and the pages show a terminal's view).
NOT_THE_READERS = ("CI", "BUILD_NUMBER")


def environment() -> dict[str, str]:
    environ = user_environment(without=NOT_THE_READERS)
    bin_dir = str(Path(sys.executable).parent)
    return {**environ, "PATH": f"{bin_dir}:{environ['PATH']}", "PYTHONUNBUFFERED": "1"}


def run_command(command: str, cwd: Path) -> list[str]:
    result = subprocess.run(
        ["bash", "-c", command],
        cwd=cwd,
        env=environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=120,
        check=False,
    )
    return result.stdout.splitlines()


def serve(command: str, cwd: Path) -> None:
    server = subprocess.Popen(
        ["bash", "-c", f"exec {command}"],
        cwd=cwd,
        env=environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert server.stdout is not None
        log = []
        for line in server.stdout:
            log.append(line)
            found = re.search(r"(http://127\.0\.0\.1:\d+)", line)
            if found:
                break
        else:
            pytest.fail(f"{command!r} never said where it listens: {log}")
        with urllib.request.urlopen(f"{found[1]}/", timeout=30) as response:
            assert json.load(response)["on_spindle"] is True
        server.send_signal(signal.SIGINT)
        rest, _ = server.communicate(timeout=60)
        assert server.returncode == 0, "".join(log) + rest
    finally:
        if server.poll() is None:
            server.kill()
            server.communicate()


def check_snippet(block: Block) -> bool:
    """A block that only includes example files: each must be one that a test runs."""
    lines = block.body.strip().splitlines()
    paths = [SNIPPET.match(line) for line in lines]
    if not lines or not all(paths):
        return False
    tested = (ROOT / "tests" / "test_example_programs.py").read_text()
    for match in paths:
        assert match is not None
        path = match["path"]
        assert (ROOT / path).is_file(), f"{block}: no such file {path}"
        assert path.startswith("examples/") and Path(path).name in tested, (
            f"{block}: {path} is not run by tests/test_example_programs.py"
        )
    return True


def test_the_site_has_pages_with_examples() -> None:
    assert len(PAGES) >= 10
    assert sum(len(blocks(page)) for page in PAGES) >= 20


BUILDS = {"compiled": True, "pure": False}


def for_this_build(block: Block) -> Block | None:
    """The block to run on the build that runs this test, or None when it is the other's."""
    if block.directive != "build":
        return block
    assert block.argument in BUILDS, f"{block}: build is one of {', '.join(BUILDS)}"
    assert block.lang in ("python", "console"), f"{block}: only examples run per build"
    if BUILDS[block.argument] != spindle.COMPILED:
        return None
    return dataclasses.replace(block, directive=None, argument="")


def test_the_settings_page_lists_every_setting() -> None:
    # The same table as the README's and python -m spindle --help's (settings.SETTINGS).
    assert settings.markdown_table() in (DOCS / "settings.md").read_text()


def test_each_build_has_its_examples() -> None:
    shown = [
        block.argument for page in PAGES for block in blocks(page) if block.directive == "build"
    ]
    assert set(shown) == set(BUILDS)


@pytest.mark.timeout(600)
@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_every_example_on_the_page_runs_as_shown(page: Path, tmp_path: Path) -> None:
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    for shown in blocks(page):
        block = for_this_build(shown)
        if block is None:
            continue
        if block.directive == "not run":
            assert block.argument, f"{block}: say why it is not run"
        elif block.lang == "python" and check_snippet(block):
            pass
        elif block.lang == "python" and block.directive == "file":
            (tmp_path / block.argument).write_text(block.body)
        elif block.lang == "python":
            (tmp_path / "example.py").write_text(block.body)
            result = subprocess.run(
                [sys.executable, "example.py"], cwd=tmp_path, env=environment(),
                capture_output=True, text=True, timeout=120, check=False,
            )  # fmt: skip
            assert result.returncode == 0, f"{block}: {result.stderr}"
        elif block.lang == "console" and block.directive == "serve":
            [(command, _)] = list(commands(block.body))
            serve(f"{command} {block.argument}", tmp_path)
        elif block.lang == "console":
            for command, expected in commands(block.body):
                actual = run_command(command, tmp_path)
                assert output_matches(expected, actual), (
                    f"{block}: $ {command}\nexpected:\n"
                    + "\n".join(expected)
                    + "\nprinted:\n"
                    + "\n".join(actual)
                )
        else:
            pytest.fail(f"{block}: a {block.lang or 'plain'} block must be marked not run")
