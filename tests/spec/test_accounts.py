"""Accounts: ids, emails and names AWS accepts, unique, in units and with roles that exist."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from reconciler.core import load
from reconciler.core.errors import SpecError, SpecIssue

Variant = Callable[..., str]
OnlyIssue = Callable[[str], SpecIssue]

THIRD_ACCOUNT_AFTER = "    roles: [ReadOnlyAccessRole]\n"  # the last line of the last account


def with_third_account(variant: Variant, block: str) -> str:
    """The minimal document with one more account, starting on line 24."""
    return variant((THIRD_ACCOUNT_AFTER, THIRD_ACCOUNT_AFTER + block))


@pytest.mark.parametrize("value", ['"22222"', '"2222222222222"', '"22222222222a"', '""'])
def test_account_id_that_is_not_12_digits(
    variant: Variant, only_issue: OnlyIssue, value: str
) -> None:
    issue = only_issue(variant(('id: "222222222222"', f"id: {value}")))

    assert (issue.line, issue.column) == (21, 9)
    assert issue.field == "accounts[1].id"
    assert "must be exactly 12 digits" in issue.message


def test_unquoted_account_id_says_to_quote_it(variant: Variant, only_issue: OnlyIssue) -> None:
    issue = only_issue(variant(('id: "222222222222"', "id: 222222222222")))

    assert (issue.line, issue.column) == (21, 9)
    assert issue.field == "accounts[1].id"
    assert issue.message.startswith('account id 222222222222 must be quoted, as "222222222222"')


def test_unquoted_id_read_as_octal_does_not_suggest_a_wrong_id(
    variant: Variant, only_issue: OnlyIssue
) -> None:
    # YAML 1.1 reads 012345670123 as the octal number 1402433619.
    issue = only_issue(variant(('id: "222222222222"', "id: 012345670123")))

    assert issue.field == "accounts[1].id"
    assert "must be quoted" in issue.message
    assert "001402433619" not in issue.message


def test_unquoted_management_account_id_says_to_quote_it(
    variant: Variant, only_issue: OnlyIssue
) -> None:
    issue = only_issue(variant(('"111111111111"', "111111111111")))

    assert (issue.line, issue.column) == (3, 26)
    assert issue.field == "organization.management_account_id"
    assert "must be quoted" in issue.message


@pytest.mark.parametrize(
    "email",
    [
        "aws+shared.example.com",
        "aws shared@example.com",
        "shared@example",
        "a@b.c",  # 5 characters: CreateAccount wants 6 to 64
        "shared-" + "x" * 50 + "@example.com",  # 69 characters
    ],
)
def test_malformed_email(variant: Variant, only_issue: OnlyIssue, email: str) -> None:
    issue = only_issue(variant(("aws+shared@example.com", email)))

    assert (issue.line, issue.column) == (22, 12)
    assert issue.field == "accounts[1].email"
    assert issue.message == (
        f"{email!r} is not an email address AWS accepts (name@domain.tld, 6 to 64 characters)"
    )


def test_duplicate_account_name(variant: Variant, only_issue: OnlyIssue) -> None:
    text = with_third_account(
        variant,
        "  - name: shared\n    email: aws+shared2@example.com\n    roles: [ReadOnlyAccessRole]\n",
    )

    issue = only_issue(text)

    assert (issue.line, issue.column) == (24, 11)
    assert issue.field == "accounts[2].name"
    assert issue.message == "account name 'shared' is used twice"


def test_duplicate_email_ignores_case(variant: Variant, only_issue: OnlyIssue) -> None:
    text = with_third_account(variant, "  - name: other\n    email: AWS+Shared@Example.COM\n")

    issue = only_issue(text)

    assert (issue.line, issue.column) == (25, 12)
    assert issue.field == "accounts[2].email"
    assert issue.message == "email 'AWS+Shared@Example.COM' is used by two accounts"


def test_duplicate_account_id(variant: Variant, only_issue: OnlyIssue) -> None:
    block = '  - name: other\n    id: "222222222222"\n    email: aws+other@example.com\n'

    issue = only_issue(with_third_account(variant, block))

    assert (issue.line, issue.column) == (25, 9)
    assert issue.field == "accounts[2].id"
    assert issue.message == "account id '222222222222' is declared twice"


def test_distinct_third_account_is_valid(variant: Variant) -> None:
    block = '  - name: other\n    id: "333333333333"\n    email: aws+other@example.com\n'

    document = load.parse_spec(with_third_account(variant, block), "accounts.yaml")

    assert [account.name for account in document.accounts] == ["acme-dev", "shared", "other"]


@pytest.mark.parametrize("unit", ["Clients/Globex", "Acme", "clients/acme", "Clients/Acme/"])
def test_unit_path_not_in_the_tree(variant: Variant, only_issue: OnlyIssue, unit: str) -> None:
    issue = only_issue(variant(("unit: Clients/Acme", f"unit: {unit}")))

    assert (issue.line, issue.column) == (19, 11)
    assert issue.field == "accounts[0].unit"
    assert issue.message == (f"unit {unit!r} is not in organization.units (Clients, Clients/Acme)")


def test_unit_path_to_a_parent_unit_is_valid(variant: Variant) -> None:
    document = load.parse_spec(variant(("unit: Clients/Acme", "unit: Clients")), "accounts.yaml")

    assert document.accounts[0].unit == "Clients"


def test_account_role_not_in_access_roles(variant: Variant, only_issue: OnlyIssue) -> None:
    text = variant(("roles: [ReadOnlyAccessRole]", "roles: [ReadOnlyAccessRole, BillingRole]"))

    issue = only_issue(text)

    assert (issue.line, issue.column) == (23, 33)
    assert issue.field == "accounts[1].roles[1]"
    assert issue.message == (
        "role 'BillingRole' is not declared in access.roles "
        "(declared: AccountAccessRole, ReadOnlyAccessRole)"
    )


@pytest.mark.parametrize("name", ["acme dev", "-acme", "acme/dev", "a" * 51])
def test_account_name_unfit_for_profiles_and_links(variant: Variant, name: str) -> None:
    with pytest.raises(SpecError) as caught:
        load.parse_spec(variant(("  - name: shared\n", f"  - name: {name}\n")), "accounts.yaml")
    name_issue, grant_issue = caught.value.issues

    assert (name_issue.line, name_issue.column) == (20, 11)
    assert name_issue.field == "accounts[1].name"
    assert f"{name!r} is not a valid account name" in name_issue.message
    # In the same run: the grant still names the account by its old name.
    assert (grant_issue.line, grant_issue.field) == (30, "groups[0].grants[1].account")
    assert grant_issue.message.startswith("account 'shared' is not declared in accounts")


@pytest.mark.parametrize(
    "value",
    ['"222222222222\\n"', '"٢٢٢٢٢٢٢٢٢٢٢٢"'],  # a trailing newline; Arabic-Indic digits
    ids=["trailing-newline", "non-ascii-digits"],
)
def test_account_id_that_only_looks_like_12_digits(
    variant: Variant, only_issue: OnlyIssue, value: str
) -> None:
    issue = only_issue(variant(('id: "222222222222"', f"id: {value}")))

    assert issue.field == "accounts[1].id"
    assert "must be exactly 12 digits" in issue.message


def test_email_with_a_trailing_newline(variant: Variant, only_issue: OnlyIssue) -> None:
    issue = only_issue(variant(("aws+shared@example.com", '"aws+shared@example.com\\n"')))

    assert issue.field == "accounts[1].email"
    assert issue.message == (
        "'aws+shared@example.com\\n' contains an invisible or control character at position "
        "23 (U+000A, a control character): a name must show all it holds"
    )
