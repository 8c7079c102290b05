"""Policy documents: what reconciler writes, and `canonical`, which decides what counts as drift."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest

from reconciler.core import policies

SOURCE = "444455556666"
ROOT = f"arn:aws:iam::{SOURCE}:root"
MFA = {"Bool": {"aws:MultiFactorAuthPresent": "true"}}


def trust(**statement: Any) -> dict[str, Any]:
    """The MFA trust policy of the manual set-up, with some statement fields replaced."""
    base = {
        "Effect": "Allow",
        "Principal": {"AWS": ROOT},
        "Action": "sts:AssumeRole",
        "Condition": MFA,
    }
    return {"Version": "2012-10-17", "Statement": [{**base, **statement}]}


def two_statements(first: dict[str, Any], second: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [first, second]}


ALLOW_S3 = {"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": "*"}
DENY_IAM = {"Effect": "Deny", "Action": "iam:*", "Resource": "*"}
GRANTS: dict[str, Any] = {
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

EQUAL = {
    "statement order": (
        two_statements(ALLOW_S3, DENY_IAM),
        two_statements(DENY_IAM, ALLOW_S3),
    ),
    "action order": (
        two_statements(ALLOW_S3, DENY_IAM),
        two_statements({**ALLOW_S3, "Action": ["s3:ListBucket", "s3:GetObject"]}, DENY_IAM),
    ),
    "single action vs list": (trust(), trust(Action=["sts:AssumeRole"])),
    "single resource vs list": (
        two_statements(ALLOW_S3, DENY_IAM),
        two_statements(ALLOW_S3, {**DENY_IAM, "Resource": ["*"]}),
    ),
    "resource order": (
        GRANTS,
        {
            **GRANTS,
            "Statement": [
                {**GRANTS["Statement"][0], "Resource": GRANTS["Statement"][0]["Resource"][::-1]}
            ],
        },
    ),
    "action case": (trust(), trust(Action="STS:assumerole")),
    "single principal vs list": (trust(), trust(Principal={"AWS": [ROOT]})),
    "sid present or not": (trust(), trust(Sid="PeopleFromTheSourceAccount")),
    "bare account id vs root arn": (trust(), trust(Principal={"AWS": SOURCE})),
    "boolean true vs 'true'": (
        trust(),
        trust(Condition={"Bool": {"aws:MultiFactorAuthPresent": True}}),
    ),
    "condition key case": (
        trust(),
        trust(Condition={"Bool": {"aws:multifactorauthpresent": "true"}}),
    ),
}


@pytest.mark.parametrize(("left", "right"), EQUAL.values(), ids=EQUAL.keys())
def test_documents_iam_treats_alike_are_canonically_equal(
    left: dict[str, Any], right: dict[str, Any]
) -> None:
    assert policies.canonical(left) == policies.canonical(right)
    # and as the JSON text AWS returns or we write
    assert policies.canonical(json.dumps(left)) == policies.canonical(json.dumps(right))


ENCODINGS = {
    "decoded": lambda d: d,
    "compact json": policies.compact_json,
    "indented json": lambda d: json.dumps(d, indent=4),
    "whitespace around": lambda d: "\n  " + json.dumps(d, indent=1) + "\n\n",
    "url-encoded compact": lambda d: quote(policies.compact_json(d)),
    "url-encoded indented": lambda d: quote(json.dumps(d, indent=2)),
}


@pytest.mark.parametrize("encode", ENCODINGS.values(), ids=ENCODINGS.keys())
@pytest.mark.parametrize("document", [trust(), GRANTS, two_statements(ALLOW_S3, DENY_IAM)])
def test_formatting_and_url_encoding_are_not_differences(encode: Any, document: Any) -> None:
    assert policies.canonical(encode(document)) == policies.canonical(document)


DIFFERENT = {
    "mfa condition removed": (trust(), trust(Condition={})),
    "mfa condition false": (
        trust(),
        trust(Condition={"Bool": {"aws:MultiFactorAuthPresent": "false"}}),
    ),
    "other principal": (trust(), trust(Principal={"AWS": "arn:aws:iam::999999999999:root"})),
    "principal star": (trust(), trust(Principal="*")),
    "action added": (trust(), trust(Action=["sts:AssumeRole", "sts:TagSession"])),
    "effect": (trust(), trust(Effect="Deny")),
    "resource added": (
        GRANTS,
        {
            **GRANTS,
            "Statement": [
                {
                    **GRANTS["Statement"][0],
                    "Resource": [
                        *GRANTS["Statement"][0]["Resource"],
                        "arn:aws:iam::555555555555:role/AccountAccessRole",
                    ],
                }
            ],
        },
    ),
}


@pytest.mark.parametrize(("left", "right"), DIFFERENT.values(), ids=DIFFERENT.keys())
def test_documents_that_grant_differently_are_not_equal(
    left: dict[str, Any], right: dict[str, Any]
) -> None:
    assert policies.canonical(left) != policies.canonical(right)
    assert policies.canonical(quote(json.dumps(left))) != policies.canonical(json.dumps(right))


def test_mfa_condition_removed_entirely_is_a_difference() -> None:
    statement = {k: v for k, v in trust()["Statement"][0].items() if k != "Condition"}
    without = {"Version": "2012-10-17", "Statement": [statement]}

    assert policies.canonical(without) != policies.canonical(trust())


def test_trust_policy_with_mfa_is_the_one_of_spec_section_1() -> None:
    assert policies.trust_policy(SOURCE, require_mfa=True) == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::444455556666:root"},
                "Action": "sts:AssumeRole",
                "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}},
            }
        ],
    }


def test_trust_policy_without_mfa_has_no_condition() -> None:
    assert policies.trust_policy(SOURCE, require_mfa=False) == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::444455556666:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }


def test_compact_trust_policy_is_the_text_written_to_aws() -> None:
    assert policies.compact_json(policies.trust_policy(SOURCE, require_mfa=True)) == (
        '{"Version":"2012-10-17","Statement":[{"Effect":"Allow",'
        '"Principal":{"AWS":"arn:aws:iam::444455556666:root"},"Action":"sts:AssumeRole",'
        '"Condition":{"Bool":{"aws:MultiFactorAuthPresent":"true"}}}]}'
    )


def test_grant_policy_dedupes_and_sorts_role_arns() -> None:
    readonly = "arn:aws:iam::222222222222:role/ReadOnlyAccessRole"
    admin = "arn:aws:iam::333333333333:role/AccountAccessRole"
    other = "arn:aws:iam::111111111111:role/AccountAccessRole"

    assert policies.grant_policy([admin, readonly, admin, other, readonly]) == {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": [other, readonly, admin]}
        ],
    }


def test_grant_policy_is_the_same_whatever_the_order_of_grants() -> None:
    arns = [policies.role_arn(f"{n}" * 12, "AccountAccessRole") for n in range(1, 8)]

    assert policies.compact_json(policies.grant_policy(arns)) == policies.compact_json(
        policies.grant_policy(reversed(arns))
    )


def test_role_arn() -> None:
    assert policies.role_arn("222222222222", "ReadOnlyAccessRole") == (
        "arn:aws:iam::222222222222:role/ReadOnlyAccessRole"
    )
