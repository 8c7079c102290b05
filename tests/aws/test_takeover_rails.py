"""A document cannot take over what it does not own: a live account declared twice, a group or
role made by hand (without `adopt`), or the role of the daemon's own credentials. Each is
checked in AWS, read back: what was refused is exactly as it was."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from reconciler.core.errors import SafetyError
from reconciler.core.plan import Withheld
from tests.aws.support import Aws, failures, run_pass
from tests.simulation.strict import StrictAws

MANAGEMENT = "123456789012"
ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
NO_MFA_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{MANAGEMENT}:root"},
            "Action": "sts:AssumeRole",
        }
    ],
}

TWO_DECLARATIONS = """
organization:
  management_account_id: "123456789012"
  units: [{name: Vault}, {name: Elsewhere}]
access:
  roles:
    - name: AccountAccessRole
      policies: [arn:aws:iam::aws:policy/AdministratorAccess]
      require_mfa: false
accounts:
  - name: vault
    id: "{vault_id}"
    email: vault-records@example.com
    unit: Vault
    tags: {tier: crown-jewels}
    roles: []
  - name: vault-again
    email: vault@example.com
    unit: Elsewhere
    tags: {tier: nothing-special}
    roles: [AccountAccessRole]
policy:
  protected_accounts: [vault]
"""


def _vault(aws: Aws, strict: StrictAws) -> str:
    vault = aws.create_account("vault@example.com", "Vault")
    aws.org.create_organizational_unit(ParentId=aws.root(), Name="Vault")
    aws.org.create_organizational_unit(ParentId=aws.root(), Name="Elsewhere")
    aws.org.move_account(
        AccountId=vault, SourceParentId=aws.root(), DestinationParentId=aws.unit_id("Vault")
    )
    aws.org.tag_resource(ResourceId=vault, Tags=[{"Key": "tier", "Value": "crown-jewels"}])
    strict.catch_up()
    return vault


def test_one_live_account_declared_twice_refuses_the_whole_plan(
    aws: Aws, strict: StrictAws
) -> None:
    """Declared once by id (protected) and once by email: the second declaration would move
    it, re-tag it and give it a no-MFA admin role. Nothing of that may happen."""
    vault = _vault(aws, strict)
    before = aws.snapshot()
    document = TWO_DECLARATIONS.replace("{vault_id}", vault)

    result = run_pass(aws.url, document, apply=True)

    assert str(result.refused) == (
        f"accounts vault and vault-again are one live account, {vault} (declared once by id "
        "and once by email); nothing was applied. Declare it once"
    )
    assert not result.outcomes
    assert aws.snapshot() == before


def test_protection_follows_the_account_an_id_resolves_to(aws: Aws, strict: StrictAws) -> None:
    """Protected by id, declared by email only: still protected."""
    vault = _vault(aws, strict)
    before = aws.snapshot()
    document = (
        TWO_DECLARATIONS.replace('    id: "{vault_id}"\n', "")
        .replace("vault-records@", "vault@")
        .split("  - name: vault-again")[0]
        .replace("roles: []", "roles: [AccountAccessRole]")
        .replace("unit: Vault", "unit: Elsewhere")
        + f'policy:\n  protected_accounts: ["{vault}"]\n'
    )

    result = run_pass(aws.url, document, apply=True)

    assert not result.converged
    assert {type(w) for w in result.plan.withheld} == {Withheld}
    assert {w.reason for w in result.plan.withheld} == {"account vault is protected"}
    assert {w.change.account for w in result.plan.withheld} == {"vault"}
    assert aws.snapshot() == before


HAND_MADE_GROUP = """
organization:
  management_account_id: "123456789012"
access:
  roles:
    - name: AccountAccessRole
      policies: [arn:aws:iam::aws:policy/ReadOnlyAccess]
accounts:
  - name: acme
    email: acme@example.com
    roles: [AccountAccessRole]
groups:
  - name: administrators{adopt}
    users: [alice]
    grants: [{account: acme, role: AccountAccessRole}]
"""


def _hand_made_administrators(aws: Aws, strict: StrictAws) -> None:
    aws.create_account("acme@example.com", "Acme")
    aws.iam.create_group(GroupName="Administrators")
    aws.iam.attach_group_policy(GroupName="Administrators", PolicyArn=ADMIN)
    aws.iam.add_user_to_group(GroupName="Administrators", UserName="carol")
    aws.iam.add_user_to_group(GroupName="Administrators", UserName="james")
    strict.catch_up()


def _administrators(aws: Aws) -> dict[str, Any]:
    group = aws.iam.get_group(GroupName="Administrators")
    attached = aws.iam.list_attached_group_policies(GroupName="Administrators")
    return {
        "path": group["Group"]["Path"],
        "users": sorted(u["UserName"] for u in group["Users"]),
        "attached": [p["PolicyArn"] for p in attached["AttachedPolicies"]],
        "inline": aws.iam.list_group_policies(GroupName="Administrators")["PolicyNames"],
    }


def test_a_group_made_by_hand_is_not_taken_over_without_adopt(aws: Aws, strict: StrictAws) -> None:
    """`administrators` is the live `Administrators` (IAM names ignore case), and without
    `adopt: true` its members and its AdministratorAccess stay as they are."""
    _hand_made_administrators(aws, strict)
    document = HAND_MADE_GROUP.replace("{adopt}", "")

    result = run_pass(aws.url, document, apply=True)

    assert not result.converged
    reasons = {w.reason for w in result.plan.withheld}
    assert reasons == {
        "group Administrators exists at path /, not under /reconciler/: to take it over with "
        "its members and policies, set adopt: true on the group"
    }
    assert not [c for c in result.plan.changes if "dministrators" in c.target]
    assert _administrators(aws) == {
        "path": "/",
        "users": ["carol", "james"],
        "attached": [ADMIN],
        "inline": [],
    }


def test_adopt_true_takes_the_group_over_with_its_members_and_policies(
    aws: Aws, strict: StrictAws
) -> None:
    _hand_made_administrators(aws, strict)
    document = HAND_MADE_GROUP.replace("{adopt}", "\n    adopt: true")

    lines = [c.line() for c in run_pass(aws.url, document, apply=False).plan.changes]
    assert f"~ group Administrators: detach {ADMIN} (not declared)" in lines
    assert (
        "- membership Administrators/carol: remove user carol from group Administrators "
        + ("(not declared)")
        in lines
    )
    # Adoption replaces both of its members: more than half of the memberships managed.
    refused = run_pass(aws.url, document, apply=True).refused
    assert isinstance(refused, SafetyError)
    assert "run with --allow-mass-removal" in str(refused)
    assert _administrators(aws)["users"] == ["carol", "james"]
    result = run_pass(aws.url, document, apply=True, allow_mass_removal=True)

    assert result.converged, failures(result)
    assert _administrators(aws) == {
        "path": "/",
        "users": ["alice"],
        "attached": [],
        "inline": ["reconciler-grants"],
    }


HAND_MADE_ROLE = """
organization:
  management_account_id: "123456789012"
access:
  roles:
    - name: AccountAccessRole
      policies: [arn:aws:iam::aws:policy/ReadOnlyAccess]
accounts:
  - name: acme
    id: "{acme_id}"
    email: acme@example.com
    roles: [AccountAccessRole]{adopt}
"""


def _hand_made_role(aws: Aws, strict: StrictAws) -> str:
    acme = aws.create_account("acme@example.com", "Acme")
    iam = aws.client("iam", acme)
    iam.create_role(RoleName="accountaccessrole", AssumeRolePolicyDocument=json.dumps(NO_MFA_TRUST))
    iam.attach_role_policy(RoleName="accountaccessrole", PolicyArn=ADMIN)
    strict.catch_up()
    return acme


def _role(aws: Aws, account_id: str) -> dict[str, Any]:
    iam = aws.client("iam", account_id)
    role = iam.get_role(RoleName="accountaccessrole")["Role"]
    attached = iam.list_attached_role_policies(RoleName="accountaccessrole")["AttachedPolicies"]
    return {
        "name": role["RoleName"],
        "tags": role.get("Tags", []),
        "mfa": "Condition" in role["AssumeRolePolicyDocument"]["Statement"][0],
        "attached": [p["PolicyArn"] for p in attached],
    }


def test_a_role_made_by_hand_is_not_taken_over_without_adopt(aws: Aws, strict: StrictAws) -> None:
    acme = _hand_made_role(aws, strict)
    document = HAND_MADE_ROLE.replace("{acme_id}", acme).replace("{adopt}", "")

    result = run_pass(aws.url, document, apply=True)

    assert not result.converged
    assert {w.reason for w in result.plan.withheld} == {
        "role accountaccessrole exists in acme without the managed-by marker: to take it over, "
        "set adopt: true on the role template or list it in the account's adopt_roles"
    }
    assert _role(aws, acme) == {
        "name": "accountaccessrole",
        "tags": [],
        "mfa": False,
        "attached": [ADMIN],
    }


@pytest.mark.parametrize(
    "adopt",
    ["\n    adopt_roles: [AccountAccessRole]", "\n    adopt_roles: [accountaccessrole]"],
)
def test_adopt_roles_takes_the_role_over(aws: Aws, strict: StrictAws, adopt: str) -> None:
    acme = _hand_made_role(aws, strict)
    document = HAND_MADE_ROLE.replace("{acme_id}", acme).replace("{adopt}", adopt)
    if adopt.endswith("[accountaccessrole]"):
        # Only a role the account carries can be adopted, in the document's spelling.
        with pytest.raises(Exception, match="does not carry role 'accountaccessrole'"):
            run_pass(aws.url, document, apply=False)
        return

    result = run_pass(aws.url, document, apply=True)

    assert result.converged, failures(result)
    assert _role(aws, acme) == {
        "name": "accountaccessrole",
        "tags": [{"Key": "managed-by", "Value": "reconciler"}],
        "mfa": True,
        "attached": ["arn:aws:iam::aws:policy/ReadOnlyAccess"],
    }


OWN_ROLE = """
organization:
  management_account_id: "123456789012"
access:
  roles:
    - name: ReconcilerDeploy
      policies: [arn:aws:iam::aws:policy/ReadOnlyAccess]
      adopt: true
accounts:
  - name: management
    id: "123456789012"
    email: management@example.com
    roles: [ReconcilerDeploy]
"""


def test_the_role_of_the_daemons_own_credentials_is_never_changed(
    aws: Aws, strict: StrictAws, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The daemon runs as ReconcilerDeploy in the management account, and a document declares
    a role of that name there: applied, it would bind the daemon's own permissions to the
    document (here: read only, and MFA it cannot give)."""
    aws.iam.create_role(
        RoleName="ReconcilerDeploy", AssumeRolePolicyDocument=json.dumps(NO_MFA_TRUST)
    )
    aws.iam.attach_role_policy(RoleName="ReconcilerDeploy", PolicyArn=ADMIN)
    strict.catch_up()
    credentials = aws.client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{MANAGEMENT}:role/ReconcilerDeploy", RoleSessionName="daemon"
    )["Credentials"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", credentials["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", credentials["SecretAccessKey"])
    monkeypatch.setenv("AWS_SESSION_TOKEN", credentials["SessionToken"])
    caller = boto3.session.Session().client("sts", endpoint_url=aws.url, region_name="us-east-1")
    assert caller.get_caller_identity()["Arn"].endswith(":assumed-role/ReconcilerDeploy/daemon")
    before = aws.snapshot()

    result = run_pass(aws.url, OWN_ROLE, apply=True)

    assert not result.converged
    assert {w.reason for w in result.plan.withheld} == {
        "role ReconcilerDeploy holds the daemon's own credentials: never changed"
    }
    assert not result.outcomes
    assert aws.snapshot() == before
