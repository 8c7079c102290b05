"""Drift made by hand behind reconciler's back is planned, one line each, and corrected."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from reconciler import cli
from tests.aws.support import Aws, failures, run_pass

ACME_DEV = "aws+acme-dev@example.com"
ACME_PROD = "aws+acme-prod@example.com"
ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
READ_ONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"


def _remove_mfa(aws: Aws) -> None:
    iam = aws.client("iam", aws.account_id(ACME_DEV))
    trust = iam.get_role(RoleName="AccountAccessRole")["Role"]["AssumeRolePolicyDocument"]
    del trust["Statement"][0]["Condition"]
    iam.update_assume_role_policy(RoleName="AccountAccessRole", PolicyDocument=json.dumps(trust))


def _detach_policy(aws: Aws) -> None:
    iam = aws.client("iam", aws.account_id(ACME_DEV))
    iam.detach_role_policy(RoleName="AccountAccessRole", PolicyArn=ADMIN)


def _attach_extra_policy(aws: Aws) -> None:
    iam = aws.client("iam", aws.account_id(ACME_PROD))
    iam.attach_role_policy(RoleName="ReadOnlyAccessRole", PolicyArn=ADMIN)


def _move_account(aws: Aws) -> None:
    account = aws.account_id(ACME_DEV)
    aws.org.move_account(
        AccountId=account,
        SourceParentId=aws.unit_id("Clients/Acme"),
        DestinationParentId=aws.unit_id("Clients/Globex"),
    )


def _change_tag(aws: Aws) -> None:
    aws.org.tag_resource(
        ResourceId=aws.account_id(ACME_DEV), Tags=[{"Key": "environment", "Value": "staging"}]
    )


def _add_stray_member(aws: Aws) -> None:
    aws.iam.add_user_to_group(GroupName="Administrators", UserName="mallory")


def _edit_grant_policy(aws: Aws) -> None:
    policy = aws.iam.get_group_policy(GroupName="AcmeDevelopers", PolicyName="reconciler-grants")
    document = policy["PolicyDocument"]
    document["Statement"][0]["Resource"].append("arn:aws:iam::999999999999:role/Anything")
    aws.iam.put_group_policy(
        GroupName="AcmeDevelopers",
        PolicyName="reconciler-grants",
        PolicyDocument=json.dumps(document),
    )


def _delete_role(aws: Aws) -> None:
    iam = aws.client("iam", aws.account_id(ACME_DEV))
    iam.detach_role_policy(RoleName="ReadOnlyAccessRole", PolicyArn=READ_ONLY)
    iam.delete_role(RoleName="ReadOnlyAccessRole")


DRIFTS: dict[str, tuple[Callable[[Aws], None], str]] = {
    "mfa removed": (
        _remove_mfa,
        "~ role acme-dev/AccountAccessRole: trust policy add the MFA condition",
    ),
    "policy detached": (_detach_policy, f"~ role acme-dev/AccountAccessRole: attach {ADMIN}"),
    "extra policy": (_attach_extra_policy, f"~ role acme-prod/ReadOnlyAccessRole: detach {ADMIN}"),
    "account moved": (_move_account, "~ account acme-dev: move Clients/Globex -> Clients/Acme"),
    "tag changed": (_change_tag, "~ tag acme-dev: environment 'staging' -> 'development'"),
    "stray member": (_add_stray_member, "- membership Administrators/mallory"),
    "grant edited": (
        _edit_grant_policy,
        "~ group AcmeDevelopers: revoke arn:aws:iam::999999999999:role/Anything",
    ),
    "role deleted": (_delete_role, "+ role acme-dev/ReadOnlyAccessRole: create"),
}


@pytest.fixture
def converged(aws: Aws) -> Aws:
    """The example applied (with the simulator's short waits: the command is what is tested)."""
    result = run_pass(aws.url, apply=True)
    assert not failures(result)
    return aws


def _plan_lines(url: str, capsys: pytest.CaptureFixture[str], expect: int) -> list[str]:
    """The plan's lines before its summary, without the policy diffs indented under changes
    (the access effect follows the summary)."""
    capsys.readouterr()
    assert cli.main(["plan", "--endpoint-url", url]) == expect
    lines = capsys.readouterr().out.splitlines()
    summary = next(i for i, line in enumerate(lines) if line.startswith("Plan: "))
    return [line for line in lines[:summary] if not line.startswith("    ")]


@pytest.mark.parametrize("name", DRIFTS)
def test_drift_is_planned_as_one_line_and_corrected(
    converged: Aws, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    make_drift, expected = DRIFTS[name]
    before = converged.snapshot()
    make_drift(converged)
    lines = _plan_lines(converged.url, capsys, expect=2)
    assert len(lines) == 1, lines
    assert lines[0].startswith(expected)
    assert cli.main(["apply", "--endpoint-url", converged.url]) == 0
    assert _plan_lines(converged.url, capsys, expect=0) == [
        "No changes. The organization matches the document."
    ]
    after = converged.snapshot()
    # A recreated role is a new role; everything a person can observe is as before.
    assert after == before


def test_all_drifts_at_once_are_planned_together_and_corrected(
    converged: Aws, capsys: pytest.CaptureFixture[str]
) -> None:
    before = converged.snapshot()
    for make_drift, _ in DRIFTS.values():
        make_drift(converged)
    lines = _plan_lines(converged.url, capsys, expect=2)
    assert len(lines) == len(DRIFTS)
    for _, expected in DRIFTS.values():
        assert any(line.startswith(expected) for line in lines), expected
    assert cli.main(["apply", "--endpoint-url", converged.url]) == 0
    assert converged.snapshot() == before
