"""Where roles are placed: in the accounts that list them and under the units that list them.

An account carries its own `roles` plus those of its unit and of each unit above it; nothing
is implied, so a role template no account or unit names is created nowhere.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from reconciler.core import load, spec, state
from reconciler.core.errors import SpecError, SpecIssue

OnlyIssue = Callable[[str], SpecIssue]

DOCUMENT = """\
organization:
  management_account_id: "111111111111"
  units:
    - name: Environments
      roles: [ReadOnlyAccessRole]
      units:
        - name: Development
          roles: [DeployRole]
        - name: Production
access:
  roles:
    - name: AccountAccessRole
    - name: ReadOnlyAccessRole
    - name: DeployRole
accounts:
  - name: acme-dev
    email: aws+acme-dev@example.com
    unit: Environments/Development
    roles: [AccountAccessRole]
  - name: acme-prod
    email: aws+acme-prod@example.com
    unit: Environments/Production
  - name: sandbox
    email: aws+sandbox@example.com
"""
GROUPS_LINE = 25  # the line a `groups:` section appended to DOCUMENT starts on


def changed(*replacements: tuple[str, str]) -> str:
    """DOCUMENT with each `old` text, which occurs once, replaced by `new`."""
    text = DOCUMENT
    for old, new in replacements:
        assert text.count(old) == 1, f"{old!r} must occur exactly once"
        text = text.replace(old, new)
    return text


def with_grant(account: str, role: str) -> str:
    """DOCUMENT with one group granting `role` in `account`, on line GROUPS_LINE + 3."""
    return DOCUMENT + (
        f"groups:\n  - name: Team\n    grants:\n      - {{account: {account}, role: {role}}}\n"
    )


def carried(text: str) -> dict[str, tuple[str, ...]]:
    document = load.parse_spec(text, "accounts.yaml")
    return {account.name: document.role_names(account) for account in document.accounts}


def test_account_carries_its_own_roles_then_its_units_from_the_unit_upward() -> None:
    assert carried(DOCUMENT)["acme-dev"] == (
        "AccountAccessRole",
        "DeployRole",
        "ReadOnlyAccessRole",
    )


def test_account_in_a_unit_without_roles_carries_its_ancestors_roles() -> None:
    assert carried(DOCUMENT)["acme-prod"] == ("ReadOnlyAccessRole",)


def test_account_at_the_root_without_roles_carries_none() -> None:
    document = load.parse_spec(DOCUMENT, "accounts.yaml")

    assert document.account("sandbox").roles == ()
    assert document.role_names(document.account("sandbox")) == ()


def test_role_listed_at_several_levels_is_carried_once_where_it_first_appears() -> None:
    text = changed(
        (
            "    roles: [AccountAccessRole]\n",
            "    roles: [ReadOnlyAccessRole, AccountAccessRole]\n",
        ),
        ("roles: [DeployRole]", "roles: [DeployRole, ReadOnlyAccessRole]"),
    )

    assert carried(text)["acme-dev"] == ("ReadOnlyAccessRole", "AccountAccessRole", "DeployRole")


def test_new_template_placed_nowhere_is_created_nowhere() -> None:
    text = changed(("    - name: DeployRole\n", "    - name: DeployRole\n    - name: BreakGlass\n"))
    document = load.parse_spec(text, "accounts.yaml")
    live = state.OrgState(
        units={},
        accounts=(state.Account("acme-dev", "aws+acme-dev@example.com", "222222222222"),),
        groups={},
    )

    declared = state.declared(document, live)

    assert {a.name: sorted(a.roles or {}) for a in declared.accounts} == {
        "acme-dev": ["AccountAccessRole", "DeployRole", "ReadOnlyAccessRole"],
        "acme-prod": ["ReadOnlyAccessRole"],
        "sandbox": [],
    }


def test_unit_role_that_names_no_template(only_issue: OnlyIssue) -> None:
    text = changed(
        ("        - name: Production\n", "        - name: Production\n          roles: [Auditor]\n")
    )

    issue = only_issue(text)

    assert (issue.line, issue.column) == (10, 19)
    assert issue.field == "organization.units[0].units[1].roles[0]"
    assert issue.message == (
        "role 'Auditor' is not declared in access.roles "
        "(declared: AccountAccessRole, DeployRole, ReadOnlyAccessRole)"
    )


def test_role_listed_twice_in_one_unit(only_issue: OnlyIssue) -> None:
    text = changed(
        ("roles: [ReadOnlyAccessRole]", "roles: [ReadOnlyAccessRole, ReadOnlyAccessRole]")
    )

    issue = only_issue(text)

    assert (issue.line, issue.column) == (5, 35)
    assert issue.field == "organization.units[0].roles[1]"
    assert issue.message == "role 'ReadOnlyAccessRole' is listed twice"


def test_role_listed_twice_on_one_account(only_issue: OnlyIssue) -> None:
    text = changed(("roles: [AccountAccessRole]", "roles: [AccountAccessRole, AccountAccessRole]"))

    issue = only_issue(text)

    assert (issue.line, issue.column) == (19, 32)
    assert issue.field == "accounts[0].roles[1]"
    assert issue.message == "role 'AccountAccessRole' is listed twice"


def test_same_role_on_an_account_and_its_unit_is_valid() -> None:
    text = changed(("roles: [AccountAccessRole]", "roles: [AccountAccessRole, DeployRole]"))

    assert carried(text)["acme-dev"] == ("AccountAccessRole", "DeployRole", "ReadOnlyAccessRole")


@pytest.mark.parametrize(
    ("account", "role"),
    [
        ("acme-dev", "DeployRole"),
        ("acme-dev", "ReadOnlyAccessRole"),
        ("acme-prod", "ReadOnlyAccessRole"),
    ],
)
def test_grant_of_a_role_a_unit_hands_down_is_valid(account: str, role: str) -> None:
    document = load.parse_spec(with_grant(account, role), "accounts.yaml")

    assert document.groups[0].grants[0].role == role


def test_grant_of_a_role_only_a_sibling_unit_hands_down(only_issue: OnlyIssue) -> None:
    issue = only_issue(with_grant("acme-prod", "DeployRole"))

    assert (issue.line, issue.column) == (GROUPS_LINE + 3, 36)
    assert issue.field == "groups[0].grants[0].role"
    assert issue.message == (
        "account 'acme-prod' does not carry role 'DeployRole'; it carries: ReadOnlyAccessRole"
    )


def test_grant_in_an_account_at_the_root_without_roles(only_issue: OnlyIssue) -> None:
    issue = only_issue(with_grant("sandbox", "ReadOnlyAccessRole"))

    assert (issue.line, issue.column) == (GROUPS_LINE + 3, 34)
    assert issue.field == "groups[0].grants[0].role"
    assert issue.message == (
        "account 'sandbox' does not carry role 'ReadOnlyAccessRole'; it carries: no roles"
    )


def test_grant_in_an_account_whose_unit_is_undeclared_reports_the_unit_only(
    only_issue: OnlyIssue,
) -> None:
    text = with_grant("acme-prod", "ReadOnlyAccessRole").replace(
        "unit: Environments/Production", "unit: Environments/Staging"
    )

    issue = only_issue(text)

    assert (issue.line, issue.column) == (22, 11)
    assert issue.field == "accounts[1].unit"
    assert issue.message.startswith("unit 'Environments/Staging' is not in organization.units")


def test_adopting_a_role_a_unit_hands_down_is_valid() -> None:
    text = changed(
        (
            "    unit: Environments/Production\n",
            "    unit: Environments/Production\n    adopt_roles: [ReadOnlyAccessRole]\n",
        )
    )

    assert load.parse_spec(text, "accounts.yaml").account("acme-prod").adopt_roles == (
        "ReadOnlyAccessRole",
    )


def test_adopting_a_role_the_account_does_not_carry(only_issue: OnlyIssue) -> None:
    text = changed(
        (
            "    unit: Environments/Production\n",
            "    unit: Environments/Production\n    adopt_roles: [DeployRole]\n",
        )
    )

    issue = only_issue(text)

    assert (issue.line, issue.column) == (23, 19)
    assert issue.field == "accounts[1].adopt_roles[0]"
    assert issue.message == (
        "account 'acme-prod' does not carry role 'DeployRole', so there is nothing of that "
        "name to adopt"
    )


def test_problems_in_unit_roles_are_all_reported_together() -> None:
    text = changed(
        ("roles: [ReadOnlyAccessRole]", "roles: [Nope, ReadOnlyAccessRole, ReadOnlyAccessRole]"),
        ("roles: [DeployRole]", "roles: [Deploy]"),
    )

    with pytest.raises(SpecError) as caught:
        load.parse_spec(text, "accounts.yaml")

    assert [(i.line, i.column, i.field) for i in caught.value.issues] == [
        (5, 15, "organization.units[0].roles[0]"),
        (5, 41, "organization.units[0].roles[2]"),
        (8, 19, "organization.units[0].units[0].roles[0]"),
    ]


def _definition(name: str) -> dict[str, dict[str, str]]:
    properties: dict[str, dict[str, str]] = spec.Spec.model_json_schema()["$defs"][name][
        "properties"
    ]
    return properties


def test_schema_describes_every_field_of_every_model() -> None:
    schema = spec.Spec.model_json_schema()
    models = {"Spec": schema, **schema["$defs"]}

    undescribed = [
        f"{model}.{field}"
        for model, definition in models.items()
        for field, prop in definition["properties"].items()
        if not prop.get("description")
    ]

    assert undescribed == []
    assert sorted(models) == [
        "Access",
        "Account",
        "Grant",
        "Group",
        "Organization",
        "Policy",
        "RoleTemplate",
        "Spec",
        "Unit",
    ]


def test_schema_explains_where_roles_are_placed() -> None:
    assert _definition("Unit")["roles"]["description"] == (
        "Role templates (access.roles) that every account in this unit or in a unit nested in "
        "it carries, besides the account's own roles. Default: none."
    )
    assert _definition("Account")["roles"]["description"] == (
        "Role templates (access.roles) this account carries, besides those its unit and the "
        "units above it list. Default: none."
    )
