"""`Scope`: which changes a pass over part of the organization may plan, and what a new
revision of the document changes; and how a change names its resource for an event's cause.

Plain values in, literal expectations out: each change kind is built by hand, and documents
are the example `desired/accounts.yaml` with one edit each.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.core import load, plan, spec, state
from reconciler.core.scope import EVERYTHING, NOTHING, Scope, of_changes, of_revisions

EXAMPLE = (Path(__file__).parents[2] / "desired" / "accounts.yaml").read_text(encoding="utf-8")
TRUST = '{"Version":"2012-10-17","Statement":[]}'
GRANTS = (
    '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole",'
    '"Resource":"arn:aws:iam::111111111111:role/AccountAccessRole"}]}'
)
PROD_ID = "111111111111"

# One change of every class, each to acme-prod, to the group Auditors or to the unit Clients/Acme.
ROLE_CHANGES: dict[str, plan.Change] = {
    "CreateRole": plan.CreateRole(
        "acme-prod", PROD_ID, "AccountAccessRole", state.Role("AccountAccessRole", TRUST)
    ),
    "UpdateRoleTrust": plan.UpdateRoleTrust("acme-prod", PROD_ID, "AccountAccessRole", "{}", "{}"),
    "AttachRolePolicy": plan.AttachRolePolicy(
        "acme-prod", PROD_ID, "AccountAccessRole", "arn:aws:iam::aws:policy/ReadOnlyAccess"
    ),
    "DetachRolePolicy": plan.DetachRolePolicy(
        "acme-prod", PROD_ID, "AccountAccessRole", "arn:aws:iam::aws:policy/ReadOnlyAccess"
    ),
    "PutRoleInlinePolicy": plan.PutRoleInlinePolicy(
        "acme-prod", PROD_ID, "AccountAccessRole", "extra", None, TRUST
    ),
    "DeleteRoleInlinePolicy": plan.DeleteRoleInlinePolicy(
        "acme-prod", PROD_ID, "AccountAccessRole", "extra"
    ),
    "UpdateRoleSession": plan.UpdateRoleSession(
        "acme-prod", PROD_ID, "AccountAccessRole", 3600, 7200
    ),
    "MarkRole": plan.MarkRole("acme-prod", PROD_ID, "AccountAccessRole"),
    "DeleteRole": plan.DeleteRole("acme-prod", PROD_ID, "AccountAccessRole", policies=2),
}
GROUP_CHANGES: dict[str, plan.Change] = {
    "CreateGroup": plan.CreateGroup(state.Group("Auditors", grant_policy=GRANTS)),
    "PutGroupGrants": plan.PutGroupGrants("Auditors", None, GRANTS),
    "DeleteGroupInlinePolicy": plan.DeleteGroupInlinePolicy("Auditors", "extra", GRANTS),
    "DetachGroupPolicy": plan.DetachGroupPolicy(
        "Auditors", "arn:aws:iam::aws:policy/ReadOnlyAccess"
    ),
    "AddMember": plan.AddMember("Auditors", "carol"),
    "RemoveMember": plan.RemoveMember("Auditors", "mallory"),
    "DeleteGroup": plan.DeleteGroup("Auditors"),
}
TREE_CHANGES: dict[str, plan.Change] = {
    "CreateUnit": plan.CreateUnit(("Clients", "Acme")),
    "DeleteUnit": plan.DeleteUnit(("Clients", "Acme"), "ou-ab12-cdef3456"),
    "CreateAccount": plan.CreateAccount(
        "acme-prod",
        "aws+acme-prod@example.com",
        ("Clients", "Acme"),
        {"client": "acme"},
        "OrganizationAccountAccessRole",
    ),
}
MOVE = plan.MoveAccount("acme-prod", PROD_ID, ("Clients",), ("Clients", "Acme"))
TAGS = plan.UpdateAccountTags(
    "acme-prod", PROD_ID, {"client": "acme"}, {"client": "acme", "environment": "production"}
)
ALL_CHANGES = {**ROLE_CHANGES, **GROUP_CHANGES, **TREE_CHANGES, "MoveAccount": MOVE, "Tags": TAGS}

PROD = frozenset({"acme-prod"})
DEV = frozenset({"acme-dev"})
# The scopes every change is checked against, by name.
SCOPES = {
    "roles of acme-prod": Scope(roles=PROD),
    "roles of acme-dev": Scope(roles=DEV),
    "placement of acme-prod": Scope(placement=PROD),
    "placement of acme-dev": Scope(placement=DEV),
    "groups": Scope(groups=True),
    "tree": Scope(tree=True),
    "nothing": NOTHING,
    "everything": EVERYTHING,
}


def _covering(kind: str) -> set[str]:
    """The names of the scopes a pass over which may plan the change `kind` (literal)."""
    if kind in ROLE_CHANGES:
        return {"roles of acme-prod", "everything"}
    if kind in GROUP_CHANGES:
        return {"groups", "everything"}
    if kind in TREE_CHANGES:
        return {"tree", "everything"}
    if kind == "MoveAccount":
        return {"tree", "placement of acme-prod", "everything"}
    return {"placement of acme-prod", "everything"}  # tags: a tree read does not read them


def test_every_change_class_of_the_plan_module_is_checked() -> None:
    built = {type(change) for change in ALL_CHANGES.values()}
    concrete = {
        cls
        for cls in vars(plan).values()
        if isinstance(cls, type)
        and issubclass(cls, plan.Change)
        and not getattr(cls, "__abstractmethods__", None)
    }
    assert concrete - built == set()


@pytest.mark.parametrize("kind", sorted(ALL_CHANGES))
@pytest.mark.parametrize("scope_name", sorted(SCOPES))
def test_covers(kind: str, scope_name: str) -> None:
    expected = scope_name in _covering(kind)
    assert SCOPES[scope_name].covers(ALL_CHANGES[kind]) is expected


@pytest.mark.parametrize(
    ("scope", "covered"),
    [
        (Scope(roles=frozenset({"acme-prod"})), True),
        (Scope(roles=frozenset({"acme-dev"})), False),
        (Scope(roles=frozenset({"acme-dev", "acme-prod"})), True),
        (Scope(placement=frozenset({"acme-prod"})), False),
        (Scope(groups=True), False),
        (Scope(tree=True), False),
        (Scope(tree=True, placement=PROD, groups=True), False),
        (Scope(everything=True), True),
    ],
)
def test_a_role_trust_of_acme_prod_needs_its_roles_read(scope: Scope, covered: bool) -> None:
    change = plan.UpdateRoleTrust("acme-prod", PROD_ID, "AccountAccessRole", TRUST, TRUST)
    assert scope.covers(change) is covered


def test_a_role_of_an_account_not_created_yet_is_covered_by_its_name() -> None:
    change = plan.CreateRole("acme-new", None, "AccountAccessRole", state.Role("x", TRUST))
    assert Scope(roles=frozenset({"acme-new"})).covers(change)
    assert not Scope(tree=True, groups=True).covers(change)


def _plan() -> plan.Plan:
    withheld = (
        plan.Withheld(GROUP_CHANGES["RemoveMember"], "prune is off"),
        plan.Withheld(ROLE_CHANGES["DeleteRole"], "prune is off"),
        plan.Withheld(TREE_CHANGES["DeleteUnit"], "prune is off"),
    )
    access = (
        plan.AccessChange(
            "acme-prod",
            "AccountAccessRole",
            "carol",
            plan.AccessAction.GRANT,
            "Auditors",
            None,
            True,
        ),
    )
    finding = plan.Finding("access", "acme-prod", "AccountAccessRole", "group Ops", ("dave",))
    causes = {"group auditors": plan.Cause("arn:aws:iam::111111111111:user/eve", "t", "x")}
    return plan.Plan.of(
        [ROLE_CHANGES["UpdateRoleTrust"], GROUP_CHANGES["AddMember"], MOVE, TAGS],
        withheld=withheld,
        access=access,
        findings=(finding,),
        causes=causes,
        unreachable={"acme-dev": "AccessDenied"},
    )


def test_limit_keeps_the_changes_and_withheld_changes_in_scope_and_the_rest_untouched() -> None:
    whole = _plan()
    limited = Scope(groups=True, placement=PROD).limit(whole)
    assert [type(c).__name__ for c in limited.changes] == [
        "UpdateAccountTags",
        "MoveAccount",
        "AddMember",
    ]
    assert [type(w.change).__name__ for w in limited.withheld] == ["RemoveMember"]
    assert limited.access == whole.access
    assert limited.findings == whole.findings
    assert limited.causes == whole.causes
    assert limited.unreachable == {"acme-dev": "AccessDenied"}


def test_limit_to_the_tree_keeps_neither_tags_nor_roles() -> None:
    limited = Scope(tree=True).limit(_plan())
    assert [type(c).__name__ for c in limited.changes] == ["MoveAccount"]
    assert [type(w.change).__name__ for w in limited.withheld] == ["DeleteUnit"]


def test_limit_to_nothing_plans_nothing_and_to_everything_everything() -> None:
    whole = _plan()
    assert NOTHING.limit(whole).empty
    assert EVERYTHING.limit(whole) == whole
    assert len(EVERYTHING.limit(whole).changes) == 4


def test_union() -> None:
    union = Scope(roles=PROD, placement=DEV) | Scope(roles=DEV, groups=True)
    assert union == Scope(roles=frozenset({"acme-prod", "acme-dev"}), placement=DEV, groups=True)
    assert Scope(tree=True) | NOTHING == Scope(tree=True)
    assert NOTHING | EVERYTHING == EVERYTHING
    assert (NOTHING | NOTHING).empty
    assert not (NOTHING | Scope(groups=True)).empty


@pytest.mark.parametrize(
    ("scope", "text"),
    [
        (NOTHING, "nothing"),
        (EVERYTHING, "everything"),
        (Scope(everything=True, groups=True, roles=PROD), "everything"),
        (Scope(tree=True), "units and placement of accounts"),
        (Scope(groups=True), "groups"),
        (Scope(roles=frozenset({"acme-prod", "acme-dev"})), "roles of acme-dev, acme-prod"),
        (Scope(placement=PROD), "unit and tags of acme-prod"),
        (
            Scope(tree=True, placement=PROD, roles=PROD, groups=True),
            "units and placement of accounts; unit and tags of acme-prod; roles of acme-prod;"
            " groups",
        ),
    ],
)
def test_describe(scope: Scope, text: str) -> None:
    assert scope.describe() == text


# --- what a new revision of the document changes ----------------------------------------------


def _document(*replacements: tuple[str, str]) -> spec.Spec:
    """The example document with each `old` text (occurring exactly once) replaced by `new`."""
    text = EXAMPLE
    for old, new in replacements:
        assert text.count(old) == 1, f"{old!r} must occur exactly once in the example"
        text = text.replace(old, new)
    return load.parse_spec(text, "accounts.yaml")


ADDED_ACCOUNT = """  - name: globex-dev
    email: aws+globex-dev@example.com
    unit: Clients/Globex

# reconciler's own groups"""


def _whole(name: str) -> Scope:
    one = frozenset({name})
    return Scope(tree=True, groups=True, placement=one, roles=one)


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        pytest.param((), NOTHING, id="identical"),
        pytest.param(
            (("users: [carol]", "users: [carol, dave]"),),
            Scope(groups=True),
            id="group member added",
        ),
        pytest.param(
            (("tags: {client: acme, environment: production}", "tags: {client: acme}"),),
            Scope(placement=PROD, roles=PROD),
            id="account tag changed",
        ),
        pytest.param(
            (("# reconciler's own groups", ADDED_ACCOUNT),),
            _whole("globex-dev"),
            id="account added",
        ),
        pytest.param(
            (
                (
                    "  - name: globex-prod\n    email: aws+globex-prod@example.com\n"
                    "    unit: Clients/Globex\n"
                    "    tags: {client: globex, environment: production}\n",
                    "",
                ),
                ("      - {account: globex-prod, role: ReadOnlyAccessRole}\n", ""),
            ),
            _whole("globex-prod"),
            id="account removed",
        ),
        pytest.param(
            (("policies: [arn:aws:iam::aws:policy/ReadOnlyAccess]", "policies: []"),),
            EVERYTHING,
            id="role template policy changed",
        ),
        pytest.param(
            (("roles: [AccountAccessRole]\n", "roles: [AccountAccessRole, ReadOnlyAccessRole]\n"),),
            EVERYTHING,
            id="unit roles changed",
        ),
        pytest.param((("max_changes: 50", "max_changes: 20"),), EVERYTHING, id="policy changed"),
        pytest.param(
            (("bootstrap_role: OrganizationAccountAccessRole", "bootstrap_role: Bootstrap"),),
            EVERYTHING,
            id="bootstrap role changed",
        ),
        pytest.param(
            (
                ("# No roles: people use their own IAM users here.", "# reworded"),
                ("  prune: false", "  prune:    false   # spaced"),
                ("groups:\n  - name: Administrators", "groups:\n\n\n  - name: Administrators"),
            ),
            NOTHING,
            id="comments and whitespace only",
        ),
    ],
)
def test_of_revisions(edit: tuple[tuple[str, str], ...], expected: Scope) -> None:
    assert of_revisions(_document(), _document(*edit)) == expected


def test_of_revisions_is_the_same_read_backwards_for_an_account() -> None:
    with_it, without = _document(), _document(("# reconciler's own groups", ADDED_ACCOUNT))
    assert of_revisions(without, with_it) == _whole("globex-dev")
    assert of_revisions(with_it, without) == _whole("globex-dev")


def test_of_revisions_names_only_the_accounts_that_changed() -> None:
    new = _document(
        ("tags: {client: acme, environment: development}", "tags: {client: acme}"),
        ("unit: Clients/Globex", "unit: Clients"),
    )
    names = frozenset({"acme-dev", "globex-prod"})
    assert of_revisions(_document(), new) == Scope(placement=names, roles=names)


@pytest.mark.parametrize(
    "edit",
    [
        ("email: aws+globex-prod@example.com", "email: aws+globex@example.com"),
        ("  - name: globex-prod\n", '  - name: globex-prod\n    id: "444444444444"\n'),
    ],
    ids=["email", "id"],
)
def test_an_account_matched_to_another_live_account_changes_the_groups_grants(
    edit: tuple[str, str],
) -> None:
    """Grants name the account by its id: the groups' policies change with the match."""
    assert of_revisions(_document(), _document(edit)) == _whole("globex-prod")


# --- the resource a change is to, as events name it --------------------------------------------


@pytest.mark.parametrize(
    ("kind", "resource"),
    [
        *((kind, "role acme-prod/accountaccessrole") for kind in sorted(ROLE_CHANGES)),
        *((kind, "group auditors") for kind in sorted(GROUP_CHANGES)),
        ("CreateUnit", "unit Clients/Acme"),
        ("DeleteUnit", "unit Clients/Acme"),
        ("CreateAccount", "account acme-prod"),
        ("MoveAccount", "account acme-prod"),
        ("Tags", "account acme-prod"),
    ],
)
def test_resource_of(kind: str, resource: str) -> None:
    assert plan.resource_of(ALL_CHANGES[kind]) == resource


def test_plan_line_names_who_made_the_drift_only_for_the_resource_told() -> None:
    trust = plan.AttachRolePolicy(
        "acme-prod", PROD_ID, "AccountAccessRole", "arn:aws:iam::aws:policy/ReadOnlyAccess"
    )
    other = plan.AttachRolePolicy(
        "acme-dev", "222222222222", "AccountAccessRole", "arn:aws:iam::aws:policy/ReadOnlyAccess"
    )
    member = plan.AddMember("Auditors", "carol")
    cause = plan.Cause(
        "arn:aws:sts::111111111111:assumed-role/Admin/eve",
        "2026-12-03T19:04:05Z",
        "AttachRolePolicy",
    )
    told = plan.Plan.of([trust, other, member], causes={"role acme-prod/accountaccessrole": cause})
    assert told.line(trust) == (
        "~ role acme-prod/AccountAccessRole: attach arn:aws:iam::aws:policy/ReadOnlyAccess"
        " (made by arn:aws:sts::111111111111:assumed-role/Admin/eve at 2026-12-03T19:04:05Z)"
    )
    assert told.line(other) == (
        "~ role acme-dev/AccountAccessRole: attach arn:aws:iam::aws:policy/ReadOnlyAccess"
    )
    assert told.line(member) == "+ membership Auditors/carol: add user carol to group Auditors"
    assert plan.Plan.of([trust]).line(trust) == trust.line()


# --- what changes made: read again before trusting an earlier read --------------------------------


def test_what_changes_made_is_the_part_to_read_again() -> None:
    changes = [
        plan.UpdateRoleTrust("acme-dev", "111111111111", "AccountAccessRole", "{}", "{}"),
        plan.AddMember("Auditors", "mallory"),
        plan.UpdateAccountTags("acme-prod", "222222222222", {}, {"env": "prod"}),
        plan.MoveAccount("globex-prod", "333333333333", ("Clients",), ("Clients", "Globex")),
    ]
    assert of_changes(changes) == Scope(
        tree=True,
        placement=frozenset({"acme-prod", "globex-prod"}),
        roles=frozenset({"acme-dev"}),
        groups=True,
    )
    assert of_changes([]) == Scope()
    assert of_changes([plan.CreateUnit(("Clients", "Initech"))]) == Scope(tree=True)
