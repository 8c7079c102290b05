"""What a reviewer sees of access, against the strict simulator: policy diffs, the access
effect, and access the document does not declare. Access is changed by hand with plain boto3,
the way a person at the console would; the plan is read as the CLI prints it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reconciler import cli
from tests.aws.support import Aws, failures, run_pass
from tests.simulation.faults import Fault, FaultyServer

ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
DOCUMENT = """
organization:
  management_account_id: "123456789012"
access:
  roles:
    - name: AccountAccessRole
      policies: [arn:aws:iam::aws:policy/ReadOnlyAccess]
accounts:
  - name: app
    email: app@example.com
    roles: [AccountAccessRole]
groups:
  - name: Devs
    users: [{users}]
    grants: [{{account: app, role: AccountAccessRole}}]
"""


def _document(users: str = "alice") -> str:
    return DOCUMENT.format(users=users)


@pytest.fixture
def converged(aws: Aws, tmp_path: Path) -> Path:
    """The document applied: app exists with its role, alice in Devs. Its path."""
    result = run_pass(aws.url, _document(), apply=True)
    assert result.converged, failures(result)
    path = tmp_path / "accounts.yaml"
    path.write_text(_document())
    return path


def _plan(aws: Aws, path: Path, capsys: pytest.CaptureFixture[str], *fmt: str) -> tuple[int, str]:
    capsys.readouterr()
    status = cli.main(["plan", "--endpoint-url", aws.url, "--desired", str(path), *fmt])
    return status, capsys.readouterr().out


def _app_iam(aws: Aws) -> Any:
    return aws.client("iam", aws.account_id("app@example.com"))


def test_a_converged_organization_plans_nothing_and_finds_nothing(
    aws: Aws, converged: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out = _plan(aws, converged, capsys)

    assert status == 0, out
    assert "! access" not in out and "Access effect" not in out


def test_trust_drift_shows_the_mfa_condition_coming_back_and_the_access_it_changes(
    aws: Aws, converged: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    no_mfa = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    _app_iam(aws).update_assume_role_policy(
        RoleName="AccountAccessRole", PolicyDocument=json.dumps(no_mfa)
    )

    status, out = _plan(aws, converged, capsys)

    lines = out.splitlines()
    assert status == 2, out
    start = lines.index("~ role app/AccountAccessRole: trust policy add the MFA condition")
    diff = lines[start + 1 : start + 12]
    assert '    +       "Condition": {' in diff, out
    assert '    +         "Bool": {' in diff, out
    assert '    +           "aws:multifactorauthpresent": [' in diff, out
    assert not any(line.startswith("    -") for line in diff), out
    assert lines[-3:] == [
        "Access effect:",
        "+ alice -> app as AccountAccessRole (MFA)",
        "- alice -> app as AccountAccessRole",
    ]


def test_a_member_added_in_the_document_is_a_grant_in_every_format(
    aws: Aws, converged: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    converged.write_text(_document("alice, james"))
    app_id = aws.account_id("app@example.com")

    status, text = _plan(aws, converged, capsys)
    _, markdown = _plan(aws, converged, capsys, "--format", "markdown")
    _, as_json = _plan(aws, converged, capsys, "--format", "json")

    assert status == 2
    assert text.splitlines()[-2:] == ["Access effect:", "+ james -> app as AccountAccessRole (MFA)"]
    assert "**Access effect:** 1 granted, 0 revoked" in markdown
    assert "```diff\n+ james -> app as AccountAccessRole (MFA)\n```" in markdown
    assert json.loads(as_json)["access"] == [
        {
            "change": "grant",
            "user": "james",
            "group": "Devs",
            "account": "app",
            "account_id": app_id,
            "role": "AccountAccessRole",
            "mfa": True,
        }
    ]


def test_a_group_made_by_hand_that_reaches_a_managed_role_is_a_finding(
    aws: Aws, converged: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    aws.iam.create_group(GroupName="Admins")
    aws.iam.attach_group_policy(GroupName="Admins", PolicyArn=ADMIN)
    aws.iam.add_user_to_group(GroupName="Admins", UserName="mallory")
    aws.iam.add_user_to_group(GroupName="Admins", UserName="carol")

    status, out = _plan(aws, converged, capsys)
    _, as_json = _plan(aws, converged, capsys, "--format", "json")

    assert status == 2, out
    assert (
        "! access app/AccountAccessRole: carol, mallory can assume it through group Admins "
        f"({ADMIN}), which the document does not declare"
    ) in out.splitlines()
    assert "No changes. The organization matches the document." in out
    (finding,) = json.loads(as_json)["findings"]
    assert finding["kind"] == "access"
    assert (finding["account"], finding["resource"]) == ("app", "AccountAccessRole")
    assert finding["users"] == ["carol", "mallory"]
    assert json.loads(as_json)["changes"] == []


def test_a_users_own_policy_is_a_finding_until_an_explicit_deny_closes_it(
    aws: Aws, converged: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app_id = aws.account_id("app@example.com")
    anywhere = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "sts:Assume*", "Resource": "arn:aws:iam::*:role/*"}
        ],
    }
    aws.iam.put_user_policy(UserName="carol", PolicyName="hop", PolicyDocument=json.dumps(anywhere))

    _, found = _plan(aws, converged, capsys)
    deny = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Action": "sts:AssumeRole",
                "Resource": f"arn:aws:iam::{app_id}:role/AccountAccessRole",
            }
        ],
    }
    aws.iam.put_user_policy(UserName="carol", PolicyName="fence", PolicyDocument=json.dumps(deny))
    status, closed = _plan(aws, converged, capsys)

    assert (
        "! access app/AccountAccessRole: carol can assume it through their own policy (hop), "
        "which the document does not declare"
    ) in found.splitlines()
    assert status == 0, closed
    assert "! access" not in closed


def test_access_live_lists_every_way_in_with_the_group_or_policy(
    aws: Aws, converged: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    aws.iam.create_group(GroupName="Admins")
    aws.iam.attach_group_policy(GroupName="Admins", PolicyArn=ADMIN)
    aws.iam.add_user_to_group(GroupName="Admins", UserName="mallory")
    app_id = aws.account_id("app@example.com")
    capsys.readouterr()

    status = cli.main(
        [
            "access",
            "--live",
            "--format",
            "json",
            "--endpoint-url",
            aws.url,
            "--desired",
            str(converged),
        ]
    )

    assert status == 0
    assert json.loads(capsys.readouterr().out) == [
        {
            "user": "alice",
            "group": "Devs",
            "account": "app",
            "account_id": app_id,
            "role": "AccountAccessRole",
            "mfa": True,
            "policy": "reconciler-grants",
        },
        {
            "user": "mallory",
            "group": "Admins",
            "account": "app",
            "account_id": app_id,
            "role": "AccountAccessRole",
            "mfa": True,
            "policy": ADMIN,
        },
    ]


def test_a_managed_policy_that_cannot_be_read_is_a_finding_not_silence(
    aws: Aws, converged: Path, capsys: pytest.CaptureFixture[str], simulator: FaultyServer
) -> None:
    aws.iam.create_group(GroupName="Admins")
    aws.iam.attach_group_policy(GroupName="Admins", PolicyArn=ADMIN)
    aws.iam.add_user_to_group(GroupName="Admins", UserName="mallory")
    simulator.injector.faults = [Fault("iam:GetPolicy", code="AccessDenied", status=403)]

    status, out = _plan(aws, converged, capsys)

    assert status == 2, out
    assert "! access" not in out  # what it allows is not known
    (line,) = [line for line in out.splitlines() if line.startswith("! policy")]
    assert line.startswith(f"! policy source account/{ADMIN}: could not be read (")
    assert "iam:GetPolicy and iam:GetPolicyVersion" in line


def test_access_live_fails_when_the_source_account_cannot_be_read(
    aws: Aws, converged: Path, capsys: pytest.CaptureFixture[str], simulator: FaultyServer
) -> None:
    simulator.injector.faults = [
        Fault("iam:GetAccountAuthorizationDetails", code="AccessDenied", status=403)
    ]
    capsys.readouterr()

    status = cli.main(["access", "--live", "--endpoint-url", aws.url, "--desired", str(converged)])

    out, err = capsys.readouterr()
    assert status == 1
    assert out == ""
    assert err.startswith("error: the source account could not be read: 123456789012: ")
    assert len(err.splitlines()) == 1
