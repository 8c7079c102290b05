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


def test_the_partition_is_read_from_an_arn_and_commercial_otherwise() -> None:
    assert policies.partition_of("arn:aws-cn:iam::111111111111:root") == "aws-cn"
    assert policies.partition_of("arn:aws-us-gov:iam::111111111111:role/x") == "aws-us-gov"
    assert policies.partition_of("111111111111") == "aws"


def test_plain_json_text_is_not_url_decoded() -> None:
    text = json.dumps(_allow("s3:GetObject") | {"Id": "100%41"})
    assert policies.parse(text)["Id"] == "100%41"
    assert policies.parse("%7B%22Id%22%3A%20%22a%22%7D") == {"Id": "a"}


def test_key_order_inside_a_statement_does_not_matter() -> None:
    forward = '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}'  # noqa: E501
    backward = '{"Statement": [{"Resource": "*", "Action": "s3:GetObject", "Effect": "Allow"}], "Version": "2012-10-17"}'  # noqa: E501
    assert _same(forward, backward)


def test_a_document_that_is_not_an_object_is_compared_as_it_is() -> None:
    assert not _same("[1]", "[2]")
    assert _same("[1]", " [1] ")


def test_a_statement_that_is_not_an_object_is_kept_as_it_is() -> None:
    odd = '{"Version": "2012-10-17", "Statement": ["odd"]}'
    assert json.loads(policies.PolicyDocument.of(odd).canonical)["Statement"] == ["odd"]


def test_a_not_principal_is_compared_in_any_of_its_spellings() -> None:
    def denying(principal: object) -> str:
        statement = {"Effect": "Deny", "NotPrincipal": principal, "Action": "*", "Resource": "*"}
        return json.dumps({"Version": "2012-10-17", "Statement": [statement]})

    one = f"arn:aws:iam::{SOURCE}:root"
    assert _same(denying({"AWS": one}), denying({"AWS": [one]}))
    assert not _same(denying({"AWS": one}), denying({"AWS": [one, f"arn:aws:iam::{OTHER}:root"]}))
