"""The shape of the document: known keys only, required keys present, values of the right type."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from reconciler.core import load
from reconciler.core.errors import SpecError, SpecIssue

Variant = Callable[..., str]
OnlyIssue = Callable[[str], SpecIssue]


def test_unknown_key_lists_the_keys_allowed_there(variant: Variant, only_issue: OnlyIssue) -> None:
    text = variant(("    unit: Clients/Acme\n", "    unit: Clients/Acme\n    colour: blue\n"))

    issue = only_issue(text)

    assert (issue.line, issue.column) == (20, 5)  # the key, not its value
    assert issue.field == "accounts[0].colour"
    assert (
        issue.message
        == "unknown key 'colour'; allowed here: name, email, id, unit, tags, roles, adopt_roles"
    )


def test_unknown_top_level_key_lists_the_top_level_keys(
    minimal: str, only_issue: OnlyIssue
) -> None:
    issue = only_issue(minimal + "polcy:\n  prune: true\n")

    assert (issue.line, issue.column) == (31, 1)
    assert issue.field == "polcy"
    assert issue.message == (
        "unknown key 'polcy'; allowed here: organization, access, accounts, groups, policy"
    )


def test_unknown_key_in_a_nested_unit(variant: Variant, only_issue: OnlyIssue) -> None:
    text = variant(("        - name: Acme\n", "        - name: Acme\n          id: ou-1234\n"))

    issue = only_issue(text)

    assert (issue.line, issue.column) == (8, 11)
    assert issue.field == "organization.units[0].units[0].id"
    assert issue.message == "unknown key 'id'; allowed here: name, roles, units"


def test_missing_organization(variant: Variant, only_issue: OnlyIssue) -> None:
    text = variant(
        (
            'organization:\n  management_account_id: "111111111111"\n  units:\n'
            "    - name: Clients\n      units:\n        - name: Acme\n"
            "      roles: [AccountAccessRole, ReadOnlyAccessRole]\n",
            "\n",
        )
    )

    issue = only_issue(text)

    assert issue.field == "organization"
    assert issue.message == "required key 'organization' is missing"
    assert (issue.line, issue.column) == (3, 1)  # the document's first key, `access`


def test_missing_key_inside_an_account(variant: Variant, only_issue: OnlyIssue) -> None:
    text = variant(("    email: aws+shared@example.com\n", ""))

    issue = only_issue(text)

    assert issue.field == "accounts[1].email"
    assert issue.message == "required key 'email' is missing"
    assert (issue.line, issue.column) == (20, 5)  # the account that lacks it


def test_accounts_as_a_mapping_instead_of_a_list(variant: Variant, only_issue: OnlyIssue) -> None:
    text = variant(
        ("  - name: acme-dev\n    email:", "  acme-dev:\n    email:"),
        ("  - name: shared\n    id:", "  shared:\n    id:"),
    )

    issue = only_issue(text)

    assert (issue.line, issue.column) == (17, 3)
    assert issue.field == "accounts"
    assert issue.message == "expected a list"


def test_organization_as_a_list_instead_of_a_mapping(
    variant: Variant, only_issue: OnlyIssue
) -> None:
    text = variant(
        (
            'organization:\n  management_account_id: "111111111111"\n  units:\n'
            "    - name: Clients\n      units:\n        - name: Acme\n"
            "      roles: [AccountAccessRole, ReadOnlyAccessRole]\n",
            'organization:\n  - "111111111111"\n',
        )
    )

    issue = only_issue(text)

    assert (issue.line, issue.column) == (3, 3)
    assert issue.field == "organization"
    assert issue.message == "expected a mapping of keys to values"


@pytest.mark.parametrize(
    ("value", "expected"),
    [("42", "Input should be a valid string"), ("[Clients]", "Input should be a valid string")],
)
def test_scalar_of_the_wrong_type(
    variant: Variant, only_issue: OnlyIssue, value: str, expected: str
) -> None:
    issue = only_issue(variant(("unit: Clients/Acme", f"unit: {value}")))

    assert (issue.line, issue.column) == (19, 11)
    assert issue.field == "accounts[0].unit"
    assert issue.message == expected


def test_every_problem_is_reported_at_once_in_line_order(variant: Variant) -> None:
    text = variant(
        (
            "    email: aws+acme-dev@example.com\n    unit: Clients/Acme\n",
            "    colour: blue\n    email: not-an-email\n",
        ),
        ('id: "222222222222"', 'id: "2222"'),
    )

    with pytest.raises(SpecError) as caught:
        load.parse_spec(text, "accounts.yaml")

    found = [(i.line, i.column, i.field) for i in caught.value.issues]
    assert found == [
        (18, 5, "accounts[0].colour"),
        (19, 12, "accounts[0].email"),
        (21, 9, "accounts[1].id"),
    ]
    assert str(caught.value).startswith("3 problems:\naccounts.yaml:18:5: accounts[0].colour: ")
