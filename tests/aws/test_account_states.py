"""Accounts as Organizations describes them now: `State` only. A suspended or closing account
is reported, and never assumed into, moved or tagged."""

from __future__ import annotations

import pytest

from tests.aws.support import Aws, run_pass
from tests.simulation.strict import StrictAws

ACME_DEV = "aws+acme-dev@example.com"


@pytest.mark.parametrize("lifecycle", ["SUSPENDED", "PENDING_CLOSURE"])
def test_an_account_not_active_is_reported_and_left_alone(
    aws: Aws, strict: StrictAws, lifecycle: str
) -> None:
    assert run_pass(aws.url, apply=True).converged
    account_id = aws.account_id(ACME_DEV)
    assert "Status" not in aws.accounts()[ACME_DEV]  # AWS is retiring it
    # Drift that a pass would correct in an active account.
    aws.org.tag_resource(ResourceId=account_id, Tags=[{"Key": "environment", "Value": "drifted"}])
    aws.org.move_account(
        AccountId=account_id,
        SourceParentId=aws.unit_id("Clients/Acme"),
        DestinationParentId=aws.root(),
    )
    strict.settings.account_states = {account_id: lifecycle}
    assumed = strict.assumed[account_id]

    result = run_pass(aws.url, apply=True)

    assert result.plan.unreachable == {"acme-dev": f"account is {lifecycle}: not read nor changed"}
    assert [c for c in result.plan.changes if c.account == "acme-dev"] == []
    assert strict.assumed[account_id] == assumed  # never assumed into
    assert aws.tags(account_id)["environment"] == "drifted"
    assert aws.unit_path(account_id) == ""
    assert aws.accounts()[ACME_DEV]["State"] == lifecycle
