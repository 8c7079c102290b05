"""An access failure on one change of an account (AWS refused it: AccessDenied) leaves the rest of
that account's changes unattempted in this pass, and every other account goes on."""

from __future__ import annotations

from typing import Any

from reconciler.core import plan
from tests.aws.support import Aws, run_pass
from tests.simulation.faults import Fault, FaultyServer

ACME_DEV = "aws+acme-dev@example.com"
ACME_PROD = "aws+acme-prod@example.com"
ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
READ_ONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"


def _drift(aws: Aws, account_id: str) -> Any:
    """A tag changed and the role's policy detached by hand; the account's IAM client."""
    aws.org.tag_resource(ResourceId=account_id, Tags=[{"Key": "environment", "Value": "drifted"}])
    iam = aws.client("iam", account_id)
    iam.detach_role_policy(RoleName="AccountAccessRole", PolicyArn=ADMIN)
    return iam


def _attached(iam: Any) -> list[str]:
    answer = iam.list_attached_role_policies(RoleName="AccountAccessRole")
    return [p["PolicyArn"] for p in answer["AttachedPolicies"]]


def test_access_denied_on_one_change_leaves_the_rest_of_that_account_unattempted(
    aws: Aws, simulator: FaultyServer
) -> None:
    assert run_pass(aws.url, apply=True).converged
    dev, prod = aws.account_id(ACME_DEV), aws.account_id(ACME_PROD)
    dev_iam, prod_iam = _drift(aws, dev), _drift(aws, prod)
    # A second change after the failing one in acme-dev's lane: each is left unattempted.
    dev_iam.detach_role_policy(RoleName="ReadOnlyAccessRole", PolicyArn=READ_ONLY)
    simulator.injector.faults = [
        Fault(
            "organizations:TagResource",
            code="AccessDeniedException",
            body_contains=dev,
            message="not authorized to perform organizations:TagResource",
        )
    ]

    result = run_pass(aws.url, apply=True)

    assert simulator.injector.injected["organizations:TagResource"] == 1  # never tried again
    outcomes = {
        (o.change.line(), o.status)
        for o in result.outcomes
        if o.change.account in ("acme-dev", "acme-prod")
    }
    assert outcomes == {
        ("~ tag acme-dev: environment 'drifted' -> 'development'", plan.Status.FAILED),
        (f"~ role acme-dev/AccountAccessRole: attach {ADMIN}", plan.Status.SKIPPED),
        (f"~ role acme-dev/ReadOnlyAccessRole: attach {READ_ONLY}", plan.Status.SKIPPED),
        ("~ tag acme-prod: environment 'drifted' -> 'production'", plan.Status.APPLIED),
        (f"~ role acme-prod/AccountAccessRole: attach {ADMIN}", plan.Status.APPLIED),
    }
    skipped = [o for o in result.outcomes if o.status == plan.Status.SKIPPED]
    assert len(skipped) == 2
    for outcome in skipped:
        assert outcome.reason.startswith("not attempted: ")
        assert "not authorized to perform organizations:TagResource" in outcome.reason
    # In AWS: acme-dev is left as it was, acme-prod is corrected.
    assert aws.tags(dev)["environment"] == "drifted"
    assert _attached(dev_iam) == []
    assert aws.tags(prod)["environment"] == "production"
    assert _attached(prod_iam) == [ADMIN]
