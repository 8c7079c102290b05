"""The pure core on what AWS really reports: account states, failed creations, whole groups,
other partitions, and another instance's marker. Plain values, expected values from literals."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from reconciler.core import diff, plan, spec, state

PlanOf = Callable[..., plan.Plan]
Variant = Callable[..., spec.Spec]

LAST_ACCOUNT = "    roles: [ReadOnlyAccessRole]\n"
ACME_PROD = (
    LAST_ACCOUNT,
    LAST_ACCOUNT + "  - name: acme-prod\n"
    "    email: aws+acme-prod@example.com\n"
    "    unit: Environments/Production\n",
)
ACME_PROD_NEW_EMAIL = (
    LAST_ACCOUNT,
    LAST_ACCOUNT + "  - name: acme-prod\n"
    "    email: aws+acme-prod-2@example.com\n"
    "    unit: Environments/Production\n",
)
REQUEST = "car-0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize("lifecycle", ["SUSPENDED", "PENDING_CLOSURE", "CLOSED"])
def test_an_account_not_active_is_reported_and_never_moved_or_tagged(
    live: state.OrgState, plan_of: PlanOf, edit: Any, lifecycle: str
) -> None:
    drifted = edit.account(live, "acme-dev", unit=(), tags={}, roles=None, state=lifecycle)

    p = plan_of(drifted)

    assert [c for c in p.changes if c.account == "acme-dev"] == []
    assert p.unreachable == {"acme-dev": f"account is {lifecycle}: not read nor changed"}


def _without_acme_prod(live: state.OrgState, failed: state.FailedCreation) -> state.OrgState:
    return replace(live, failed_creations={"acme-prod": failed})


def _fingerprint(document: spec.Spec, live: state.OrgState) -> str:
    declared = state.declared(document, live)
    return state.fingerprint(next(a for a in declared.accounts if a.name == "acme-prod"))


def test_a_failed_creation_of_this_declaration_is_reported_not_requested_again(
    variant: Variant, live: state.OrgState, plan_of: PlanOf
) -> None:
    document = variant(ACME_PROD)
    record = _fingerprint(document, live)
    failed = _without_acme_prod(live, state.FailedCreation(REQUEST, "EMAIL_ALREADY_EXISTS", record))

    p = plan_of(failed, document)

    assert [c for c in p.changes if c.account == "acme-prod"] == []
    assert p.unreachable["acme-prod"] == (
        "creation failed: EMAIL_ALREADY_EXISTS: the email address is already used by another "
        f"AWS account (request {REQUEST}); not requested again until the document changes "
        "this account"
    )


def test_a_changed_declaration_is_requested_again_superseding_the_record(
    variant: Variant, live: state.OrgState, plan_of: PlanOf
) -> None:
    before = variant(ACME_PROD)
    failed = _without_acme_prod(
        live, state.FailedCreation(REQUEST, "EMAIL_ALREADY_EXISTS", _fingerprint(before, live))
    )

    p = plan_of(failed, variant(ACME_PROD_NEW_EMAIL))

    [creation] = [c for c in p.changes if isinstance(c, plan.CreateAccount)]
    assert creation.email == "aws+acme-prod-2@example.com"
    assert creation.earlier_failure == REQUEST
    assert "acme-prod" not in p.unreachable


def test_a_failure_nobody_recorded_is_requested_again(
    variant: Variant, live: state.OrgState, plan_of: PlanOf
) -> None:
    failed = _without_acme_prod(live, state.FailedCreation(REQUEST, "INTERNAL_FAILURE", ""))

    p = plan_of(failed, variant(ACME_PROD))

    [creation] = [c for c in p.changes if isinstance(c, plan.CreateAccount)]
    assert creation.earlier_failure is None


def test_the_fingerprint_changes_with_each_field_that_makes_the_request() -> None:
    base = state.Account("a", "a@example.com", None, ("X",), {"k": "v"})
    variants = [
        replace(base, name="b"),
        replace(base, email="b@example.com"),
        replace(base, unit=("Y",)),
        replace(base, tags={"k": "w"}),
    ]
    assert len({state.fingerprint(v) for v in variants} | {state.fingerprint(base)}) == 5
    assert state.fingerprint(replace(base, email="A@EXAMPLE.COM")) == state.fingerprint(base)


def test_grants_on_an_account_whose_creation_failed_are_left_out(
    variant: Variant, live: state.OrgState
) -> None:
    grant = "      - {account: shared, role: ReadOnlyAccessRole}\n  - name: Auditors\n"
    acme_prod = ACME_PROD[1] + "    roles: [ReadOnlyAccessRole]\n"
    document = variant((ACME_PROD[0], acme_prod), (grant, grant.replace("shared", "acme-prod")))
    record = _fingerprint(document, live)
    failed = _without_acme_prod(live, state.FailedCreation(REQUEST, "EMAIL_ALREADY_EXISTS", record))

    groups = state.declared(document, failed).groups

    assert "<acme-prod>" not in (groups["AcmeDevelopers"].grant_policy or "")


def test_anything_else_a_declared_group_grants_is_revoked_before_its_grants_are_written(
    live: state.OrgState, plan_of: PlanOf, edit: Any
) -> None:
    admin = "arn:aws:iam::aws:policy/AdministratorAccess"
    by_hand = (
        '{"Version":"2012-10-17","Statement":'
        '[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}]}'
    )
    drifted = edit.group(
        live,
        "AcmeDevelopers",
        other_policies={"by-hand": by_hand},
        attached=frozenset({admin}),
        grant_policy=None,
    )

    changes = [c for c in plan_of(drifted).changes if c.target == "AcmeDevelopers"]

    assert [c.line() for c in changes[:2]] == [
        "~ group AcmeDevelopers: delete inline policy by-hand (not declared)",
        f"~ group AcmeDevelopers: detach {admin} (not declared)",
    ]
    assert isinstance(changes[2], plan.PutGroupGrants)
    assert len(changes) == 3


def test_arns_are_built_in_the_partition_of_the_credentials(
    document: spec.Spec, live: state.OrgState
) -> None:
    gov = replace(live, partition="aws-us-gov")

    declared = state.declared(document, gov)

    roles = next(a for a in declared.accounts if a.name == "shared").roles
    assert roles is not None
    role = roles["ReadOnlyAccessRole"]
    assert json.loads(role.trust_policy)["Statement"][0]["Principal"] == {
        "AWS": "arn:aws-us-gov:iam::444444444444:root"
    }
    grants = json.loads(declared.groups["Auditors"].grant_policy or "{}")
    assert grants["Statement"][0]["Resource"] == [
        "arn:aws-us-gov:iam::222222222222:role/ReadOnlyAccessRole"
    ]


def test_a_live_organization_in_another_partition_shows_no_drift_when_it_matches(
    document: spec.Spec, live: state.OrgState, edit: Any
) -> None:
    gov = replace(live, partition="aws-us-gov")
    converged_gov = replace(
        edit.converged(document),
        partition="aws-us-gov",
    )
    declared = state.declared(document, gov)
    converged_gov = replace(
        converged_gov,
        accounts=tuple(
            replace(a, roles={**(a.roles or {}), **(d.roles or {})})
            for a, d in zip(converged_gov.accounts, declared.accounts, strict=True)
        ),
        groups=dict(declared.groups),
    )
    rules = diff.Rules(prune=False, bootstrap_role=document.organization.bootstrap_role)

    assert diff.diff(state.declared(document, converged_gov), converged_gov, rules).changes == ()


def test_only_this_instance_prunes_what_it_marked(
    document: spec.Spec, live: state.OrgState, edit: Any
) -> None:
    other = state.Role("TheirRole", trust_policy="{}", managed=False)
    ours = state.Role("OurRole", trust_policy="{}", managed=True)
    drifted = edit.add_role(edit.add_role(live, "acme-dev", other), "acme-dev", ours)
    drifted = replace(
        drifted,
        groups={
            **drifted.groups,
            "TheirTeam": state.Group("TheirTeam", path="/blue/"),
            "OurTeam": state.Group("OurTeam", path="/green/"),
        },
    )
    rules = diff.Rules(prune=True, bootstrap_role="OrganizationAccountAccessRole", instance="green")
    declared = state.declared(document, drifted, instance="green")

    lines = [c.line() for c in diff.diff(declared, drifted, rules).changes]

    assert "- role acme-dev/OurRole: delete (carries managed-by=green, no longer declared)" in lines
    assert ("- group OurTeam: delete the group (at path /green/, no longer declared)") in lines
    assert not any("TheirRole" in line or "TheirTeam" in line for line in lines)
