"""Groups: IAM names, unique ignoring case, grants that exist, and IAM's policy size limit."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from reconciler.core import load
from reconciler.core.errors import SpecIssue

Variant = Callable[..., str]
OnlyIssue = Callable[[str], SpecIssue]


def test_grant_to_an_undeclared_account(variant: Variant, only_issue: OnlyIssue) -> None:
    text = variant(("{account: acme-dev,", "{account: acme-test,"))

    issue = only_issue(text)

    assert (issue.line, issue.column) == (29, 19)
    assert issue.field == "groups[0].grants[0].account"
    assert issue.message == (
        "account 'acme-test' is not declared in accounts (declared: acme-dev, shared)"
    )


def test_grant_of_a_role_the_account_does_not_carry(
    variant: Variant, only_issue: OnlyIssue
) -> None:
    text = variant(("{account: shared, role: ReadOnlyAccessRole}", "{account: shared, role: X}"))

    issue = only_issue(text)

    assert (issue.line, issue.column) == (30, 33)
    assert issue.field == "groups[0].grants[1].role"
    assert (
        issue.message == "account 'shared' does not carry role 'X'; it carries: ReadOnlyAccessRole"
    )


def test_grant_of_a_declared_role_the_account_does_not_carry(
    variant: Variant, only_issue: OnlyIssue
) -> None:
    text = variant(
        (
            "{account: shared, role: ReadOnlyAccessRole}",
            "{account: shared, role: AccountAccessRole}",
        )
    )

    issue = only_issue(text)

    assert issue.field == "groups[0].grants[1].role"
    assert "does not carry role 'AccountAccessRole'" in issue.message


@pytest.mark.parametrize("name", ["Dev Ops", "Dev/Ops", "Dévelopers", "G" * 129])
def test_invalid_group_name(variant: Variant, only_issue: OnlyIssue, name: str) -> None:
    issue = only_issue(variant(("  - name: Developers\n", f'  - name: "{name}"\n')))

    assert (issue.line, issue.column) == (26, 11)
    assert issue.field == "groups[0].name"
    assert issue.message.startswith(f"{name!r} is not a valid IAM group name: 1 to 128 characters")


def test_group_name_with_a_trailing_newline(variant: Variant, only_issue: OnlyIssue) -> None:
    issue = only_issue(variant(("  - name: Developers\n", '  - name: "Developers\\n"\n')))

    assert issue.field == "groups[0].name"
    assert issue.message.startswith("'Developers\\n' contains an invisible or control character")


def test_group_name_of_128_characters_is_valid(variant: Variant) -> None:
    name = "G" * 128

    document = load.parse_spec(variant(("name: Developers", f"name: {name}")), "accounts.yaml")

    assert document.groups[0].name == name


@pytest.mark.parametrize("user", ["bob smith", "bob/smith", "u" * 65])
def test_invalid_user_name(variant: Variant, only_issue: OnlyIssue, user: str) -> None:
    issue = only_issue(variant(("users: [alice]", f'users: [alice, "{user}"]')))

    assert (issue.line, issue.column) == (27, 20)
    assert issue.field == "groups[0].users[1]"
    assert issue.message.startswith(f"{user!r} is not a valid IAM user name: 1 to 64 characters")


def test_user_listed_twice_in_a_group(variant: Variant, only_issue: OnlyIssue) -> None:
    issue = only_issue(variant(("users: [alice]", "users: [alice, Alice]")))

    assert (issue.line, issue.column) == (27, 20)
    assert issue.field == "groups[0].users[1]"
    assert issue.message == "user 'Alice' is listed twice"


def test_group_names_differing_only_in_case(minimal: str, only_issue: OnlyIssue) -> None:
    issue = only_issue(minimal + "  - name: developers\n")

    assert (issue.line, issue.column) == (31, 11)
    assert issue.field == "groups[1].name"
    assert issue.message == "group 'developers' is declared twice (IAM names ignore case)"


# IAM measures a group's inline policies without whitespace. The grant policy is
# {"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":[]}]}
# (97 characters) plus, per role ARN, its length, two quotes and a comma (less the last comma).
# A role ARN is 31 characters plus the role name: arn:aws:iam::<12 digits>:role/<name>.
WIDE_ROLE = "Engineer" + "X" * 52  # 60 characters: each grant of it adds 94 characters


def sized_document(last_role_length: int, *, with_ids: bool) -> str:
    """53 grants of WIDE_ROLE and one of a role `last_role_length` long, in one group.

    96 + 53 * 94 + (34 + last_role_length) = 5112 + last_role_length characters.
    """
    last_role = "R" * last_role_length
    accounts = [
        f"  - name: a{n}\n"
        + (f'    id: "{100000000000 + n}"\n' if with_ids else "")
        + f"    email: a{n}@example.com\n"
        + f"    roles: [{WIDE_ROLE}, {last_role}]\n"
        for n in range(54)
    ]
    grants = [f"      - {{account: a{n}, role: {WIDE_ROLE}}}\n" for n in range(53)]
    grants.append(f"      - {{account: a53, role: {last_role}}}\n")
    return (
        'organization:\n  management_account_id: "111111111111"\n'
        f"access:\n  roles:\n    - name: {WIDE_ROLE}\n    - name: {last_role}\n"
        "accounts:\n"
        + "".join(accounts)
        + "groups:\n  - name: Everyone\n    grants:\n"
        + "".join(grants)
    )


@pytest.mark.parametrize("with_ids", [True, False], ids=["created", "not-created"])
def test_grant_policy_of_exactly_5120_characters_is_valid(with_ids: bool) -> None:
    document = load.parse_spec(sized_document(8, with_ids=with_ids), "accounts.yaml")

    assert len(document.groups[0].grants) == 54


@pytest.mark.parametrize("with_ids", [True, False], ids=["created", "not-created"])
def test_grant_policy_over_5120_characters(only_issue: OnlyIssue, with_ids: bool) -> None:
    # Accounts still to be created are sized as if they had ids: each will get its own.
    text = sized_document(9, with_ids=with_ids)

    issue = only_issue(text)

    grants_line = text.splitlines().index("    grants:") + 2  # the list starts on the next line
    assert (issue.line, issue.column) == (grants_line, 7)
    assert issue.field == "groups[0].grants"
    assert issue.message == (
        "the grant policy of group 'Everyone' would be 5121 characters; IAM allows 5120 per "
        "group: split its grants over several groups"
    )
