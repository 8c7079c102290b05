"""Existing resources the document declares with `adopt` are brought under management, not
recreated."""

from __future__ import annotations

import json

from reconciler.core.plan import CreateAccount, CreateGroup, CreateRole, MarkRole
from tests.aws.support import Aws, run_pass
from tests.simulation.strict import StrictAws

DOCUMENT = """
organization:
  management_account_id: "123456789012"
  units: [{name: Legacy}]
access:
  roles:
    - name: AccountAccessRole
      policies: [arn:aws:iam::aws:policy/AdministratorAccess]
      adopt: true
accounts:
  - name: legacy
    id: "{legacy_id}"
    email: legacy@example.com
    unit: Legacy
    roles: [AccountAccessRole]
groups:
  - name: Operators
    adopt: true
    users: [alice]
    grants: [{account: legacy, role: AccountAccessRole}]
"""


def _existing(aws: Aws) -> tuple[str, str, str]:
    """An account, a role in it and a group, all made by hand without reconciler's marker."""
    account_id = aws.create_account("legacy@example.com", "Legacy Inc")
    iam = aws.client("iam", account_id)
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    role = iam.create_role(RoleName="AccountAccessRole", AssumeRolePolicyDocument=json.dumps(trust))
    group = aws.iam.create_group(GroupName="Operators")
    return account_id, role["Role"]["RoleId"], group["Group"]["GroupId"]


def test_account_role_and_group_are_adopted_in_place(aws: Aws, strict: StrictAws) -> None:
    account_id, role_id, group_id = _existing(aws)
    strict.catch_up()  # made long before reconciler meets them
    document = DOCUMENT.replace("{legacy_id}", account_id)

    planned = run_pass(aws.url, document, apply=False).plan
    types = {type(c) for c in planned.changes}
    assert CreateAccount not in types and CreateRole not in types and CreateGroup not in types
    assert MarkRole in types

    result = run_pass(aws.url, document, apply=True)
    assert result.converged, result.failed

    assert len([a for a in aws.accounts().values() if a["Id"] == account_id]) == 1
    assert aws.unit_path(account_id) == "Legacy"
    iam = aws.client("iam", account_id)
    role = iam.get_role(RoleName="AccountAccessRole")["Role"]
    assert role["RoleId"] == role_id  # the same role, not a new one
    assert {"Key": "managed-by", "Value": "reconciler"} in role["Tags"]
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Condition"] == {
        "Bool": {"aws:MultiFactorAuthPresent": "true"}
    }
    group = aws.iam.get_group(GroupName="Operators")
    assert group["Group"]["GroupId"] == group_id
    assert [u["UserName"] for u in group["Users"]] == ["alice"]
    assert run_pass(aws.url, document, apply=False).plan.empty
