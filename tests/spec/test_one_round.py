"""`validate` reports a document's reference problems in the same run as its value problems,
wherever the references can still be resolved: one round of fixes, not two."""

from __future__ import annotations

import pytest

from reconciler.core import load
from reconciler.core.errors import SpecError

HEAD = """organization:
  management_account_id: "123456789012"
access:
  roles:
    - name: Admin
"""


def _issues(text: str) -> list[tuple[int, str, str]]:
    with pytest.raises(SpecError) as caught:
        load.parse_spec(text, "accounts.yaml")
    return [(i.line, i.field, i.message) for i in caught.value.issues]


def test_a_wrong_email_does_not_hide_a_misspelt_role_or_an_undeclared_account() -> None:
    text = HEAD + (
        "accounts:\n"
        "  - {name: dev, email: not-an-email, roles: [Admin]}\n"  # line 7
        "  - {name: prod, email: prod@example.com, roles: [Admni]}\n"
        "groups:\n"
        "  - name: Devs\n"
        "    users: [alice]\n"
        "    grants:\n"
        "      - {account: dev, role: Admin}\n"
        "      - {account: staging, role: Admin}\n"  # line 14
    )

    issues = _issues(text)

    assert [(line, field) for line, field, _ in issues] == [
        (7, "accounts[0].email"),
        (8, "accounts[1].roles[0]"),
        (14, "groups[0].grants[1].account"),
    ]
    assert issues[1][2] == "role 'Admni' is not declared in access.roles (declared: Admin)"
    assert issues[2][2] == ("account 'staging' is not declared in accounts (declared: dev, prod)")


def test_references_to_an_entry_with_its_own_error_are_not_reported_as_unknown() -> None:
    text = (
        'organization: {management_account_id: "123456789012"}\n'
        "access:\n"
        "  roles:\n"
        "    - {name: Admin, max_session_duration: 60}\n"  # line 4: below 3600
        "accounts:\n"
        "  - {name: dev, email: dev@example, roles: [Admin]}\n"  # line 6: no top-level domain
        "groups:\n"
        "  - {name: Devs, users: [alice], grants: [{account: dev, role: Admin}]}\n"
    )

    assert [(line, field) for line, field, _ in _issues(text)] == [
        (4, "access.roles[0].max_session_duration"),
        (6, "accounts[0].email"),
    ]


def test_entries_after_a_left_out_one_are_reported_at_their_own_lines() -> None:
    text = HEAD + (
        "accounts:\n"
        "  - {name: a, email: a@example.com, roles: [Admin]}\n"
        "  - {name: b, email: broken, roles: [Admin]}\n"  # line 8
        "  - {name: c, email: c@example.com, roles: [Nope]}\n"  # line 9
        "  - {name: a, email: d@example.com}\n"  # line 10: a second "a"
    )

    assert [(line, field) for line, field, _ in _issues(text)] == [
        (8, "accounts[1].email"),
        (9, "accounts[2].roles[0]"),
        (10, "accounts[3].name"),
    ]


def test_a_broken_organization_reports_only_what_is_known() -> None:
    # The unit tree itself is wrong: which units exist is unknown, so no account's unit or
    # inherited roles are judged; only the value problem is reported.
    text = (
        'organization: {management_account_id: "123456789012", units: [{name: 5}]}\n'
        "access: {roles: [{name: Admin}]}\n"
        "accounts:\n"
        "  - {name: dev, email: dev@example.com, unit: Nowhere, roles: [Missing]}\n"
    )

    issues = _issues(text)

    assert [(line, field) for line, field, _ in issues] == [(1, "organization.units[0].name")]
