# ruff: noqa: E501  (the expected document is literal text, its lines as written)
"""The import's pure part: live state values in, document text and left-out items out,
compared with literal expectations."""

from __future__ import annotations

from dataclasses import replace

from reconciler.core import adopt, load, policies, state

SOURCE = "111111111111"
ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
READ_ONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"
BILLING = "arn:aws:iam::aws:policy/Billing"


def _trust(mfa: bool, principal: str = SOURCE) -> str:
    return policies.compact_json(policies.trust_policy(principal, require_mfa=mfa))


def _roles(*, extra: bool = False, marked: bool = False) -> dict[str, state.Role]:
    reader = frozenset({READ_ONLY, BILLING} if extra else {READ_ONLY})
    return {
        "Admin": state.Role("Admin", _trust(True), frozenset({ADMIN}), max_session_duration=7200),
        "Reader": state.Role("Reader", _trust(False), reader, managed=marked),
        "Vendor": state.Role("Vendor", _trust(False, "999999999999")),
        "AWSServiceRoleForSupport": state.Role(
            "AWSServiceRoleForSupport", "{}", path="/aws-service-role/"
        ),
        "OrganizationAccountAccessRole": state.Role("OrganizationAccountAccessRole", _trust(False)),
        "cdk-hnb659fds-deploy-role": state.Role("cdk-hnb659fds-deploy-role", _trust(False)),
    }


def _grants(*arns: str) -> str:
    return policies.compact_json(policies.grant_policy(arns))


ACME = ("Clients", "Acme")
LIVE = state.OrgState(
    units={("Clients",): state.Unit(("Clients",)), ACME: state.Unit(ACME)},
    accounts=(
        state.Account(
            "Acme Dev: #1\nx",
            "dev@example.com",
            "222222222222",
            ACME,
            {"team": "a: b", "bad": "x#y"},
            _roles(),
        ),
        state.Account(
            "acme-prod", "prod@example.com", "333333333333", ACME, {}, _roles(extra=True)
        ),
        state.Account("ops", "ops@example.com", "444444444444", (), {}, _roles(marked=True)),
        state.Account("gone", "gone@example.com", "555555555555", (), {}, None, state="SUSPENDED"),
        state.Account("locked", "locked@example.com", "666666666666", ("Clients",), {}, None),
    ),
    groups={
        "Devs": state.Group(
            "Devs",
            "/",
            users=frozenset({"bob", "alice"}),
            other_policies={
                "assume": _grants(
                    "arn:aws:iam::222222222222:role/Admin", "arn:aws:iam::444444444444:role/Admin"
                )
            },
        ),
        "Readers": state.Group(
            "Readers",
            grant_policy=_grants("arn:aws:iam::444444444444:role/Reader"),
            users=frozenset({"carol"}),
        ),
        "Billing": state.Group(
            "Billing",
            "/",
            users=frozenset({"carol"}),
            other_policies={
                "b": '{"Version":"2012-10-17","Statement":[{"Effect":"Allow",'
                '"Action":"aws-portal:*","Resource":"*"}]}'
            },
        ),
        "Outsiders": state.Group(
            "Outsiders", "/", other_policies={"x": _grants("arn:aws:iam::333333333333:role/Reader")}
        ),
    },
    management_account_id=SOURCE,
    unreachable={"666666666666": "AccessDenied: not authorized"},
)

EXPECTED = """\
# yaml-language-server: $schema=./accounts.schema.json
#
# Written by `reconciler import` from the live organization. `reconciler plan` on it
# should show no change; review it, then commit it.
#
# Left out, as the document cannot express it (not declared, so left as it is):
#   - account 'gone' (555555555555): the account is SUSPENDED
#   - account 'locked' (666666666666): its roles could not be read: AccessDenied: not authorized
#   - group 'Outsiders': it grants arn:aws:iam::333333333333:role/Reader, which is not an imported role
#   - role Reader in 1 account (acme-prod): differs from the template (also attaches arn:aws:iam::aws:policy/Billing)
#   - role Vendor in 3 accounts (Acme-Dev-1-x, acme-prod, ops): its trust policy trusts other principals or conditions than 111111111111
#   - tag 'bad' of account Acme-Dev-1-x: tag value 'x#y' is not allowed: up to 256 letters, digits, spaces and _ . : / = + - @ (quote values YAML would read as numbers or booleans)

organization:
  management_account_id: "111111111111"
  bootstrap_role: OrganizationAccountAccessRole
  units:
    - name: Clients
      roles: [Admin]
      units:
        - name: Acme

access:
  roles:
    - name: Admin
      policies: [arn:aws:iam::aws:policy/AdministratorAccess]
      max_session_duration: 7200
      adopt: true   # made without reconciler's marker: taken over as it is
    - name: Reader
      policies: [arn:aws:iam::aws:policy/ReadOnlyAccess]
      require_mfa: false
      adopt: true   # made without reconciler's marker: taken over as it is

accounts:
  # named 'Acme Dev: #1\\nx' in AWS
  - name: Acme-Dev-1-x
    id: "222222222222"
    email: dev@example.com
    unit: Clients/Acme
    tags:
      team: "a: b"
    roles: [Reader]
  # role Reader not declared here: differs from the template (also attaches arn:aws:iam::aws:policy/Billing)
  - name: acme-prod
    id: "333333333333"
    email: prod@example.com
    unit: Clients/Acme
  - name: ops
    id: "444444444444"
    email: ops@example.com
    roles: [Admin, Reader]

groups:
  - name: Devs
    adopt: true   # outside the daemon's path: taken over with its members
    users: [alice, bob]
    grants:
      - {account: Acme-Dev-1-x, role: Admin}
      - {account: ops, role: Admin}
  - name: Readers
    users: [carol]
    grants:
      - {account: ops, role: Reader}
"""


def test_document_declares_what_fits_and_lists_the_rest() -> None:
    imported = adopt.document(LIVE, adopt.Choice(SOURCE))

    assert imported.text == EXPECTED
    assert imported.left_out[0] == "account 'gone' (555555555555): the account is SUSPENDED"
    assert len(imported.left_out) == 6
    assert (imported.accounts, imported.roles, imported.groups) == (3, 2, 2)


def test_document_validates_and_reads_back_the_values() -> None:
    document = load.parse_spec(adopt.document(LIVE, adopt.Choice(SOURCE)).text, "imported")

    dev = document.account("Acme-Dev-1-x")
    assert dev.tags == {"team": "a: b"}
    assert document.role_names(dev) == ("Reader", "Admin")
    assert document.role_names(document.account("acme-prod")) == ("Admin",)


def test_same_state_gives_the_same_bytes_whatever_the_order() -> None:
    shuffled = state.OrgState(
        units=dict(reversed(list(LIVE.units.items()))),
        accounts=tuple(reversed(LIVE.accounts)),
        groups=dict(reversed(list(LIVE.groups.items()))),
        management_account_id=SOURCE,
        unreachable=LIVE.unreachable,
    )

    assert adopt.document(shuffled, adopt.Choice(SOURCE)).text == EXPECTED


def test_named_roles_and_managed_groups_only() -> None:
    choice = adopt.Choice(SOURCE, roles=frozenset({"reader"}), groups=adopt.GroupChoice.MANAGED)

    text = adopt.document(LIVE, choice).text

    assert "    - name: Reader\n" in text and "name: Admin" not in text
    assert "groups:\n  - name: Readers\n" in text and "Devs" not in text
    assert "Vendor" not in text  # not asked for: neither imported nor listed


def test_a_unit_whose_every_account_carries_a_role_gets_it_once() -> None:
    team = ("Clients", "Acme", "Team")
    live = state.OrgState(
        units={p: state.Unit(p) for p in (("Clients",), ACME, team)},
        accounts=(
            state.Account("a", "a@example.com", "222222222222", ACME, roles=_roles()),
            state.Account("b", "b@example.com", "333333333333", team, roles=_roles()),
        ),
        groups={},
        management_account_id=SOURCE,
    )

    text = adopt.document(live, adopt.Choice(SOURCE)).text

    assert (
        "  units:\n    - name: Clients\n      roles: [Admin, Reader]\n      units:\n"
        "        - name: Acme\n          units:\n            - name: Team\n"
    ) in text
    assert "    roles: [" not in text.split("accounts:")[1]


HOSTILE_NAMES = {
    "long": ("n" * 300, "n" * 50),
    "comment sign": ("#", "account"),
    "sequence dash": ("- x", "x"),
    "right-to-left override": ("\u202eevil", "evil"),
    "yaml boolean": ("yes", "yes"),
    "number": ("123", "123"),
}


def test_hostile_account_names_become_names_the_document_takes() -> None:
    accounts = tuple(
        state.Account(name, f"a{i}@example.com", f"{i + 2}" * 12, roles={})
        for i, (name, _) in enumerate(HOSTILE_NAMES.values())
    )
    live = state.OrgState(units={}, accounts=accounts, groups={}, management_account_id=SOURCE)

    text = adopt.document(live, adopt.Choice(SOURCE)).text

    document = load.parse_spec(text, "imported")
    by_id = {a.id: a.name for a in document.accounts}
    assert [by_id[a.id] for a in accounts] == [want for _, want in HOSTILE_NAMES.values()]
    assert "  # named '\\u202eevil' in AWS\n" in text
    assert '  - name: "yes"\n' in text and '  - name: "123"\n' in text


def test_two_names_made_alike_are_told_apart_by_id() -> None:
    accounts = (
        state.Account("acme dev", "a@example.com", "222222222222", roles={}),
        state.Account("acme/dev", "b@example.com", "333333333333", roles={}),
    )
    live = state.OrgState(units={}, accounts=accounts, groups={}, management_account_id=SOURCE)

    document = load.parse_spec(adopt.document(live, adopt.Choice(SOURCE)).text, "imported")

    assert [a.name for a in document.accounts] == ["acme-dev", "acme-dev-333333333333"]


def test_a_role_asked_for_that_no_account_holds_is_listed() -> None:
    choice = adopt.Choice(SOURCE, roles=frozenset({"reader", "auditor"}))

    assert "role 'auditor': in no account read" in adopt.document(LIVE, choice).left_out


def test_groups_the_document_is_not_about_are_imported_only_when_all_are_asked_for() -> None:
    default = adopt.document(LIVE, adopt.Choice(SOURCE)).left_out
    every = adopt.document(LIVE, adopt.Choice(SOURCE, groups=adopt.GroupChoice.ALL)).left_out

    billing = "group 'Billing': its policy b grants more than sts:AssumeRole on roles"
    assert billing not in default
    assert billing in every


def test_a_group_reaching_a_role_through_more_than_a_grant_is_listed() -> None:
    admin = "arn:aws:iam::aws:policy/AdministratorAccess"
    assume_anything = (
        '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}'
    )
    ours = state.Group(
        "Operators", "/reconciler/", users=frozenset({"dan"}), attached=frozenset({admin})
    )
    admins = state.Group("Admins", "/", users=frozenset({"eve"}), attached=frozenset({admin}))
    live = replace(
        LIVE,
        groups={"Operators": ours, "Admins": admins},
        managed_policies={admin: assume_anything},
    )

    left_out = adopt.document(live, adopt.Choice(SOURCE)).left_out

    attached = f"managed policies are attached to it ({admin})"
    assert f"group 'Admins': {attached}" in left_out
    assert (
        f"group 'Operators': {attached} (under the daemon's path: the plan revokes it)" in left_out
    )


def test_a_group_reaching_only_an_account_left_out_is_listed() -> None:
    arn = "arn:aws:iam::666666666666:role/Admin"  # in 'locked', whose roles were not read
    lockers = state.Group("Lockers", "/", other_policies={"x": _grants(arn)})
    live = replace(LIVE, groups={"Lockers": lockers})

    left_out = adopt.document(live, adopt.Choice(SOURCE)).left_out

    assert f"group 'Lockers': it grants {arn}, which is not an imported role" in left_out
