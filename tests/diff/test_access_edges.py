"""Where access review must not under-report: policy variables, user names in another case,
policies that could not be read, and plans that will not be applied."""

from __future__ import annotations

import json
from dataclasses import replace

from reconciler.core import access, plan, policies, state
from reconciler.core.plan import AccessAction, AccessChange, Finding
from tests.diff.test_access_model import example_document, example_live

DENY_ALL = (
    '{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"sts:*","Resource":"*"}]}'
)
ASSUME_ANY = (
    '{"Version":"2012-10-17","Statement":'
    '[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}]}'
)

ROLES = frozenset(
    {
        "arn:aws:iam::222222222222:role/Admin",
        "arn:aws:iam::222222222222:role/alice",
        "arn:aws:iam::222222222222:role/Ad?min",
    }
)


def _statement(effect: str, resource: str, key: str = "Resource") -> policies.PolicyDocument:
    body = {"Effect": effect, "Action": "sts:AssumeRole", key: resource}
    return policies.PolicyDocument.of(json.dumps({"Version": "2012-10-17", "Statement": [body]}))


def test_a_policy_variable_in_an_allow_may_match_any_role() -> None:
    allowed = _statement("Allow", "arn:aws:iam::*:role/${aws:username}").allows_assuming(ROLES)

    assert allowed == ROLES


def test_a_policy_variable_in_a_deny_closes_nothing_it_cannot_be_sure_of() -> None:
    denied = _statement("Deny", "arn:aws:iam::*:role/${aws:username}").denies_assuming(ROLES)

    assert denied == frozenset()


def test_a_policy_variable_in_an_allowed_not_resource_excludes_nothing() -> None:
    allowed = _statement(
        "Allow", "arn:aws:iam::*:role/${aws:username}", "NotResource"
    ).allows_assuming(ROLES)

    assert allowed == ROLES


def test_the_escapes_stand_for_the_characters_themselves() -> None:
    allowed = _statement("Allow", "arn:aws:iam::222222222222:role/Ad${?}min").allows_assuming(ROLES)

    assert allowed == frozenset({"arn:aws:iam::222222222222:role/Ad?min"})


def test_a_users_own_deny_holds_whatever_case_the_document_spells_the_user_in() -> None:
    # IAM lists the user as "Dave"; the document (and so the plan) says "dave".
    own = {"Dave": state.UserPolicies(inline={"fence": DENY_ALL})}
    org = replace(example_live(), user_policies=own)
    joins = plan.Plan.of([plan.AddMember("Admins", "dave")])

    assert access.effect(example_document(), org, joins) == []


def test_a_refused_plan_has_no_access_effect_but_keeps_its_findings() -> None:
    own = {"erin": state.UserPolicies(inline={"hop": ASSUME_ANY})}
    org = replace(example_live(), user_policies=own)
    proposed = plan.Plan.of([plan.AddMember("Admins", "dave")])

    applied = access.review(example_document(), org, proposed)
    refused = access.review(example_document(), org, proposed, with_effect=False)

    assert applied.access[0] == AccessChange(
        "acme-prod", "Deploy", "dave", AccessAction.GRANT, "Admins", "333333333333", True
    )
    assert refused.access == ()
    assert refused.findings == applied.findings != ()


def test_a_policy_that_could_not_be_read_is_a_finding() -> None:
    admin = "arn:aws:iam::aws:policy/AdministratorAccess"
    group = state.Group(
        "Breakglass", path="/", users=frozenset({"mallory"}), attached=frozenset({admin})
    )
    live = example_live()
    org = replace(
        live,
        groups={**live.groups, "Breakglass": group},
        unreadable_policies={admin: "AccessDenied: not authorized to perform iam:GetPolicy"},
    )

    found = access.findings(example_document(), org)

    assert found == [
        Finding(
            "policy",
            "source account",
            admin,
            "could not be read (AccessDenied: not authorized to perform iam:GetPolicy): whom "
            "it lets assume the managed roles is unknown; reconciler needs iam:GetPolicy and "
            "iam:GetPolicyVersion on it",
        )
    ]
