"""Which roles an identity policy lets its holder assume, as IAM evaluates sts:AssumeRole:
action names ignore case, resource ARNs do not, `*` and `?` are the only wildcards, and an
unconditional Deny closes what an Allow opens."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest

from reconciler.core import policies
from reconciler.core.policies import PolicyDocument

ADMIN = "arn:aws:iam::111111111111:role/Admin"
READ = "arn:aws:iam::111111111111:role/ReadOnly"
FAR = "arn:aws:iam::222222222222:role/Admin"
ROLES = frozenset({ADMIN, READ, FAR})


def _doc(*statements: dict[str, Any]) -> PolicyDocument:
    return PolicyDocument.of({"Version": "2012-10-17", "Statement": list(statements)})


def _allow(action: Any, resource: Any = "*", **rest: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **rest}


def _deny(action: Any, resource: Any = "*", **rest: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **rest}


MFA = {"Bool": {"aws:MultiFactorAuthPresent": "true"}}


def test_an_exact_arn_allows_that_role_only() -> None:
    assert _doc(_allow("sts:AssumeRole", ADMIN)).allows_assuming(ROLES) == {ADMIN}


def test_a_star_resource_allows_every_role() -> None:
    assert _doc(_allow("sts:AssumeRole", "*")).allows_assuming(ROLES) == ROLES


def test_a_star_in_the_resource_spans_the_rest_of_the_arn() -> None:
    document = _doc(_allow("sts:AssumeRole", "arn:aws:iam::111111111111:role/*"))

    assert document.allows_assuming(ROLES) == {ADMIN, READ}


@pytest.mark.parametrize(
    "action",
    ["*", "sts:*", "sts:Assume*", "sts:AssumeRole*", "STS:ASSUMEROLE", "sts:assumerole"],
)
def test_actions_that_cover_assume_role(action: str) -> None:
    assert _doc(_allow(action, ADMIN)).allows_assuming(ROLES) == {ADMIN}


@pytest.mark.parametrize(
    "action",
    ["sts:AssumeRoleWithSAML", "sts:AssumeRoleWithWebIdentity", "iam:*", "sts:Get*", "s3:*"],
)
def test_actions_that_do_not_cover_assume_role(action: str) -> None:
    assert _doc(_allow(action, "*")).allows_assuming(ROLES) == frozenset()


def test_a_question_mark_is_one_character_in_an_action() -> None:
    assert _doc(_allow("sts:AssumeRol?", "*")).allows_assuming(ROLES) == ROLES
    assert _doc(_allow("sts:AssumeRole?", "*")).allows_assuming(ROLES) == frozenset()


def test_a_question_mark_is_one_character_in_a_resource() -> None:
    def allowed(pattern: str) -> frozenset[str]:
        return _doc(_allow("sts:AssumeRole", pattern)).allows_assuming(ROLES)

    assert allowed("arn:aws:iam::????????????:role/Admi?") == {ADMIN, FAR}
    assert allowed("arn:aws:iam::?11111111111:role/Admi?") == {ADMIN}
    assert allowed("arn:aws:iam::*:role/Admin?") == frozenset()


def test_a_bracket_is_literal_not_a_character_class() -> None:
    # fnmatch would read [12] as "1 or 2" and match both Admin roles.
    document = _doc(_allow("sts:AssumeRole", "arn:aws:iam::[12]*:role/Admin"))

    assert document.allows_assuming(ROLES) == frozenset()
    assert document.allows_assuming(frozenset({"arn:aws:iam::[12]x:role/Admin"})) == {
        "arn:aws:iam::[12]x:role/Admin"
    }


def test_regex_characters_in_a_pattern_are_literal() -> None:
    document = _doc(_allow("sts:AssumeRole", "arn:aws:iam::111111111111:role/Ad.i*"))

    assert document.allows_assuming(ROLES) == frozenset()


def test_resource_arns_are_case_sensitive() -> None:
    assert _doc(_allow("sts:AssumeRole", ADMIN.lower())).allows_assuming(ROLES) == frozenset()
    assert (
        _doc(_allow("sts:AssumeRole", "arn:aws:iam::111111111111:role/ADMIN*")).allows_assuming(
            ROLES
        )
        == frozenset()
    )


def test_not_action_of_other_services_allows_assume_role() -> None:
    statement = {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}

    assert _doc(statement).allows_assuming(ROLES) == ROLES


@pytest.mark.parametrize("excluded", ["sts:*", "sts:AssumeRole", "STS:Assume*", "*"])
def test_not_action_covering_assume_role_allows_nothing(excluded: str) -> None:
    statement = {"Effect": "Allow", "NotAction": [excluded, "s3:*"], "Resource": "*"}

    assert _doc(statement).allows_assuming(ROLES) == frozenset()


def test_not_action_of_saml_only_still_allows_assume_role() -> None:
    statement = {"Effect": "Allow", "NotAction": "sts:AssumeRoleWithSAML", "Resource": ADMIN}

    assert _doc(statement).allows_assuming(ROLES) == {ADMIN}


def test_not_resource_allows_every_role_but_those_named() -> None:
    statement = {"Effect": "Allow", "Action": "sts:AssumeRole", "NotResource": ADMIN}

    assert _doc(statement).allows_assuming(ROLES) == {READ, FAR}


def test_not_resource_pattern_allows_every_role_it_does_not_match() -> None:
    statement = {
        "Effect": "Allow",
        "Action": "sts:AssumeRole",
        "NotResource": ["arn:aws:iam::111111111111:*"],
    }

    assert _doc(statement).allows_assuming(ROLES) == {FAR}


def test_an_unconditional_deny_closes_the_role() -> None:
    document = _doc(_allow("sts:*"), _deny("sts:AssumeRole", ADMIN))

    assert document.denies_assuming(ROLES) == {ADMIN}
    assert document.allows_assuming(ROLES) == ROLES  # before any Deny, as documented


def test_a_deny_with_a_condition_closes_nothing() -> None:
    document = _doc(_deny("sts:AssumeRole", "*", Condition={"BoolIfExists": MFA["Bool"]}))

    assert document.denies_assuming(ROLES) == frozenset()


def test_a_deny_with_not_resource_closes_every_other_role() -> None:
    statement = {"Effect": "Deny", "Action": "sts:*", "NotResource": READ}

    assert _doc(statement).denies_assuming(ROLES) == {ADMIN, FAR}


def test_a_deny_with_not_action_of_other_services_closes_assume_role() -> None:
    statement = {"Effect": "Deny", "NotAction": ["iam:*", "s3:*"], "Resource": FAR}

    assert _doc(statement).denies_assuming(ROLES) == {FAR}


def test_an_allow_is_no_deny() -> None:
    assert _doc(_allow("*")).denies_assuming(ROLES) == frozenset()


def test_an_allow_with_a_condition_counts() -> None:
    assert _doc(_allow("sts:AssumeRole", READ, Condition=MFA)).allows_assuming(ROLES) == {READ}


def test_a_statement_given_as_a_single_object() -> None:
    document = PolicyDocument.of(
        {"Version": "2012-10-17", "Statement": _allow("sts:AssumeRole", [ADMIN, READ])}
    )

    assert document.allows_assuming(ROLES) == {ADMIN, READ}


def test_action_as_a_list_counts_if_any_covers_assume_role() -> None:
    assert _doc(_allow(["s3:GetObject", "sts:AssumeRole"], FAR)).allows_assuming(ROLES) == {FAR}
    assert _doc(_allow(["s3:GetObject", "iam:*"], FAR)).allows_assuming(ROLES) == frozenset()


def test_several_statements_add_up() -> None:
    document = _doc(_allow("sts:AssumeRole", ADMIN), _allow("sts:AssumeRole", FAR))

    assert document.allows_assuming(ROLES) == {ADMIN, FAR}


@pytest.mark.parametrize(
    "document",
    [{"Version": "2012-10-17", "Statement": []}, {"Version": "2012-10-17"}, {}],
)
def test_a_policy_without_statements_allows_and_denies_nothing(document: dict[str, Any]) -> None:
    parsed = PolicyDocument.of(document)

    assert parsed.allows_assuming(ROLES) == frozenset()
    assert parsed.denies_assuming(ROLES) == frozenset()


def test_a_url_encoded_document_as_iam_returns_it() -> None:
    text = quote(json.dumps({"Version": "2012-10-17", "Statement": [_allow("sts:*", READ)]}))

    assert PolicyDocument.of(text).allows_assuming(ROLES) == {READ}


def test_only_the_roles_asked_about_are_answered() -> None:
    assert _doc(_allow("*")).allows_assuming(frozenset({READ})) == {READ}
    assert _doc(_allow("*")).allows_assuming(frozenset()) == frozenset()


def test_a_trust_policy_is_no_identity_policy_and_allows_nothing() -> None:
    trust = PolicyDocument.of(policies.trust_policy("999999999999", require_mfa=True))

    assert trust.grants == frozenset()
    assert trust.allows_assuming(ROLES) == frozenset()


def test_a_trust_policy_denies_nothing() -> None:
    trust = PolicyDocument.of(policies.trust_policy("999999999999", require_mfa=False))

    assert trust.denies_assuming(ROLES) == frozenset()


def test_wildcard_star_and_question_mark_only() -> None:
    assert policies._wildcard("a[b]*").fullmatch("a[b]cd")
    assert not policies._wildcard("a[b]*").fullmatch("ab")
    assert policies._wildcard("a?c").fullmatch("abc")
    assert not policies._wildcard("a?c").fullmatch("ac")
    assert policies._wildcard("a*").fullmatch("a/b:c\nd")
    assert not policies._wildcard("a.c").fullmatch("abc")


def test_an_assume_rule_with_not_resource_matches_the_rest() -> None:
    rule = policies.AssumeRule(
        allow=True,
        conditional=False,
        exact=frozenset({ADMIN}),
        patterns=(policies._wildcard("arn:aws:iam::222222222222:*"),),
        negated=True,
    )

    assert rule.matching(ROLES) == {READ}


def test_pretty_shows_the_canonical_form_one_element_a_line() -> None:
    document = PolicyDocument.of(
        {
            "Version": "2012-10-17",
            "Statement": {"Effect": "Allow", "Action": "STS:AssumeRole", "Resource": ADMIN},
        }
    )

    assert document.pretty() == [
        "{",
        '  "Statement": [',
        "    {",
        '      "Action": [',
        '        "sts:assumerole"',
        "      ],",
        '      "Effect": "Allow",',
        '      "Resource": [',
        '        "arn:aws:iam::111111111111:role/Admin"',
        "      ]",
        "    }",
        "  ],",
        '  "Version": "2012-10-17"',
        "}",
    ]
