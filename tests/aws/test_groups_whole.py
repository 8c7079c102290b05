"""A declared group grants exactly its grants: an inline policy or a managed policy added to it
by hand (a hand-added sts:AssumeRole, say) is removed by the next pass, prune or not."""

from __future__ import annotations

import json

from tests.aws.support import Aws, failures, run_pass
from tests.simulation.strict import StrictAws

ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
ASSUME_ANYTHING = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}],
}


def test_hand_added_policies_on_a_declared_group_do_not_survive(
    aws: Aws, strict: StrictAws
) -> None:
    assert run_pass(aws.url, apply=True).converged
    grants_before = aws.iam.get_group_policy(
        GroupName="AcmeDevelopers", PolicyName="reconciler-grants"
    )["PolicyDocument"]
    aws.iam.put_group_policy(
        GroupName="AcmeDevelopers",
        PolicyName="break-glass",
        PolicyDocument=json.dumps(ASSUME_ANYTHING),
    )
    aws.iam.attach_group_policy(GroupName="AcmeDevelopers", PolicyArn=ADMIN)

    plan = run_pass(aws.url, apply=False).plan
    assert [c.line() for c in plan.changes] == [
        "~ group AcmeDevelopers: delete inline policy break-glass (not declared)",
        f"~ group AcmeDevelopers: detach {ADMIN} (not declared)",
    ]
    result = run_pass(aws.url, apply=True)

    assert result.converged, failures(result)
    assert aws.iam.list_group_policies(GroupName="AcmeDevelopers")["PolicyNames"] == [
        "reconciler-grants"
    ]
    assert (
        aws.iam.list_attached_group_policies(GroupName="AcmeDevelopers")["AttachedPolicies"] == []
    )
    grants_after = aws.iam.get_group_policy(
        GroupName="AcmeDevelopers", PolicyName="reconciler-grants"
    )["PolicyDocument"]
    assert grants_after == grants_before
