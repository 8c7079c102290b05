"""A pass that ends early is still recorded once: its source's answer, the failed pass, and the
log lines saying why, with no duration observed and the daemon not ready. An invalid revision is
an error the first time, a warning on the passes after; a pass's `pass done` line speaks of
convergence only in apply mode."""

from __future__ import annotations

import logging

import pytest

from reconciler.core.errors import AccessError, SourceError
from reconciler.core.plan import AttachRolePolicy, Outcome, Plan, Status, UpdateAccountTags
from reconciler.core.state import OrgState
from reconciler.daemon import Daemon, Settings, _log_pass
from reconciler.metrics import PassReport, SourceStatus
from reconciler.reconcile import Mode, Phase, Result
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


def _invalid_lines(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str]]:
    return [
        (record.levelname, record.getMessage())
        for record in caplog.records
        if "is invalid" in record.getMessage()
    ]


def test_an_invalid_revision_is_an_error_once_then_a_warning_while_it_stays_the_newest(
    caplog: pytest.LogCaptureFixture,
) -> None:
    b2 = Revision("b2", INVALID, "accounts.yaml@b2")
    b3 = Revision("b3", INVALID, "accounts.yaml@b3")
    daemon = Daemon(
        Settings(), _Source(b2, b2, SourceError("git fetch timed out after 120 s"), b2, b3, b3)
    )
    for _ in range(6):
        assert daemon.run_pass() is True

    assert _invalid_lines(caplog) == [
        ("ERROR", "revision b2 is invalid and is not applied; still enforcing none"),
        ("WARNING", "revision b2 is invalid and is not applied; still enforcing none"),
        # a failed fetch in between: b2 is still the newest, and already reported
        ("WARNING", "revision b2 is invalid and is not applied; still enforcing none"),
        ("ERROR", "revision b3 is invalid and is not applied; still enforcing none"),
        ("WARNING", "revision b3 is invalid and is not applied; still enforcing none"),
    ]
    assert _sample(daemon, "reconciler_source_valid") == 0


def test_no_valid_revision_yet_is_an_error_once_then_a_reminder(
    caplog: pytest.LogCaptureFixture,
) -> None:
    b2 = Revision("b2", INVALID, "accounts.yaml@b2")
    daemon = Daemon(Settings(), _Source(b2, b2, b2))
    for _ in range(3):
        assert daemon.run_pass() is True

    assert [
        record.levelname
        for record in caplog.records
        if record.getMessage() == "no valid revision yet: nothing is reconciled"
    ] == ["ERROR", "WARNING", "WARNING"]


def _pass_done(caplog: pytest.LogCaptureFixture) -> dict[str, object]:
    (record,) = [r for r in caplog.records if r.getMessage().startswith("pass done")]
    assert record.getMessage() == "pass done: Plan: 0 to create, 2 to update, 0 to delete."
    fields: dict[str, object] = record.fields  # type: ignore[attr-defined]
    return fields


def _result_report(mode: Mode, outcomes: tuple[Outcome, ...] = ()) -> PassReport:
    plan = Plan(changes=(ROLE, TAGS))
    live = OrgState(units={}, accounts=(), groups={})
    return PassReport(
        mode,
        source=SourceStatus.VALID,
        revision="r1",
        in_force="r1",
        result=Result(plan=plan, live=live, outcomes=outcomes, durations={Phase.READ: 1.0}),
    )


ROLE = AttachRolePolicy("acme-dev", "111111111111", "ReadOnlyAccessRole", "arn:p/ReadOnly")
TAGS = UpdateAccountTags("acme-prod", "222222222222", {"env": "x"}, {"env": "prod"})


def test_in_plan_mode_pass_done_counts_the_changes_and_says_nothing_of_convergence(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    _log_pass(_result_report(Mode.PLAN))

    assert _pass_done(caplog) == {
        "mode": Mode.PLAN,
        "changes": 2,
        "failed": 0,
        "findings": 0,
        "seconds": 1.0,
    }
    drift = [r.getMessage() for r in caplog.records if r.getMessage().startswith("drift: ")]
    assert drift == [
        "drift: ~ role acme-dev/ReadOnlyAccessRole: attach arn:p/ReadOnly",
        "drift: ~ tag acme-prod: env 'x' -> 'prod'",
    ]


def test_in_apply_mode_pass_done_says_whether_the_pass_converged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    failed = Outcome(TAGS, Status.FAILED, AccessError("AccessDenied: organizations:TagResource"))
    _log_pass(_result_report(Mode.APPLY, (Outcome(ROLE, Status.APPLIED), failed)))

    assert _pass_done(caplog) == {
        "mode": Mode.APPLY,
        "converged": False,
        "changes": 2,
        "failed": 1,
        "findings": 0,
        "seconds": 1.0,
    }
