"""Names must show what they hold: no control or invisible characters, no lookalike letters.

A zero-width space makes two names that read alike differ; U+202E reverses the text after it;
a control character reaches a terminal as an escape sequence. Each is refused wherever the
document names something, with the character's code point in the message.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from reconciler.core import load
from reconciler.core.errors import SpecError, SpecIssue

Variant = Callable[..., str]

# Characters a reader cannot see, written as YAML double-quoted escapes.
HIDDEN = {
    "zero width space": ("\\u200b", "U+200B, ZERO WIDTH SPACE"),
    "right-to-left override": ("\\u202e", "U+202E, RIGHT-TO-LEFT OVERRIDE"),
    "byte order mark": ("\\ufeff", "U+FEFF, ZERO WIDTH NO-BREAK SPACE"),
    "escape": ("\\e", "U+001B, a control character"),
    "newline": ("\\n", "U+000A, a control character"),
    "line separator": ("\\u2028", "U+2028, LINE SEPARATOR"),
}
UNIT_LINE = "    unit: Clients/Acme\n"
# Where a name stands: the text to replace in minimal.yaml, its replacement with `{}` where
# the hidden character goes, and the field reported.
PLACES = {
    "account name": ("name: acme-dev", 'name: "acme-{}dev"', "accounts[0].name"),
    "email": ("aws+shared@example.com", '"aws+shared@exam{}ple.com"', "accounts[1].email"),
    "unit name": ("name: Acme", 'name: "Ac{}me"', "organization.units[0].units[0].name"),
    "account unit": (UNIT_LINE, '    unit: "Clients/Ac{}me"\n', "accounts[0].unit"),
    "role name": ("- name: ReadOnlyAccessRole", '- name: "ReadOnly{}AccessRole"', None),
    "account roles": ("roles: [ReadOnlyAccessRole]", 'roles: ["ReadOnly{}AccessRole"]', None),
    "adopt_roles": (
        "roles: [ReadOnlyAccessRole]",
        'roles: [ReadOnlyAccessRole]\n    adopt_roles: ["ReadOnly{}AccessRole"]',
        "accounts[1].adopt_roles[0]",
    ),
    "group name": ("name: Developers", 'name: "Devel{}opers"', "groups[0].name"),
    "user name": ("users: [alice]", 'users: ["al{}ice"]', "groups[0].users[0]"),
    "grant account": ("{account: shared,", '{account: "sha{}red",', "groups[0].grants[1].account"),
    "grant role": (
        "role: ReadOnlyAccessRole}",
        'role: "ReadOnly{}AccessRole"}',
        "groups[0].grants[1].role",
    ),
    "tag key": (UNIT_LINE, UNIT_LINE + '    tags: {"te{}am": acme}\n', "accounts[0].tags.te"),
    "tag value": (UNIT_LINE, UNIT_LINE + '    tags: {team: "ac{}me"}\n', "accounts[0].tags.team"),
    "inline policy name": (
        "      policies: [arn:aws:iam::aws:policy/ReadOnlyAccess]\n",
        "      policies: [arn:aws:iam::aws:policy/ReadOnlyAccess]\n"
        '      inline_policies: {"de{}ny": {Version: "2012-10-17", Statement: []}}\n',
        "access.roles[1].inline_policies.de",
    ),
    "protected account": (
        "      - {account: shared, role: ReadOnlyAccessRole}\n",
        "      - {account: shared, role: ReadOnlyAccessRole}\n"
        'policy: {protected_accounts: ["sha{}red"]}\n',
        "policy.protected_accounts[0]",
    ),
}


def issues(text: str) -> list[SpecIssue]:
    with pytest.raises(SpecError) as caught:
        load.parse_spec(text, "accounts.yaml")
    return caught.value.issues


@pytest.mark.parametrize("hidden", HIDDEN.values(), ids=HIDDEN.keys())
@pytest.mark.parametrize("place", PLACES.values(), ids=PLACES.keys())
def test_hidden_character_in_a_name_is_refused_naming_it(
    variant: Variant, place: tuple[str, str, str | None], hidden: tuple[str, str]
) -> None:
    old, new, field = place
    escape, described = hidden

    found = issues(variant((old, new.replace("{}", escape))))

    messages = [i.message for i in found if field is None or i.field.startswith(field)]
    assert any(
        "contains an invisible or control character at position" in message
        and f"({described}): a name must show all it holds" in message
        for message in messages
    ), "\n".join(str(i) for i in found)


def test_hidden_character_message_names_position_and_field(variant: Variant) -> None:
    [issue] = issues(variant(("name: Developers", 'name: "Devel\\u200bopers"')))

    assert (issue.line, issue.column) == (26, 11)
    assert issue.field == "groups[0].name"
    assert issue.message == (
        "'Devel\\u200bopers' contains an invisible or control character at position 6 "
        "(U+200B, ZERO WIDTH SPACE): a name must show all it holds"
    )


def test_tag_value_with_a_tab_is_refused(variant: Variant) -> None:
    [issue] = issues(variant((UNIT_LINE, UNIT_LINE + '    tags: {team: "a\\tb"}\n')))

    assert issue.field == "accounts[0].tags.team"
    assert "(U+0009, a control character)" in issue.message


# Cyrillic letters that look like Latin ones: U+0430 (a), U+0410 (A), U+0435 (e).
LOOKALIKES = {
    "email domain": (
        "aws+shared@example.com",
        "aws+shared@ex\u0430mple.com",
        "accounts[1].email",
        "email 'aws+shared@ex\u0430mple.com' must be ASCII: the root user's password reset "
        "goes to it, and a lookalike letter from another script names a different domain",
    ),
    "unit name": (
        "name: Acme",
        "name: \u0410cme",
        "organization.units[0].units[0].name",
        "'\u0410cme' is not a valid unit name: 1 to 128 printable ASCII characters, no '/' "
        "(it separates the parts of a unit path) and no leading or trailing spaces",
    ),
    "account name": (
        "name: acme-dev",
        "name: \u0430cme-dev",
        "accounts[0].name",
        "'\u0430cme-dev' is not a valid account name: 1 to 50 characters from letters, "
        "digits, . _ - (it is used in profile names and links), starting with a letter or digit",
    ),
    "role name": (
        "- name: ReadOnlyAccessRole",
        "- name: R\u0435adOnlyAccessRole",
        "access.roles[1].name",
        "'R\u0435adOnlyAccessRole' is not a valid IAM role name: 1 to 64 characters from "
        "letters, digits and + = , . @ _ -",
    ),
}


@pytest.mark.parametrize("case", LOOKALIKES.values(), ids=LOOKALIKES.keys())
def test_lookalike_letters_are_refused_in_names_aws_keeps_apart_by_bytes(
    variant: Variant, case: tuple[str, str, str, str]
) -> None:
    old, new, field, message = case

    found = issues(variant((old, new)))

    assert (field, message) in [(i.field, i.message) for i in found]


def test_unit_names_are_printable_ascii(variant: Variant) -> None:
    document = load.parse_spec(
        variant(
            ("name: Acme", 'name: "Acme (EU) #1 & co\'s ~test~"'),
            (UNIT_LINE, '    unit: "Clients/Acme (EU) #1 & co\'s ~test~"\n'),
        ),
        "accounts.yaml",
    )

    assert document.organization.units[0].units[0].name == "Acme (EU) #1 & co's ~test~"
