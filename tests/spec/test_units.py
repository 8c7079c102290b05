"""The OU tree: at most five levels below the root (AWS's limit), unique names under a parent."""

from __future__ import annotations

from collections.abc import Callable

from reconciler.core import load
from reconciler.core.errors import SpecIssue

Variant = Callable[..., str]
OnlyIssue = Callable[[str], SpecIssue]

LAST_UNIT = "        - name: Acme\n"  # line 7
CLIENTS_ROLES = "      roles: [AccountAccessRole, ReadOnlyAccessRole]\n"  # line 8, ends the units


def chain(depth: int) -> str:
    """A top-level unit `L1` with `L2` inside, down to `L<depth>`, as one flow-style line."""
    text = ""
    for level in range(depth, 0, -1):
        text = f"{{name: L{level}, units: [{text}]}}" if text else f"{{name: L{level}}}"
    return f"    - {text}\n"


def test_five_levels_of_units_are_valid(variant: Variant) -> None:
    text = variant(
        (CLIENTS_ROLES, CLIENTS_ROLES + chain(5)),
        ("unit: Clients/Acme", "unit: L1/L2/L3/L4/L5\n    roles: [AccountAccessRole]"),
    )

    document = load.parse_spec(text, "accounts.yaml")

    assert document.accounts[0].unit == "L1/L2/L3/L4/L5"


def test_six_levels_of_units_are_refused_at_the_sixth(
    variant: Variant, only_issue: OnlyIssue
) -> None:
    line = chain(6)

    issue = only_issue(variant((CLIENTS_ROLES, CLIENTS_ROLES + line)))

    assert (issue.line, issue.column) == (9, line.index("L6") + 1)
    assert issue.field == "organization.units[1].units[0].units[0].units[0].units[0].units[0].name"
    assert issue.message == (
        "unit 'L6' is nested 6 levels deep; AWS allows at most 5 levels below the root"
    )


def test_duplicate_unit_name_under_one_parent(variant: Variant, only_issue: OnlyIssue) -> None:
    issue = only_issue(variant((LAST_UNIT, LAST_UNIT + LAST_UNIT)))

    assert (issue.line, issue.column) == (8, 17)
    assert issue.field == "organization.units[0].units[1].name"
    assert issue.message == "unit 'Acme' appears twice under the same parent"


def test_same_unit_name_under_different_parents_is_valid(variant: Variant) -> None:
    text = variant((CLIENTS_ROLES, CLIENTS_ROLES + "    - name: Acme\n"))

    document = load.parse_spec(text, "accounts.yaml")

    assert [unit.name for unit in document.organization.units] == ["Clients", "Acme"]


def test_unit_name_with_a_slash(variant: Variant, only_issue: OnlyIssue) -> None:
    issue = only_issue(variant((CLIENTS_ROLES, CLIENTS_ROLES + "    - name: Acme/Dev\n")))

    assert (issue.line, issue.column) == (9, 13)
    assert issue.field == "organization.units[1].name"
    assert "no '/'" in issue.message
