"""The plan is deterministic and in dependency order, whatever order the inputs come in."""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any, TypeVar

import pytest

from reconciler.core import diff, plan, policies, spec, state

Variant = Callable[..., spec.Spec]
T = TypeVar("T")

LAST_ACCOUNT = "    roles: [ReadOnlyAccessRole]\n"
ACME_PROD = (
    LAST_ACCOUNT,
    LAST_ACCOUNT + "  - name: acme-prod\n"
    "    email: aws+acme-prod@example.com\n"
    "    unit: Environments/Production\n"
    "    roles: [AccountAccessRole, ReadOnlyAccessRole]\n",
)
PRUNE = ("groups:\n", "policy: {prune: true}\ngroups:\n")
SOURCE = "444444444444"
IAM_FULL = "arn:aws:iam::aws:policy/IAMFullAccess"


def _marked_unit(*path: str) -> state.Unit:
    return state.Unit(path, id=f"ou-{'-'.join(path).lower()}", managed=True)


@pytest.fixture
def world(variant: Variant, edit: Any) -> tuple[spec.Spec, state.OrgState]:
    """A document, and a live state that differs from it in every way the diff knows."""
    document = variant(ACME_PROD, PRUNE)
    live = edit.converged(document)
    live = replace(live, accounts=tuple(a for a in live.accounts if a.name != "acme-prod"))
    # units: a declared tree missing, an undeclared marked tree emptied by a move
    environments = [
        ("Environments",),
        ("Environments", "Development"),
        ("Environments", "Production"),
    ]
    units = {p: u for p, u in live.units.items() if p not in environments}
    units |= {u.path: u for u in (_marked_unit("Old"), _marked_unit("Old", "Team"))}
    live = replace(live, units=units)
    # accounts: moved and retagged
    live = edit.account(live, "acme-dev", unit=("Old",), tags={"client": "acme"})
    # roles: every kind of drift
    live = edit.role(
        live,
        "acme-dev",
        "AccountAccessRole",
        trust_policy=policies.compact_json(policies.trust_policy(SOURCE, require_mfa=False)),
        max_session_duration=3600,
    )
    live = edit.drop_role(live, "acme-dev", "ReadOnlyAccessRole")
    old = state.Role("OldAccessRole", trust_policy="{}", managed=True)
    live = edit.add_role(live, "acme-dev", old)
    live = edit.role(
        live,
        "shared",
        "ReadOnlyAccessRole",
        managed=False,
        policies=frozenset({"arn:aws:iam::aws:policy/ReadOnlyAccess", IAM_FULL}),
        inline_policies={"legacy": "{}"},
    )
    # groups: one missing, one with stray and missing members and a hand-edited policy, one pruned
    developers = replace(
        live.groups["AcmeDevelopers"],
        users=frozenset({"alice", "mallory"}),
        grant_policy=policies.compact_json(policies.grant_policy(["arn:aws:iam::1:role/x"])),
    )
    old_team = state.Group("OldTeam", users=frozenset({"bob"}))
    live = replace(live, groups={"AcmeDevelopers": developers, "OldTeam": old_team})
    return document, live


EXPECTED = [
    "+ unit Environments: create under the root",
    "+ unit Environments/Development: create under Environments",
    "+ unit Environments/Production: create under Environments",
    "+ account acme-prod: create with email aws+acme-prod@example.com in Environments/Production",
    "~ tag acme-dev: add environment='development'",
    "~ account acme-dev: move Old -> Clients/Acme",
    "~ role acme-dev/AccountAccessRole: trust policy add the MFA condition",
    "~ role acme-dev/AccountAccessRole: max session duration 3600 -> 7200 s",
    "+ role acme-dev/ReadOnlyAccessRole: create with ReadOnlyAccess, MFA required, "
    "sessions up to 1 h",
    "+ role acme-prod/AccountAccessRole: create with AdministratorAccess, MFA required, "
    "sessions up to 2 h",
    "+ role acme-prod/ReadOnlyAccessRole: create with ReadOnlyAccess, MFA required, "
    "sessions up to 1 h",
    "~ role shared/ReadOnlyAccessRole: delete inline policy legacy (not declared)",
    f"~ role shared/ReadOnlyAccessRole: detach {IAM_FULL} (not declared)",
    "~ role shared/ReadOnlyAccessRole: take under management (tag managed-by=reconciler)",
    "~ group AcmeDevelopers: grant arn:aws:iam::222222222222:role/ReadOnlyAccessRole, "
    "grant arn:aws:iam::333333333333:role/AccountAccessRole, revoke arn:aws:iam::1:role/x",
    "+ group Auditors: create at path /reconciler/ granting 1 role(s)",
    "+ membership AcmeDevelopers/james: add user james to group AcmeDevelopers",
    "- membership AcmeDevelopers/mallory: remove user mallory from group AcmeDevelopers "
    "(not declared)",
    "+ membership Auditors/carol: add user carol to group Auditors",
    "- membership OldTeam/bob: remove user bob from group OldTeam (not declared)",
    "- group OldTeam: delete the group (at path /reconciler/, no longer declared)",
    "- role acme-dev/OldAccessRole: delete (carries managed-by=reconciler, no longer declared)",
    "- unit Old/Team: delete the empty unit, no longer declared",
    "- unit Old: delete the empty unit, no longer declared",
]


def _plan(document: spec.Spec, declared: state.OrgState, live: state.OrgState) -> plan.Plan:
    rules = diff.Rules(document.policy.prune, document.organization.bootstrap_role)
    return diff.diff(declared, live, rules)


def test_plan_lists_every_change_in_apply_order(world: tuple[spec.Spec, state.OrgState]) -> None:
    document, live = world

    p = _plan(document, state.declared(document, live), live)

    assert [c.line() for c in p.changes] == EXPECTED


def _shuffled(items: Mapping[Any, T], rng: random.Random) -> dict[Any, T]:
    keys = list(items)
    rng.shuffle(keys)
    return {k: items[k] for k in keys}


def _shuffle_state(value: state.OrgState, rng: random.Random) -> state.OrgState:
    accounts = [
        replace(a, roles=_shuffled(a.roles, rng)) if a.roles is not None else a
        for a in value.accounts
    ]
    rng.shuffle(accounts)
    return replace(
        value,
        accounts=tuple(accounts),
        units=_shuffled(value.units, rng),
        groups=_shuffled(value.groups, rng),
    )


@pytest.mark.parametrize("seed", range(12))
def test_same_inputs_in_another_order_give_the_identical_plan(
    world: tuple[spec.Spec, state.OrgState], seed: int
) -> None:
    document, live = world
    declared = state.declared(document, live)
    expected = _plan(document, declared, live)
    rng = random.Random(seed)

    shuffled = _plan(document, _shuffle_state(declared, rng), _shuffle_state(live, rng))

    assert shuffled == expected
    assert [c.line() for c in shuffled.changes] == EXPECTED


def test_stages_never_go_backwards(world: tuple[spec.Spec, state.OrgState]) -> None:
    document, live = world
    p = _plan(document, state.declared(document, live), live)

    stages = [c.stage for c in p.changes]

    assert stages == sorted(stages)
    assert set(stages) == set(plan.Stage)  # the world exercises every stage


KIND_ORDER = [
    (plan.CreateUnit,),
    (plan.CreateAccount,),
    (plan.MoveAccount, plan.UpdateAccountTags),
    (plan.CreateRole, plan.UpdateRoleTrust, plan.UpdateRoleSession, plan.MarkRole),
    (plan.CreateGroup, plan.PutGroupGrants),
    (plan.AddMember, plan.RemoveMember),
    (plan.DeleteRole, plan.DeleteGroup, plan.DeleteUnit),
]


def test_units_then_accounts_then_roles_then_groups_then_members_then_deletions(
    world: tuple[spec.Spec, state.OrgState],
) -> None:
    document, live = world
    p = _plan(document, state.declared(document, live), live)

    def rank(change: plan.Change) -> int:
        return next(i for i, kinds in enumerate(KIND_ORDER) if isinstance(change, kinds))

    ranks = [rank(c) for c in p.changes if any(isinstance(c, k) for ks in KIND_ORDER for k in ks)]

    assert ranks == sorted(ranks)
    assert set(ranks) == set(range(len(KIND_ORDER)))


def test_parents_before_children_on_create_and_after_them_on_delete() -> None:
    creates = [plan.CreateUnit(p) for p in [("A", "B", "C"), ("A",), ("B",), ("A", "B")]]
    deletes = [plan.DeleteUnit(p, "ou") for p in [("A",), ("A", "B", "C"), ("B",), ("A", "B")]]

    p = plan.Plan.of([*deletes, *creates])

    units = [c for c in p.changes if isinstance(c, plan.CreateUnit | plan.DeleteUnit)]
    assert len(units) == len(p.changes)
    assert [(c.action, "/".join(c.path)) for c in units] == [
        (plan.Action.CREATE, "A"),
        (plan.Action.CREATE, "B"),
        (plan.Action.CREATE, "A/B"),
        (plan.Action.CREATE, "A/B/C"),
        (plan.Action.DELETE, "A/B/C"),
        (plan.Action.DELETE, "A/B"),
        (plan.Action.DELETE, "A"),
        (plan.Action.DELETE, "B"),
    ]


def test_an_account_is_created_before_its_roles_and_a_group_before_its_members() -> None:
    role = state.Role("AccountAccessRole", trust_policy="{}")
    changes: list[plan.Change] = [
        plan.AddMember("Zeta", "alice"),
        plan.CreateRole("aaa", None, "AccountAccessRole", role),
        plan.CreateGroup(state.Group("Zeta")),
        plan.CreateAccount("zzz", "z@example.com", (), {}, "OrganizationAccountAccessRole"),
        plan.CreateRole("zzz", None, "AccountAccessRole", role),
    ]

    ordered = plan.Plan.of(changes).changes

    assert [type(c).__name__ for c in ordered] == [
        "CreateAccount",
        "CreateRole",
        "CreateRole",
        "CreateGroup",
        "AddMember",
    ]


@pytest.mark.parametrize("seed", range(5))
def test_plan_of_sorts_and_dedupes_whatever_the_order(seed: int) -> None:
    changes: list[plan.Change] = [
        plan.DeleteGroup("Old"),
        plan.AddMember("Devs", "alice"),
        plan.AddMember("Devs", "bob"),
        plan.RemoveMember("Devs", "carol"),
        plan.UpdateRoleSession("b", "2" * 12, "R", before=3600, after=7200),
        plan.AttachRolePolicy("a", "1" * 12, "R", policy_arn="arn:aws:iam::aws:policy/X"),
        plan.MoveAccount("a", "1" * 12, (), ("U",)),
        plan.CreateUnit(("U",)),
    ]
    shuffled = [*changes, changes[1]]  # one change twice
    random.Random(seed).shuffle(shuffled)

    assert plan.Plan.of(shuffled).changes == plan.Plan.of(changes).changes
    assert len(plan.Plan.of(shuffled).changes) == len(changes)
    assert [type(c).__name__ for c in plan.Plan.of(shuffled).changes] == [
        "CreateUnit",
        "MoveAccount",
        "AttachRolePolicy",
        "UpdateRoleSession",
        "AddMember",
        "AddMember",
        "RemoveMember",
        "DeleteGroup",
    ]
