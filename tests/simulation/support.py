"""Helpers for the strict simulator's own tests: calm settings, a moto reset over HTTP, and
plain boto3 clients that never retry, so that each call a test makes is one request."""

from __future__ import annotations

import urllib.request
from typing import Any

import boto3
from botocore.config import Config

from tests.simulation.strict import StrictSettings

# A client for a service named at run time: the boto3 stubs type clients by literal names only.
any_client: Any = boto3.client

NO_RETRIES = Config(retries={"total_max_attempts": 1, "mode": "standard"})


def calm() -> StrictSettings:
    """No conflicts, no consistency or access delays: each test turns on what it tests.
    CreateAccount stays asynchronous, as it always is in AWS."""
    return StrictSettings(conflict_rate=0.0, consistency_calls=0, access_delay_calls=0)


def reset_moto(url: str) -> None:
    """Wipe moto's state through the middlewares, as any client of the server would."""
    request = urllib.request.Request(f"{url}/moto-api/reset", data=b"", method="POST")  # noqa: S310
    with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310 (loopback)
        answer.read()


class Clients:
    """boto3 against the strict simulator, as the management account or with other keys."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.org = self.client("organizations")
        self.iam = self.client("iam")
        self.sts = self.client("sts")

    def client(self, service: str, keys: dict[str, str] | None = None) -> Any:
        return any_client(
            service, endpoint_url=self.url, region_name="us-east-1", config=NO_RETRIES, **keys or {}
        )

    def keys(self, role_arn: str) -> dict[str, str]:
        """Credentials of the role, for `client`."""
        credentials = self.sts.assume_role(RoleArn=role_arn, RoleSessionName="test")["Credentials"]
        return {
            "aws_access_key_id": credentials["AccessKeyId"],
            "aws_secret_access_key": credentials["SecretAccessKey"],
            "aws_session_token": credentials["SessionToken"],
        }

    def create_account(self, name: str, email: str = "") -> dict[str, Any]:
        """Request an account and poll its request until it ends; the final status."""
        started = self.org.create_account(AccountName=name, Email=email or f"{name}@example.com")
        request = {"CreateAccountRequestId": started["CreateAccountStatus"]["Id"]}
        for _ in range(20):
            status: dict[str, Any] = self.org.describe_create_account_status(**request)[
                "CreateAccountStatus"
            ]
            if status["State"] != "IN_PROGRESS":
                return status
        raise AssertionError(f"{request} still IN_PROGRESS after 20 polls")
