"""`reconciler sandbox`: the whole product against a built-in AWS simulation, in one command.

Starts the simulator on loopback, seeds an organization that already has some of the
example's accounts and people, plus a little drift, then runs the daemon on the document.
The seed uses plain boto3 against the simulator, the way a person clicked things by hand.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from pathlib import Path
from typing import Any

import boto3

from reconciler import source
from reconciler.core import state
from reconciler.simulator import Simulator

DUMMY_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "sandbox", "AWS_SECRET_ACCESS_KEY": "sandbox"}
PEOPLE = ("alice", "james", "carol", "mallory")


def start(desired: Path) -> Simulator:
    """A running simulator seeded from the document; its `url` is the AWS endpoint."""
    # Only the simulator is ever reached from here: never real credentials, never real AWS.
    os.environ.update(DUMMY_CREDENTIALS, AWS_DEFAULT_REGION="us-east-1")
    for variable in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        os.environ.pop(variable, None)
    simulator = Simulator()
    simulator.start()
    seed(simulator.url, desired)
    return simulator


def seed(url: str, desired: Path) -> None:
    """Some accounts already exist (one in the wrong unit, one role without MFA), the people
    exist, and a group has a member the document does not list."""
    document = source.read_document(desired)
    org = _client("organizations", url)
    org.create_organization(FeatureSet="ALL")
    iam = _client("iam", url)
    for user in PEOPLE:
        iam.create_user(UserName=user)
    existing = [a for a in document.accounts if not a.id][:2]
    for account in existing:
        status = org.create_account(
            Email=account.email,
            AccountName=account.name,
            RoleName=document.organization.bootstrap_role,
        )["CreateAccountStatus"]
        _seed_role_without_mfa(
            url, status["AccountId"], document.organization.bootstrap_role, document
        )
    if document.groups:
        group = document.groups[0].name
        iam.create_group(GroupName=group, Path="/reconciler/")
        iam.add_user_to_group(GroupName=group, UserName="mallory")


def _seed_role_without_mfa(url: str, account_id: str, bootstrap_role: str, document: Any) -> None:
    if not document.access.roles:
        return
    sts = _client("sts", url)
    arn = f"arn:aws:iam::{account_id}:role/{bootstrap_role}"
    creds = sts.assume_role(RoleArn=arn, RoleSessionName="sandbox-seed")["Credentials"]
    iam = _client(
        "iam",
        url,
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )
    role = document.access.roles[0]
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{document.source_account_id}:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    # Marked as the daemon's, as if it had made the role and someone then removed the MFA
    # condition by hand: drift to correct, not a role to adopt.
    marker = [{"Key": state.MARKER_KEY, "Value": state.DEFAULT_INSTANCE}]
    iam.create_role(RoleName=role.name, AssumeRolePolicyDocument=json.dumps(trust), Tags=marker)


def _client(service: str, url: str, **keys: str) -> Any:
    return boto3.client(  # type: ignore[call-overload]
        service, endpoint_url=url, region_name="us-east-1", **keys
    )


def plan_command(url: str, desired: Path) -> str:
    """`reconciler plan` against this simulator, as a shell command that works from any
    directory and a new terminal: the console script by its full path (it lives in the
    virtualenv, which a new terminal does not have on PATH) and the document by its own."""
    script = Path(sys.executable).parent / "reconciler"
    program = (
        shlex.quote(str(script))
        if script.is_file() and os.access(script, os.X_OK)
        else f"{shlex.quote(sys.executable)} -m reconciler.cli"
    )
    variables = " ".join(
        f"{name}={value}"
        for name, value in (
            ("AWS_ENDPOINT_URL", url),
            *DUMMY_CREDENTIALS.items(),
            ("AWS_DEFAULT_REGION", "us-east-1"),
        )
    )
    return f"{variables} \\\n    {program} plan --desired {shlex.quote(str(desired.resolve()))}"


def banner(url: str, listen: str, desired: Path) -> str:
    host, _, port = listen.rpartition(":")
    shown = "127.0.0.1" if host in ("", "0.0.0.0") else host  # noqa: S104
    return f"""
reconciler sandbox: an AWS simulation at {url}, seeded with part of the organization,
some drift (a role without MFA, an account outside its unit, a stray group member).

  metrics     http://{shown}:{port}/metrics   (watch reconciler_drift_resources fall to 0)
  readiness   http://{shown}:{port}/readyz
  document    {desired}

Edit the document (add an account, a group member), save, and watch the next pass apply it.
In another terminal, against the same simulator:
  {plan_command(url, desired)}
Stop with Ctrl-C.
"""
