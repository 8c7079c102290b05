"""Role templates: names IAM accepts, unique ignoring case, quotas, and the bootstrap lockout."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from reconciler.core import load
from reconciler.core.errors import SpecIssue

Variant = Callable[..., str]
OnlyIssue = Callable[[str], SpecIssue]

LAST_ROLE = "      policies: [arn:aws:iam::aws:policy/ReadOnlyAccess]\n"  # line 14
FIRST_POLICIES = "      policies: [arn:aws:iam::aws:policy/AdministratorAccess]\n"  # line 12


def with_third_role(variant: Variant, block: str) -> str:
    """The minimal document with one more role template, starting on line 15."""
    return variant((LAST_ROLE, LAST_ROLE + block))


@pytest.mark.parametrize("name", ["Billing Role", "Billing/Role", "Billing:Role", "Rôle", "R" * 65])
def test_invalid_role_name(variant: Variant, only_issue: OnlyIssue, name: str) -> None:
    issue = only_issue(with_third_role(variant, f'    - name: "{name}"\n'))

    assert (issue.line, issue.column) == (15, 13)
    assert issue.field == "access.roles[2].name"
    assert issue.message == (
        f"{name!r} is not a valid IAM role name: 1 to 64 characters from "
        "letters, digits and + = , . @ _ -"
    )


def test_role_name_of_64_allowed_characters_is_valid(variant: Variant) -> None:
    name = "Billing+=,.@_-" + "R" * 50

    document = load.parse_spec(with_third_role(variant, f"    - name: {name}\n"), "a.yaml")

    assert document.access.roles[2].name == name


def test_role_names_differing_only_in_case(variant: Variant, only_issue: OnlyIssue) -> None:
    issue = only_issue(with_third_role(variant, "    - name: accountaccessrole\n"))

    assert (issue.line, issue.column) == (15, 13)
    assert issue.field == "access.roles[2].name"
    assert issue.message == "role 'accountaccessrole' is declared twice (IAM names ignore case)"


def policies(count: int) -> str:
    arns = ", ".join(f"arn:aws:iam::aws:policy/Policy{n}" for n in range(count))
    return f"      policies: [{arns}]\n"


def test_eleven_managed_policies_on_a_role(variant: Variant, only_issue: OnlyIssue) -> None:
    issue = only_issue(variant((FIRST_POLICIES, policies(11))))

    assert (issue.line, issue.column) == (12, 17)
    assert issue.field == "access.roles[0].policies"
    assert "at most 10 items" in issue.message


def test_ten_managed_policies_on_a_role_are_valid(variant: Variant) -> None:
    document = load.parse_spec(variant((FIRST_POLICIES, policies(10))), "accounts.yaml")

    assert len(document.access.roles[0].policies) == 10


def test_malformed_policy_arn(variant: Variant, only_issue: OnlyIssue) -> None:
    text = variant(("policy/AdministratorAccess]", "AdministratorAccess]"))

    issue = only_issue(text)

    assert (issue.line, issue.column) == (12, 18)
    assert issue.field == "access.roles[0].policies[0]"
    assert "is not a managed policy ARN" in issue.message


@pytest.mark.parametrize(
    ("bootstrap", "role"),
    [
        ("", "OrganizationAccountAccessRole"),  # the default bootstrap role
        ("", "organizationaccountaccessrole"),  # IAM names ignore case
        ("  bootstrap_role: Bootstrap\n", "Bootstrap"),
    ],
)
@pytest.mark.parametrize("mfa", ["", "      require_mfa: true\n"], ids=["default", "explicit"])
def test_bootstrap_named_role_requiring_mfa_would_lock_the_daemon_out(
    variant: Variant, only_issue: OnlyIssue, bootstrap: str, role: str, mfa: str
) -> None:
    text = variant(
        ('"111111111111"\n', '"111111111111"\n' + bootstrap),
        (LAST_ROLE, LAST_ROLE + f"    - name: {role}\n" + mfa),
    )

    issue = only_issue(text)

    assert (issue.line, issue.column) == (15 + bool(bootstrap), 13)
    assert issue.field == "access.roles[2].name"
    assert "requires MFA" in issue.message
    assert "lock itself out of every account" in issue.message


def test_bootstrap_named_role_without_mfa_is_refused_as_never_modified(
    variant: Variant, only_issue: OnlyIssue
) -> None:
    block = "    - name: OrganizationAccountAccessRole\n      require_mfa: false\n"

    issue = only_issue(with_third_role(variant, block))

    assert (issue.line, issue.column) == (15, 13)
    assert issue.field == "access.roles[2].name"
    assert issue.message == (
        "role 'OrganizationAccountAccessRole' has the bootstrap role's name; the daemon never "
        "modifies 'OrganizationAccountAccessRole', so give the people's role another name"
    )


def with_duration(variant: Variant, value: str) -> str:
    return variant((FIRST_POLICIES, FIRST_POLICIES + f"      max_session_duration: {value}\n"))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("3599", "Input should be greater than or equal to 3600"),
        ("0", "Input should be greater than or equal to 3600"),
        ("43201", "Input should be less than or equal to 43200"),
        ('"3600"', "Input should be a valid integer"),
        ("3600.0", "Input should be a valid integer"),
    ],
)
def test_max_session_duration_outside_one_to_twelve_hours(
    variant: Variant, only_issue: OnlyIssue, value: str, expected: str
) -> None:
    issue = only_issue(with_duration(variant, value))

    assert (issue.line, issue.column) == (13, 29)
    assert issue.field == "access.roles[0].max_session_duration"
    assert issue.message == expected


@pytest.mark.parametrize("value", [3600, 43200])
def test_max_session_duration_at_the_bounds_is_valid(variant: Variant, value: int) -> None:
    document = load.parse_spec(with_duration(variant, str(value)), "accounts.yaml")

    assert document.access.roles[0].max_session_duration == value


@pytest.mark.parametrize("value", ['"true"', '"false"', "1", "on-demand"])
def test_require_mfa_that_is_not_a_boolean(
    variant: Variant, only_issue: OnlyIssue, value: str
) -> None:
    text = variant((FIRST_POLICIES, FIRST_POLICIES + f"      require_mfa: {value}\n"))

    issue = only_issue(text)

    assert (issue.line, issue.column) == (13, 20)
    assert issue.field == "access.roles[0].require_mfa"
    assert issue.message == "Input should be a valid boolean"
