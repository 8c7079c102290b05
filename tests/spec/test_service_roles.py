"""Roles AWS services rely on are never a role template, nor adopted: reconciler must not
change them. IAM role names ignore case, so neither does the check."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from reconciler.core import spec
from reconciler.core.errors import SpecIssue

Variant = Callable[..., str]
OnlyIssue = Callable[[str], SpecIssue]

LAST_ROLE = "      policies: [arn:aws:iam::aws:policy/ReadOnlyAccess]\n"  # line 14
SERVICE_ROLES = [
    "AWSControlTowerExecution",
    "awscontroltowerexecution",
    "AWSCloudFormationStackSetExecutionRole",
    "AWSReservedSSO_AdministratorAccess_0123456789abcdef",
    "awsreservedsso_ReadOnly_1",
    "stacksets-exec-0123456789abcdef0123456789abcdef",
    "StackSets-Exec-x",
    "cdk-hnb659fds-deploy-role-111111111111-eu-west-1",
    "CDK-hnb659fds-cfn-exec-role",
]
ORDINARY = [
    "AWSControlTowerExecutionReader",  # a longer name is not the service's role
    "MyAWSReservedSSO_Copy",
    "stacksets-exec",  # the prefix needs its trailing '-'
    "cdkDeployer",
    "AccountAccessRole",
]


@pytest.mark.parametrize("name", SERVICE_ROLES)
def test_role_template_named_like_a_service_role(
    variant: Variant, only_issue: OnlyIssue, name: str
) -> None:
    issue = only_issue(variant((LAST_ROLE, LAST_ROLE + f"    - name: {name}\n")))

    assert (issue.line, issue.column) == (15, 13)
    assert issue.field == "access.roles[2].name"
    assert issue.message == (
        f"role {name!r} is named like a role an AWS service relies on (Control Tower, IAM "
        "Identity Center, CloudFormation StackSets, CDK; IAM names ignore case): reconciler "
        "never changes such roles, so give the people's role another name"
    )


@pytest.mark.parametrize("name", SERVICE_ROLES)
def test_adopting_a_service_role(variant: Variant, only_issue: OnlyIssue, name: str) -> None:
    text = variant(
        (
            "roles: [ReadOnlyAccessRole]\n",
            f"roles: [ReadOnlyAccessRole]\n    adopt_roles: [{name}]\n",
        )
    )

    issue = only_issue(text)

    assert (issue.line, issue.column) == (24, 19)
    assert issue.field == "accounts[1].adopt_roles[0]"
    assert issue.message.startswith(f"role {name!r} is named like a role an AWS service relies on")


@pytest.mark.parametrize("name", SERVICE_ROLES)
def test_service_role_names(name: str) -> None:
    assert spec.is_aws_service_role(name)


@pytest.mark.parametrize("name", ORDINARY)
def test_ordinary_role_names(name: str) -> None:
    assert not spec.is_aws_service_role(name)


def test_the_lists_are_public_for_the_live_check() -> None:
    assert "AWSControlTowerExecution" in spec.AWS_SERVICE_ROLE_NAMES
    assert set(spec.AWS_SERVICE_ROLE_PREFIXES) == {"AWSReservedSSO_", "stacksets-exec-", "cdk-"}
