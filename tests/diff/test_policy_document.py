"""`PolicyDocument`: a policy as a value, and what the plan and the rails ask of it.

Every document here is hand-written JSON text, as IAM or a person would hold it.
"""

from __future__ import annotations

import pytest

from reconciler.core import plan, policies

ROLE = "arn:aws:iam::333333333333:role/AccountAccessRole"
OTHER = "arn:aws:iam::333333333333:role/ReadOnly"


def _trust_with(condition: str) -> str:
    return (
        '{"Version":"2012-10-17","Statement":[{"Effect":"Allow",'
        '"Principal":{"AWS":"arn:aws:iam::444444444444:root"},"Action":"sts:AssumeRole",'
        f'"Condition":{condition}}}]}}'
    )


MFA_CONDITIONS = {
    "string true": ('{"Bool":{"aws:MultiFactorAuthPresent":"true"}}', True),
    "boolean true": ('{"Bool":{"aws:MultiFactorAuthPresent":true}}', True),
    "string false": ('{"Bool":{"aws:MultiFactorAuthPresent":"false"}}', False),
    "boolean false": ('{"Bool":{"aws:MultiFactorAuthPresent":false}}', False),
    "key in lower case": ('{"Bool":{"aws:multifactorauthpresent":"true"}}', True),
    "key in upper case": ('{"Bool":{"AWS:MULTIFACTORAUTHPRESENT":"true"}}', True),
    # IAM reads a Bool value "true" or "false" in any case.
    "value in upper case": ('{"Bool":{"aws:MultiFactorAuthPresent":"TRUE"}}', True),
    "value capitalised": ('{"Bool":{"aws:multifactorauthpresent":"True"}}', True),
    "false in upper case": ('{"Bool":{"aws:MultiFactorAuthPresent":"FALSE"}}', False),
    "boolean false in a list": ('{"Bool":{"aws:MultiFactorAuthPresent":[false]}}', False),
    # Only "true" asks for MFA: a value that is neither true nor false is not that condition.
    "neither true nor false": ('{"Bool":{"aws:MultiFactorAuthPresent":"yes"}}', False),
    # Access keys carry no aws:MultiFactorAuthPresent: ...IfExists lets them in without MFA.
    "BoolIfExists true": ('{"BoolIfExists":{"aws:MultiFactorAuthPresent":"true"}}', False),
    "BoolIfExists false": ('{"BoolIfExists":{"aws:MultiFactorAuthPresent":false}}', False),
    "true or false": ('{"Bool":{"aws:MultiFactorAuthPresent":["true","false"]}}', False),
    "another key": ('{"Bool":{"aws:SecureTransport":"true"}}', False),
    "another operator": ('{"StringEquals":{"aws:MultiFactorAuthPresent":"true"}}', False),
}


@pytest.mark.parametrize(("condition", "required"), MFA_CONDITIONS.values(), ids=MFA_CONDITIONS)
def test_requires_mfa_reads_the_condition_value(condition: str, required: bool) -> None:
    assert policies.PolicyDocument.of(_trust_with(condition)).requires_mfa is required


def test_no_condition_requires_no_mfa() -> None:
    document = (
        '{"Version":"2012-10-17","Statement":{"Effect":"Allow",'
        '"Principal":{"AWS":"arn:aws:iam::444444444444:root"},"Action":"sts:AssumeRole"}}'
    )
    assert not policies.PolicyDocument.of(document).requires_mfa


def test_one_allow_statement_without_mfa_means_mfa_is_not_required() -> None:
    document = (
        '{"Statement":['
        '{"Effect":"Allow","Principal":{"AWS":"111111111111"},"Action":"sts:AssumeRole",'
        '"Condition":{"Bool":{"aws:MultiFactorAuthPresent":"true"}}},'
        '{"Effect":"Allow","Principal":{"AWS":"222222222222"},"Action":"sts:AssumeRole"}]}'
    )
    assert not policies.PolicyDocument.of(document).requires_mfa


def test_a_statement_alone_and_in_a_list_are_one_document() -> None:
    alone = (
        '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"sts:AssumeRole",'
        '"Principal":{"AWS":"444444444444"},'
        '"Condition":{"Bool":{"aws:MultiFactorAuthPresent":true}}}}'
    )
    listed = (
        '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", '
        '"Principal": {"AWS": ["arn:aws:iam::444444444444:root"]}, "Action": ["sts:AssumeRole"], '
        '"Condition": {"Bool": {"aws:multifactorauthpresent": "true"}}}]}'
    )
    first, second = policies.PolicyDocument.of(alone), policies.PolicyDocument.of(listed)

    assert first == second
    assert hash(first) == hash(second)
    assert first.requires_mfa and second.requires_mfa
    assert first.text != second.text  # each keeps its own text


def test_text_is_the_compact_json_of_the_url_encoded_document() -> None:
    encoded = "%7B%22Statement%22%3A%20%5B%5D%2C%20%22Version%22%3A%20%222012-10-17%22%7D"

    document = policies.PolicyDocument.of(encoded)

    assert document.text == '{"Statement":[],"Version":"2012-10-17"}'
    assert document.value == {"Statement": [], "Version": "2012-10-17"}


GRANTS = {
    "resource string": (
        f'{{"Statement":[{{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"{ROLE}"}}]}}',
        {ROLE},
    ),
    "resource list": (
        '{"Statement":[{"Effect":"Allow","Action":["sts:AssumeRole"],'
        f'"Resource":["{ROLE}","{OTHER}"]}}]}}',
        {ROLE, OTHER},
    ),
    "statement dict": (
        f'{{"Statement":{{"Effect":"Allow","Action":"sts:assumerole","Resource":"{ROLE}"}}}}',
        {ROLE},
    ),
    "action wildcard": (
        f'{{"Statement":[{{"Effect":"Allow","Action":"sts:Assume*","Resource":"{ROLE}"}}]}}',
        {ROLE},
    ),
    "denied": (
        f'{{"Statement":[{{"Effect":"Deny","Action":"sts:AssumeRole","Resource":"{ROLE}"}}]}}',
        set(),
    ),
    "another action": (
        f'{{"Statement":[{{"Effect":"Allow","Action":"iam:GetRole","Resource":"{ROLE}"}}]}}',
        set(),
    ),
    "two statements": (
        '{"Statement":['
        f'{{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"{ROLE}"}},'
        f'{{"Effect":"Allow","Action":"sts:AssumeRole","Resource":["{OTHER}"]}}]}}',
        {ROLE, OTHER},
    ),
}


@pytest.mark.parametrize(("document", "grants"), GRANTS.values(), ids=GRANTS)
def test_grants_are_the_roles_an_allow_assume_role_statement_names(
    document: str, grants: set[str]
) -> None:
    assert policies.PolicyDocument.of(document).grants == grants
    assert plan.grants_of(document) == grants


ANYONE = {
    "principal star": ('{"Statement":[{"Effect":"Allow","Principal":"*"}]}', True),
    "aws star": ('{"Statement":{"Effect":"Allow","Principal":{"AWS":"*"}}}', True),
    "star among others": (
        '{"Statement":[{"Effect":"Allow","Principal":{"AWS":["111111111111","*"]}}]}',
        True,
    ),
    "one account": ('{"Statement":[{"Effect":"Allow","Principal":{"AWS":"111111111111"}}]}', False),
}


@pytest.mark.parametrize(("document", "anyone"), ANYONE.values(), ids=ANYONE)
def test_trusts_anyone_is_a_star_principal(document: str, anyone: bool) -> None:
    assert policies.PolicyDocument.of(document).trusts_anyone is anyone


MFA_TRUE = _trust_with('{"Bool":{"aws:MultiFactorAuthPresent":"true"}}')
MFA_FALSE = _trust_with('{"Bool":{"aws:MultiFactorAuthPresent":false}}')


def test_a_trust_policy_asking_mfa_false_is_shown_without_mfa() -> None:
    change = plan.UpdateRoleTrust("acme-dev", "333333333333", "R", before=MFA_TRUE, after=MFA_FALSE)

    assert change.detail() == "trust policy remove the MFA condition"


def test_a_created_role_whose_trust_asks_mfa_false_is_shown_without_mfa() -> None:
    from reconciler.core import state

    role = state.Role("R", trust_policy=MFA_FALSE)
    change = plan.CreateRole("acme-dev", None, "R", role)

    assert "no MFA" in change.detail()
