"""Helpers for tests against the simulator: run passes, read AWS back with plain boto3."""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from botocore.awsrequest import AWSResponse, HTTPHeaders
from botocore.exceptions import ClientError

from reconciler import reconcile
from reconciler.aws import write
from reconciler.aws.sessions import Sessions
from reconciler.core import load, spec
from tests.simulation.support import any_client

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_TEXT = (REPO / "desired" / "accounts.yaml").read_text()
PEOPLE = ("alice", "james", "carol", "mallory")
# The simulator's lags are counted in calls, not seconds (a new account's role refuses the first
# AssumeRole, a request answers IN_PROGRESS to the first poll, a new role is missing from the
# next call): waits of AWS's length would only make the passes slow, and hide nothing.
QUICK = write.Timings(poll=(0.05, 0.5), access_waits=(0.05, 0.5), settle=3)


def quick(**changes: Any) -> write.Timings:
    """The simulator's timings, with the fields a test is about set as it needs."""
    return dataclasses.replace(QUICK, **changes)


class Aws:
    """Plain boto3 access to the simulator, the way a person would check the result."""

    def __init__(self, url: str, partition: str = "aws") -> None:
        self.url = url
        self.partition = partition
        self.org = self.client("organizations")
        self.iam = self.client("iam")

    def client(self, service: str, account_id: str | None = None) -> Any:
        keys: dict[str, str] = {}
        if account_id is not None:
            sts = self.client("sts")
            arn = f"arn:{self.partition}:iam::{account_id}:role/OrganizationAccountAccessRole"
            creds = sts.assume_role(RoleArn=arn, RoleSessionName="test")["Credentials"]
            keys = {
                "aws_access_key_id": creds["AccessKeyId"],
                "aws_secret_access_key": creds["SecretAccessKey"],
                "aws_session_token": creds["SessionToken"],
            }
        client = any_client(service, endpoint_url=self.url, region_name="us-east-1", **keys)
        client.meta.events.register("needs-retry", _patiently)
        return client

    def create_account(self, email: str, name: str, **extra: Any) -> str:
        """Create an account as a person would: request it, poll until AWS is done; its id."""
        started = self.org.create_account(Email=email, AccountName=name, **extra)
        request = started["CreateAccountStatus"]["Id"]
        for _ in range(50):
            status = self.org.describe_create_account_status(CreateAccountRequestId=request)
            if status["CreateAccountStatus"]["State"] == "SUCCEEDED":
                return self._once_assumable(str(status["CreateAccountStatus"]["AccountId"]))
            assert status["CreateAccountStatus"]["State"] == "IN_PROGRESS", status
        raise AssertionError(f"CreateAccount {request} still in progress")

    def _once_assumable(self, account_id: str) -> str:
        """A new account's bootstrap role refuses AssumeRole for a while: wait it out."""
        for _ in range(20):
            try:
                self.client("iam", account_id)
                return account_id
            except ClientError as exc:
                assert exc.response["Error"]["Code"] == "AccessDenied", exc
        raise AssertionError(f"the bootstrap role of {account_id} never became assumable")

    def root(self) -> str:
        return str(self.org.list_roots()["Roots"][0]["Id"])

    def accounts(self) -> dict[str, dict[str, Any]]:
        """Accounts by email."""
        pages = self.org.get_paginator("list_accounts").paginate()
        return {a["Email"]: a for page in pages for a in page["Accounts"]}

    def account_id(self, email: str) -> str:
        return str(self.accounts()[email]["Id"])

    def unit_path(self, account_id: str) -> str:
        names = []
        parent = self.org.list_parents(ChildId=account_id)["Parents"][0]
        while parent["Type"] == "ORGANIZATIONAL_UNIT":
            names.append(
                self.org.describe_organizational_unit(OrganizationalUnitId=parent["Id"])[
                    "OrganizationalUnit"
                ]["Name"]
            )
            parent = self.org.list_parents(ChildId=parent["Id"])["Parents"][0]
        return "/".join(reversed(names))

    def unit_id(self, path: str) -> str:
        parent = self.root()
        for name in path.split("/"):
            units = self.org.list_organizational_units_for_parent(ParentId=parent)
            parent = next(u["Id"] for u in units["OrganizationalUnits"] if u["Name"] == name)
        return parent

    def tags(self, account_id: str) -> dict[str, str]:
        tags = self.org.list_tags_for_resource(ResourceId=account_id)["Tags"]
        return {t["Key"]: t["Value"] for t in tags}

    def snapshot(self) -> dict[str, Any]:
        """Everything reconciler could touch, to show that nothing changed."""
        units = self.org.list_organizational_units_for_parent(ParentId=self.root())
        result: dict[str, Any] = {"units": sorted(u["Name"] for u in units["OrganizationalUnits"])}
        for email, account in sorted(self.accounts().items()):
            roles = self.client("iam", account["Id"]).get_account_authorization_details(
                Filter=["Role"]
            )["RoleDetailList"]
            result[email] = {
                "unit": self.unit_path(account["Id"]),
                "tags": self.tags(account["Id"]),
                "roles": {r["RoleName"]: _role_view(r) for r in roles},
            }
        details = self.iam.get_account_authorization_details(Filter=["User", "Group"])
        result["groups"] = {
            g["GroupName"]: json.dumps(g["GroupPolicyList"], sort_keys=True, default=str)
            for g in details["GroupDetailList"]
        }
        result["members"] = {
            u["UserName"]: sorted(u["GroupList"]) for u in details["UserDetailList"]
        }
        return result


# What a person at the console would simply try again: AWS refused a write that overlapped
# another, or does not show an entity they created a moment ago yet.
_TRY_AGAIN = frozenset(
    {"ConcurrentModification", "ConcurrentModificationException", "NoSuchEntity"}
)


def _patiently(response: Any, attempts: int, **_: Any) -> float | None:
    code = (response[1] or {}).get("Error", {}).get("Code") if response else None
    return 0.05 if code in _TRY_AGAIN and attempts < 8 else None


def _role_view(role: dict[str, Any]) -> dict[str, Any]:
    return {
        "trust": role["AssumeRolePolicyDocument"],
        "policies": sorted(p["PolicyArn"] for p in role["AttachedManagedPolicies"]),
        "inline": sorted(p["PolicyName"] for p in role["RolePolicyList"]),
        "tags": role.get("Tags", []),
    }


Hook = Callable[[Sessions], None]


def run_pass(
    url: str,
    text: str = EXAMPLE_TEXT,
    *,
    apply: bool,
    hook: Hook | None = None,
    timings: write.Timings | None = None,
    instance: str = "reconciler",
    allow_mass_removal: bool = False,
    progress: reconcile.Progress | None = None,
    stop: threading.Event | None = None,
    concurrency: int = 4,
) -> reconcile.Result:
    """One pass over a document given as text, with an optional hook on the sessions and an
    optional shutdown event."""
    document = parse(text)
    sessions = reconcile.sessions_for(document, url, concurrency=concurrency)
    if hook is not None:
        hook(sessions)
    return reconcile.reconcile(
        document,
        sessions,
        apply=apply,
        concurrency=concurrency,
        timings=timings or QUICK,
        instance=instance,
        allow_mass_removal=allow_mass_removal,
        progress=progress,
        stop=stop,
    )


def failures(result: reconcile.Result) -> list[str]:
    """What kept a pass from converging, for an assertion's message."""
    return [f"{o.change.line()}: {o.reason}" for o in result.failed] + [
        f"{name}: {why}" for name, why in result.plan.unreachable.items()
    ]


def example_with_accounts(*names: str, unit: str = "Clients/Acme") -> str:
    """The example with more accounts, each `aws+<name>@example.com` in `unit`, declared last."""
    more = "".join(
        f"\n  - {{name: {name}, email: aws+{name}@example.com, unit: {unit}}}" for name in names
    )
    return EXAMPLE_TEXT.replace("\ngroups:\n", f"{more}\ngroups:\n", 1)


def parse(text: str) -> spec.Spec:
    return load.parse_spec(text, "accounts.yaml")


class _Body:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Any:
        yield self._body


def canned(status: int, body: bytes, content_type: str) -> AWSResponse:
    """A response from AWS that the simulator would not give, for a botocore before-send hook."""
    headers = HTTPHeaders()
    headers["Content-Type"] = content_type
    return AWSResponse("https://aws.invalid", status, headers, _Body(body))
