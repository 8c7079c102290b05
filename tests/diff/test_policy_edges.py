"""Edges of policy comparison and of the plan's wording that the broader tests pass over:
condition values as IAM stores them, trust rewrites that change more than MFA, inline policy
states, and console links in a partition the product does not know."""

from __future__ import annotations

import json
from typing import Any

from reconciler.core import plan, policies

SOURCE = "111111111111"
OTHER = "222222222222"


def _trust(condition: dict[str, Any] | None = None, principal: str = SOURCE) -> str:
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{principal}:root"},
        "Action": "sts:AssumeRole",
    }
    if condition is not None:
        statement["Condition"] = condition
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def _mfa(value: object) -> str:
    return _trust({"Bool": {"aws:MultiFactorAuthPresent": value}})


def _same(a: str, b: str) -> bool:
    return policies.PolicyDocument.of(a) == policies.PolicyDocument.of(b)


def test_a_boolean_condition_value_reads_as_iam_stores_it() -> None:
    # IAM stores condition values as text: false and "false" are one document, "true" another.
    assert _same(_mfa(False), _mfa("false"))
    assert _same(_mfa(True), _mfa("true"))
    assert not _same(_mfa(False), _mfa("true"))
    assert not _same(_mfa(False), _mfa("FALSE"))


def test_a_number_condition_value_reads_as_iam_stores_it() -> None:
    def age(value: object) -> str:
        return _trust({"NumericLessThan": {"aws:MultiFactorAuthAge": value}})

    assert _same(age(3600), age("3600"))
    assert not _same(age(3600), age("None"))


def test_a_trust_rewrite_that_changes_more_than_mfa_shows_both_documents() -> None:
    before = _trust()
    after = _mfa(True).replace(SOURCE, OTHER)
    change = plan.UpdateRoleTrust("acme", "333333333333", "Access", before=before, after=after)

    detail = change.detail()

    assert detail.startswith("trust policy {")
    assert OTHER in detail and " -> " in detail
    assert "MFA condition" not in detail


def test_a_trust_rewrite_of_mfa_alone_is_named_in_words() -> None:
    change = plan.UpdateRoleTrust("acme", "333333333333", "Access", _trust(), _mfa(True))
    assert change.detail() == "trust policy add the MFA condition"


def _allow(action: str) -> dict[str, Any]:
    allow = {"Effect": "Allow", "Action": action, "Resource": "*"}
    return {"Version": "2012-10-17", "Statement": [allow]}


def test_an_inline_policy_rewrite_states_the_document_before_and_after() -> None:
    old, new = json.dumps(_allow("s3:GetObject")), json.dumps(_allow("s3:ListBucket"))
    rewrite = plan.PutRoleInlinePolicy("acme", None, "Access", "data", before=old, after=new)
    added = plan.PutRoleInlinePolicy("acme", None, "Access", "data", before=None, after=new)

    assert rewrite.states() == (_allow("s3:GetObject"), _allow("s3:ListBucket"))
    assert added.states() == (None, _allow("s3:ListBucket"))


def test_a_partition_without_a_known_console_links_to_the_commercial_one() -> None:
    assert policies.switch_role_url("aws-iso") == "https://signin.aws.amazon.com/switchrole"
    assert policies.switch_role_url("aws-cn") == "https://signin.amazonaws.cn/switchrole"
