"""Helpers for fault tests: the fault-injecting simulator, steered in process, and the
reconciler CLI run as a subprocess against it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

from reconciler.simulator import MANAGEMENT_ACCOUNT_ID
from tests.aws.support import EXAMPLE_TEXT, PEOPLE, Aws, parse
from tests.simulation.faults import Fault, FaultyServer
from tests.simulation.strict import StrictSettings
from tests.simulation.support import calm

REPO = Path(__file__).resolve().parents[2]
# The emails of the example's accounts that apply creates (the management account exists).
CREATED_EMAILS = sorted(
    line.split(":", 1)[1].strip()
    for line in EXAMPLE_TEXT.splitlines()
    if line.strip().startswith("email:") and "management" not in line
)
CREATED_NAMES = ("shared-services", "acme-dev", "acme-prod", "globex-prod")


class Endpoint:
    """A `FaultyServer` with its state reset: an organization, the example's people."""

    def __init__(self, server: FaultyServer) -> None:
        self.server = server
        self.url = server.url
        self.injector = server.injector

    def reset(self) -> Aws:
        """An organization and the people, made calmly; then AWS's habits are back on."""
        self.clear()
        assert self.server.strict is not None
        self.server.strict.settings = calm()
        _post(f"{self.url}/moto-api/reset")
        aws = Aws(self.url)
        aws.org.create_organization(FeatureSet="ALL")
        for user in PEOPLE:
            aws.iam.create_user(UserName=user)
        self.server.strict.settings = StrictSettings()
        self.clear()
        return aws

    def inject(self, *faults: Fault, latency: float | None = None) -> None:
        """Replace the faults (and the latency), as a test in another process would over HTTP."""
        _post(f"{self.url}/fault-api/faults", [vars(f) for f in faults])
        if latency is not None:
            _post(f"{self.url}/fault-api/latency", latency)

    def clear(self) -> None:
        _post(f"{self.url}/fault-api/clear")

    def count(self, operation: str) -> int:
        return self.injector.counts[operation]

    def total(self) -> int:
        return sum(self.injector.counts.values())


def _post(url: str, payload: Any = None) -> Any:
    data = json.dumps(payload).encode()
    # Our own loopback server's URL, always http.
    request = urllib.request.Request(url, data=data, method="POST")  # noqa: S310
    with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
        return json.loads(answer.read() or b"null")


def document(tmp: Path, text: str = EXAMPLE_TEXT) -> Path:
    path = tmp / "accounts.yaml"
    path.write_text(text)
    return path


def cli_env(**extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        **extra,
    }


def _cli(command: str, url: str, desired: Path) -> list[str]:
    """The command line of `reconciler COMMAND` against `url` with the document `desired`."""
    return [
        sys.executable,
        "-m",
        "reconciler.cli",
        command,
        "--endpoint-url",
        url,
        "--desired",
        str(desired),
    ]


def start_cli(command: str, url: str, desired: Path, log: Path) -> subprocess.Popen[bytes]:
    """`reconciler COMMAND` in a subprocess, its output going to `log`."""
    with log.open("ab") as out:
        return subprocess.Popen(
            _cli(command, url, desired),
            cwd=REPO,
            env=cli_env(),
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def run_cli(command: str, url: str, desired: Path, timeout: float = 120) -> tuple[int, str]:
    done = subprocess.run(
        _cli(command, url, desired),
        cwd=REPO,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return done.returncode, done.stdout + done.stderr


def member_emails(aws: Aws) -> list[str]:
    """Every member account's email, one entry per account: a duplicate shows twice."""
    pages = aws.org.get_paginator("list_accounts").paginate()
    return sorted(
        a["Email"] for page in pages for a in page["Accounts"] if a["Id"] != MANAGEMENT_ACCOUNT_ID
    )


def assert_example_state(aws: Aws) -> None:
    """The example document's organization, read back with plain boto3: one account per
    email, each in its unit with its tags and its roles and their policies, and the groups'
    members in the management account."""
    document = parse(EXAMPLE_TEXT)
    assert member_emails(aws) == CREATED_EMAILS
    live = aws.accounts()
    for account in document.accounts:
        if account.id:
            continue
        account_id = live[account.email]["Id"]
        assert aws.unit_path(account_id) == (account.unit or ""), account.name
        assert aws.tags(account_id) == dict(account.tags), account.name
        details = aws.client("iam", account_id).get_account_authorization_details(Filter=["Role"])[
            "RoleDetailList"
        ]
        roles = {
            r["RoleName"]: sorted(p["PolicyArn"] for p in r["AttachedManagedPolicies"])
            for r in details
        }
        for name in document.role_names(account):
            assert roles.get(name) == sorted(document.role(name).policies), (account.name, name)
    groups = aws.iam.get_account_authorization_details(Filter=["User", "Group"])
    members: dict[str, set[str]] = {}
    for user in groups["UserDetailList"]:
        for group in user["GroupList"]:
            members.setdefault(group, set()).add(user["UserName"])
    policies = {g["GroupName"]: g["GroupPolicyList"] for g in groups["GroupDetailList"]}
    for group in document.groups:
        assert members.get(group.name) == set(group.users), group.name
        assert len(policies[group.name]) == 1, group.name  # the grants, with every id resolved
