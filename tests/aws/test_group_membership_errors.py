"""A member that cannot be added says which of the two is missing: the user or the group."""

from __future__ import annotations

from reconciler.core import plan
from reconciler.metrics import Metrics, PassReport
from reconciler.reconcile import Mode
from tests.aws.support import EXAMPLE_TEXT, Aws, run_pass
from tests.simulation.faults import Fault, FaultyServer


def _add_member_outcomes(result: object) -> list[plan.Outcome]:
    outcomes = getattr(result, "outcomes", ())
    return [o for o in outcomes if isinstance(o.change, plan.AddMember)]


def test_a_user_that_does_not_exist_is_named(aws: Aws) -> None:
    text = EXAMPLE_TEXT.replace("users: [james, alice]", "users: [james, alice, zed]")
    assert text != EXAMPLE_TEXT

    result = run_pass(aws.url, text, apply=True)

    [zed] = [o for o in _add_member_outcomes(result) if o.change.target.endswith("/zed")]
    assert zed.status == plan.Status.FAILED
    assert "NoSuchEntity: The user with name zed cannot be found." in zed.reason
    assert "user zed does not exist in the source account 123456789012" in zed.reason
    assert zed.error_class == "NotFoundError"  # AWS answered NoSuchEntity

    metrics = Metrics()
    metrics.record(PassReport(Mode.APPLY, result=result, accounts=("acme-dev",)))
    failures = metrics.registry.get_sample_value(
        "reconciler_change_failures_total",
        {"kind": "membership", "error_class": "NotFoundError"},
    )
    assert failures == 1


def test_a_group_that_does_not_exist_is_named(aws: Aws, simulator: FaultyServer) -> None:
    message = "The group with name AcmeDevelopers cannot be found."
    simulator.injector.faults = [
        Fault(
            "iam:AddUserToGroup",
            code="NoSuchEntity",
            status=404,
            message=message,
            body_contains="GroupName=AcmeDevelopers",
        )
    ]

    result = run_pass(aws.url, apply=True)

    failed = [o for o in _add_member_outcomes(result) if o.change.target.startswith("AcmeDev")]
    assert failed and all(o.status == plan.Status.FAILED for o in failed)
    for outcome in failed:
        assert message in outcome.reason
        assert "the user exists; group AcmeDevelopers does not" in outcome.reason
