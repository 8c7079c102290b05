"""The baseline beside the cold plan: the reads a cold `reconciler plan` makes, written the way
a plain boto3 script would make them.

    python bench/plainread.py ENDPOINT_URL CONCURRENCY BOOTSTRAP_ROLE

The same calls, in the same order of dependence: the organization, the caller, the CreateAccount
requests and the source account's IAM alongside; the OU tree one level at a time, every listing
of a level in parallel; then for each member account its tags, and with the bootstrap role's
credentials a client of its own for its two role listings, one after the other. One pool of
2 x CONCURRENCY threads (the reconciler's two pools of CONCURRENCY). Nothing is compared or
planned, so whatever the cold plan takes beyond this script is the reconciler's own work.

It imports boto3 only, so that its start-up is a plain script's; the harness times it in a
fresh process as it times the plan (`coldplan`).
"""

from __future__ import annotations

import concurrent.futures
import sys
from typing import TYPE_CHECKING, Any

import boto3
import botocore.config

if TYPE_CHECKING:
    from mypy_boto3_organizations import OrganizationsClient

REGION = "us-east-1"


def read(url: str, concurrency: int, bootstrap_role: str) -> int:
    """The number of member accounts read."""
    session = boto3.session.Session(region_name=REGION)
    config = botocore.config.Config(max_pool_connections=2 * concurrency)
    organizations = session.client("organizations", endpoint_url=url, config=config)
    sts = session.client("sts", endpoint_url=url, config=config)
    iam = session.client("iam", endpoint_url=url, config=config)
    with concurrent.futures.ThreadPoolExecutor(2 * concurrency) as pool:
        organization = pool.submit(organizations.describe_organization)
        alongside: list[concurrent.futures.Future[Any]] = [
            pool.submit(sts.get_caller_identity),
            pool.submit(
                _pages,
                organizations,
                "list_create_account_status",
                "CreateAccountStatuses",
                States=["IN_PROGRESS", "FAILED"],
            ),
            pool.submit(
                _pages,
                iam,
                "get_account_authorization_details",
                "UserDetailList",
                Filter=["User", "Group", "LocalManagedPolicy"],
            ),
        ]
        management = organization.result()["Organization"]["MasterAccountId"]
        accounts = [a["Id"] for a in _tree(organizations, pool) if a["Id"] != management]

        def member(account_id: str) -> int:
            role = f"arn:aws:iam::{account_id}:role/{bootstrap_role}"
            keys = sts.assume_role(RoleArn=role, RoleSessionName="plain")["Credentials"]
            member_iam = session.client(
                "iam",
                endpoint_url=url,
                aws_access_key_id=keys["AccessKeyId"],
                aws_secret_access_key=keys["SecretAccessKey"],
                aws_session_token=keys["SessionToken"],
            )
            roles = _pages(member_iam, "list_roles", "Roles")
            details = _pages(
                member_iam, "get_account_authorization_details", "RoleDetailList", Filter=["Role"]
            )
            return len(roles) + len(details)

        alongside += [
            pool.submit(organizations.list_tags_for_resource, ResourceId=a) for a in accounts
        ]
        alongside += [pool.submit(member, a) for a in accounts]
        for future in alongside:
            future.result()
    return len(accounts)


def _tree(
    organizations: OrganizationsClient, pool: concurrent.futures.ThreadPoolExecutor
) -> list[dict[str, Any]]:
    accounts: list[dict[str, Any]] = []
    level = [r["Id"] for r in _pages(organizations, "list_roots", "Roots")]
    while level:
        listings = [
            pool.submit(_pages, organizations, "list_accounts_for_parent", "Accounts", ParentId=p)
            for p in level
        ]
        units = [
            pool.submit(
                _pages,
                organizations,
                "list_organizational_units_for_parent",
                "OrganizationalUnits",
                ParentId=p,
            )
            for p in level
        ]
        level = [unit["Id"] for future in units for unit in future.result()]
        accounts += [account for future in listings for account in future.result()]
    return accounts


def _pages(client: Any, operation: str, key: str, **parameters: Any) -> list[dict[str, Any]]:
    paginator = client.get_paginator(operation)
    return [item for page in paginator.paginate(**parameters) for item in page[key]]


if __name__ == "__main__":
    url, concurrency, bootstrap_role = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    print(f"read {read(url, concurrency, bootstrap_role)} member accounts")
