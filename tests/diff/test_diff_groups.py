"""Groups in the source account: members, the grant policy (semantically compared), prune."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any
from urllib.parse import quote

import pytest

from reconciler.core import plan, spec, state

PlanOf = Callable[..., plan.Plan]

ADMIN_ACME = "arn:aws:iam::333333333333:role/AccountAccessRole"
READONLY_SHARED = "arn:aws:iam::222222222222:role/ReadOnlyAccessRole"
FOREIGN = "arn:aws:iam::999999999999:role/AccountAccessRole"


def only_change(p: plan.Plan) -> plan.Change:
    assert len(p.changes) == 1, [c.line() for c in p.changes]
    return p.changes[0]


# The grant policies the document declares, written out by hand.
ACME_DEVELOPERS_GRANTS = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": "sts:AssumeRole",
            "Resource": [
                "arn:aws:iam::222222222222:role/ReadOnlyAccessRole",
                "arn:aws:iam::333333333333:role/AccountAccessRole",
            ],
        }
    ],
}
AUDITORS_GRANTS = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": "sts:AssumeRole",
            "Resource": ["arn:aws:iam::222222222222:role/ReadOnlyAccessRole"],
        }
    ],
}


def grants(*arns: str) -> str:
    """A grant policy as a live group could hold it: sts:AssumeRole on these role ARNs."""
    statement = {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": list(arns)}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def test_declared_grant_policy_is_exactly_the_group_grants(live: state.OrgState) -> None:
    declared = {name: group.grant_policy or "" for name, group in live.groups.items()}
    assert json.loads(declared["AcmeDevelopers"]) == ACME_DEVELOPERS_GRANTS
    assert json.loads(declared["Auditors"]) == AUDITORS_GRANTS


@pytest.mark.parametrize("prune", [False, True])
def test_groups_as_declared_need_no_change(
    live: state.OrgState, plan_of: PlanOf, prune: bool
) -> None:
    assert plan_of(live, prune=prune).changes == ()


def test_stray_member_is_removed(live: state.OrgState, plan_of: PlanOf, edit: Any) -> None:
    drifted = edit.group(live, "AcmeDevelopers", users=frozenset({"alice", "james", "mallory"}))

    change = only_change(plan_of(drifted, prune=True))

    assert change == plan.RemoveMember("AcmeDevelopers", "mallory")
    assert change.line() == (
        "- membership AcmeDevelopers/mallory: remove user mallory from group AcmeDevelopers "
        "(not declared)"
    )


def test_missing_member_is_added(live: state.OrgState, plan_of: PlanOf, edit: Any) -> None:
    drifted = edit.group(live, "AcmeDevelopers", users=frozenset({"alice"}))

    change = only_change(plan_of(drifted))

    assert change == plan.AddMember("AcmeDevelopers", "james")
    assert change.line() == (
        "+ membership AcmeDevelopers/james: add user james to group AcmeDevelopers"
    )


def test_members_swapped_are_one_add_and_one_remove(
    live: state.OrgState, plan_of: PlanOf, edit: Any
) -> None:
    drifted = edit.group(live, "Auditors", users=frozenset({"mallory"}))

    assert plan_of(drifted, prune=True).changes == (
        plan.AddMember("Auditors", "carol"),
        plan.RemoveMember("Auditors", "mallory"),
    )


@pytest.mark.parametrize(("declared", "live_name"), [("alice", "Alice"), ("Alice", "alice")])
def test_member_name_in_another_case_is_not_drift(
    variant: Callable[..., spec.Spec],
    plan_of: PlanOf,
    edit: Any,
    declared: str,
    live_name: str,
) -> None:
    document = variant(("users: [carol]", f"users: [{declared}]"))
    drifted = edit.group(edit.converged(document), "Auditors", users=frozenset({live_name}))

    assert [c.line() for c in plan_of(drifted, document, prune=True).changes] == []


EDITS = {
    "grant added by hand": (
        grants(ADMIN_ACME, READONLY_SHARED, FOREIGN),
        f"revoke {FOREIGN}",
    ),
    "grant removed by hand": (grants(READONLY_SHARED), f"grant {ADMIN_ACME}"),
    "grant replaced": (
        grants(READONLY_SHARED, FOREIGN),
        f"grant {ADMIN_ACME}, revoke {FOREIGN}",
    ),
    "policy deleted": (None, f"grant {READONLY_SHARED}, grant {ADMIN_ACME}"),
}


@pytest.mark.parametrize(("before", "words"), EDITS.values(), ids=EDITS.keys())
def test_grant_policy_edited_is_put_back(
    live: state.OrgState, plan_of: PlanOf, edit: Any, before: str | None, words: str
) -> None:
    drifted = edit.group(live, "AcmeDevelopers", grant_policy=before)

    change = only_change(plan_of(drifted))

    assert isinstance(change, plan.PutGroupGrants)
    assert (change.group, change.before) == ("AcmeDevelopers", before)
    assert json.loads(change.after or "") == ACME_DEVELOPERS_GRANTS
    assert change.line() == f"~ group AcmeDevelopers: {words}"


def test_grant_policy_with_an_extra_statement_is_rewritten(
    live: state.OrgState, plan_of: PlanOf, edit: Any
) -> None:
    document = json.loads(grants(ADMIN_ACME, READONLY_SHARED))
    document["Statement"].append(
        {"Effect": "Deny", "Action": "sts:AssumeRole", "Resource": FOREIGN}
    )
    drifted = edit.group(live, "AcmeDevelopers", grant_policy=json.dumps(document))

    change = only_change(plan_of(drifted))

    assert isinstance(change, plan.PutGroupGrants)
    assert change.line() == (
        "~ group AcmeDevelopers: rewrite the grant policy (same grants, other statements)"
    )


def _as_iam_returns_it() -> str:
    document = {
        "Version": "2012-10-17",
        "Statement": {
            "Sid": "Grants",
            "Resource": [READONLY_SHARED, ADMIN_ACME],
            "Action": ["STS:AssumeRole"],
            "Effect": "Allow",
        },
    }
    return quote(json.dumps(document, indent=4))


EQUAL = {
    "arns reordered": grants(ADMIN_ACME, READONLY_SHARED),  # declared: 222... before 333...
    "indented": json.dumps(json.loads(grants(ADMIN_ACME, READONLY_SHARED)), indent=2),
    "url-encoded, sid, statement object": _as_iam_returns_it(),
}


@pytest.mark.parametrize("text", EQUAL.values(), ids=EQUAL.keys())
def test_equal_grant_policy_in_another_form_is_not_drift(
    live: state.OrgState, plan_of: PlanOf, edit: Any, text: str
) -> None:
    assert text != live.groups["AcmeDevelopers"].grant_policy
    drifted = edit.group(live, "AcmeDevelopers", grant_policy=text)

    assert plan_of(drifted).changes == ()


def test_missing_group_is_created_then_its_members(live: state.OrgState, plan_of: PlanOf) -> None:
    gone = {n: g for n, g in live.groups.items() if n != "AcmeDevelopers"}
    p = plan_of(replace(live, groups=gone))

    create, *members = p.changes
    assert isinstance(create, plan.CreateGroup)
    assert replace(create.definition, grant_policy=None) == state.Group(
        "AcmeDevelopers", path="/reconciler/", users=frozenset({"alice", "james"})
    )
    assert json.loads(create.definition.grant_policy or "") == ACME_DEVELOPERS_GRANTS
    assert members == [
        plan.AddMember("AcmeDevelopers", "alice"),
        plan.AddMember("AcmeDevelopers", "james"),
    ]
    assert p.changes[0].line() == (
        "+ group AcmeDevelopers: create at path /reconciler/ granting 2 role(s)"
    )


def test_missing_group_without_users_is_one_create(
    variant: Callable[..., spec.Spec], plan_of: PlanOf, live: state.OrgState
) -> None:
    document = variant(("    users: [carol]\n", ""))
    gone = {n: g for n, g in live.groups.items() if n != "Auditors"}
    change = only_change(plan_of(replace(live, groups=gone), document))

    assert isinstance(change, plan.CreateGroup)
    assert replace(change.definition, grant_policy=None) == state.Group("Auditors")
    assert json.loads(change.definition.grant_policy or "") == AUDITORS_GRANTS
    assert change.line() == "+ group Auditors: create at path /reconciler/ granting 1 role(s)"


def test_group_found_whatever_the_case_of_its_name(live: state.OrgState, plan_of: PlanOf) -> None:
    renamed = {n: g for n, g in live.groups.items() if n != "Auditors"}
    renamed["auditors"] = replace(live.groups["Auditors"], name="auditors")

    assert plan_of(replace(live, groups=renamed), prune=True).changes == ()


def _group(path: str) -> state.Group:
    return state.Group("OldTeam", path=path, grant_policy=grants(FOREIGN), users=frozenset({"bob"}))


REVOKED = [
    f"~ group OldTeam: revoke {FOREIGN}",
    "- membership OldTeam/bob: remove user bob from group OldTeam (not declared)",
]


def test_without_prune_a_marked_undeclared_group_loses_its_access_and_is_kept(
    live: state.OrgState, plan_of: PlanOf
) -> None:
    """Revoking access never waits for prune: only deleting the emptied group does."""
    p = plan_of(
        replace(live, groups={**live.groups, "OldTeam": _group("/reconciler/")}), prune=False
    )

    assert [c.line() for c in p.changes] == REVOKED
    assert p.changes[0] == plan.PutGroupGrants("OldTeam", grants(FOREIGN), None)
    assert p.unmanaged[plan.Kind.GROUP] == ("OldTeam",)


def test_with_prune_a_marked_undeclared_group_is_emptied_then_deleted(
    live: state.OrgState, plan_of: PlanOf
) -> None:
    p = plan_of(
        replace(live, groups={**live.groups, "OldTeam": _group("/reconciler/")}), prune=True
    )

    assert [c.line() for c in p.changes] == [
        *REVOKED,
        "- group OldTeam: delete the group (at path /reconciler/, no longer declared)",
    ]
    assert p.changes[-1] == plan.DeleteGroup("OldTeam")
    assert p.size == 3
    assert p.unmanaged[plan.Kind.GROUP] == ()


@pytest.mark.parametrize("prune", [False, True])
@pytest.mark.parametrize("path", ["/", "/teams/", "/reconciler/old/"])
def test_an_unmarked_undeclared_group_is_never_touched(
    live: state.OrgState, plan_of: PlanOf, prune: bool, path: str
) -> None:
    p = plan_of(replace(live, groups={**live.groups, "OldTeam": _group(path)}), prune=prune)

    assert p.changes == ()
    assert p.unmanaged[plan.Kind.GROUP] == ()


def test_unread_groups_are_reported_and_never_planned(live: state.OrgState, plan_of: Any) -> None:
    unread = replace(live, groups={}, source_unreachable="444444444444: AccessDenied")

    p = plan_of(unread)

    assert [c for c in p.changes if c.kind in (plan.Kind.GROUP, plan.Kind.MEMBERSHIP)] == []
    assert p.unreachable == {"source account": "444444444444: AccessDenied"}


def test_a_member_without_an_iam_user_is_planned_with_a_warning(
    live: state.OrgState, plan_of: Any
) -> None:
    without_alice = replace(live, users=frozenset(u for u in live.users if u != "alice"))
    group = next(g for g in live.groups.values() if "alice" in g.users)
    drifted = replace(
        without_alice,
        groups={**live.groups, group.name: replace(group, users=group.users - {"alice"})},
    )

    (change,) = plan_of(drifted).changes

    assert isinstance(change, plan.AddMember) and not change.user_exists
    assert "no such IAM user in the source account" in change.line()


def test_hand_made_policy_granting_exactly_the_grants_is_left_as_it_is(
    live: state.OrgState, plan_of: PlanOf, edit: Any
) -> None:
    """A group made by hand whose one policy already grants what is declared: nothing to
    rewrite, whatever the policy's name."""
    by_hand = {"assume-roles": grants(READONLY_SHARED, ADMIN_ACME)}
    drifted = edit.group(live, "AcmeDevelopers", grant_policy=None, other_policies=by_hand)

    assert plan_of(drifted).changes == ()


def test_hand_made_policy_granting_other_roles_is_replaced_by_ours(
    live: state.OrgState, plan_of: PlanOf, edit: Any
) -> None:
    by_hand = {"assume-roles": grants(ADMIN_ACME)}
    drifted = edit.group(live, "AcmeDevelopers", grant_policy=None, other_policies=by_hand)

    assert [c.line() for c in plan_of(drifted).changes] == [
        "~ group AcmeDevelopers: delete inline policy assume-roles (not declared)",
        f"~ group AcmeDevelopers: grant {READONLY_SHARED}, grant {ADMIN_ACME}",
    ]
