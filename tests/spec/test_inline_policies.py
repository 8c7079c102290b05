"""Inline policies of role templates: IAM policy documents, within IAM's quota per role."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from reconciler.core import load, policies
from reconciler.core.errors import SpecError, SpecIssue

Variant = Callable[..., str]
OnlyIssue = Callable[[str], SpecIssue]

FIRST_POLICIES = "      policies: [arn:aws:iam::aws:policy/AdministratorAccess]\n"  # line 12
STATEMENT = "{Effect: Deny, Action: 'aws-portal:*', Resource: '*'}"
DENY_BILLING = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Deny", "Action": "aws-portal:*", "Resource": "*"}],
}


def with_policy(variant: Variant, *lines: str) -> str:
    """The first role with one inline policy `deny`; its first line is line 15, indented 10."""
    block = "      inline_policies:\n        deny:\n" + "".join(f"          {x}\n" for x in lines)
    return variant((FIRST_POLICIES, FIRST_POLICIES + block))


def test_a_policy_document_is_valid(variant: Variant) -> None:
    text = with_policy(variant, 'Version: "2012-10-17"', f"Statement: [{STATEMENT}]")

    document = load.parse_spec(text, "accounts.yaml")

    assert document.access.roles[0].inline_policies == {"deny": DENY_BILLING}


def test_a_single_statement_mapping_is_valid_as_in_iam(variant: Variant) -> None:
    text = with_policy(variant, 'Version: "2012-10-17"', f"Statement: {STATEMENT}")

    document = load.parse_spec(text, "accounts.yaml")

    assert document.access.roles[0].inline_policies["deny"]["Statement"]["Effect"] == "Deny"


def test_unquoted_version_is_a_date_reported_at_its_line(
    variant: Variant, only_issue: OnlyIssue
) -> None:
    issue = only_issue(with_policy(variant, "Version: 2012-10-17", f"Statement: [{STATEMENT}]"))

    assert (issue.line, issue.column) == (15, 20)
    assert issue.field == "access.roles[0].inline_policies.deny.Version"
    assert issue.message == (
        'Version must be the text "2012-10-17"; YAML reads the unquoted 2012-10-17 as a date: '
        'write Version: "2012-10-17"'
    )


@pytest.mark.parametrize("version", ['"2008-10-17"', "'2012-10-17 '", "2012", "[2012-10-17]"])
def test_other_versions_are_refused(variant: Variant, only_issue: OnlyIssue, version: str) -> None:
    issue = only_issue(with_policy(variant, f"Version: {version}", f"Statement: [{STATEMENT}]"))

    assert (issue.line, issue.column) == (15, 20)
    assert issue.message.startswith('Version must be "2012-10-17" (the IAM policy language), not ')


def test_a_mapping_that_is_no_policy_names_each_problem(variant: Variant) -> None:
    text = variant((FIRST_POLICIES, FIRST_POLICIES + "      inline_policies: {deny: {foo: bar}}\n"))

    with pytest.raises(SpecError) as caught:
        load.parse_spec(text, "accounts.yaml")

    assert [str(issue) for issue in caught.value.issues] == [
        "accounts.yaml:13:31: access.roles[0].inline_policies.deny: required key 'Version' is "
        'missing: write Version: "2012-10-17"',
        "accounts.yaml:13:31: access.roles[0].inline_policies.deny: required key 'Statement' "
        "is missing: a policy lists its statements",
        "accounts.yaml:13:37: access.roles[0].inline_policies.deny.foo: unknown key 'foo' in "
        "a policy document; allowed here: Version, Id, Statement",
    ]


STATEMENT_PROBLEMS = [
    (
        "{Effect: allow, Action: 's3:*', Resource: '*'}",
        "Effect",
        "Effect must be Allow or Deny, not 'allow'",
    ),
    (
        "{Action: 's3:*', Resource: '*'}",
        "",
        "Effect must be Allow or Deny, not None",
    ),
    (
        "{Effect: Allow, Resource: '*'}",
        "",
        "a statement needs Action or NotAction",
    ),
    (
        "{Effect: Allow, Action: 's3:*', NotAction: 'iam:*', Resource: '*'}",
        "NotAction",
        "a statement has Action or NotAction, not both",
    ),
    (
        "{Effect: Allow, Action: 's3:*'}",
        "",
        "a statement needs Resource or NotResource",
    ),
    (
        "{Effect: Allow, Action: 's3:*', Resource: '*', NotResource: 'arn:aws:s3:::x'}",
        "NotResource",
        "a statement has Resource or NotResource, not both",
    ),
    (
        "{Effect: Allow, Action: 's3:*', Resource: '*', Principal: '*'}",
        "Principal",
        "a role's inline policy has no Principal: it applies to the role itself (who may "
        "assume the role is the trust policy, which reconciler writes)",
    ),
    (
        "{Effect: Allow, Action: 's3:*', Resource: '*', Sid: 'read all'}",
        "Sid",
        "Sid must be ASCII letters and digits, not 'read all'",
    ),
    (
        "{Effect: Allow, Action: [], Resource: '*'}",
        "Action",
        "Action must be text or a list of text, not a list",
    ),
    (
        "{Effect: Allow, Action: 's3:*', Resource: !!binary aGk=}",
        "Resource",
        "Resource must be text or a list of text, not a YAML bytes, which JSON cannot carry",
    ),
    (
        "{Effect: Allow, Action: 's3:*', Resource: '*', Condition: {DateLessThan: "
        "{'aws:CurrentTime': 2030-01-01}}}",
        "Condition.DateLessThan.aws:CurrentTime",
        "a condition value is text, a number or a boolean, not a date (2030-01-01; YAML reads "
        "an unquoted date as one: quote it)",
    ),
    (
        "{Effect: Allow, Action: 's3:*', Resource: '*', Condition: 'aws:SecureTransport'}",
        "Condition",
        "Condition must map operators to their keys, not 'aws:SecureTransport'",
    ),
    (
        "{Effect: Allow, Action: 's3:*', Resource: '*', Conditions: {}}",
        "Conditions",
        "unknown key 'Conditions' in a statement; allowed here: Sid, Effect, Action, "
        "NotAction, Resource, NotResource, Condition",
    ),
]


@pytest.mark.parametrize(("statement", "where", "message"), STATEMENT_PROBLEMS)
def test_statement_that_iam_would_refuse(
    variant: Variant, only_issue: OnlyIssue, statement: str, where: str, message: str
) -> None:
    issue = only_issue(with_policy(variant, 'Version: "2012-10-17"', f"Statement: [{statement}]"))

    assert issue.line == 16
    expected = "access.roles[0].inline_policies.deny.Statement[0]"
    assert issue.field == (f"{expected}.{where}" if where else expected)
    assert issue.message == message


@pytest.mark.parametrize("statements", ["[]", "'allow everything'", "~"])
def test_statement_that_lists_no_statements(
    variant: Variant, only_issue: OnlyIssue, statements: str
) -> None:
    issue = only_issue(with_policy(variant, 'Version: "2012-10-17"', f"Statement: {statements}"))

    assert (issue.line, issue.column) == (16, 22)
    assert "statement" in issue.message


def sized_policies(size: int) -> str:
    """An `inline_policies:` line (JSON is YAML) whose two documents IAM counts as `size`."""
    second = DENY_BILLING
    first = json.loads(json.dumps(DENY_BILLING))
    first["Statement"][0]["Sid"] = ""
    padding = size - len(policies.compact_json(first)) - len(policies.compact_json(second))
    first["Statement"][0]["Sid"] = "S" * padding
    block = {"first": first, "second": second}
    assert sum(len(policies.compact_json(d)) for d in block.values()) == size
    return f"      inline_policies: {json.dumps(block)}\n"


def test_inline_policies_over_the_quota_of_a_role(variant: Variant, only_issue: OnlyIssue) -> None:
    issue = only_issue(variant((FIRST_POLICIES, FIRST_POLICIES + sized_policies(10_241))))

    assert (issue.line, issue.column) == (13, 24)
    assert issue.field == "access.roles[0].inline_policies"
    assert issue.message == (
        "the inline policies of role 'AccountAccessRole' come to 10241 characters as JSON "
        "without whitespace; IAM allows 10240 per role: move statements to managed policies"
    )


def test_inline_policies_of_exactly_the_quota_are_valid(variant: Variant) -> None:
    text = variant((FIRST_POLICIES, FIRST_POLICIES + sized_policies(10_240)))

    document = load.parse_spec(text, "accounts.yaml")

    assert list(document.access.roles[0].inline_policies) == ["first", "second"]
