"""spindle's API behaves as asyncio's, in combination: the differential property test.

Random programs mixing tasks, cancellations, timeouts, exceptions, gather/wait/wait_for/
shield/as_completed, TaskGroups and every synchronisation object (``programs.py``) run on
asyncio and on spindle (``compare.py``); their outcomes must be equal.  CI runs a fixed,
derandomized budget (the "ci" profile).  To search harder:

    SPINDLE_DIFFERENTIAL=explore SPINDLE_DIFFERENTIAL_EXAMPLES=5000 \\
        .venv/bin/python -m pytest tests/differential/test_differential.py

Every failure hypothesis finds is shrunk; paste the program it prints into
``test_regressions.py`` with a line saying what differed, then fix spindle.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings

from tests.differential.compare import check_agreement
from tests.differential.programs import Program, programs

_CHECKS = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]
settings.register_profile(
    "ci", max_examples=800, derandomize=True, database=None, deadline=None,
    suppress_health_check=_CHECKS, print_blob=False,
)
settings.register_profile(
    "explore", max_examples=int(os.environ.get("SPINDLE_DIFFERENTIAL_EXAMPLES", "2000")),
    deadline=None, database=None, suppress_health_check=_CHECKS,
)
_PROFILE = settings.get_profile(os.environ.get("SPINDLE_DIFFERENTIAL", "ci"))


@pytest.mark.timeout(900)
@_PROFILE
@given(programs())
def test_spindle_api_agrees_with_asyncio(program: Program) -> None:
    check_agreement(program)
