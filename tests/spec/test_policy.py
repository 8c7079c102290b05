"""The safety rails' own settings: protected accounts must name something real."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from reconciler.core import load
from reconciler.core.errors import SpecIssue

OnlyIssue = Callable[[str], SpecIssue]


def with_policy(minimal: str, body: str) -> str:
    """The minimal document with a `policy` section; `body` starts on line 32."""
    return minimal + "\npolicy:\n" + body


def test_protected_entry_that_is_neither_a_name_nor_an_id(
    minimal: str, only_issue: OnlyIssue
) -> None:
    text = with_policy(minimal, '  protected_accounts: [shared, "333333333333", acme-prod]\n')

    issue = only_issue(text)

    assert (issue.line, issue.column) == (33, 48)
    assert issue.field == "policy.protected_accounts[2]"
    assert issue.message == (
        "'acme-prod' is neither a declared account name nor a 12-digit account id"
    )


def test_protected_names_and_ids_are_valid(minimal: str) -> None:
    text = with_policy(minimal, '  protected_accounts: [shared, "333333333333"]\n')

    document = load.parse_spec(text, "accounts.yaml")

    assert document.policy.protected_accounts == ("shared", "333333333333")
    assert document.is_protected(document.account("shared"))
    assert not document.is_protected(document.account("acme-dev"))


@pytest.mark.parametrize(
    ("body", "field", "expected"),
    [
        ("  prune: yes please\n", "policy.prune", "Input should be a valid boolean"),
        ("  max_changes: -1\n", "policy.max_changes", "greater than or equal to 0"),
        ('  max_changes: "50"\n', "policy.max_changes", "Input should be a valid integer"),
    ],
)
def test_policy_values_of_the_wrong_kind(
    minimal: str, only_issue: OnlyIssue, body: str, field: str, expected: str
) -> None:
    issue = only_issue(with_policy(minimal, body))

    assert issue.line == 33
    assert issue.field == field
    assert expected in issue.message
