"""IAM's quotas hold: a role at 10 managed policies can swap them all (removals go first), and
a group whose inline policies would pass 5,120 characters gets its grants once the undeclared
policy is gone."""

from __future__ import annotations

import json

from tests.aws.support import EXAMPLE_TEXT, Aws, failures, run_pass
from tests.simulation.strict import StrictAws
from tests.simulation.support import calm

ACME_DEV = "aws+acme-dev@example.com"
TEMPLATES = "  roles:\n"
# Every account names its roles, so only acme-dev gets the new template.
ACME_DEV_EMAIL = "    email: aws+acme-dev@example.com\n"
BOTH = "[AccountAccessRole, ReadOnlyAccessRole]"


def _policy(n: int) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::b{n}"}
            ],
        }
    )


def test_a_role_at_ten_policies_swaps_them_all(aws: Aws, strict: StrictAws) -> None:
    assert run_pass(aws.url, apply=True).converged
    account_id = aws.account_id(ACME_DEV)
    iam = aws.client("iam", account_id)
    strict.settings = calm()
    arns = {
        name: iam.create_policy(PolicyName=name, PolicyDocument=_policy(n))["Policy"]["Arn"]
        for n, name in enumerate([f"Old{i}" for i in range(10)] + [f"New{i}" for i in range(10)])
    }
    trust = aws.client("iam", account_id).get_role(RoleName="AccountAccessRole")["Role"]
    iam.create_role(
        RoleName="TenPolicies",
        AssumeRolePolicyDocument=json.dumps(trust["AssumeRolePolicyDocument"]),
    )
    for i in range(10):
        iam.attach_role_policy(RoleName="TenPolicies", PolicyArn=arns[f"Old{i}"])
    new = ", ".join(arns[f"New{i}"] for i in range(10))
    text = EXAMPLE_TEXT.replace(
        TEMPLATES,
        f"{TEMPLATES}    - name: TenPolicies\n      adopt: true\n      policies: [{new}]\n",
        1,
    )
    for name in ("shared-services", "acme-prod"):  # globex-prod names its own
        email = f"    email: aws+{name}@example.com\n"
        text = text.replace(email, f"{email}    roles: {BOTH}\n", 1)
    text = text.replace(ACME_DEV_EMAIL, f"{ACME_DEV_EMAIL}    roles: {BOTH[:-1]}, TenPolicies]\n")
    assert text.count("TenPolicies") == 2, text
    strict.settings.conflict_rate = 0.0

    result = run_pass(aws.url, text, apply=True)

    assert result.converged, failures(result)
    attached = iam.list_attached_role_policies(RoleName="TenPolicies")["AttachedPolicies"]
    assert sorted(p["PolicyName"] for p in attached) == [f"New{i}" for i in range(10)]
    assert strict.injected["limit"] == 0


def test_grants_land_once_an_undeclared_inline_policy_no_longer_fills_the_group(
    aws: Aws, strict: StrictAws
) -> None:
    assert run_pass(aws.url, apply=True).converged
    strict.settings = calm()
    aws.iam.delete_group_policy(GroupName="AcmeDevelopers", PolicyName="reconciler-grants")
    # Alone it fits; with the grants it would pass IAM's 5,120 characters for the group.
    filler = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Action": "s3:GetObject",
                "Resource": [f"arn:aws:s3:::bucket-{n:04d}/*" for n in range(160)],
            }
        ],
    }
    document = json.dumps(filler, separators=(",", ":"))
    assert 4_700 < len(document) < 5_120
    aws.iam.put_group_policy(
        GroupName="AcmeDevelopers", PolicyName="by-hand", PolicyDocument=document
    )

    result = run_pass(aws.url, apply=True)

    assert result.converged, failures(result)
    names = aws.iam.list_group_policies(GroupName="AcmeDevelopers")["PolicyNames"]
    assert names == ["reconciler-grants"]
    assert strict.injected["limit"] == 0
