"""Who can reach which managed role: what the document declares, what a plan grants and
revokes (its access effect), and the live access it does not declare (its findings)."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from reconciler.core import access, load, plan, policies, spec, state
from reconciler.core.plan import AccessAction, AccessChange, Finding

DOCUMENT = """
organization:
  management_account_id: "111111111111"
  units:
    - name: Clients
      roles: [ReadOnly]
      units:
        - name: Acme
          roles: [Deploy]
access:
  roles:
    - name: Admin
    - name: ReadOnly
      require_mfa: false
    - name: Deploy
accounts:
  - name: shared
    email: shared@example.com
    id: "222222222222"
    roles: [Admin]
  - name: acme-prod
    email: acme-prod@example.com
    id: "333333333333"
    unit: Clients/Acme
  - name: beta
    email: beta@example.com
    unit: Clients
    roles: [Admin]
groups:
  - name: Admins
    users: [alice, bob]
    grants:
      - {account: shared, role: Admin}
      - {account: acme-prod, role: Deploy}
  - name: Readers
    users: [carol]
    grants:
      - {account: acme-prod, role: ReadOnly}
      - {account: beta, role: ReadOnly}
"""

SHARED_ADMIN = "arn:aws:iam::222222222222:role/Admin"
ACME_DEPLOY = "arn:aws:iam::333333333333:role/Deploy"
ACME_READ = "arn:aws:iam::333333333333:role/ReadOnly"
BETA_READ = "arn:aws:iam::<beta>:role/ReadOnly"
ADMIN_POLICY = "arn:aws:iam::aws:policy/AdministratorAccess"
EVERYTHING = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}'
SHARED, ACME = "222222222222", "333333333333"
GRANT, REVOKE = AccessAction.GRANT, AccessAction.REVOKE


def _trust(mfa: bool) -> str:
    return policies.compact_json(policies.trust_policy("111111111111", require_mfa=mfa))


def _grants(*arns: str) -> str:
    return policies.compact_json(policies.grant_policy(arns))


def _role(name: str, mfa: bool) -> state.Role:
    return state.Role(name, trust_policy=_trust(mfa), managed=True)


# The roles of beta, which the plans below create with it.
BETA_ROLES = [
    plan.CreateRole("beta", None, "Admin", _role("Admin", True)),
    plan.CreateRole("beta", None, "ReadOnly", _role("ReadOnly", False)),
]


@pytest.fixture
def document() -> spec.Spec:
    return example_document()


@pytest.fixture
def live() -> state.OrgState:
    return example_live()


def example_document() -> spec.Spec:
    return load.parse_spec(DOCUMENT, "accounts.yaml")


def example_live() -> state.OrgState:
    """The source account and accounts as the document has them, beta not created yet."""
    return state.OrgState(
        units={},
        accounts=(
            state.Account(
                "shared", "shared@example.com", SHARED, roles={"Admin": _role("Admin", True)}
            ),
            state.Account(
                "acme-prod",
                "acme-prod@example.com",
                ACME,
                roles={"Deploy": _role("Deploy", True), "ReadOnly": _role("ReadOnly", False)},
            ),
        ),
        groups={
            "Admins": state.Group(
                "Admins",
                grant_policy=_grants(SHARED_ADMIN, ACME_DEPLOY),
                users=frozenset({"alice", "bob"}),
            ),
            "Readers": state.Group(
                "Readers", grant_policy=_grants(ACME_READ), users=frozenset({"carol"})
            ),
        },
    )


def _with_group(org: state.OrgState, group: state.Group) -> state.OrgState:
    return replace(org, groups={**org.groups, group.name: group})


# declared


def test_declared_lists_every_member_for_every_grant(document: spec.Spec) -> None:
    assert access.declared(document) == [
        access.Access("acme-prod", "Deploy", "alice", "Admins", ACME, True),
        access.Access("acme-prod", "Deploy", "bob", "Admins", ACME, True),
        access.Access("acme-prod", "ReadOnly", "carol", "Readers", ACME, False),
        access.Access("beta", "ReadOnly", "carol", "Readers", None, False),
        access.Access("shared", "Admin", "alice", "Admins", SHARED, True),
        access.Access("shared", "Admin", "bob", "Admins", SHARED, True),
    ]


def test_declared_takes_ids_of_created_accounts(document: spec.Spec) -> None:
    found = access.declared(document, ids={"beta": "444444444444"})

    assert [a.account_id for a in found if a.account == "beta"] == ["444444444444"]


def test_declared_access_goes_through_the_grant_policy(document: spec.Spec) -> None:
    assert {a.through for a in access.declared(document)} == {"reconciler-grants"}


def test_a_role_carried_through_a_unit_and_its_ancestors(document: spec.Spec) -> None:
    carried = {a.name: document.role_names(a) for a in document.accounts}

    assert carried == {
        "shared": ("Admin",),
        "acme-prod": ("Deploy", "ReadOnly"),
        "beta": ("Admin", "ReadOnly"),
    }


def test_live_reaches_exactly_the_roles_each_account_carries(
    document: spec.Spec, live: state.OrgState
) -> None:
    acme = live.accounts[1]
    unmanaged_admin = {**(acme.roles or {}), "Admin": _role("Admin", True)}
    beta = state.Account(
        "beta",
        "beta@example.com",
        "444444444444",
        roles={"Admin": _role("Admin", True), "ReadOnly": _role("ReadOnly", False)},
    )
    org = replace(live, accounts=(live.accounts[0], replace(acme, roles=unmanaged_admin), beta))
    org = _with_group(
        org,
        state.Group(
            "Ops", path="/", users=frozenset({"mallory"}), other_policies={"all": EVERYTHING}
        ),
    )

    found = [
        (a.account, a.role, a.account_id, a.mfa)
        for a in access.live(document, org)
        if a.user == "mallory"
    ]

    assert found == [
        ("acme-prod", "Deploy", ACME, True),
        ("acme-prod", "ReadOnly", ACME, False),
        ("beta", "Admin", "444444444444", True),
        ("beta", "ReadOnly", "444444444444", False),
        ("shared", "Admin", SHARED, True),
    ]


def test_live_names_the_policy_access_comes_through(
    document: spec.Spec, live: state.OrgState
) -> None:
    org = _with_group(
        live,
        state.Group(
            "Ops", path="/", users=frozenset({"mallory"}), other_policies={"all": EVERYTHING}
        ),
    )

    assert [a for a in access.live(document, org) if a.role == "Admin"] == [
        access.Access("shared", "Admin", "alice", "Admins", SHARED, True),
        access.Access("shared", "Admin", "bob", "Admins", SHARED, True),
        access.Access("shared", "Admin", "mallory", "Ops", SHARED, True, "all"),
    ]


# effect


def test_a_converged_organization_has_no_access_effect(
    document: spec.Spec, live: state.OrgState
) -> None:
    assert access.effect(document, live, plan.Plan()) == []


def test_a_member_added_is_granted_each_role_of_the_group(
    document: spec.Spec, live: state.OrgState
) -> None:
    p = plan.Plan.of([plan.AddMember("Admins", "dave")])

    assert access.effect(document, live, p) == [
        AccessChange("acme-prod", "Deploy", "dave", GRANT, "Admins", ACME, True),
        AccessChange("shared", "Admin", "dave", GRANT, "Admins", SHARED, True),
    ]


def test_a_member_removed_is_revoked_each_role_of_the_group(
    document: spec.Spec, live: state.OrgState
) -> None:
    p = plan.Plan.of([plan.RemoveMember("Admins", "bob")])

    assert access.effect(document, live, p) == [
        AccessChange("acme-prod", "Deploy", "bob", REVOKE, "Admins", ACME, True),
        AccessChange("shared", "Admin", "bob", REVOKE, "Admins", SHARED, True),
    ]


def test_a_group_deleted_revokes_each_member(document: spec.Spec, live: state.OrgState) -> None:
    p = plan.Plan.of([plan.RemoveMember("Readers", "carol"), plan.DeleteGroup("Readers")])

    assert access.effect(document, live, p) == [
        AccessChange("acme-prod", "ReadOnly", "carol", REVOKE, "Readers", ACME, False),
    ]


def test_a_grant_removed_from_the_grant_policy_is_revoked(
    document: spec.Spec, live: state.OrgState
) -> None:
    change = plan.PutGroupGrants(
        "Admins", _grants(SHARED_ADMIN, ACME_DEPLOY), _grants(SHARED_ADMIN)
    )

    assert access.effect(document, live, plan.Plan.of([change])) == [
        AccessChange("acme-prod", "Deploy", "alice", REVOKE, "Admins", ACME, True),
        AccessChange("acme-prod", "Deploy", "bob", REVOKE, "Admins", ACME, True),
    ]


def test_access_still_held_through_another_group_is_not_revoked(
    document: spec.Spec, live: state.OrgState
) -> None:
    org = _with_group(
        live,
        state.Group("Deployers", grant_policy=_grants(ACME_DEPLOY), users=frozenset({"alice"})),
    )
    p = plan.Plan.of([plan.RemoveMember("Admins", "alice")])

    assert access.effect(document, org, p) == [
        AccessChange("shared", "Admin", "alice", REVOKE, "Admins", SHARED, True),
    ]


def test_mfa_dropped_from_the_trust_is_a_revoke_with_mfa_and_a_grant_without(
    document: spec.Spec, live: state.OrgState
) -> None:
    acme = live.accounts[1]
    with_mfa = {**(acme.roles or {}), "ReadOnly": _role("ReadOnly", True)}
    org = replace(live, accounts=(live.accounts[0], replace(acme, roles=with_mfa)))
    p = plan.Plan.of(
        [plan.UpdateRoleTrust("acme-prod", ACME, "ReadOnly", _trust(True), _trust(False))]
    )

    assert access.effect(document, org, p) == [
        AccessChange("acme-prod", "ReadOnly", "carol", GRANT, "Readers", ACME, False),
        AccessChange("acme-prod", "ReadOnly", "carol", REVOKE, "Readers", ACME, True),
    ]


def test_a_grant_on_an_account_not_created_yet_has_no_id(
    document: spec.Spec, live: state.OrgState
) -> None:
    change = plan.PutGroupGrants("Readers", _grants(ACME_READ), _grants(ACME_READ, BETA_READ))

    assert access.effect(document, live, plan.Plan.of([change, *BETA_ROLES])) == [
        AccessChange("beta", "ReadOnly", "carol", GRANT, "Readers", None, False),
    ]


def test_a_grant_on_a_role_the_plan_does_not_create_grants_nothing(
    document: spec.Spec, live: state.OrgState
) -> None:
    # beta's creation failed earlier, say: no role there to assume after this plan either.
    change = plan.PutGroupGrants("Readers", _grants(ACME_READ), _grants(ACME_READ, BETA_READ))

    assert access.effect(document, live, plan.Plan.of([change])) == []


def test_an_unreachable_account_keeps_the_documents_mfa(
    document: spec.Spec, live: state.OrgState
) -> None:
    org = replace(live, accounts=(live.accounts[0], replace(live.accounts[1], roles=None)))
    p = plan.Plan.of([plan.RemoveMember("Admins", "bob"), plan.AddMember("Readers", "dave")])

    assert access.effect(document, org, plan.Plan()) == []
    assert access.effect(document, org, p) == [
        AccessChange("acme-prod", "Deploy", "bob", REVOKE, "Admins", ACME, True),
        AccessChange("acme-prod", "ReadOnly", "dave", GRANT, "Readers", ACME, False),
        AccessChange("shared", "Admin", "bob", REVOKE, "Admins", SHARED, True),
    ]


def test_a_new_group_grants_its_members(document: spec.Spec, live: state.OrgState) -> None:
    group = state.Group("Auditors", grant_policy=_grants(ACME_READ), users=frozenset({"erin"}))
    p = plan.Plan.of([plan.CreateGroup(group), plan.AddMember("Auditors", "erin")])

    assert access.effect(document, live, p) == [
        AccessChange("acme-prod", "ReadOnly", "erin", GRANT, "Auditors", ACME, False),
    ]


def test_removing_a_member_ignores_the_case_of_the_name(
    document: spec.Spec, live: state.OrgState
) -> None:
    p = plan.Plan.of([plan.RemoveMember("ADMINS", "BOB")])

    assert [(a.user, a.change) for a in access.effect(document, live, p)] == [
        ("bob", REVOKE),
        ("bob", REVOKE),
    ]


def test_adding_a_member_already_there_in_other_case_grants_nothing(
    document: spec.Spec, live: state.OrgState
) -> None:
    p = plan.Plan.of([plan.AddMember("Admins", "ALICE")])

    assert access.effect(document, live, p) == []


def test_a_users_own_policy_counts_in_the_effect(document: spec.Spec, live: state.OrgState) -> None:
    # dave's own policy already reaches acme-prod's ReadOnly, so joining Readers grants him
    # nothing there; the roles of beta, which the plan creates, open to him through it.
    org = replace(live, user_policies={"dave": state.UserPolicies(inline={"hop": EVERYTHING})})

    joins = plan.Plan.of([plan.AddMember("Readers", "dave"), *BETA_ROLES])

    assert access.effect(document, org, joins) == [
        AccessChange("beta", "Admin", "dave", GRANT, "", None, True),
        AccessChange("beta", "ReadOnly", "dave", GRANT, "", None, False),
    ]


def test_leaving_a_group_revokes_nothing_that_the_users_own_policy_still_allows(
    document: spec.Spec, live: state.OrgState
) -> None:
    org = replace(live, user_policies={"carol": state.UserPolicies(inline={"hop": EVERYTHING})})

    assert access.effect(document, org, plan.Plan.of([plan.RemoveMember("Readers", "carol")])) == []


def test_groups_after_applies_the_changes_ignoring_case(live: state.OrgState) -> None:
    after = access.groups_after(
        live.groups,
        [
            plan.DeleteGroup("READERS"),
            plan.AddMember("admins", "dave"),
            plan.PutGroupGrants("Admins", None, _grants(SHARED_ADMIN)),
        ],
    )

    assert after == {
        "admins": state.Group(
            "Admins", grant_policy=_grants(SHARED_ADMIN), users=frozenset({"alice", "bob", "dave"})
        )
    }


# findings


def test_declared_access_is_no_finding(document: spec.Spec, live: state.OrgState) -> None:
    assert access.findings(document, live) == []


def test_a_hand_made_group_with_administrator_access_is_a_finding_per_role(
    document: spec.Spec, live: state.OrgState
) -> None:
    group = state.Group(
        "Breakglass",
        path="/",
        users=frozenset({"mallory", "Carol"}),
        attached=frozenset({ADMIN_POLICY}),
    )
    org = replace(_with_group(live, group), managed_policies={ADMIN_POLICY: EVERYTHING})
    detail = (
        "Carol, mallory can assume it through group Breakglass "
        "(arn:aws:iam::aws:policy/AdministratorAccess), which the document does not declare"
    )

    assert access.findings(document, org) == [
        Finding("access", "acme-prod", "Deploy", detail, ("Carol", "mallory")),
        Finding("access", "acme-prod", "ReadOnly", detail, ("Carol", "mallory")),
        Finding("access", "shared", "Admin", detail, ("Carol", "mallory")),
    ]


def test_a_users_own_inline_policy_is_a_finding(document: spec.Spec, live: state.OrgState) -> None:
    hop = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": SHARED_ADMIN}
            ],
        }
    )
    org = replace(live, user_policies={"erin": state.UserPolicies(inline={"hop": hop})})

    assert access.findings(document, org) == [
        Finding(
            "access",
            "shared",
            "Admin",
            "erin can assume it through their own policy (hop), "
            "which the document does not declare",
            ("erin",),
        )
    ]


def test_an_undeclared_grant_in_a_declared_groups_grant_policy_is_a_finding(
    document: spec.Spec, live: state.OrgState
) -> None:
    admins = replace(
        live.groups["Admins"], grant_policy=_grants(SHARED_ADMIN, ACME_DEPLOY, ACME_READ)
    )

    assert access.findings(document, _with_group(live, admins)) == [
        Finding(
            "access",
            "acme-prod",
            "ReadOnly",
            "alice, bob can assume it through group Admins (reconciler-grants), "
            "which the document does not declare",
            ("alice", "bob"),
        )
    ]


def test_a_declared_grant_under_a_group_name_in_other_case_is_no_finding(
    document: spec.Spec, live: state.OrgState
) -> None:
    groups = {
        "ADMINS": replace(live.groups["Admins"], name="ADMINS"),
        "Readers": live.groups["Readers"],
    }

    assert access.findings(document, replace(live, groups=groups)) == []


def test_an_attached_policy_whose_document_was_not_read_is_no_finding(
    document: spec.Spec, live: state.OrgState
) -> None:
    unread = "arn:aws:iam::111111111111:policy/Unread"
    group = state.Group("Ops", path="/", users=frozenset({"mallory"}), attached=frozenset({unread}))
    org = replace(
        _with_group(live, group),
        user_policies={"erin": state.UserPolicies(attached=frozenset({unread}))},
    )

    assert access.findings(document, org) == []
    assert [a for a in access.live(document, org) if a.user in ("mallory", "erin")] == []


def test_an_unconditional_deny_in_the_users_own_policy_closes_a_group_way(
    document: spec.Spec, live: state.OrgState
) -> None:
    fence = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Deny", "Action": "sts:*", "Resource": SHARED_ADMIN}],
        }
    )
    group = state.Group(
        "Ops", path="/", users=frozenset({"mallory"}), other_policies={"all": EVERYTHING}
    )
    org = replace(
        _with_group(live, group),
        user_policies={"mallory": state.UserPolicies(inline={"fence": fence})},
    )

    assert [f.resource for f in access.findings(document, org)] == ["Deploy", "ReadOnly"]


def test_review_carries_the_effect_and_the_findings(
    document: spec.Spec, live: state.OrgState
) -> None:
    org = replace(live, user_policies={"erin": state.UserPolicies(inline={"hop": EVERYTHING})})
    p = access.review(document, org, plan.Plan.of([plan.AddMember("Readers", "dave"), *BETA_ROLES]))

    assert p.access == (
        AccessChange("acme-prod", "ReadOnly", "dave", GRANT, "Readers", ACME, False),
        # erin's own policy reaches the roles of beta once the plan has created them.
        AccessChange("beta", "Admin", "erin", GRANT, "", None, True),
        AccessChange("beta", "ReadOnly", "erin", GRANT, "", None, False),
    )
    assert [(f.account, f.resource, f.users) for f in p.findings] == [
        ("acme-prod", "Deploy", ("erin",)),
        ("acme-prod", "ReadOnly", ("erin",)),
        ("shared", "Admin", ("erin",)),
    ]


def test_a_withheld_trust_change_changes_no_access(
    document: spec.Spec, live: state.OrgState
) -> None:
    acme = live.accounts[1]
    with_mfa = {**(acme.roles or {}), "ReadOnly": _role("ReadOnly", True)}
    org = replace(live, accounts=(live.accounts[0], replace(acme, roles=with_mfa)))
    trust = plan.UpdateRoleTrust("acme-prod", ACME, "ReadOnly", _trust(True), _trust(False))
    p = plan.Plan(withheld=(plan.Withheld(trust, "account acme-prod is protected"),))

    assert access.effect(document, org, p) == []


def test_an_undeclared_inline_policy_deleted_from_a_declared_group_is_revoked(
    document: spec.Spec, live: state.OrgState
) -> None:
    extra = _grants(ACME_READ)
    admins = replace(live.groups["Admins"], other_policies={"extra": extra})
    p = plan.Plan.of([plan.DeleteGroupInlinePolicy("Admins", "extra", extra)])

    assert access.effect(document, _with_group(live, admins), p) == [
        AccessChange("acme-prod", "ReadOnly", "alice", REVOKE, "Admins", ACME, False),
        AccessChange("acme-prod", "ReadOnly", "bob", REVOKE, "Admins", ACME, False),
    ]


def test_a_managed_policy_detached_from_a_declared_group_is_revoked(
    document: spec.Spec, live: state.OrgState
) -> None:
    readers = replace(live.groups["Readers"], attached=frozenset({ADMIN_POLICY}))
    org = replace(_with_group(live, readers), managed_policies={ADMIN_POLICY: EVERYTHING})
    p = plan.Plan.of([plan.DetachGroupPolicy("Readers", ADMIN_POLICY)])

    assert access.effect(document, org, p) == [
        AccessChange("acme-prod", "Deploy", "carol", REVOKE, "Readers", ACME, True),
        AccessChange("shared", "Admin", "carol", REVOKE, "Readers", SHARED, True),
    ]


def test_a_member_added_whose_own_policy_denies_the_role_gains_nothing(
    document: spec.Spec, live: state.OrgState
) -> None:
    fence = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Deny", "Action": "sts:AssumeRole", "Resource": "*"}],
        }
    )
    org = replace(live, user_policies={"dave": state.UserPolicies(inline={"fence": fence})})
    p = plan.Plan.of([plan.AddMember("Readers", "dave")])

    assert access.effect(document, org, p) == []


def test_a_withheld_membership_change_changes_no_access(
    document: spec.Spec, live: state.OrgState
) -> None:
    withheld = plan.Withheld(plan.RemoveMember("Admins", "bob"), "mass removal")

    assert access.effect(document, live, plan.Plan(withheld=(withheld,))) == []


def test_a_grant_removed_with_its_role_from_the_document_is_revoked(live: state.OrgState) -> None:
    without_shared_admin = load.parse_spec(
        DOCUMENT.replace("    roles: [Admin]\n  - name: acme-prod", "  - name: acme-prod").replace(
            "      - {account: shared, role: Admin}\n", ""
        ),
        "accounts.yaml",
    )
    change = plan.PutGroupGrants("Admins", _grants(SHARED_ADMIN, ACME_DEPLOY), _grants(ACME_DEPLOY))

    assert access.effect(without_shared_admin, live, plan.Plan.of([change])) == [
        AccessChange("shared", "Admin", "alice", REVOKE, "Admins", SHARED, True),
        AccessChange("shared", "Admin", "bob", REVOKE, "Admins", SHARED, True),
    ]
