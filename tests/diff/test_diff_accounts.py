"""Accounts: idempotence, moves, tags, creation (once), adoption, unmanaged and unreachable ones."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from reconciler.core import plan, spec, state

PlanOf = Callable[..., plan.Plan]
Variant = Callable[..., spec.Spec]

LAST_ACCOUNT = "    roles: [ReadOnlyAccessRole]\n"  # the last line of the last account
ACME_PROD = (
    LAST_ACCOUNT,
    LAST_ACCOUNT + "  - name: acme-prod\n"
    "    email: aws+acme-prod@example.com\n"
    "    unit: Environments/Production\n"
    "    tags: {environment: production, client: acme}\n"
    "    roles: [AccountAccessRole, ReadOnlyAccessRole]\n",
)
NO_CHANGES = "Plan: 0 to create, 0 to update, 0 to delete."
# The trust policy of the source account's roles, written out by hand.
TRUST_WITH_MFA = {
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


def only_change(p: plan.Plan) -> plan.Change:
    assert len(p.changes) == 1, [c.line() for c in p.changes]
    return p.changes[0]


DOCUMENTS = {
    "example": (),
    "prune": (("groups:\n", "policy: {prune: true}\ngroups:\n"),),
    "no mfa": (
        (
            "      max_session_duration: 7200\n",
            "      max_session_duration: 7200\n      require_mfa: false\n",
        ),
    ),
    "third account": (ACME_PROD,),
    "account in the root": (("    unit: Environments/Production\n", ""),),
    "no tags": (("    tags: {client: acme, environment: development}\n", ""),),
}


@pytest.mark.parametrize("replacements", DOCUMENTS.values(), ids=DOCUMENTS.keys())
def test_live_state_as_declared_is_an_empty_plan(
    variant: Variant, plan_of: PlanOf, edit: Any, replacements: tuple[tuple[str, str], ...]
) -> None:
    document = variant(*replacements)

    p = plan_of(edit.converged(document), document)

    assert p.changes == ()
    assert p.withheld == ()
    assert p.empty
    assert p.summary() == NO_CHANGES
    assert p.unreachable == {}
    assert all(names == () for names in p.unmanaged.values())


def test_account_is_found_by_email_whatever_its_case(
    live: state.OrgState, plan_of: PlanOf, edit: Any
) -> None:
    drifted = edit.account(live, "acme-dev", email="AWS+Acme-Dev@Example.com", name="Acme Dev")

    assert plan_of(drifted).changes == ()


MOVES = {
    "other unit": (("Environments", "Development"), "Environments/Development -> Clients/Acme"),
    "from the root": ((), "(root) -> Clients/Acme"),
    "parent unit": (("Clients",), "Clients -> Clients/Acme"),
}


@pytest.mark.parametrize(("where", "words"), MOVES.values(), ids=MOVES.keys())
def test_account_in_another_unit_is_moved(
    live: state.OrgState, plan_of: PlanOf, edit: Any, where: state.UnitPath, words: str
) -> None:
    change = only_change(plan_of(edit.account(live, "acme-dev", unit=where)))

    assert change == plan.MoveAccount("acme-dev", "333333333333", where, ("Clients", "Acme"))
    assert change.line() == f"~ account acme-dev: move {words}"


def test_account_declared_in_the_root_is_moved_there(
    variant: Variant, plan_of: PlanOf, live: state.OrgState
) -> None:
    document = variant(("    unit: Environments/Production\n", ""))

    change = only_change(plan_of(live, document))

    assert change == plan.MoveAccount("shared", "222222222222", ("Environments", "Production"), ())
    assert change.line() == "~ account shared: move Environments/Production -> (root)"


TAGS = {
    "value changed": (
        {"client": "acme", "environment": "production"},
        "environment 'production' -> 'development'",
    ),
    "tag missing": ({"client": "acme"}, "add environment='development'"),
    "no tags": ({}, "add client='acme', add environment='development'"),
}


@pytest.mark.parametrize(("tags", "words"), TAGS.values(), ids=TAGS.keys())
def test_tags_that_differ_are_one_tag_update(
    live: state.OrgState, plan_of: PlanOf, edit: Any, tags: dict[str, str], words: str
) -> None:
    change = only_change(plan_of(edit.account(live, "acme-dev", tags=tags)))

    assert change == plan.UpdateAccountTags(
        "acme-dev", "333333333333", tags, {"client": "acme", "environment": "development"}
    )
    assert change.kind == plan.Kind.TAG
    assert change.line() == f"~ tag acme-dev: {words}"


def test_an_undeclared_tag_is_kept_without_prune(
    live: state.OrgState, plan_of: PlanOf, edit: Any
) -> None:
    extra = {"client": "acme", "environment": "development", "owner": "bob"}

    assert plan_of(edit.account(live, "acme-dev", tags=extra)).changes == ()


def test_an_undeclared_tag_is_removed_under_prune(
    live: state.OrgState, plan_of: PlanOf, edit: Any
) -> None:
    extra = {"client": "acme", "environment": "development", "owner": "bob"}

    change = only_change(plan_of(edit.account(live, "acme-dev", tags=extra), prune=True))

    assert change.line() == "~ tag acme-dev: remove owner='bob'"


def test_a_declared_tag_is_enforced_beside_undeclared_ones(
    live: state.OrgState, plan_of: PlanOf, edit: Any
) -> None:
    drifted = {"client": "acme", "environment": "staging", "owner": "bob"}

    change = only_change(plan_of(edit.account(live, "acme-dev", tags=drifted)))

    assert change.line() == "~ tag acme-dev: environment 'staging' -> 'development'"
    assert isinstance(change, plan.UpdateAccountTags) and change.after["owner"] == "bob"


def test_tags_in_another_order_are_not_drift(
    live: state.OrgState, plan_of: PlanOf, edit: Any
) -> None:
    drifted = edit.account(live, "acme-dev", tags={"environment": "development", "client": "acme"})

    assert plan_of(drifted).changes == ()


def test_missing_account_is_created_then_its_roles(
    variant: Variant, live: state.OrgState, plan_of: PlanOf
) -> None:
    document = variant(ACME_PROD)

    p = plan_of(live, document)

    account, *roles = p.changes
    assert account == plan.CreateAccount(
        name="acme-prod",
        email="aws+acme-prod@example.com",
        unit=("Environments", "Production"),
        tags={"environment": "production", "client": "acme"},
        bootstrap_role="OrganizationAccountAccessRole",
    )
    assert all(isinstance(r, plan.CreateRole) for r in roles)
    created = {
        (r.account, r.account_id, r.definition.name): (
            r.definition.policies,
            r.definition.max_session_duration,
            r.definition.managed,
            json.loads(r.definition.trust_policy),
        )
        for r in roles
        if isinstance(r, plan.CreateRole)
    }
    assert created == {
        ("acme-prod", None, "AccountAccessRole"): (
            frozenset({"arn:aws:iam::aws:policy/AdministratorAccess"}),
            7200,
            True,
            TRUST_WITH_MFA,
        ),
        ("acme-prod", None, "ReadOnlyAccessRole"): (
            frozenset({"arn:aws:iam::aws:policy/ReadOnlyAccess"}),
            3600,
            True,
            TRUST_WITH_MFA,
        ),
    }
    assert [c.line() for c in p.changes] == [
        "+ account acme-prod: create with email aws+acme-prod@example.com in "
        "Environments/Production, tags client=acme, environment=production",
        "+ role acme-prod/AccountAccessRole: create with AdministratorAccess, MFA required, "
        "sessions up to 2 h",
        "+ role acme-prod/ReadOnlyAccessRole: create with ReadOnlyAccess, MFA required, "
        "sessions up to 1 h",
    ]
    assert p.summary() == "Plan: 3 to create, 0 to update, 0 to delete."


@pytest.mark.parametrize("email", ["", "aws+acme-prod@example.com"], ids=["by name", "by email"])
def test_creation_in_flight_is_not_requested_again(
    variant: Variant, live: state.OrgState, plan_of: PlanOf, email: str
) -> None:
    document = variant(ACME_PROD)
    # ListCreateAccountStatus gives the account name and the request id, no account id yet.
    in_flight = state.Account("acme-prod", email, None, create_request="car-0123456789")
    live = replace(live, accounts=(*live.accounts, in_flight))

    p = plan_of(live, document)

    creates = [c for c in p.changes if isinstance(c, plan.CreateAccount)]
    assert len(creates) == 1
    assert creates[0].request_id == "car-0123456789"
    assert creates[0].line().endswith("(creation already in progress, request car-0123456789)")
    assert [type(c) for c in p.changes] == [plan.CreateAccount, plan.CreateRole, plan.CreateRole]
    assert p.unmanaged[plan.Kind.ACCOUNT] == ()


def test_declared_id_not_in_the_organization_is_never_created(
    variant: Variant, live: state.OrgState, plan_of: PlanOf
) -> None:
    document = variant(
        ACME_PROD, ("name: acme-prod\n", 'name: acme-prod\n    id: "555555555555"\n')
    )

    p = plan_of(live, document)

    assert [c.line() for c in p.changes if c.account == "acme-prod"] == []
    assert "acme-prod" in p.unreachable


@pytest.mark.parametrize("prune", [False, True])
def test_undeclared_account_is_reported_never_touched(
    live: state.OrgState, plan_of: PlanOf, edit: Any, prune: bool
) -> None:
    stray_role = state.Role("AccountAccessRole", trust_policy="{}", managed=True)
    legacy = state.Account(
        "legacy",
        "aws+legacy@example.com",
        "777777777777",
        unit=("Old",),
        tags={"owner": "nobody"},
        roles={"AccountAccessRole": stray_role},
    )
    live = replace(
        live,
        accounts=(*live.accounts, legacy),
        units={**live.units, ("Old",): state.Unit(("Old",), "ou-old")},
    )

    p = plan_of(live, prune=prune)

    assert p.changes == ()
    assert p.unmanaged[plan.Kind.ACCOUNT] == ("legacy",)


def test_unreachable_account_has_no_changes_and_is_listed(
    live: state.OrgState, plan_of: PlanOf, edit: Any
) -> None:
    why = "AccessDenied: cannot assume OrganizationAccountAccessRole"
    drifted = edit.account(live, "acme-dev", roles=None)
    drifted = replace(drifted, unreachable={"acme-dev": why})

    p = plan_of(drifted, prune=True)

    assert p.changes == ()
    assert p.unreachable == {"acme-dev": why}
    assert p.unmanaged[plan.Kind.ROLE] == ()


def test_unreachable_account_roles_are_not_compared_even_if_read(
    live: state.OrgState, plan_of: PlanOf, edit: Any
) -> None:
    drifted = edit.role(live, "acme-dev", "AccountAccessRole", max_session_duration=3600)
    drifted = replace(drifted, unreachable={"acme-dev": "timeout"})

    p = plan_of(drifted)

    assert p.changes == ()
    assert p.unreachable == {"acme-dev": "timeout"}


def test_account_whose_roles_could_not_be_read_gets_no_role_change(
    live: state.OrgState, plan_of: PlanOf, edit: Any
) -> None:
    # A suspended account: read without roles, though not unreachable.
    assert plan_of(edit.account(live, "shared", roles=None)).changes == ()


def test_only_declared_accounts_are_listed_unreachable(
    live: state.OrgState, plan_of: PlanOf
) -> None:
    drifted = replace(live, unreachable={"someone-else": "denied"})

    assert plan_of(drifted).unreachable == {}
