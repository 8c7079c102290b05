"""Shared fixtures for the document tests: the minimal valid document and ways to break it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from reconciler.core import load
from reconciler.core.errors import SpecError, SpecIssue

FIXTURES = Path(__file__).parents[1] / "fixtures"
FILENAME = "accounts.yaml"


@pytest.fixture
def minimal() -> str:
    """tests/fixtures/minimal.yaml, valid: every rule test changes one thing in it."""
    return (FIXTURES / "minimal.yaml").read_text(encoding="utf-8")


@pytest.fixture
def variant(minimal: str) -> Callable[..., str]:
    """The minimal document with each `old` text replaced by `new`, where `old` occurs once."""

    def change(*replacements: tuple[str, str]) -> str:
        text = minimal
        for old, new in replacements:
            assert text.count(old) == 1, f"{old!r} must occur exactly once in minimal.yaml"
            text = text.replace(old, new)
        return text

    return change


@pytest.fixture
def only_issue() -> Callable[[str], SpecIssue]:
    """Parse a document that must fail with exactly one problem, and return that problem."""

    def parse(text: str) -> SpecIssue:
        with pytest.raises(SpecError) as caught:
            load.parse_spec(text, FILENAME)
        issues = caught.value.issues
        assert len(issues) == 1, "\n".join(str(issue) for issue in issues)
        assert issues[0].file == FILENAME
        return issues[0]

    return parse
