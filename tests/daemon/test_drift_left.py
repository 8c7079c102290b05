"""After a pass, the drift metrics show the drift it LEFT, and a pass fails only as a whole.

`reconciler_drift_resources{kind, change}` and `reconciler_account_drift_resources{account}`:
in apply mode, the changes found and not made (failed, skipped, withheld, all of a refused
plan); in plan mode, every change found. One failed change does not fail the pass: it is counted
by `reconciler_changes_applied_total` and the pass is a success that advances
`reconciler_last_success_timestamp_seconds`.

The tests record plain `PassReport` values and read the registry, or the exposition Prometheus
scrapes; the last one runs the sandbox daemon against the simulator.
"""

from __future__ import annotations

from pathlib import Path

from prometheus_client import generate_latest

from reconciler.core.errors import AccessError, NotAttemptedError, SafetyError
from reconciler.core.plan import (
    AttachRolePolicy,
    Change,
    Outcome,
    Plan,
    Status,
    UpdateAccountTags,
    Withheld,
)
from reconciler.core.scope import EVERYTHING, Scope
from reconciler.core.state import OrgState
from reconciler.metrics import Metrics, PassReport, SourceStatus
from reconciler.reconcile import Mode, Result
from tests.daemon.support import Daemon

ACCOUNTS = ("acme-dev", "acme-prod", "shared")

ROLE_DEV = AttachRolePolicy("acme-dev", "111111111111", "ReadOnlyAccessRole", "arn:p/ReadOnly")
ROLE_PROD = AttachRolePolicy("acme-prod", "222222222222", "AdminRole", "arn:p/Admin")
TAGS_PROD = UpdateAccountTags("acme-prod", "222222222222", {"env": "x"}, {"env": "prod"})
TAGS_SHARED = UpdateAccountTags("shared", "333333333333", {}, {"env": "shared"})


ROLE_FAILED = {"kind": "role", "change": "update", "result": "failed"}
ROLE_APPLIED = {"kind": "role", "change": "update", "result": "applied"}
TAG_APPLIED = {"kind": "tag", "change": "update", "result": "applied"}


def _report(
    mode: Mode,
    changes: tuple[Change, ...],
    outcomes: tuple[Outcome, ...] = (),
    *,
    withheld: tuple[Withheld, ...] = (),
    unreachable: dict[str, str] | None = None,
    refused: SafetyError | None = None,
    scope: Scope = EVERYTHING,
) -> PassReport:
    plan = Plan(changes=changes, withheld=withheld, unreachable=unreachable or {})
    live = OrgState(units={}, accounts=(), groups={})
    return PassReport(
        mode,
        source=SourceStatus.VALID,
        revision="r1",
        in_force="r1",
        accounts=ACCOUNTS,
        result=Result(plan=plan, live=live, outcomes=outcomes, refused=refused, scope=scope),
    )


def _recorded(*reports: PassReport) -> Metrics:
    metrics = Metrics()
    for report in reports:
        metrics.record(report)
    return metrics


def _value(metrics: Metrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def _drift(metrics: Metrics) -> dict[tuple[str, str], float]:
    """The non-zero series of reconciler_drift_resources, by (kind, change)."""
    (family,) = [f for f in metrics.registry.collect() if f.name == "reconciler_drift_resources"]
    return {(s.labels["kind"], s.labels["change"]): s.value for s in family.samples if s.value != 0}


def _account_drift(metrics: Metrics) -> dict[str, float]:
    (family,) = [
        f for f in metrics.registry.collect() if f.name == "reconciler_account_drift_resources"
    ]
    return {s.labels["account"]: s.value for s in family.samples}


def _applied(change: Change) -> Outcome:
    return Outcome(change, Status.APPLIED)


def _failed(change: Change) -> Outcome:
    return Outcome(change, Status.FAILED, AccessError("AccessDenied: iam:AttachRolePolicy"))


def test_apply_leaves_only_the_failed_change_as_drift() -> None:
    metrics = _recorded(
        _report(
            Mode.APPLY,
            (ROLE_DEV, ROLE_PROD, TAGS_PROD),
            (_applied(ROLE_DEV), _failed(ROLE_PROD), _applied(TAGS_PROD)),
        )
    )

    assert _drift(metrics) == {("role", "update"): 1.0}
    assert _account_drift(metrics) == {"acme-dev": 0.0, "acme-prod": 1.0, "shared": 0.0}
    assert _value(metrics, "reconciler_changes_applied_total", **ROLE_FAILED) == 1
    assert _value(metrics, "reconciler_changes_applied_total", **ROLE_APPLIED) == 1
    assert _value(metrics, "reconciler_changes_applied_total", **TAG_APPLIED) == 1
    failures = {"kind": "role", "error_class": "AccessError"}
    assert _value(metrics, "reconciler_change_failures_total", **failures) == 1


def test_a_pass_with_a_failed_change_is_a_success() -> None:
    metrics = _recorded(
        _report(Mode.APPLY, (ROLE_DEV, ROLE_PROD), (_applied(ROLE_DEV), _failed(ROLE_PROD)))
    )

    assert _value(metrics, "reconciler_reconcile_total", result="success") == 1
    assert _value(metrics, "reconciler_reconcile_total", result="error") == 0
    last_success = _value(metrics, "reconciler_last_success_timestamp_seconds")
    assert last_success is not None and last_success > 0


def test_apply_that_makes_every_change_leaves_no_drift() -> None:
    found = (ROLE_DEV, ROLE_PROD, TAGS_PROD)
    metrics = _recorded(_report(Mode.APPLY, found, tuple(_applied(c) for c in found)))

    assert _drift(metrics) == {}
    assert _account_drift(metrics) == {"acme-dev": 0.0, "acme-prod": 0.0, "shared": 0.0}


def test_drift_fixed_by_a_pass_is_gone_at_its_end_not_a_pass_later() -> None:
    """The drift a first plan-only view showed is replaced by what the apply pass left."""
    found = (ROLE_DEV, ROLE_PROD, TAGS_PROD)
    metrics = _recorded(
        _report(Mode.APPLY, found, (_failed(ROLE_DEV), _failed(ROLE_PROD), _failed(TAGS_PROD))),
        _report(Mode.APPLY, found, tuple(_applied(c) for c in found)),
    )

    assert _drift(metrics) == {}


def test_skipped_and_never_attempted_changes_are_left() -> None:
    skipped = Outcome(TAGS_PROD, Status.SKIPPED, NotAttemptedError("account acme-prod blocked"))
    # ROLE_PROD has no outcome at all: the pass stopped before it.
    metrics = _recorded(
        _report(Mode.APPLY, (ROLE_DEV, ROLE_PROD, TAGS_PROD), (_applied(ROLE_DEV), skipped))
    )

    assert _drift(metrics) == {("role", "update"): 1.0, ("tag", "update"): 1.0}
    assert _account_drift(metrics) == {"acme-dev": 0.0, "acme-prod": 2.0, "shared": 0.0}


def test_withheld_changes_are_left_in_apply_mode() -> None:
    withheld = Withheld(TAGS_SHARED, "shared is a protected account")
    metrics = _recorded(
        _report(Mode.APPLY, (ROLE_DEV,), (_applied(ROLE_DEV),), withheld=(withheld,))
    )

    assert _drift(metrics) == {("tag", "update"): 1.0}
    assert _account_drift(metrics) == {"acme-dev": 0.0, "acme-prod": 0.0, "shared": 1.0}


def test_a_refused_plan_leaves_every_change_and_fails_the_pass() -> None:
    refused = SafetyError("5 changes exceed policy.max_changes (2)")
    withheld = Withheld(TAGS_SHARED, "shared is a protected account")
    metrics = _recorded(
        _report(Mode.APPLY, (ROLE_DEV, ROLE_PROD), withheld=(withheld,), refused=refused)
    )

    assert _drift(metrics) == {("role", "update"): 2.0, ("tag", "update"): 1.0}
    assert _value(metrics, "reconciler_reconcile_total", result="error") == 1
    assert _value(metrics, "reconciler_reconcile_total", result="success") == 0
    assert _value(metrics, "reconciler_last_success_timestamp_seconds") == 0


def test_plan_mode_shows_every_change_found_withheld_included() -> None:
    withheld = Withheld(TAGS_SHARED, "shared is a protected account")
    metrics = _recorded(_report(Mode.PLAN, (ROLE_DEV, ROLE_PROD, TAGS_PROD), withheld=(withheld,)))

    assert _drift(metrics) == {("role", "update"): 2.0, ("tag", "update"): 2.0}
    assert _account_drift(metrics) == {"acme-dev": 1.0, "acme-prod": 2.0, "shared": 1.0}
    assert _value(metrics, "reconciler_reconcile_total", result="success") == 1


def test_an_unreachable_account_has_no_drift_series_until_it_is_read_again() -> None:
    """Its drift is unknown: the series goes rather than show a stale or a made-up number."""
    metrics = _recorded(
        _report(Mode.APPLY, (ROLE_PROD,), (_failed(ROLE_PROD),)),
        _report(Mode.APPLY, (), unreachable={"acme-prod": "AccessDenied on sts:AssumeRole"}),
    )
    assert _account_drift(metrics) == {"acme-dev": 0.0, "shared": 0.0}
    assert _value(metrics, "reconciler_account_reachable", account="acme-prod") == 0

    metrics.record(_report(Mode.APPLY, (ROLE_PROD,), (_applied(ROLE_PROD),)))
    assert _account_drift(metrics) == {"acme-dev": 0.0, "acme-prod": 0.0, "shared": 0.0}


def test_the_exposition_has_no_created_series() -> None:
    found = (ROLE_DEV, ROLE_PROD)
    metrics = _recorded(_report(Mode.APPLY, found, (_applied(ROLE_DEV), _failed(ROLE_PROD))))
    metrics.count_api_call("iam", "AttachRolePolicy", "AccessDenied")

    text = generate_latest(metrics.registry).decode()

    assert "reconciler_changes_applied_total{" in text
    assert "reconciler_reconcile_duration_seconds_count{" in text
    assert "_created" not in text


def test_the_sandbox_leaves_no_drift_after_its_first_pass(tmp_path: Path) -> None:
    """The seeded drift is repaired by the first pass, and the metrics say so at its end."""
    daemon = Daemon(["sandbox", "--interval", "3600"], None, tmp_path)
    try:
        daemon.wait_for_passes(1, timeout=90)
        # The seed also sends the AWS change events of its drift; one may start a focused pass
        # right after the first (nothing is left for it to do), but no scheduled pass runs.
        events = daemon.metric("reconciler_triggers_total", source="event", result="accepted")
        assert daemon.passes() - 1 <= (events or 0.0)
        _, text = daemon.get("/metrics")
        applied = sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith("reconciler_changes_applied_total{") and 'result="applied"' in line
        )
        assert applied >= 3  # the seed: a role without MFA, a misplaced account, a stray member
        assert daemon.total_drift() == 0
        account_drift = [
            line for line in text.splitlines() if line.startswith("reconciler_account_drift")
        ]
        assert account_drift
        assert all(line.endswith(" 0.0") for line in account_drift), account_drift
        assert "_created" not in text
    finally:
        code, _ = daemon.stop()
    assert code == 0


# --- passes over part of the organization --------------------------------------------------------


def test_a_focused_pass_keeps_the_drift_left_outside_its_scope() -> None:
    """Plan mode: a full pass finds three changes; a pass over acme-prod's roles, which finds
    its role change gone, leaves the two tag changes it did not read."""
    full = _report(Mode.PLAN, (ROLE_PROD, TAGS_PROD, TAGS_SHARED))
    roles = _report(Mode.PLAN, (), scope=Scope(roles=frozenset({"acme-prod"})))
    metrics = _recorded(full, roles)

    assert _drift(metrics) == {("tag", "update"): 2.0}
    assert _account_drift(metrics) == {"acme-dev": 0.0, "acme-prod": 1.0, "shared": 1.0}


def test_a_focused_pass_replaces_the_drift_inside_its_scope() -> None:
    """A pass over acme-prod's unit and tags finds its tags drifted still and the shared
    account's tag change is kept: two; then a full pass that finds nothing: none."""
    full = _report(Mode.PLAN, (ROLE_DEV, TAGS_PROD, TAGS_SHARED))
    placement = _report(Mode.PLAN, (TAGS_PROD,), scope=Scope(placement=frozenset({"acme-prod"})))
    metrics = _recorded(full, placement)
    assert _drift(metrics) == {("role", "update"): 1.0, ("tag", "update"): 2.0}
    assert _account_drift(metrics) == {"acme-dev": 1.0, "acme-prod": 1.0, "shared": 1.0}

    metrics.record(_report(Mode.PLAN, ()))
    assert _drift(metrics) == {}
    assert _account_drift(metrics) == {"acme-dev": 0.0, "acme-prod": 0.0, "shared": 0.0}


def test_a_focused_apply_pass_counts_what_it_made_and_keeps_what_it_did_not_read() -> None:
    left = _report(Mode.APPLY, (ROLE_PROD, TAGS_SHARED), (_failed(ROLE_PROD), _failed(TAGS_SHARED)))
    fixed = _report(
        Mode.APPLY,
        (ROLE_PROD,),
        (_applied(ROLE_PROD),),
        scope=Scope(roles=frozenset({"acme-prod"})),
    )
    metrics = _recorded(left, fixed)

    assert _drift(metrics) == {("tag", "update"): 1.0}
    assert _account_drift(metrics) == {"acme-dev": 0.0, "acme-prod": 0.0, "shared": 1.0}
    assert _value(metrics, "reconciler_changes_applied_total", **ROLE_APPLIED) == 1
