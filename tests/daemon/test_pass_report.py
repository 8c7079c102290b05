"""A pass that ends early is still recorded once: its source's answer, the failed pass, and the
log lines saying why, with no duration observed and the daemon not ready."""

from __future__ import annotations

import logging

import pytest

from reconciler.core.errors import SourceError
from reconciler.daemon import Daemon, Settings
from reconciler.source import Revision
from tests.daemon.support import EXAMPLE_TEXT

INVALID = EXAMPLE_TEXT.replace("email: aws+acme-dev@example.com", "email: nope")


class _Source:
    """Answers each fetch with the next of `answers`: a revision, or an exception raised."""

    def __init__(self, *answers: Revision | Exception) -> None:
        self.answers = list(answers)

    def fetch(self) -> Revision:
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def describe(self) -> str:
        return "test"

    def cancel(self) -> None:
        """Nothing runs in the background."""


def _sample(daemon: Daemon, name: str, **labels: str) -> float | None:
    return daemon.metrics.registry.get_sample_value(name, labels)


def _pass(answer: Revision | Exception) -> Daemon:
    daemon = Daemon(Settings(), _Source(answer))
    assert daemon.run_pass() is True
    return daemon


def _messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.levelno >= logging.ERROR]


def _nothing_else_recorded(daemon: Daemon) -> None:
    assert _sample(daemon, "reconciler_reconcile_total", result="error") == 1
    assert _sample(daemon, "reconciler_reconcile_total", result="success") == 0
    assert _sample(daemon, "reconciler_reconcile_duration_seconds_count", phase="total") == 0
    assert _sample(daemon, "reconciler_last_success_timestamp_seconds") == 0
    assert not daemon.ready.is_set()


def test_an_unavailable_source_is_counted_and_the_pass_fails(
    caplog: pytest.LogCaptureFixture,
) -> None:
    daemon = _pass(SourceError("git fetch timed out after 120 s"))

    assert _sample(daemon, "reconciler_source_fetch_errors_total") == 1
    assert _sample(daemon, "reconciler_source_valid") == 0
    _nothing_else_recorded(daemon)
    assert _messages(caplog) == [
        "source unavailable, keeping the revision in force: git fetch timed out after 120 s",
        "no valid revision yet: nothing is reconciled",
    ]


@pytest.mark.parametrize(
    ("revision", "errors"),
    [
        (Revision("b2", INVALID, "accounts.yaml@b2"), None),
        (
            Revision("b2", "", "accounts.yaml@b2", "the head commit is not signed"),
            ["the head commit is not signed"],
        ),
    ],
    ids=["invalid", "refused"],
)
def test_a_revision_not_applied_is_reported_and_the_pass_fails(
    caplog: pytest.LogCaptureFixture, revision: Revision, errors: list[str] | None
) -> None:
    daemon = _pass(revision)

    assert _sample(daemon, "reconciler_source_valid") == 0
    assert _sample(daemon, "reconciler_source_fetch_errors_total") == 0
    _nothing_else_recorded(daemon)
    assert _messages(caplog) == [
        "revision b2 is invalid and is not applied; still enforcing none",
        "no valid revision yet: nothing is reconciled",
    ]
    fields = caplog.records[0].fields  # type: ignore[attr-defined]
    assert fields["invalid_revision"] == "b2"
    if errors is not None:
        assert fields["errors"] == errors
    else:
        assert any("nope" in error for error in fields["errors"])


def test_a_bug_in_a_pass_is_logged_with_its_traceback_and_counted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    daemon = _pass(RuntimeError("a bug"))

    _nothing_else_recorded(daemon)
    [record] = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert record.getMessage() == "pass failed unexpectedly"
    assert record.exc_info is not None and isinstance(record.exc_info[1], RuntimeError)
