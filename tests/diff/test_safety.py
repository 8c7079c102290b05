"""Safety rails: each refuses the whole plan, or withholds what it must not."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any
from urllib.parse import quote

import pytest

from reconciler.core import plan, policies, safety, spec, state
from reconciler.core.errors import SafetyError

Variant = Callable[..., spec.Spec]
PlanOf = Callable[..., plan.Plan]

MANAGEMENT = "111111111111"
SOURCE = "444444444444"
ACME = "333333333333"
SHARED = "222222222222"
GOOD_TRUST = policies.compact_json(policies.trust_policy(SOURCE, require_mfa=True))


def with_policy(variant: Variant, policy: str) -> spec.Spec:
    return variant(("groups:\n", f"policy: {policy}\ngroups:\n"))


def role(trust: str = GOOD_TRUST) -> state.Role:
    return state.Role("AccountAccessRole", trust_policy=trust, managed=True)


def session_changes(count: int) -> list[plan.Change]:
    """`count` distinct changes to accounts that are not protected."""
    return [
        plan.UpdateRoleSession("acme-dev", ACME, f"Role{n:03d}", before=3600, after=7200)
        for n in range(count)
    ]


@pytest.mark.parametrize("credentials", ["222222222222", "111111111112", ""])
def test_credentials_of_another_organization_are_refused(
    document: spec.Spec, credentials: str
) -> None:
    with pytest.raises(SafetyError) as refused:
        safety.guard(document, plan.Plan(), credentials)

    message = str(refused.value)
    assert f"management_account_id {MANAGEMENT}" in message
    assert "refusing" in message


def test_credentials_of_the_declared_organization_pass(document: spec.Spec) -> None:
    proposed = plan.Plan.of(
        session_changes(2), unmanaged={plan.Kind.ACCOUNT: ("legacy",)}, unreachable={"x": "y"}
    )

    assert safety.guard(document, proposed, MANAGEMENT) == proposed


def test_the_organization_is_checked_before_anything_else(document: spec.Spec) -> None:
    touching = plan.Plan.of(
        [plan.MarkRole("acme-dev", ACME, "OrganizationAccountAccessRole"), *session_changes(99)]
    )

    with pytest.raises(SafetyError, match="organization managed by 999999999999"):
        safety.guard(document, touching, "999999999999")


@pytest.mark.parametrize(("count", "refused"), [(0, False), (2, False), (3, False), (4, True)])
def test_more_than_max_changes_is_refused_as_a_whole(
    variant: Variant, count: int, refused: bool
) -> None:
    document = with_policy(variant, "{max_changes: 3}")
    proposed = plan.Plan.of(session_changes(count))

    if refused:
        with pytest.raises(SafetyError) as caught:
            safety.guard(document, proposed, MANAGEMENT)
        assert "4 changes, more than policy.max_changes (3)" in str(caught.value)
    else:
        assert safety.guard(document, proposed, MANAGEMENT).changes == proposed.changes


def test_default_max_changes_is_50(document: spec.Spec) -> None:
    assert len(safety.guard(document, plan.Plan.of(session_changes(50)), MANAGEMENT).changes) == 50
    with pytest.raises(SafetyError, match=r"51 changes.*\(50\)"):
        safety.guard(document, plan.Plan.of(session_changes(51)), MANAGEMENT)


def test_max_changes_zero_allows_only_an_empty_plan(variant: Variant) -> None:
    document = with_policy(variant, "{max_changes: 0}")

    assert safety.guard(document, plan.Plan(), MANAGEMENT) == plan.Plan()
    with pytest.raises(SafetyError):
        safety.guard(document, plan.Plan.of(session_changes(1)), MANAGEMENT)


BOOTSTRAP_TOUCHES: dict[str, Callable[[str], plan.Change]] = {
    "trust": lambda name: plan.UpdateRoleTrust("acme-dev", ACME, name, "{}", GOOD_TRUST),
    "attach": lambda name: plan.AttachRolePolicy("acme-dev", ACME, name, policy_arn="arn:x"),
    "detach": lambda name: plan.DetachRolePolicy("shared", SHARED, name, policy_arn="arn:x"),
    "session": lambda name: plan.UpdateRoleSession("acme-dev", ACME, name, 3600, 7200),
    "inline": lambda name: plan.DeleteRoleInlinePolicy("acme-dev", ACME, name, policy_name="p"),
    "mark": lambda name: plan.MarkRole("acme-dev", ACME, name),
    "delete": lambda name: plan.DeleteRole("acme-dev", ACME, name),
    "create": lambda name: plan.CreateRole("acme-prod", None, name, role()),
}


@pytest.mark.parametrize(
    "name",
    [
        "OrganizationAccountAccessRole",
        "organizationaccountaccessrole",
        "ORGANIZATIONACCOUNTACCESSROLE",
    ],
)
@pytest.mark.parametrize("touch", BOOTSTRAP_TOUCHES.values(), ids=BOOTSTRAP_TOUCHES.keys())
def test_a_plan_touching_the_bootstrap_role_is_refused(
    document: spec.Spec, touch: Callable[[str], plan.Change], name: str
) -> None:
    change = touch(name)
    proposed = plan.Plan.of([*session_changes(2), change])

    with pytest.raises(SafetyError) as refused:
        safety.guard(document, proposed, MANAGEMENT)

    assert "bootstrap role" in str(refused.value)
    assert change.line() in str(refused.value)


def test_a_role_named_like_the_bootstrap_role_only_in_part_passes(document: spec.Spec) -> None:
    proposed = plan.Plan.of([plan.MarkRole("acme-dev", ACME, "OrganizationAccountAccessRole2")])

    assert safety.guard(document, proposed, MANAGEMENT) == proposed


def _trust(principal: Any, **extra: Any) -> str:
    statement = {"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole", **extra}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


MFA = {"Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}}}
ANYONE = {
    "principal star": _trust("*"),
    "aws star": _trust({"AWS": "*"}),
    "aws star in a list": _trust({"AWS": [f"arn:aws:iam::{SOURCE}:root", "*"]}),
    "aws star with mfa": _trust({"AWS": "*"}, **MFA),
    "url-encoded aws star": quote(_trust({"AWS": "*"})),
    "second statement": json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                json.loads(GOOD_TRUST)["Statement"][0],
                {"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole"},
            ],
        }
    ),
}


@pytest.mark.parametrize("trust", ANYONE.values(), ids=ANYONE.keys())
def test_a_created_role_trusting_anyone_is_refused(document: spec.Spec, trust: str) -> None:
    change = plan.CreateRole("acme-dev", ACME, "AccountAccessRole", role(trust))

    with pytest.raises(SafetyError) as refused:
        safety.guard(document, plan.Plan.of([change]), MANAGEMENT)

    assert "trusts '*'" in str(refused.value)
    assert "acme-dev/AccountAccessRole" in str(refused.value)


@pytest.mark.parametrize("trust", ANYONE.values(), ids=ANYONE.keys())
def test_a_trust_update_to_anyone_is_refused(document: spec.Spec, trust: str) -> None:
    change = plan.UpdateRoleTrust("shared", SHARED, "ReadOnlyAccessRole", GOOD_TRUST, trust)

    with pytest.raises(SafetyError, match="trusts '\\*'"):
        safety.guard(document, plan.Plan.of([change]), MANAGEMENT)


@pytest.mark.parametrize(
    "trust",
    [GOOD_TRUST, _trust({"AWS": SOURCE}), _trust({"Service": "ec2.amazonaws.com"})],
    ids=["source root", "bare account id", "service"],
)
def test_a_trust_of_a_named_principal_passes(document: spec.Spec, trust: str) -> None:
    proposed = plan.Plan.of([plan.CreateRole("acme-dev", ACME, "AccountAccessRole", role(trust))])

    assert safety.guard(document, proposed, MANAGEMENT) == proposed


def _mixed_plan() -> plan.Plan:
    return plan.Plan.of(
        [
            plan.MoveAccount("acme-dev", ACME, (), ("Clients", "Acme")),
            plan.UpdateAccountTags("acme-dev", ACME, {}, {"client": "acme"}),
            plan.UpdateRoleSession("acme-dev", ACME, "AccountAccessRole", 3600, 7200),
            plan.MoveAccount("shared", SHARED, (), ("Environments", "Production")),
            plan.AttachRolePolicy("shared", SHARED, "ReadOnlyAccessRole", policy_arn="arn:x"),
            plan.AddMember("AcmeDevelopers", "james"),
            plan.CreateUnit(("Clients",)),
        ]
    )


@pytest.mark.parametrize(
    ("entry", "protected"),
    [("acme-dev", "acme-dev"), ("shared", "shared"), (f'"{SHARED}"', "shared")],
    ids=["by name", "other by name", "by declared id"],
)
def test_changes_to_a_protected_account_are_withheld_the_rest_kept(
    variant: Variant, entry: str, protected: str
) -> None:
    document = with_policy(variant, f"{{protected_accounts: [{entry}]}}")
    proposed = _mixed_plan()

    guarded = safety.guard(document, proposed, MANAGEMENT)

    withheld = [w.change for w in guarded.withheld]
    assert withheld == [c for c in proposed.changes if c.account == protected]
    assert list(guarded.changes) == [c for c in proposed.changes if c.account != protected]
    assert {w.reason for w in guarded.withheld} == {f"account {protected} is protected"}
    assert not guarded.empty


def test_withheld_changes_do_not_count_towards_max_changes(variant: Variant) -> None:
    document = with_policy(variant, "{max_changes: 4, protected_accounts: [acme-dev]}")

    guarded = safety.guard(document, _mixed_plan(), MANAGEMENT)

    assert len(guarded.changes) == 4
    assert len(guarded.withheld) == 3


def test_an_account_protected_by_its_live_id_is_withheld(variant: Variant) -> None:
    document = with_policy(variant, f'{{protected_accounts: ["{ACME}"]}}')

    guarded = safety.guard(document, _mixed_plan(), MANAGEMENT)

    assert [c.account for c in guarded.changes if c.account == "acme-dev"] == []
    assert len(guarded.withheld) == 3


def test_a_unit_holding_a_protected_account_is_not_deleted(
    variant: Variant, plan_of: PlanOf, edit: Any
) -> None:
    document = with_policy(variant, "{prune: true, protected_accounts: [acme-dev]}")
    old = state.Unit(("Old",), "ou-old", managed=True)
    live = edit.converged(document)
    live = replace(live, units={**live.units, ("Old",): old})
    live = edit.account(live, "acme-dev", unit=("Old",))
    proposed = plan_of(live, document)
    assert [c.line() for c in proposed.changes] == [
        "~ account acme-dev: move Old -> Clients/Acme",
        "- unit Old: delete the empty unit, no longer declared",
    ]

    guarded = safety.guard(document, proposed, MANAGEMENT)

    assert [c.line() for c in guarded.changes] == []


def test_no_unit_above_a_protected_account_is_deleted_however_deep_it_sits(
    variant: Variant,
) -> None:
    document = with_policy(variant, "{prune: true, protected_accounts: [acme-dev]}")
    proposed = plan.Plan.of(
        [
            plan.MoveAccount("acme-dev", ACME, ("Old", "Team", "Sub"), ("Clients", "Acme")),
            plan.DeleteUnit(("Old", "Team", "Sub"), "ou-sub"),
            plan.DeleteUnit(("Old", "Team"), "ou-team"),
            plan.DeleteUnit(("Old",), "ou-old"),
            plan.DeleteUnit(("Old", "Other"), "ou-other"),  # beside the account, not above it
            plan.DeleteUnit(("Old", "Te"), "ou-te"),  # a name Team only starts with
        ]
    )

    guarded = safety.guard(document, proposed, MANAGEMENT)

    assert [c.line() for c in guarded.changes] == [
        "- unit Old/Other: delete the empty unit, no longer declared",
        "- unit Old/Te: delete the empty unit, no longer declared",
    ]
    assert sorted((w.change.line(), w.reason) for w in guarded.withheld) == [
        (
            "- unit Old/Team/Sub: delete the empty unit, no longer declared",
            "a protected account stays in this unit",
        ),
        (
            "- unit Old/Team: delete the empty unit, no longer declared",
            "a protected account stays in this unit",
        ),
        (
            "- unit Old: delete the empty unit, no longer declared",
            "a protected account stays in this unit",
        ),
        ("~ account acme-dev: move Old/Team/Sub -> Clients/Acme", "account acme-dev is protected"),
    ]


def test_credentials_of_a_member_account_of_the_organization_are_refused(
    document: spec.Spec,
) -> None:
    with pytest.raises(SafetyError) as refused:
        safety.guard(document, plan.Plan(), MANAGEMENT, caller_account_id=ACME)

    assert f"belong to account {ACME}, not to the management account {MANAGEMENT}" in str(
        refused.value
    )


def test_credentials_of_the_management_account_pass(document: spec.Spec) -> None:
    proposed = plan.Plan.of(session_changes(1))

    assert safety.guard(document, proposed, MANAGEMENT, caller_account_id=MANAGEMENT) == proposed
