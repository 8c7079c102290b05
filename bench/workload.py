"""The workload: the organization and the document of each size, and the drift a person makes.

For N accounts the document declares five OUs, N accounts (tags, two roles each: MFA trust, a
managed policy, a session duration) and 20 groups granting a role in 10 accounts each; `seed`
creates what the document takes as given (the organization and 40 IAM users). `make_drift`
changes live state by hand, with plain boto3, and `drift_repaired` reads it back the same way,
so neither depends on the reconciler it measures. This module starts no process and times
nothing: that is the harness.
"""

from __future__ import annotations

import json
import urllib.parse
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    from mypy_boto3_iam import IAMClient
    from mypy_boto3_organizations import OrganizationsClient
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sts import STSClient
    from mypy_boto3_sts.type_defs import CredentialsTypeDef

MANAGEMENT = "123456789012"  # moto's fixed management account
BOOTSTRAP = "OrganizationAccountAccessRole"
REGION = "us-east-1"
UNITS = (
    "Clients/Acme",
    "Clients/Globex",
    "Clients/Initech",
    "Environments/Development",
    "Environments/Production",
)
GROUPS, USERS, GRANTS_PER_GROUP = 20, 40, 10


def account_name(i: int) -> str:
    return f"acct-{i:05d}"


def document(n: int) -> dict[str, Any]:
    """N accounts in five OUs, two roles each, 20 groups granting AccountAccessRole in 10
    accounts each (well inside IAM's 5,120-character quota for a group's inline policies)."""
    # One map per combination of tags, shared: `text` writes each once and aliases the rest.
    tags = {
        i: {"team": f"team-{i % 37:02d}", "environment": ("dev", "prod")[i % 2]}
        for i in range(min(n, 74))  # 37 teams x 2 environments, as i % 74 runs through them
    }
    accounts = [
        {
            "name": account_name(i),
            "email": f"bench+{account_name(i)}@example.com",
            "unit": UNITS[i % len(UNITS)],
            "tags": tags[i % 74],
        }
        for i in range(n)
    ]
    groups = [
        {
            "name": f"Team{g:02d}",
            "users": [f"user{(g + k) % USERS:02d}" for k in (0, 7, 19)],
            "grants": [
                {"account": account_name(i), "role": "AccountAccessRole"}
                for i in range(g, n, GROUPS)[:GRANTS_PER_GROUP]
            ],
        }
        for g in range(GROUPS)
    ]
    # Every account sits below one of the two top units, which hand both roles down.
    both_roles = ["AccountAccessRole", "ReadOnlyAccessRole"]
    return {
        "organization": {
            "management_account_id": MANAGEMENT,
            "bootstrap_role": BOOTSTRAP,
            "units": [
                {
                    "name": "Clients",
                    "roles": both_roles,
                    "units": [{"name": n} for n in ("Acme", "Globex", "Initech")],
                },
                {
                    "name": "Environments",
                    "roles": both_roles,
                    "units": [{"name": "Development"}, {"name": "Production"}],
                },
            ],
        },
        "access": {
            "roles": [
                {
                    "name": "AccountAccessRole",
                    "policies": ["arn:aws:iam::aws:policy/AdministratorAccess"],
                    "require_mfa": True,
                    "max_session_duration": 3600,
                },
                {
                    "name": "ReadOnlyAccessRole",
                    "policies": ["arn:aws:iam::aws:policy/ReadOnlyAccess"],
                    "require_mfa": True,
                    "max_session_duration": 43200,
                },
            ]
        },
        "accounts": accounts,
        "groups": groups,
        # The build creates everything in one apply; drift repair makes 2 changes per account.
        "policy": {"prune": False, "max_changes": 20 * n + 1000, "protected_accounts": []},
    }


def text(doc: dict[str, Any]) -> str:
    """The document as YAML that keeps 10,000 accounts under the 1 MiB a document may take:
    lists and maps of plain values on one line, and a map used again written as an alias."""
    return str(yaml.safe_dump(doc, sort_keys=False, default_flow_style=None, width=200))


def seed(url: str) -> None:
    """What the document takes as given: the organization and the people its groups name."""
    organizations(url).create_organization(FeatureSet="ALL")
    iam = iam_client(url)
    for u in range(USERS):
        iam.create_user(UserName=f"user{u:02d}")


# --- plain boto3, as a person would use it ------------------------------------------------------
# boto3 is imported where a client is made, never at the top: the daemon's child process imports
# this module for a constant, and should carry the product's imports only, so that the memory
# it reports is the product's (boto3 brings S3 transfers and multiprocessing, some 2 MB).


def organizations(url: str) -> OrganizationsClient:
    import boto3

    return boto3.client("organizations", endpoint_url=url, region_name=REGION)


def iam_client(url: str, credentials: CredentialsTypeDef | None = None) -> IAMClient:
    import boto3

    if credentials is None:
        return boto3.client("iam", endpoint_url=url, region_name=REGION)
    return boto3.client(
        "iam",
        endpoint_url=url,
        region_name=REGION,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )


def sqs(url: str) -> SQSClient:
    import boto3

    return boto3.client("sqs", endpoint_url=url, region_name=REGION)


def sts(url: str) -> STSClient:
    import boto3

    return boto3.client("sts", endpoint_url=url, region_name=REGION)


def member_iam(url: str, account_id: str) -> IAMClient:
    arn = f"arn:aws:iam::{account_id}:role/{BOOTSTRAP}"
    credentials = sts(url).assume_role(RoleArn=arn, RoleSessionName="bench")
    return iam_client(url, credentials["Credentials"])


def account_ids(url: str) -> dict[str, str]:
    pages = organizations(url).get_paginator("list_accounts").paginate()
    return {a["Name"]: a["Id"] for page in pages for a in page["Accounts"]}


def drifted_accounts(ids: dict[str, str], n: int, share: float) -> list[str]:
    """Every (1/share)th account's id, in account order."""
    step = round(1 / share)
    return [ids[account_name(i)] for i in range(0, n, step)]


def make_drift(url: str, ids: list[str]) -> None:
    """What a person does by hand: retag the account, drop MFA from a role's trust policy."""
    org = organizations(url)
    for account_id in ids:
        org.tag_resource(ResourceId=account_id, Tags=[{"Key": "environment", "Value": "drift"}])
        remove_mfa(url, account_id)


def remove_mfa(url: str, account_id: str) -> None:
    """Drop the MFA condition from the account's AccountAccessRole, by hand."""
    no_mfa = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{MANAGEMENT}:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    member_iam(url, account_id).update_assume_role_policy(
        RoleName="AccountAccessRole", PolicyDocument=json.dumps(no_mfa)
    )


def drift_repaired(url: str, ids: list[str], declared: dict[str, dict[str, Any]]) -> bool:
    """Read back with plain boto3: tags as declared, MFA condition back in the trust policy."""
    org = organizations(url)
    for account_id, account in ((i, declared[i]) for i in ids):
        tags = {
            t["Key"]: t["Value"] for t in org.list_tags_for_resource(ResourceId=account_id)["Tags"]
        }
        if tags != account["tags"]:
            return False
        role = member_iam(url, account_id).get_role(RoleName="AccountAccessRole")["Role"]
        trust: Any = role["AssumeRolePolicyDocument"]
        trust = json.loads(urllib.parse.unquote(trust)) if isinstance(trust, str) else trust
        if "aws:MultiFactorAuthPresent" not in json.dumps(trust):
            return False
    return True
