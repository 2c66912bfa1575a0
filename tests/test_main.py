"""``python -m spindle``: unmodified asyncio programs, run in real subprocesses."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

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
