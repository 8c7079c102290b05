"""Roles in member accounts: each kind of drift is exactly one typed change; prune and adoption."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import pytest

from reconciler.core import plan, spec, state
from tests.diff.conftest import converged

PlanOf = Callable[..., plan.Plan]
Variant = Callable[..., spec.Spec]

ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
READONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"
IAM_FULL = "arn:aws:iam::aws:policy/IAMFullAccess"
SOURCE = "444444444444"
# (account, its live id, a role it carries)
ROLES = [
    ("acme-dev", "333333333333", "AccountAccessRole"),
    ("acme-dev", "333333333333", "ReadOnlyAccessRole"),
    ("shared", "222222222222", "ReadOnlyAccessRole"),
]
ROLE_IDS = [f"{a}/{r}" for a, _, r in ROLES]
# What tests/fixtures/diff_org.yaml declares for each role: its policy, its longest session.
DECLARED = {
    "AccountAccessRole": (ADMIN, 7200),
    "ReadOnlyAccessRole": (READONLY, 3600),
}
# The trust policies the source account's people get, written out by hand.
TRUST_WITH_MFA: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::444444444444:root"},
            "Action": "sts:AssumeRole",
            "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}},
        }
    ],
}
TRUST_WITHOUT_MFA: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::444444444444:root"},
            "Action": "sts:AssumeRole",
        }
    ],
}
FOREIGN_TRUST: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::999999999999:root"},
            "Action": "sts:AssumeRole",
            "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}},
        }
    ],
}


def live_role(live: state.OrgState, account: str, role: str) -> state.Role:
    have = next(a for a in live.accounts if a.name == account)
    assert have.roles is not None
    return have.roles[role]


def only_change(p: plan.Plan) -> plan.Change:
    assert len(p.changes) == 1, [c.line() for c in p.changes]
    return p.changes[0]


def test_live_roles_as_declared_need_no_change(live: state.OrgState, plan_of: PlanOf) -> None:
    assert plan_of(live).changes == ()


def test_trust_policy_as_iam_returns_it_is_not_drift(
    live: state.OrgState, plan_of: PlanOf, edit: Any
) -> None:
    # IAM returns documents URL-encoded, in its own formatting, and the principal as stored.
    returned = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "",
                "Action": ["sts:AssumeRole"],
                "Condition": {"Bool": {"aws:MultiFactorAuthPresent": True}},
                "Principal": {"AWS": SOURCE},
                "Effect": "Allow",
            }
        ],
    }
    drifted = edit.role(
        live, "acme-dev", "AccountAccessRole", trust_policy=quote(json.dumps(returned, indent=4))
    )

    assert plan_of(drifted).changes == ()


def test_mfa_condition_removed_is_one_trust_update_that_says_mfa(
    live: state.OrgState, plan_of: PlanOf, edit: Any
) -> None:
    without_mfa = json.dumps(TRUST_WITHOUT_MFA)
    drifted = edit.role(live, "acme-dev", "AccountAccessRole", trust_policy=without_mfa)

    change = only_change(plan_of(drifted))

    assert isinstance(change, plan.UpdateRoleTrust)
    assert (change.account, change.account_id, change.role, change.before) == (
        "acme-dev",
        "333333333333",
        "AccountAccessRole",
        without_mfa,
    )
    assert json.loads(change.after) == TRUST_WITH_MFA
    assert change.line() == "~ role acme-dev/AccountAccessRole: trust policy add the MFA condition"


LIVE_MFA_CONDITIONS = {
    # condition live -> whether the plan adds the MFA condition (else: nothing to change)
    "boolean false": ({"Bool": {"aws:MultiFactorAuthPresent": False}}, True),
    "string false": ({"Bool": {"aws:MultiFactorAuthPresent": "false"}}, True),
    "false in upper case": ({"Bool": {"aws:multifactorauthpresent": "FALSE"}}, True),
    "if exists": ({"BoolIfExists": {"aws:MultiFactorAuthPresent": "true"}}, True),
    "boolean true": ({"Bool": {"aws:MultiFactorAuthPresent": True}}, False),
    "key in lower case": ({"Bool": {"aws:multifactorauthpresent": "true"}}, False),
}


@pytest.mark.parametrize(
    ("condition", "adds_mfa"), LIVE_MFA_CONDITIONS.values(), ids=LIVE_MFA_CONDITIONS
)
def test_a_live_mfa_condition_is_read_as_iam_reads_it(
    live: state.OrgState, plan_of: PlanOf, edit: Any, condition: dict[str, Any], adds_mfa: bool
) -> None:
    (statement,) = TRUST_WITH_MFA["Statement"]
    trust = {**TRUST_WITH_MFA, "Statement": [{**statement, "Condition": condition}]}
    drifted = edit.role(live, "acme-dev", "AccountAccessRole", trust_policy=json.dumps(trust))

    lines = [c.line() for c in plan_of(drifted).changes]

    added = ["~ role acme-dev/AccountAccessRole: trust policy add the MFA condition"]
    assert lines == (added if adds_mfa else [])


def test_mfa_condition_live_but_not_required_is_removed(
    variant: Variant, plan_of: PlanOf, edit: Any
) -> None:
    document = variant(
        (
            "      max_session_duration: 7200\n",
            "      max_session_duration: 7200\n      require_mfa: false\n",
        )
    )
    with_mfa = json.dumps(TRUST_WITH_MFA)
    drifted = edit.role(
        edit.converged(document), "acme-dev", "AccountAccessRole", trust_policy=with_mfa
    )

    change = only_change(plan_of(drifted, document))

    assert isinstance(change, plan.UpdateRoleTrust)
    assert (change.before, json.loads(change.after)) == (with_mfa, TRUST_WITHOUT_MFA)
    assert "remove the MFA condition" in change.line()


def test_trust_of_another_account_is_replaced(
    live: state.OrgState, plan_of: PlanOf, edit: Any
) -> None:
    foreign = json.dumps(FOREIGN_TRUST)
    drifted = edit.role(live, "shared", "ReadOnlyAccessRole", trust_policy=foreign)

    change = only_change(plan_of(drifted))

    assert isinstance(change, plan.UpdateRoleTrust)
    assert change.target == "shared/ReadOnlyAccessRole"
    assert change.before == foreign
    assert json.loads(change.after) == TRUST_WITH_MFA
    assert "999999999999" in change.line() and SOURCE in change.line()


@pytest.mark.parametrize(("account", "account_id", "role"), ROLES, ids=ROLE_IDS)
def test_policy_detached_live_is_attached_again(
    live: state.OrgState,
    plan_of: PlanOf,
    edit: Any,
    account: str,
    account_id: str,
    role: str,
) -> None:
    arn, _ = DECLARED[role]
    drifted = edit.role(live, account, role, policies=frozenset())

    change = only_change(plan_of(drifted))

    assert change == plan.AttachRolePolicy(account, account_id, role, policy_arn=arn)
    assert change.line() == f"~ role {account}/{role}: attach {arn}"


@pytest.mark.parametrize(("account", "account_id", "role"), ROLES, ids=ROLE_IDS)
def test_extra_policy_attached_live_is_detached(
    live: state.OrgState,
    plan_of: PlanOf,
    edit: Any,
    account: str,
    account_id: str,
    role: str,
) -> None:
    attached = live_role(live, account, role).policies
    drifted = edit.role(live, account, role, policies=attached | {IAM_FULL})

    change = only_change(plan_of(drifted))

    assert change == plan.DetachRolePolicy(account, account_id, role, policy_arn=IAM_FULL)
    assert change.line() == f"~ role {account}/{role}: detach {IAM_FULL} (not declared)"


def test_policy_swapped_is_a_detach_then_an_attach(
    live: state.OrgState, plan_of: PlanOf, edit: Any
) -> None:
    drifted = edit.role(live, "acme-dev", "AccountAccessRole", policies=frozenset({READONLY}))

    # Detach first: with 10 policies attached (IAM's quota) an attach first would be refused.
    assert plan_of(drifted).changes == (
        plan.DetachRolePolicy("acme-dev", "333333333333", "AccountAccessRole", policy_arn=READONLY),
        plan.AttachRolePolicy("acme-dev", "333333333333", "AccountAccessRole", policy_arn=ADMIN),
    )


def test_every_role_change_goes_trust_first_then_removals_then_additions_then_the_rest(
    live: state.OrgState, plan_of: PlanOf, edit: Any
) -> None:
    drifted = edit.role(
        live,
        "acme-dev",
        "AccountAccessRole",
        policies=frozenset({READONLY}),
        inline_policies={"zz-legacy": "{}"},
        trust_policy='{"Version":"2012-10-17","Statement":[]}',
        max_session_duration=43200,
        managed=False,
    )

    kinds = [type(c).__name__ for c in plan_of(drifted).changes]

    assert kinds == [
        "UpdateRoleTrust",
        "DeleteRoleInlinePolicy",
        "DetachRolePolicy",
        "AttachRolePolicy",
        "UpdateRoleSession",
        "MarkRole",
    ]


@pytest.mark.parametrize(("account", "account_id", "role"), ROLES, ids=ROLE_IDS)
def test_max_session_differs(
    live: state.OrgState,
    plan_of: PlanOf,
    edit: Any,
    account: str,
    account_id: str,
    role: str,
) -> None:
    _, want = DECLARED[role]
    drifted = edit.role(live, account, role, max_session_duration=43200)

    change = only_change(plan_of(drifted))

    assert change == plan.UpdateRoleSession(account, account_id, role, before=43200, after=want)
    assert change.line() == (f"~ role {account}/{role}: max session duration 43200 -> {want} s")


@pytest.mark.parametrize(("account", "account_id", "role"), ROLES, ids=ROLE_IDS)
def test_role_missing_is_created_as_declared(
    live: state.OrgState,
    plan_of: PlanOf,
    edit: Any,
    account: str,
    account_id: str,
    role: str,
) -> None:
    arn, longest = DECLARED[role]

    change = only_change(plan_of(edit.drop_role(live, account, role)))

    assert isinstance(change, plan.CreateRole)
    assert (change.account, change.account_id, change.role) == (account, account_id, role)
    want = change.definition
    assert (want.name, want.policies, dict(want.inline_policies)) == (role, frozenset({arn}), {})
    assert (want.max_session_duration, want.managed) == (longest, True)
    assert json.loads(want.trust_policy) == TRUST_WITH_MFA
    assert change.line().startswith(f"+ role {account}/{role}: create with ")
    assert "MFA required" in change.line()


def test_created_role_line_names_policies_mfa_and_session(
    live: state.OrgState, plan_of: PlanOf, edit: Any
) -> None:
    change = only_change(plan_of(edit.drop_role(live, "acme-dev", "AccountAccessRole")))

    assert change.line() == (
        "+ role acme-dev/AccountAccessRole: create with AdministratorAccess, MFA required, "
        "sessions up to 2 h"
    )


@pytest.mark.parametrize("name", ["AccountAccessRole", "accountaccessrole"])
def test_role_without_marker_is_adopted_not_created(
    live: state.OrgState, plan_of: PlanOf, edit: Any, name: str
) -> None:
    unmarked = live_role(live, "acme-dev", "AccountAccessRole")
    drifted = edit.add_role(
        edit.drop_role(live, "acme-dev", "AccountAccessRole"),
        "acme-dev",
        state.Role(
            name=name,
            trust_policy=unmarked.trust_policy,
            policies=unmarked.policies,
            max_session_duration=unmarked.max_session_duration,
            managed=False,
        ),
    )

    change = only_change(plan_of(drifted))

    assert change == plan.MarkRole("acme-dev", "333333333333", name)
    assert change.line() == (
        f"~ role acme-dev/{name}: take under management (tag managed-by=reconciler)"
    )


def test_unmarked_role_that_drifted_is_corrected_and_marked(
    live: state.OrgState, plan_of: PlanOf, edit: Any
) -> None:
    drifted = edit.role(
        live, "shared", "ReadOnlyAccessRole", managed=False, max_session_duration=3601
    )

    changes = plan_of(drifted).changes

    assert [type(c) for c in changes] == [plan.UpdateRoleSession, plan.MarkRole]
    assert not any(isinstance(c, plan.CreateRole) for c in changes)


def test_extra_inline_policy_is_deleted(live: state.OrgState, plan_of: PlanOf, edit: Any) -> None:
    extra = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}'
    drifted = edit.role(live, "acme-dev", "ReadOnlyAccessRole", inline_policies={"legacy": extra})

    change = only_change(plan_of(drifted))

    assert change == plan.DeleteRoleInlinePolicy(
        "acme-dev", "333333333333", "ReadOnlyAccessRole", policy_name="legacy"
    )
    assert change.line() == (
        "~ role acme-dev/ReadOnlyAccessRole: delete inline policy legacy (not declared)"
    )


INLINE = (
    "      policies: [arn:aws:iam::aws:policy/ReadOnlyAccess]\n",
    "      policies: [arn:aws:iam::aws:policy/ReadOnlyAccess]\n"
    "      inline_policies:\n"
    "        deny-billing:\n"
    '          Version: "2012-10-17"\n'
    "          Statement: [{Effect: Deny, Action: ['aws-portal:*'], Resource: '*'}]\n",
)


def test_declared_inline_policy_missing_is_added(
    variant: Variant, plan_of: PlanOf, edit: Any
) -> None:
    document = variant(INLINE)
    live = edit.converged(document)
    drifted = edit.role(live, "shared", "ReadOnlyAccessRole", inline_policies={})

    change = only_change(plan_of(drifted, document))

    assert isinstance(change, plan.PutRoleInlinePolicy)
    assert (change.account_id, change.role, change.policy_name, change.before) == (
        "222222222222",
        "ReadOnlyAccessRole",
        "deny-billing",
        None,
    )
    assert json.loads(change.after) == {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Deny", "Action": ["aws-portal:*"], "Resource": "*"}],
    }
    assert change.line() == "~ role shared/ReadOnlyAccessRole: add inline policy deny-billing"


def test_declared_inline_policy_edited_is_rewritten_but_reformatted_is_not(
    variant: Variant, plan_of: PlanOf, edit: Any
) -> None:
    document = variant(INLINE)
    live = edit.converged(document)
    reformatted = (
        '{ "Statement": { "Resource": ["*"], "Action": "AWS-PORTAL:*", "Effect": "Deny" },\n'
        '  "Version": "2012-10-17" }'
    )
    edited = (
        '{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"s3:*","Resource":"*"}]}'
    )

    same = edit.role(
        live, "shared", "ReadOnlyAccessRole", inline_policies={"deny-billing": reformatted}
    )
    changed = edit.role(
        live, "shared", "ReadOnlyAccessRole", inline_policies={"deny-billing": edited}
    )

    assert plan_of(same, document).changes == ()
    change = only_change(plan_of(changed, document))
    assert isinstance(change, plan.PutRoleInlinePolicy)
    assert change.before == edited
    assert change.line() == "~ role shared/ReadOnlyAccessRole: rewrite inline policy deny-billing"


def _old_role(managed: bool) -> state.Role:
    return state.Role(
        name="OldAccessRole",
        trust_policy=json.dumps(TRUST_WITH_MFA),
        policies=frozenset({ADMIN}),
        managed=managed,
    )


def test_without_prune_a_marked_undeclared_role_is_kept_and_reported(
    live: state.OrgState, plan_of: PlanOf, edit: Any
) -> None:
    drifted = edit.add_role(live, "acme-dev", _old_role(managed=True))

    p = plan_of(drifted, prune=False)

    assert p.changes == ()
    assert p.unmanaged[plan.Kind.ROLE] == ("acme-dev/OldAccessRole",)


def test_with_prune_a_marked_undeclared_role_is_deleted(
    live: state.OrgState, plan_of: PlanOf, edit: Any
) -> None:
    drifted = edit.add_role(live, "acme-dev", _old_role(managed=True))

    p = plan_of(drifted, prune=True)

    change = only_change(p)
    assert change == plan.DeleteRole("acme-dev", "333333333333", "OldAccessRole", policies=1)
    assert change.line() == (
        "- role acme-dev/OldAccessRole: delete with 1 policy (carries managed-by=reconciler, "
        "no longer declared)"
    )
    assert p.size == 2  # the role, and the policy detached from it
    assert p.unmanaged[plan.Kind.ROLE] == ()


@pytest.mark.parametrize("prune", [False, True])
def test_an_unmarked_undeclared_role_is_never_touched(
    live: state.OrgState, plan_of: PlanOf, edit: Any, prune: bool
) -> None:
    drifted = edit.add_role(live, "shared", _old_role(managed=False))

    p = plan_of(drifted, prune=prune)

    assert p.changes == ()
    assert p.unmanaged[plan.Kind.ROLE] == ()


@pytest.mark.parametrize("prune", [False, True])
@pytest.mark.parametrize("name", ["OrganizationAccountAccessRole", "organizationaccountaccessrole"])
def test_bootstrap_role_is_never_in_a_change(
    live: state.OrgState, plan_of: PlanOf, edit: Any, prune: bool, name: str
) -> None:
    # However far it is from any declared role, and marked as ours, it is never looked at.
    wild = state.Role(
        name=name,
        trust_policy='{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*",'
        '"Action":"sts:AssumeRole"}]}',
        policies=frozenset({ADMIN, IAM_FULL}),
        inline_policies={"extra": "{}"},
        max_session_duration=43200,
        managed=True,
    )
    bootstrap = "OrganizationAccountAccessRole"
    drifted = edit.add_role(edit.drop_role(live, "acme-dev", bootstrap), "acme-dev", wild)

    p = plan_of(drifted, prune=prune)

    assert p.changes == ()
    assert all(
        "organizationaccountaccessrole" not in n.lower() for n in p.unmanaged[plan.Kind.ROLE]
    )


ADOPTED_READ_ONLY = (
    "    - name: ReadOnlyAccessRole\n      policies: [arn:aws:iam::aws:policy/ReadOnlyAccess]\n",
    "    - name: ReadOnlyAccessRole\n      policies: [arn:aws:iam::aws:policy/ReadOnlyAccess]\n"
    "      adopt: true\n",
)


def test_adopted_role_that_matches_plans_nothing(
    variant: Variant, edit: Any, plan_of: PlanOf
) -> None:
    """Adopting hundreds of hand-made roles that are already as declared is not a plan of
    hundreds of tag writes: the marker comes with the first real change."""
    document = variant(ADOPTED_READ_ONLY)
    live = edit.role(converged(document), "shared", "ReadOnlyAccessRole", managed=False)

    assert plan_of(live, document).changes == ()


def test_adopted_role_is_marked_with_its_first_change(
    variant: Variant, edit: Any, plan_of: PlanOf
) -> None:
    document = variant(ADOPTED_READ_ONLY)
    live = edit.role(
        converged(document),
        "shared",
        "ReadOnlyAccessRole",
        managed=False,
        max_session_duration=7200,
    )

    assert [c.line() for c in plan_of(live, document).changes] == [
        "~ role shared/ReadOnlyAccessRole: max session duration 7200 -> 3600 s",
        "~ role shared/ReadOnlyAccessRole: take under management (tag managed-by=reconciler)",
    ]
