"""exclusions.py stays truthful: every entry names a real test, once, with a reason."""

from __future__ import annotations

import unittest

import pytest

from .exclusions import EXCLUDED, KNOWN_FAILURES
from .harness import MODULES, collect


def _names(key: str) -> tuple[str, str, str | None]:
    """``module.Class.test`` (or ``module.Class``) split into its parts."""
    module, class_name, *test = key.split(".")
    return module, class_name, test[0] if test else None


@pytest.mark.parametrize("key", sorted({*EXCLUDED, *KNOWN_FAILURES}))
def test_every_entry_names_a_collected_test(key: str) -> None:
    module, class_name, test = _names(key)
    assert module in MODULES, f"{key}: {module} is not one of the modules the harness runs"
    classes = collect(module)
    assert class_name in classes, f"{key}: {module} has no test class {class_name}"
    if test is not None:
        cls = classes[class_name]
        assert issubclass(cls, unittest.TestCase)
        assert callable(getattr(cls, test, None)), f"{key}: {class_name} has no {test}"


def test_no_test_is_both_excluded_and_a_known_failure() -> None:
    overlap = {
        key for key in KNOWN_FAILURES if key in EXCLUDED or key.rpartition(".")[0] in EXCLUDED
    }
    assert not overlap


def test_every_entry_gives_a_reason() -> None:
    assert all(reason.strip() for reason in [*EXCLUDED.values(), *KNOWN_FAILURES.values()])
