"""spindle's pytest plugin, run as users run it: pytest in a subprocess on a test file, with the
session's other plugins (pytest-asyncio, anyio's) active."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.children import user_environment

pytestmark = pytest.mark.timeout(120)


def pytest_run(tmp_path: Path, source: str, *options: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_subject.py").write_text(textwrap.dedent(source))
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rA", *options],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=user_environment(without=("PYTEST_",)),
        timeout=100,
        check=False,
    )


def outcomes(result: subprocess.CompletedProcess[str]) -> dict[str, str]:
    """test name -> PASSED / FAILED / ERROR, from the -rA summary."""
    found: dict[str, str] = {}
    for outcome, name in re.findall(r"^(PASSED|FAILED|ERROR) \S+::(\w+)", result.stdout, re.M):
        found.setdefault(name, outcome)
        if outcome != "PASSED":
            found[name] = outcome
    return found


ASYNC_FIXTURES = """
    import contextvars
    import pytest
    import spindle

    events = []
    who = contextvars.ContextVar("who", default="nobody")

    @pytest.fixture
    async def answer():
        await spindle.sleep(0)
        return 42

    @pytest.fixture
    async def resource(answer):
        events.append(("open", spindle.get_running_loop().time()))
        who.set("the fixture")
        yield answer + 1
        await spindle.sleep(1)
        events.append(("closed", spindle.get_running_loop().time()))

    @pytest.mark.spindle(virtual_clock=True)
    async def test_uses_async_fixtures(resource, answer):
        assert (resource, answer) == (43, 42)
        assert who.get() == "the fixture"       # one context for fixtures and test
        await spindle.sleep(5)
        events.append(("test", spindle.get_running_loop().time()))

    def test_the_teardown_ran_on_the_same_loop_after_the_test():
        assert events == [("open", 0.0), ("test", 5.0), ("closed", 6.0)]
"""


def test_async_fixtures_run_on_the_tests_loop_with_their_teardown(tmp_path: Path) -> None:
    result = pytest_run(tmp_path, ASYNC_FIXTURES)
    assert result.returncode == 0, result.stdout + result.stderr
    assert outcomes(result) == {
        "test_uses_async_fixtures": "PASSED",
        "test_the_teardown_ran_on_the_same_loop_after_the_test": "PASSED",
    }


NEIGHBOURS = """
    import asyncio
    import pytest
    import pytest_asyncio
    import spindle

    def loop_kind():
        module = type(asyncio.get_running_loop()).__module__
        return "spindle" if module.startswith("spindle") else "asyncio"

    @pytest.fixture
    async def spindle_side():
        return loop_kind()

    @pytest_asyncio.fixture
    async def asyncio_side():
        return loop_kind()

    @pytest.fixture
    def anyio_backend():
        return "asyncio"

    @pytest.fixture
    async def anyio_side():
        return loop_kind()

    @pytest.mark.spindle
    async def test_spindle(spindle_side):
        assert (spindle_side, loop_kind()) == ("spindle", "spindle")

    @pytest.mark.asyncio
    async def test_pytest_asyncio(asyncio_side):
        assert (asyncio_side, loop_kind()) == ("asyncio", "asyncio")

    @pytest.mark.anyio
    async def test_anyio(anyio_side):
        assert (anyio_side, loop_kind()) == ("asyncio", "asyncio")
"""


@pytest.mark.parametrize("mode", ["strict", "auto"])
def test_pytest_asyncio_and_anyio_in_the_same_session_leave_spindle_its_tests(
    tmp_path: Path, mode: str
) -> None:
    result = pytest_run(
        tmp_path,
        NEIGHBOURS,
        "-o",
        f"asyncio_mode={mode}",
        "-o",
        "asyncio_default_fixture_loop_scope=function",
    )
    assert outcomes(result) == {
        "test_spindle": "PASSED",
        "test_pytest_asyncio": "PASSED",
        "test_anyio": "PASSED",
    }, result.stdout + result.stderr
    assert result.returncode == 0


LEAKS = """
    import pytest
    import spindle

    async def forever():
        await spindle.sleep(3600)  # waits-for-ever

    async def fail():
        raise ValueError("nobody asked")  # raises

    @pytest.fixture
    async def background():
        spindle.create_task(forever())  # fixture-creates
        yield

    @pytest.mark.spindle(virtual_clock=True)
    async def test_leaves_a_task_behind():
        spindle.create_task(forever())  # test-creates
        await spindle.sleep(0)

    @pytest.mark.spindle(virtual_clock=True)
    async def test_leaves_an_exception_nobody_retrieved():
        spindle.create_task(fail())  # creates-failing
        await spindle.sleep(0)

    @pytest.mark.spindle(virtual_clock=True)
    async def test_fixture_leaves_a_task_behind(background):
        await spindle.sleep(0)
"""


def _line(source: str, marker: str) -> int:
    lines = textwrap.dedent(source).splitlines()
    return next(n for n, line in enumerate(lines, 1) if line.endswith(f"# {marker}"))


def test_leftover_tasks_and_unretrieved_exceptions_fail_with_spindles_report(
    tmp_path: Path,
) -> None:
    result = pytest_run(tmp_path, LEAKS)
    out = result.stdout
    assert outcomes(result) == {
        "test_leaves_a_task_behind": "FAILED",
        "test_leaves_an_exception_nobody_retrieved": "ERROR",
        "test_fixture_leaves_a_task_behind": "ERROR",
    }, out
    waiting = (
        f"waiting at test_subject.py:{_line(LEAKS, 'waits-for-ever')}: await spindle.sleep(3600)"
    )
    assert (
        "spindle: test_leaves_a_task_behind() returned while 1 task was still pending; it was "
        "cancelled:\n"
        f"  Task-2 forever(): created at test_subject.py:{_line(LEAKS, 'test-creates')} in "
        f"test_leaves_a_task_behind(), {waiting}"
    ) in out
    assert (
        "spindle: 1 task was still pending after the test's fixtures were cleaned up; it was "
        "cancelled:\n"
        "  Task-" in out
    )
    assert f"created at test_subject.py:{_line(LEAKS, 'fixture-creates')} in background()" in out
    assert "spindle: the event loop's exception handler was called 1 time during the test:" in out
    assert "  Task exception was never retrieved" in out
    assert f"created at test_subject.py:{_line(LEAKS, 'creates-failing')}" in out
    assert 'raise ValueError("nobody asked")  # raises' in out
    assert "    ValueError: nobody asked" in out
    assert "{'message'" not in out  # no raw context dict


def test_a_wider_scoped_async_fixture_is_refused_with_the_reason(tmp_path: Path) -> None:
    source = """
        import pytest

        @pytest.fixture(scope="module")
        async def shared():
            return 1

        @pytest.mark.spindle
        async def test_uses_it(shared):
            pass
    """
    result = pytest_run(tmp_path, source)
    assert outcomes(result) == {"test_uses_it": "ERROR"}
    assert (
        "async fixture 'shared' is module-scoped: spindle runs async fixtures on each test's own "
        "loop, so they must be function-scoped"
    ) in result.stdout
