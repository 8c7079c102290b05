"""From an empty organization, one apply of the example builds everything; a second is a no-op."""

from __future__ import annotations

import json

import pytest

from reconciler import cli
from tests.aws.support import EXAMPLE_TEXT, Aws, parse

SOURCE = "123456789012"


def _trust(require_mfa: bool) -> dict[str, object]:
    statement: dict[str, object] = {
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{SOURCE}:root"},
        "Action": "sts:AssumeRole",
    }
    if require_mfa:
        statement["Condition"] = {"Bool": {"aws:MultiFactorAuthPresent": "true"}}
    return {"Version": "2012-10-17", "Statement": [statement]}


@pytest.fixture
def applied(aws: Aws) -> Aws:
    assert cli.main(["apply", "--endpoint-url", aws.url]) == 0
    return aws


def test_units_and_accounts_are_in_place_with_their_tags(applied: Aws) -> None:
    document = parse(EXAMPLE_TEXT)
    live = applied.accounts()
    for account in document.accounts:
        if account.id:
            continue
        found = live[account.email]
        assert found["Name"] == account.name
        assert applied.unit_path(found["Id"]) == (account.unit or "")
        assert applied.tags(found["Id"]) == account.tags
    assert len(live) == len(document.accounts)  # the management account plus four new ones


def test_each_role_has_exactly_the_spec_trust_policy_and_its_policies(applied: Aws) -> None:
    document = parse(EXAMPLE_TEXT)
    for account in document.accounts:
        if account.id:
            continue
        iam = applied.client("iam", applied.account_id(account.email))
        for name in document.role_names(account):
            template = document.role(name)
            role = iam.get_role(RoleName=name)["Role"]
            assert role["AssumeRolePolicyDocument"] == _trust(template.require_mfa)
            attached = iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]
            assert sorted(p["PolicyArn"] for p in attached) == sorted(template.policies)
            assert role["MaxSessionDuration"] == template.max_session_duration
            assert {"Key": "managed-by", "Value": "reconciler"} in role["Tags"]


def test_groups_grant_exactly_the_granted_roles_to_their_members(applied: Aws) -> None:
    document = parse(EXAMPLE_TEXT)
    for group in document.groups:
        found = applied.iam.get_group(GroupName=group.name)
        assert found["Group"]["Path"] == "/reconciler/"
        assert sorted(u["UserName"] for u in found["Users"]) == sorted(group.users)
        policy = applied.iam.get_group_policy(GroupName=group.name, PolicyName="reconciler-grants")
        statements = policy["PolicyDocument"]["Statement"]
        assert [s["Action"] for s in statements] == ["sts:AssumeRole"]
        expected = sorted(
            f"arn:aws:iam::{applied.account_id(document.account(g.account).email)}:role/{g.role}"
            for g in group.grants
        )
        assert sorted(statements[0]["Resource"]) == expected


def test_a_second_plan_and_apply_change_nothing(
    applied: Aws, capsys: pytest.CaptureFixture[str]
) -> None:
    before = applied.snapshot()
    capsys.readouterr()
    assert cli.main(["plan", "--endpoint-url", applied.url]) == 0
    assert "Plan: 0 to create, 0 to update, 0 to delete." in capsys.readouterr().out
    assert cli.main(["apply", "--endpoint-url", applied.url]) == 0
    assert applied.snapshot() == before


def test_plan_json_lists_the_same_changes_as_text(
    aws: Aws, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["plan", "--endpoint-url", aws.url]) == 2
    text = capsys.readouterr().out.splitlines()
    assert cli.main(["plan", "--endpoint-url", aws.url, "--format", "json"]) == 2
    document = json.loads(capsys.readouterr().out)
    symbols = {"create": "+", "update": "~", "delete": "-"}
    shown = [
        f"{symbols[c['action']]} {c['kind']} {c['resource']}: {c['summary']}"
        for c in document["changes"]
    ]
    summary = next(i for i, line in enumerate(text) if line.startswith("Plan: "))
    assert shown == text[:summary]
    assert document["summary"]["create"] == summary
    # The access effect follows the summary, in text and in JSON alike.
    granted = [f"+ {a['user']} -> {a['account']} as {a['role']}" for a in document["access"]]
    assert [line.removesuffix(" (MFA)") for line in text[summary + 3 :]] == granted


def test_profiles_and_links_find_the_created_accounts(
    applied: Aws, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert cli.main(["links", "--endpoint-url", applied.url, "--user", "james"]) == 0
    links = capsys.readouterr().out.split()
    dev = applied.account_id("aws+acme-dev@example.com")
    assert (
        f"https://signin.aws.amazon.com/switchrole?roleName=AccountAccessRole&account={dev}&displayName=acme-dev-account-access"
        in links
    )
    assert not any("not created yet" in line or "id unknown" in line for line in links)
