"""Pruning under an instance's own marker: two daemons sharing accounts never delete each
other's roles or groups; a role in an instance profile is taken out of it before deletion."""

from __future__ import annotations

import json

from tests.aws.support import EXAMPLE_TEXT, Aws, failures, run_pass
from tests.simulation.strict import StrictAws

ACME_DEV = "aws+acme-dev@example.com"
PRUNE = EXAMPLE_TEXT.replace("prune: false", "prune: true")
TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "ec2.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}


def _role(aws: Aws, account_id: str, name: str, owner: str) -> None:
    iam = aws.client("iam", account_id)
    iam.create_role(
        RoleName=name,
        AssumeRolePolicyDocument=json.dumps(TRUST),
        Tags=[{"Key": "managed-by", "Value": owner}],
    )
    iam.attach_role_policy(RoleName=name, PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")
    iam.create_instance_profile(InstanceProfileName=f"{name}-profile")
    iam.add_role_to_instance_profile(InstanceProfileName=f"{name}-profile", RoleName=name)


def _roles(aws: Aws, account_id: str) -> set[str]:
    return {r["RoleName"] for r in aws.client("iam", account_id).list_roles()["Roles"]}


def test_each_instance_prunes_only_what_it_marked(aws: Aws, strict: StrictAws) -> None:
    assert run_pass(aws.url, apply=True, instance="blue").converged
    account_id = aws.account_id(ACME_DEV)
    _role(aws, account_id, "BlueLeftover", owner="blue")
    _role(aws, account_id, "GreenTool", owner="green")
    aws.iam.create_group(GroupName="GreenTeam", Path="/green/")
    aws.iam.create_group(GroupName="BlueLeftovers", Path="/blue/")
    strict.catch_up()

    result = run_pass(aws.url, PRUNE, apply=True, instance="blue")

    assert result.converged, failures(result)
    roles = _roles(aws, account_id)
    assert "BlueLeftover" not in roles  # out of its instance profile first, then deleted
    assert "GreenTool" in roles
    groups = {g["GroupName"] for g in aws.iam.list_groups()["Groups"]}
    assert "GreenTeam" in groups and "BlueLeftovers" not in groups
    # The declared groups carry this instance's path.
    assert aws.iam.get_group(GroupName="AcmeDevelopers")["Group"]["Path"] == "/blue/"
