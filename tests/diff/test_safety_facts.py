"""Rails that weigh the plan against the live state: mass removal, roles never changed, and
protection by resolved id. Plain values in, the exact refusal or withholding out."""

from __future__ import annotations

import pytest

from reconciler.core import load, plan, policies, safety, spec, state
from reconciler.core.errors import SafetyError

MANAGEMENT = "111111111111"
ACME = "333333333333"
OURS = "/reconciler/"
DOCUMENT = """
organization: {management_account_id: "111111111111"}
access:
  roles: [{name: AccountAccessRole, policies: [arn:aws:iam::aws:policy/ReadOnlyAccess]}]
accounts:
  - {name: acme, email: acme@example.com, roles: [AccountAccessRole]}
policy: {max_changes: 100}
"""


def document(text: str = DOCUMENT) -> spec.Spec:
    return load.parse_spec(text, "accounts.yaml")


def live_groups(*groups: state.Group) -> state.OrgState:
    return state.OrgState(units={}, accounts=(), groups={g.name: g for g in groups})


def members(group: str, *users: str, path: str = OURS) -> state.Group:
    return state.Group(group, path=path, users=frozenset(users))


def guard(proposed: plan.Plan, facts: safety.Facts, text: str = DOCUMENT) -> plan.Plan:
    return safety.guard(document(text), proposed, MANAGEMENT, MANAGEMENT, facts)


def test_removing_every_member_the_daemon_manages_is_refused() -> None:
    live = live_groups(members("Team", "alice", "bob"))
    proposed = plan.Plan.of([plan.RemoveMember("Team", "alice"), plan.RemoveMember("Team", "bob")])

    with pytest.raises(SafetyError, match=r"^the plan removes 2 of the 2 memberships"):
        guard(proposed, safety.Facts(live=live))
    allowed = safety.Facts(live=live, allow_mass_removal=True)
    assert guard(proposed, allowed).changes == proposed.changes


def test_exactly_half_passes_and_one_more_is_refused() -> None:
    live = live_groups(members("Team", "a1", "a2", "a3", "a4"))
    half: list[plan.Change] = [plan.RemoveMember("Team", "a1"), plan.RemoveMember("Team", "a2")]

    assert len(guard(plan.Plan.of(half), safety.Facts(live=live)).changes) == 2
    with pytest.raises(SafetyError, match=r"removes 3 of the 4 memberships"):
        guard(plan.Plan.of([*half, plan.RemoveMember("Team", "a3")]), safety.Facts(live=live))


def test_a_renamed_group_moves_its_members_without_the_flag() -> None:
    """Members removed from one group and added to its successor lose no access."""
    live = live_groups(members("Old", "alice", "bob"))
    proposed = plan.Plan.of(
        [
            plan.RemoveMember("Old", "alice"),
            plan.RemoveMember("Old", "bob"),
            plan.CreateGroup(state.Group("New")),
            plan.AddMember("New", "alice"),
            plan.AddMember("New", "bob"),
        ]
    )

    assert len(guard(proposed, safety.Facts(live=live)).changes) == 5


def test_revoking_most_grants_is_refused() -> None:
    arns = [policies.role_arn(f"{n}" * 12, "AccountAccessRole") for n in (4, 5, 6)]
    before = policies.compact_json(policies.grant_policy(arns))
    after = policies.compact_json(policies.grant_policy(arns[:1]))
    live = live_groups(state.Group("Team", path=OURS, grant_policy=before))

    with pytest.raises(SafetyError, match=r"removes 2 of the 3 grants"):
        guard(plan.Plan.of([plan.PutGroupGrants("Team", before, after)]), safety.Facts(live=live))


def test_a_group_outside_the_daemons_path_is_not_counted_as_managed() -> None:
    """A hand-made group the document does not declare is none of the daemon's business."""
    live = live_groups(members("Team", "alice"), members("HandMade", "x", "y", "z", path="/"))

    with pytest.raises(SafetyError, match=r"removes 1 of the 1 memberships"):
        guard(plan.Plan.of([plan.RemoveMember("Team", "alice")]), safety.Facts(live=live))


def _account_with(role: state.Role) -> state.OrgState:
    account = state.Account("acme", "acme@example.com", ACME, roles={role.name: role})
    return state.OrgState(units={}, accounts=(account,), groups={})


def test_a_service_linked_role_is_never_changed() -> None:
    role = state.Role("AccountAccessRole", "{}", path="/aws-service-role/support.amazonaws.com/")
    change = plan.AttachRolePolicy("acme", ACME, "accountaccessrole", policy_arn="arn:x")

    guarded = guard(plan.Plan.of([change]), safety.Facts(live=_account_with(role)))

    assert guarded.changes == ()
    assert guarded.withheld == (
        plan.Withheld(
            change, "role accountaccessrole is a service-linked role, AWS's own: never changed"
        ),
    )


@pytest.mark.parametrize(
    ("caller", "withheld"),
    [("AccountAccessRole", True), ("accountACCESSrole", True), ("OtherRole", False)],
)
def test_the_callers_own_role_is_never_changed(caller: str, withheld: bool) -> None:
    role = state.Role("AccountAccessRole", "{}", managed=True)
    live = state.OrgState(
        units={},
        accounts=_account_with(role).accounts,
        groups={},
        caller_account_id=ACME,
        caller_role=caller,
    )
    change = plan.UpdateRoleSession("acme", ACME, "AccountAccessRole", before=3600, after=7200)

    guarded = guard(plan.Plan.of([change]), safety.Facts(live=live))

    assert bool(guarded.withheld) is withheld
    assert bool(guarded.changes) is not withheld


@pytest.mark.parametrize(
    ("arn", "role"),
    [
        ("arn:aws:sts::111111111111:assumed-role/ReconcilerDeploy/pod-1", "ReconcilerDeploy"),
        ("arn:aws-us-gov:sts::111111111111:assumed-role/a/b/c", "a"),
        ("arn:aws:iam::111111111111:user/deployer", ""),
        ("arn:aws:iam::111111111111:root", ""),
    ],
)
def test_the_role_of_a_caller_arn(arn: str, role: str) -> None:
    assert state.role_of(arn) == role


def test_protection_by_id_covers_the_account_declared_by_email() -> None:
    account = state.Account("acme", "acme@example.com", ACME)
    declared = state.OrgState(units={}, accounts=(account,), groups={})
    change = plan.UpdateAccountTags("acme", ACME, {}, {"a": "b"})
    text = DOCUMENT.replace("max_changes: 100}", f'protected_accounts: ["{ACME}"]}}')

    guarded = guard(plan.Plan.of([change]), safety.Facts(declared=declared), text)

    assert guarded.withheld == (plan.Withheld(change, "account acme is protected"),)
