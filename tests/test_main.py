"""``python -m spindle``: unmodified asyncio programs, run in real subprocesses."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.children import user_environment

# An ordinary asyncio program: it reports what it sees as JSON.
PROGRAM = textwrap.dedent(
    """
    import asyncio, json, sys

    async def main():
        loop = asyncio.get_running_loop()
        await asyncio.sleep(0)
        return {
            "loop": type(loop).__module__ + "." + type(loop).__qualname__,
            "name": __name__,
            "argv": sys.argv,
            "path0": sys.path[0],
        }

    if __name__ == "__main__":
        print(json.dumps(asyncio.run(main())))
    """
)


def spindle(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "spindle", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


@pytest.fixture
def script(tmp_path: Path) -> Path:
    path = tmp_path / "app" / "program.py"
    path.parent.mkdir()
    path.write_text(PROGRAM)
    return path


def test_a_script_runs_as_main_on_a_spindle_loop(script: Path, tmp_path: Path) -> None:
    result = spindle(str(script), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    assert seen["loop"].startswith("spindle.")
    assert seen["name"] == "__main__"


def test_a_script_gets_its_arguments_even_those_that_look_like_options(
    script: Path, tmp_path: Path
) -> None:
    result = spindle(str(script), "--help", "-m", "x", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["argv"] == [str(script), "--help", "-m", "x"]


def test_a_script_finds_modules_next_to_it_first(script: Path, tmp_path: Path) -> None:
    result = spindle(str(script), cwd=tmp_path)
    assert json.loads(result.stdout)["path0"] == str(script.parent)


def test_a_module_runs_as_main_with_its_arguments(tmp_path: Path) -> None:
    (tmp_path / "program_module.py").write_text(PROGRAM)
    result = spindle("-m", "program_module", "a", "--b", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    assert seen["loop"].startswith("spindle.")
    assert seen["name"] == "__main__"
    assert seen["argv"] == [str(tmp_path / "program_module.py"), "a", "--b"]


def test_a_package_runs_its_dunder_main(tmp_path: Path) -> None:
    package = tmp_path / "program_package"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "__main__.py").write_text(PROGRAM)
    result = spindle("-m", "program_package", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["loop"].startswith("spindle.")


def test_the_programs_exit_status_is_the_processs(tmp_path: Path) -> None:
    (tmp_path / "exits.py").write_text("import sys\nsys.exit(3)\n")
    assert spindle("exits.py", cwd=tmp_path).returncode == 3


def test_an_uncaught_error_in_the_program_prints_its_traceback(tmp_path: Path) -> None:
    (tmp_path / "fails.py").write_text("raise ValueError('boom')\n")
    result = spindle("fails.py", cwd=tmp_path)
    assert result.returncode == 1
    assert "ValueError: boom" in result.stderr


def test_help_describes_both_forms(tmp_path: Path) -> None:
    result = spindle("--help", cwd=tmp_path)
    assert result.returncode == 0
    assert "usage: python -m spindle" in result.stdout
    assert "-m module" in result.stdout


def test_version_names_spindle_its_build_and_the_python_it_runs_on(tmp_path: Path) -> None:
    import platform

    import spindle as runtime

    result = spindle("--version", cwd=tmp_path)
    assert result.returncode == 0
    build = "compiled" if runtime.COMPILED else "pure Python"
    python = f"{platform.python_implementation()} {platform.python_version()}"
    assert result.stdout == (
        f"spindle {runtime.__version__}, {build} ({python} on {sys.platform})\n"
    )


def test_nothing_to_run_is_a_usage_error(tmp_path: Path) -> None:
    result = spindle(cwd=tmp_path)
    assert result.returncode == 2
    assert "nothing to run" in result.stderr


def test_a_missing_script_is_reported_without_a_traceback(tmp_path: Path) -> None:
    result = spindle("no_such_file.py", cwd=tmp_path)
    assert result.returncode == 1
    assert "cannot run 'no_such_file.py': no such file" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_missing_module_is_reported_without_a_traceback(tmp_path: Path) -> None:
    result = spindle("-m", "no_such_package.module", cwd=tmp_path)
    assert result.returncode == 1
    assert "cannot run module 'no_such_package.module'" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_unknown_option_is_a_usage_error(tmp_path: Path) -> None:
    result = spindle("--frobnicate", "x.py", cwd=tmp_path)
    assert result.returncode == 2
    assert "unrecognized arguments: --frobnicate" in result.stderr


# -- spindle explains itself under asyncio.run() too ----------------------------------------

SEED = Path(__file__).resolve().parent.parent / "examples" / "tasks_not_awaited.py"
# The seed sleeps 10 s of real time; here 0.5 s, so the test takes half a second.
BLOCK = "time.sleep(0.5)"
TIMES = re.compile(r"started at \d\d:\d\d:\d\d\ncall at \d\d:\d\d:\d\d\n")


def write_seed(directory: Path, *, unmodified: bool) -> str:
    """The seed in ``directory``: as shipped (``import spindle as asyncio``) or as its author
    wrote it for asyncio (``import asyncio``), either way blocking for 0.5 s."""
    text = SEED.read_text().replace("time.sleep(10)", BLOCK)
    if unmodified:
        text = text.replace("import spindle as asyncio", "import asyncio")
    directory.joinpath(SEED.name).write_text(text)
    return SEED.name


def start(*command: str, cwd: Path, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        command,
        cwd=cwd,
        env=user_environment(**env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def seed_line(text: str) -> int:
    lines = SEED.read_text().splitlines()
    [number] = [n for n, line in enumerate(lines, 1) if line.strip() == text]
    return number


@pytest.mark.parametrize("unmodified", [True, False], ids=["import-asyncio", "import-spindle"])
def test_the_seed_prints_what_asyncio_prints_and_explains_itself_on_stderr(
    tmp_path: Path, unmodified: bool
) -> None:
    name = write_seed(tmp_path, unmodified=unmodified)
    # All three at once: each blocks for half a second of real time.
    on_spindle = start(sys.executable, "-m", "spindle", name, cwd=tmp_path)
    quiet = start(sys.executable, "-m", "spindle", name, cwd=tmp_path, SPINDLE_DIAGNOSTICS="0")
    on_asyncio = start(sys.executable, name, cwd=tmp_path)
    stdout, stderr = on_spindle.communicate(timeout=30)
    quiet_stdout, quiet_stderr = quiet.communicate(timeout=30)
    asyncio_stdout, asyncio_stderr = on_asyncio.communicate(timeout=30)

    assert TIMES.fullmatch(stdout), stdout
    assert TIMES.fullmatch(quiet_stdout), quiet_stdout
    assert (quiet_stderr, on_spindle.returncode, quiet.returncode) == ("", 0, 0)
    if unmodified:  # the same program on asyncio: the same output, and nothing on stderr
        assert TIMES.fullmatch(asyncio_stdout), asyncio_stdout
        assert (asyncio_stderr, on_asyncio.returncode) == ("", 0)

    # While main() blocks: the live report (task, stack), then the total when it ends.
    block_line = f"{name}:{seed_line('time.sleep(10)')}: {re.escape(BLOCK)}"
    all_lines = stderr.splitlines()
    assert re.fullmatch(
        rf"spindle: main\(\) has been blocking the event loop for 0\.\d s, at {block_line}",
        all_lines[0],
    ), stderr
    [end] = [i for i, line in enumerate(all_lines) if " blocked the event loop for " in line]
    assert f"    {name}:{seed_line('time.sleep(10)')} in main: {BLOCK}" in all_lines[1:end]
    lines = all_lines[end:]
    blocked = re.fullmatch(
        rf"spindle: main\(\) blocked the event loop for (\d\.\d) s at {block_line}", lines[0]
    )
    assert blocked, lines[0]
    assert 0.4 <= float(blocked.group(1)) <= 0.7
    created = seed_line("task1 = asyncio.create_task(")
    waiting = f"waiting at {name}:{seed_line('await asyncio.sleep(delay)')}"
    assert lines[1:4] == [
        "spindle: main() returned while 2 tasks were still pending; they were cancelled:",
        f"  Task-2 say_after(delay=1, what='hello'): created at {name}:{created} in main(), "
        f"{waiting}: await asyncio.sleep(delay)",
        f"  Task-3 say_after(delay=2, what='world'): created at {name}:{created + 3} in main(), "
        f"{waiting}: await asyncio.sleep(delay)",
    ]
    assert lines[4].startswith("spindle: hint: a task runs only while the event loop runs")
    assert len(lines) == 8


def test_asyncio_runs_the_program_on_a_loop_that_reports_to_spindles_runner_hooks(
    script: Path, tmp_path: Path
) -> None:
    result = spindle(str(script), cwd=tmp_path)
    assert json.loads(result.stdout)["loop"] == "spindle.patch.RunnerAwareEventLoop"
