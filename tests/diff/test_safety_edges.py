"""Edges of the safety rails: takeover of live roles and groups made outside the daemon, one
declaration per live account, the exact limits of the mass-removal rail by kind, and the exact
words of each refusal. Plain values in, the exact refusal or withholding out."""

from __future__ import annotations

import pytest

from reconciler.core import load, plan, policies, safety, spec, state
from reconciler.core.errors import SafetyError

MANAGEMENT = "111111111111"
ACME = "333333333333"
BETA = "555555555555"
OURS = "/reconciler/"
GOOD_TRUST = policies.compact_json(policies.trust_policy(MANAGEMENT, require_mfa=True))
HEAD = 'organization: {management_account_id: "111111111111"}\n'
ONE_ROLE = "access: {roles: [{name: AccountAccessRole}]}\n"
ACME_ONLY = "accounts: [{name: acme, email: acme@example.com, roles: [AccountAccessRole]}]\n"


def document(*parts: str, policy: str = "{max_changes: 100}") -> spec.Spec:
    return load.parse_spec(HEAD + "".join(parts) + f"policy: {policy}\n", "accounts.yaml")


def guard(proposed: plan.Plan, facts: safety.Facts, doc: spec.Spec | None = None) -> plan.Plan:
    return safety.guard(
        doc or document(ONE_ROLE, ACME_ONLY), proposed, MANAGEMENT, MANAGEMENT, facts
    )


def org(*accounts: state.Account, groups: tuple[state.Group, ...] = ()) -> state.OrgState:
    return state.OrgState(units={}, accounts=accounts, groups={g.name: g for g in groups})


def account(name: str, account_id: str | None, *roles: state.Role) -> state.Account:
    return state.Account(name, f"{name}@example.com", account_id, roles={r.name: r for r in roles})


def roles(*names: str, managed: bool = True) -> state.OrgState:
    """The live organization: account acme holding the named roles."""
    return org(account("acme", ACME, *(state.Role(n, "{}", managed=managed) for n in names)))


def groups(*names: str, users: tuple[str, ...] = (), path: str = OURS) -> state.OrgState:
    return org(groups=tuple(state.Group(n, path=path, users=frozenset(users)) for n in names))


def refusal(proposed: plan.Plan, facts: safety.Facts, doc: spec.Spec | None = None) -> str:
    with pytest.raises(SafetyError) as refused:
        guard(proposed, facts, doc)
    return str(refused.value)


# Taking over a live role made without the marker.

UNMARKED = (
    "role AccountAccessRole exists in acme without the managed-by marker: to take it over, "
    "set adopt: true on the role template or list it in the account's adopt_roles"
)


def _attach(role: str = "AccountAccessRole") -> plan.Change:
    return plan.AttachRolePolicy("acme", ACME, role, policy_arn="arn:x")


def test_a_change_to_an_unmarked_role_is_withheld_without_adopt() -> None:
    change = _attach("accountaccessrole")

    guarded = guard(
        plan.Plan.of([change]), safety.Facts(live=roles("AccountAccessRole", managed=False))
    )

    assert guarded.changes == ()
    assert guarded.withheld == (plan.Withheld(change, UNMARKED),)


def test_a_change_to_a_marked_role_is_kept() -> None:
    proposed = plan.Plan.of([_attach()])

    assert guard(proposed, safety.Facts(live=roles("AccountAccessRole"))) == proposed


@pytest.mark.parametrize(
    "text",
    [
        "access: {roles: [{name: AccountAccessRole, adopt: true}]}\n" + ACME_ONLY,
        ONE_ROLE + "accounts: [{name: acme, email: acme@example.com, roles: [AccountAccessRole],"
        " adopt_roles: [AccountAccessRole]}]\n",
    ],
    ids=["adopt on the template", "adopt_roles of the account"],
)
def test_an_unmarked_role_the_document_adopts_is_changed(text: str) -> None:
    proposed = plan.Plan.of([_attach("accountaccessrole")])
    facts = safety.Facts(live=roles("AccountAccessRole", managed=False))

    assert guard(proposed, facts, document(text)) == proposed


def test_adopt_on_another_template_does_not_adopt_the_role() -> None:
    doc = document(
        "access: {roles: [{name: AccountAccessRole}, {name: AuditRole, adopt: true}]}\n",
        "accounts: [{name: acme, email: acme@example.com,",
        " roles: [AccountAccessRole, AuditRole]}]\n",
    )
    facts = safety.Facts(live=roles("AccountAccessRole", managed=False))

    guarded = guard(plan.Plan.of([_attach()]), facts, doc)

    assert guarded.withheld == (plan.Withheld(_attach(), UNMARKED),)


def test_adopt_roles_of_another_account_does_not_adopt_the_role() -> None:
    doc = document(
        ONE_ROLE,
        "accounts:\n",
        "  - {name: acme, email: acme@example.com, roles: [AccountAccessRole]}\n",
        "  - {name: beta, email: beta@example.com, roles: [AccountAccessRole],"
        " adopt_roles: [AccountAccessRole]}\n",
    )
    facts = safety.Facts(live=roles("AccountAccessRole", managed=False))

    guarded = guard(plan.Plan.of([_attach()]), facts, doc)

    assert guarded.withheld == (plan.Withheld(_attach(), UNMARKED),)


# Taking over a live group made outside the daemon's path.

FOREIGN_GROUP = (
    "group Team exists at path /, not under /reconciler/: to take it over with its members "
    "and policies, set adopt: true on the group"
)


def test_a_change_to_a_group_outside_our_path_is_withheld_without_adopt() -> None:
    change = plan.AddMember("team", "alice")
    doc = document(ONE_ROLE, "groups: [{name: Team}]\n")

    guarded = guard(plan.Plan.of([change]), safety.Facts(live=groups("Team", path="/")), doc)

    assert guarded.changes == ()
    assert guarded.withheld == (plan.Withheld(change, FOREIGN_GROUP),)


def test_a_group_outside_our_path_the_document_adopts_is_changed() -> None:
    proposed = plan.Plan.of([plan.AddMember("team", "alice")])
    doc = document(ONE_ROLE, "groups: [{name: TEAM, adopt: true}]\n")

    assert guard(proposed, safety.Facts(live=groups("Team", path="/")), doc) == proposed


def test_adopt_on_another_group_does_not_adopt_the_group() -> None:
    change = plan.AddMember("Team", "alice")
    doc = document(ONE_ROLE, "groups: [{name: Team}, {name: Other, adopt: true}]\n")

    guarded = guard(plan.Plan.of([change]), safety.Facts(live=groups("Team", path="/")), doc)

    assert guarded.withheld == (plan.Withheld(change, FOREIGN_GROUP),)


# One declaration per live account.


def _declared(*accounts: tuple[str, str | None]) -> safety.Facts:
    return safety.Facts(declared=org(*(account(name, i) for name, i in accounts)))


def test_one_live_account_declared_twice_is_refused() -> None:
    facts = _declared(("acme", ACME), ("beta", BETA), ("acme-by-email", ACME))

    assert refusal(plan.Plan(), facts) == (
        "accounts acme and acme-by-email are one live account, 333333333333 (declared once by "
        "id and once by email); nothing was applied. Declare it once"
    )


def test_accounts_of_distinct_ids_or_not_yet_created_pass() -> None:
    facts = _declared(("acme", ACME), ("beta", BETA), ("new", None), ("newer", None))

    assert guard(plan.Plan(), facts) == plan.Plan()


# The bootstrap role, the plan's size.


def test_the_bootstrap_refusal_names_every_change_touching_it() -> None:
    name = "OrganizationAccountAccessRole"
    proposed = plan.Plan.of(
        [plan.MarkRole("acme", ACME, name), plan.UpdateRoleSession("acme", ACME, name, 3600, 7200)]
    )

    assert refusal(proposed, safety.Facts()) == (
        "the plan would modify the bootstrap role, which would lock the daemon out: "
        "~ role acme/OrganizationAccountAccessRole: max session duration 3600 -> 7200 s; "
        "~ role acme/OrganizationAccountAccessRole: take under management "
        "(tag managed-by=reconciler)"
    )


def test_the_size_refusal_in_full() -> None:
    doc = document(ONE_ROLE, policy="{max_changes: 1}")
    changes: list[plan.Change] = [
        plan.UpdateRoleSession("acme", ACME, f"Role{n}", 3600, 7200) for n in range(2)
    ]

    assert refusal(plan.Plan.of(changes), safety.Facts(), doc) == (
        "the plan has 2 changes, more than policy.max_changes (1), counting each policy a "
        "deletion takes with it; nothing was applied. Review the plan, then raise the limit or "
        "apply the change in smaller steps"
    )


# Mass removal: what is removed against what the daemon manages plus what the plan adds.


def test_the_mass_removal_refusal_in_full() -> None:
    proposed = plan.Plan.of([plan.RemoveMember("Team", "alice")])

    assert refusal(proposed, safety.Facts(live=groups("Team", users=("alice",)))) == (
        "the plan removes 1 of the 1 memberships the daemon manages (counting those it adds), "
        "more than half; nothing was applied. If that is intended, run with "
        "--allow-mass-removal (kept out of the document, so that the pull request making the "
        "removal cannot also allow it)"
    )


def _delete_groups(*names: str) -> list[plan.Change]:
    return [plan.DeleteGroup(name) for name in names]


def test_deleting_half_the_groups_passes() -> None:
    proposed = plan.Plan.of(_delete_groups("A"))

    assert guard(proposed, safety.Facts(live=groups("A", "B"))) == proposed


def test_deleting_every_group_is_refused() -> None:
    proposed = plan.Plan.of(_delete_groups("A", "B"))

    message = refusal(proposed, safety.Facts(live=groups("A", "B")))

    assert message.startswith("the plan removes 2 of the 2 groups the daemon manages")


def test_a_renamed_group_passes() -> None:
    proposed = plan.Plan.of([*_delete_groups("A"), plan.CreateGroup(state.Group("C"))])

    assert guard(proposed, safety.Facts(live=groups("A"))) == proposed


def test_deleting_two_groups_while_creating_one_is_refused() -> None:
    proposed = plan.Plan.of([*_delete_groups("A", "B"), plan.CreateGroup(state.Group("C"))])

    message = refusal(proposed, safety.Facts(live=groups("A", "B")))

    assert message.startswith("the plan removes 2 of the 3 groups the daemon manages")


def _grants(*digits: int) -> str:
    arns = [policies.role_arn(f"{n}" * 12, "AccountAccessRole") for n in digits]
    return policies.compact_json(policies.grant_policy(arns))


def _granting(name: str, grant_policy: str) -> state.OrgState:
    return org(groups=(state.Group(name, path=OURS, grant_policy=grant_policy),))


def test_revoking_grants_moved_to_a_new_group_passes() -> None:
    revoke = plan.PutGroupGrants("Team", _grants(4, 5, 6), _grants(4))
    proposed = plan.Plan.of(
        [revoke, plan.CreateGroup(state.Group("New", grant_policy=_grants(5, 6)))]
    )

    assert guard(proposed, safety.Facts(live=_granting("Team", _grants(4, 5, 6)))) == proposed


def test_replacing_every_grant_with_as_many_others_passes() -> None:
    proposed = plan.Plan.of([plan.PutGroupGrants("Team", _grants(4, 5), _grants(6, 7))])

    assert guard(proposed, safety.Facts(live=_granting("Team", _grants(4, 5)))) == proposed


def test_removing_every_member_while_adding_one_is_refused() -> None:
    proposed = plan.Plan.of(
        [
            plan.RemoveMember("Team", "alice"),
            plan.RemoveMember("Team", "bob"),
            plan.AddMember("Team", "carol"),
        ]
    )

    message = refusal(proposed, safety.Facts(live=groups("Team", users=("alice", "bob"))))

    assert message.startswith("the plan removes 2 of the 3 memberships the daemon manages")


def test_members_of_a_declared_group_outside_our_path_are_managed() -> None:
    """A group the document adopted is counted before its marker is there."""
    live = groups("Team", users=("alice", "bob", "carol"), path="/")
    declared = org(groups=(state.Group("team"),))
    doc = document(ONE_ROLE, "groups: [{name: Team, adopt: true}]\n")
    proposed = plan.Plan.of([plan.RemoveMember("Team", "alice")])

    assert guard(proposed, safety.Facts(live=live, declared=declared), doc) == proposed


def _delete_roles(*names: str) -> list[plan.Change]:
    return [plan.DeleteRole("acme", ACME, name) for name in names]


def _create_role(name: str) -> plan.Change:
    return plan.CreateRole("acme", ACME, name, state.Role(name, GOOD_TRUST))


def test_deleting_half_the_roles_passes() -> None:
    proposed = plan.Plan.of(_delete_roles("RoleA"))

    assert guard(proposed, safety.Facts(live=roles("RoleA", "RoleB"))) == proposed


def test_deleting_every_role_is_refused() -> None:
    proposed = plan.Plan.of(_delete_roles("RoleA", "RoleB"))

    message = refusal(proposed, safety.Facts(live=roles("RoleA", "RoleB")))

    assert message.startswith("the plan removes 2 of the 2 roles the daemon manages")


def test_an_unmarked_role_is_not_counted_as_managed() -> None:
    live = org(
        account(
            "acme",
            ACME,
            state.Role("RoleA", "{}", managed=True),
            state.Role("Other", "{}"),
            state.Role("Third", "{}"),
        )
    )

    message = refusal(plan.Plan.of(_delete_roles("RoleA")), safety.Facts(live=live))

    assert message.startswith("the plan removes 1 of the 1 roles the daemon manages")


def test_a_renamed_role_passes() -> None:
    proposed = plan.Plan.of([*_delete_roles("RoleA"), _create_role("RoleC")])

    assert guard(proposed, safety.Facts(live=roles("RoleA"))) == proposed


def test_deleting_two_roles_while_creating_one_is_refused() -> None:
    proposed = plan.Plan.of([*_delete_roles("RoleA", "RoleB"), _create_role("RoleC")])

    message = refusal(proposed, safety.Facts(live=roles("RoleA", "RoleB")))

    assert message.startswith("the plan removes 2 of the 3 roles the daemon manages")
