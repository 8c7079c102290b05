"""The diff's less travelled paths: accounts skipped before others, the fingerprint a creation
records, what deletions and adoptions say, and what is listed as unmanaged. Plain values in,
literal plans out."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from reconciler.core import diff, plan, spec, state

PlanOf = Callable[..., plan.Plan]
Variant = Callable[..., spec.Spec]

REQUEST = "car-0123456789abcdef0123456789abcdef"
SHARED_MOVED = "~ account shared: move Clients -> Environments/Production"
READONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"
TRUST = (
    '{"Version":"2012-10-17","Statement":[{"Effect":"Allow",'
    '"Principal":{"AWS":"arn:aws:iam::444444444444:root"},"Action":"sts:AssumeRole"}]}'
)
BY_HAND = (
    '{"Version":"2012-10-17","Statement":'
    '[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}]}'
)


def _shared_lines(p: plan.Plan) -> list[str]:
    return [c.line() for c in p.changes if c.account == "shared"]


def _without_acme_dev(live: state.OrgState) -> state.OrgState:
    return replace(live, accounts=tuple(a for a in live.accounts if a.name != "acme-dev"))


def test_an_unknown_account_id_is_reported_and_the_next_account_still_planned(
    variant: Variant, live: state.OrgState, plan_of: PlanOf, edit: Any
) -> None:
    document = variant(("  - name: acme-dev\n", '  - name: acme-dev\n    id: "999999999999"\n'))

    p = plan_of(edit.account(live, "shared", unit=("Clients",)), document)

    assert p.unreachable == {"acme-dev": "account id 999999999999 is not in the organization"}
    assert _shared_lines(p) == [SHARED_MOVED]


def test_a_failed_creation_is_reported_and_the_next_account_still_planned(
    document: spec.Spec, live: state.OrgState, plan_of: PlanOf, edit: Any
) -> None:
    moved = _without_acme_dev(edit.account(live, "shared", unit=("Clients",)))
    acme_dev = next(a for a in state.declared(document, moved).accounts if a.name == "acme-dev")
    record = state.FailedCreation(REQUEST, "INVALID_EMAIL", state.fingerprint(acme_dev))

    p = plan_of(replace(moved, failed_creations={"acme-dev": record}))

    assert p.unreachable == {
        "acme-dev": f"creation failed: INVALID_EMAIL: AWS rejected the email address (request "
        f"{REQUEST}); not requested again until the document changes this account"
    }
    assert _shared_lines(p) == [SHARED_MOVED]


def test_a_suspended_account_is_reported_and_the_next_account_still_planned(
    live: state.OrgState, plan_of: PlanOf, edit: Any
) -> None:
    suspended = edit.account(live, "acme-dev", state="SUSPENDED")

    p = plan_of(edit.account(suspended, "shared", unit=("Clients",)))

    assert p.unreachable == {"acme-dev": "account is SUSPENDED: not read nor changed"}
    assert _shared_lines(p) == [SHARED_MOVED]


def test_a_creation_that_failed_under_its_recorded_fingerprint_is_not_requested_again(
    live: state.OrgState, plan_of: PlanOf
) -> None:
    missing = _without_acme_dev(live)
    [creation] = [c for c in plan_of(missing).changes if isinstance(c, plan.CreateAccount)]
    # What the daemon records when the request it sent fails: the fingerprint it carried.
    record = state.FailedCreation(REQUEST, "EMAIL_ALREADY_EXISTS", creation.fingerprint)

    p = plan_of(replace(missing, failed_creations={"acme-dev": record}))

    assert [c.line() for c in p.changes if c.account == "acme-dev"] == []
    assert p.unreachable == {
        "acme-dev": "creation failed: EMAIL_ALREADY_EXISTS: the email address is already used "
        f"by another AWS account (request {REQUEST}); not requested again until the document "
        "changes this account"
    }


def test_a_pruned_role_counts_its_managed_and_inline_policies(
    live: state.OrgState, plan_of: PlanOf, edit: Any
) -> None:
    legacy = state.Role(
        "Legacy",
        TRUST,
        policies=frozenset({READONLY}),
        inline_policies={"by-hand": BY_HAND},
        managed=True,
    )

    p = plan_of(edit.add_role(live, "acme-dev", legacy), prune=True)

    assert [c.line() for c in p.changes] == [
        "- role acme-dev/Legacy: delete with 2 policies (carries managed-by=reconciler, "
        "no longer declared)"
    ]
    assert p.size == 3


def test_an_adopted_role_is_marked_with_this_instances_name(
    document: spec.Spec, live: state.OrgState, edit: Any
) -> None:
    unmarked = edit.role(live, "acme-dev", "AccountAccessRole", managed=False)
    rules = diff.Rules(
        prune=False, bootstrap_role="OrganizationAccountAccessRole", instance="team-a"
    )

    p = diff.diff(state.declared(document, unmarked, "team-a"), unmarked, rules)

    assert p.changes == (
        plan.MarkRole("acme-dev", "333333333333", "AccountAccessRole", owner="team-a"),
    )


def test_an_extra_inline_policy_on_a_declared_group_is_deleted_showing_its_document(
    live: state.OrgState, plan_of: PlanOf, edit: Any
) -> None:
    drifted = edit.group(live, "AcmeDevelopers", other_policies={"by-hand": BY_HAND})

    p = plan_of(drifted)

    assert p.changes == (plan.DeleteGroupInlinePolicy("AcmeDevelopers", "by-hand", BY_HAND),)
    assert p.changes[0].policy_texts() == (BY_HAND, None)


def test_a_group_declared_without_grants_loses_even_a_null_grant_policy(
    variant: Variant, plan_of: PlanOf, edit: Any
) -> None:
    grants = "    grants:\n      - {account: shared, role: ReadOnlyAccessRole}\n"
    document = variant(("    users: [carol]\n" + grants, "    users: [carol]\n"))
    live = edit.group(edit.converged(document), "Auditors", grant_policy="null")

    p = plan_of(live, document)

    assert p.changes == (plan.PutGroupGrants("Auditors", "null", None),)


def test_an_undeclared_account_without_a_name_is_listed_by_its_id(
    live: state.OrgState, plan_of: PlanOf
) -> None:
    nameless = state.Account("", "aws+old@example.com", "555555555555", ("Clients",))

    p = plan_of(replace(live, accounts=(*live.accounts, nameless)))

    assert p.changes == ()
    assert p.unmanaged[plan.Kind.ACCOUNT] == ("555555555555",)


def test_unreadable_roles_of_one_account_do_not_hide_the_next_accounts_unmanaged_roles(
    live: state.OrgState, plan_of: PlanOf, edit: Any
) -> None:
    unread = edit.account(live, "acme-dev", roles=None)
    legacy = state.Role("Legacy", TRUST, managed=True)

    p = plan_of(edit.add_role(unread, "shared", legacy))

    assert p.changes == ()
    assert p.unmanaged[plan.Kind.ROLE] == ("shared/Legacy",)
