"""`reconciler sandbox`: the whole product against a built-in AWS simulation, in one command.

Starts the simulator on loopback, seeds an organization that already has some of the
example's accounts and people, plus a little drift, then runs the daemon on the document.
The seed uses plain boto3 against the simulator, the way a person clicked things by hand.

The simulation has an SQS queue of AWS change events, as `deploy/events/` sets one up: the
seed sends it the events its hand-made drift would produce, and `reconciler sandbox-drift`
(`make drift`) makes one more hand-made change while the daemon runs and sends its events,
as EventBridge would from CloudTrail, so that the daemon corrects it within seconds and says
who made it. The simulator has no CloudTrail of its own: these events are written here.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import os
import shlex
import sys
import urllib.parse
import uuid
from pathlib import Path
from typing import Any

import boto3

from reconciler import source
from reconciler.core import events, spec, state
from reconciler.core.errors import ReconcilerError
from reconciler.simulator import MANAGEMENT_ACCOUNT_ID, Simulator

DUMMY_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "sandbox", "AWS_SECRET_ACCESS_KEY": "sandbox"}
PEOPLE = ("alice", "james", "carol", "mallory")
QUEUE = "reconciler-events"
HAND = "mallory"  # who makes the sandbox's hand-made changes


def start(desired: Path, port: int = 0) -> tuple[Simulator, str]:
    """A running simulator seeded from the document, and its queue of change events' URL;
    the simulator's `url` is the AWS endpoint."""
    _only_the_simulator()
    simulator = Simulator(port)
    simulator.start()
    queue = _client("sqs", simulator.url).create_queue(QueueName=QUEUE)["QueueUrl"]
    seed(simulator.url, desired, queue)
    return simulator, str(queue)


def _only_the_simulator() -> None:
    # Only the simulator is ever reached from here: never real credentials, never real AWS.
    os.environ.update(DUMMY_CREDENTIALS, AWS_DEFAULT_REGION="us-east-1")
    for variable in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        os.environ.pop(variable, None)


def seed(url: str, desired: Path, queue: str | None = None) -> None:
    """Some accounts already exist (one in the wrong unit, one role without MFA), the people
    exist, and a group has a member the document does not list; the events of those
    hand-made changes go to `queue`."""
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
        if queue:
            parameters = {"groupName": group, "userName": "mallory"}
            _send(url, queue, "AddUserToGroup", MANAGEMENT_ACCOUNT_ID, _person(), parameters)


def _seed_role_without_mfa(url: str, account_id: str, bootstrap_role: str, document: Any) -> None:
    if not document.access.roles:
        return
    iam = _assumed_iam(url, account_id, bootstrap_role, "sandbox-seed")
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
    program = _program()
    variables = " ".join(
        f"{name}={value}"
        for name, value in (
            ("AWS_ENDPOINT_URL", url),
            *DUMMY_CREDENTIALS.items(),
            ("AWS_DEFAULT_REGION", "us-east-1"),
        )
    )
    return f"{variables} \\\n    {program} plan --desired {shlex.quote(str(desired.resolve()))}"


def _program() -> str:
    script = Path(sys.executable).parent / "reconciler"
    if script.is_file() and os.access(script, os.X_OK):
        return shlex.quote(str(script))
    return f"{shlex.quote(sys.executable)} -m reconciler.cli"


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
A change made by hand, corrected within seconds from its AWS change event (`make drift`):
  {drift_command(url, desired)}
Stop with Ctrl-C.
"""


def drift_command(url: str, desired: Path) -> str:
    """`reconciler sandbox-drift` against this simulator, as `plan_command` writes `plan`."""
    program = _program()
    return (
        f"{program} sandbox-drift --endpoint-url {shlex.quote(url)} "
        f"--desired {shlex.quote(str(desired.resolve()))}"
    )


def make_drift(url: str, desired: Path) -> list[str]:
    """Hand-made changes to the running sandbox, made as HAND, with the events EventBridge
    would deliver for them: the MFA condition taken off a role that requires it, and HAND
    added to a group. What was done, a line each."""
    _loopback(url)
    _only_the_simulator()
    document = source.read_document(desired)
    try:
        queue = str(_client("sqs", url).get_queue_url(QueueName=QUEUE)["QueueUrl"])
    except Exception as exc:  # the simulator is not there, or not the sandbox's
        raise ReconcilerError(f"no sandbox at {url}: start one with `make run` ({exc})") from exc
    done = [
        line
        for line in (_drift_role(url, queue, document), _drift_group(url, queue, document))
        if line
    ]
    if not done:
        raise ReconcilerError("nothing to change yet: wait for the sandbox's first pass")
    return done


def _drift_role(url: str, queue: str, document: spec.Spec) -> str:
    ids = {a["Name"]: a["Id"] for a in _client("organizations", url).list_accounts()["Accounts"]}
    mfa = {t.name for t in document.access.roles if t.require_mfa}
    for account in document.accounts:
        account_id = ids.get(account.name)
        for role in document.role_names(account):
            if account_id is None or role not in mfa or account_id == MANAGEMENT_ACCOUNT_ID:
                continue
            bootstrap = document.organization.bootstrap_role
            iam = _assumed_iam(url, account_id, bootstrap, HAND)
            trust = iam.get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"]
            for statement in trust["Statement"]:
                statement.pop("Condition", None)
            iam.update_assume_role_policy(RoleName=role, PolicyDocument=json.dumps(trust))
            actor = f"arn:aws:sts::{account_id}:assumed-role/{bootstrap}/{HAND}"
            _send(url, queue, "UpdateAssumeRolePolicy", account_id, actor, {"roleName": role})
            return f"removed the MFA condition from {account.name}/{role}, as {actor}"
    return ""


def _drift_group(url: str, queue: str, document: spec.Spec) -> str:
    iam = _client("iam", url)
    for group in document.groups:
        if HAND in group.users:
            continue
        try:
            iam.add_user_to_group(GroupName=group.name, UserName=HAND)
        except iam.exceptions.NoSuchEntityException:
            continue  # not created yet
        parameters = {"groupName": group.name, "userName": HAND}
        _send(url, queue, "AddUserToGroup", MANAGEMENT_ACCOUNT_ID, _person(), parameters)
        return f"added {HAND} to group {group.name}, as {_person()}"
    return ""


def _person() -> str:
    return f"arn:aws:iam::{MANAGEMENT_ACCOUNT_ID}:user/{HAND}"


def _send(
    url: str, queue: str, call: str, account: str, actor: str, parameters: dict[str, str]
) -> None:
    """What EventBridge delivers to the queue for the CloudTrail event of `call`."""
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    service = "iam" if call in events.WATCHED[events.IAM] else "organizations"
    event = {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": events.DETAIL_TYPE,
        "source": f"aws.{service}",
        "account": account,
        "time": now,
        "region": "us-east-1",
        "resources": [],
        "detail": {
            "eventVersion": "1.09",
            "userIdentity": {"type": "IAMUser", "arn": actor, "accountId": MANAGEMENT_ACCOUNT_ID},
            "eventTime": now,
            "eventSource": f"{service}.amazonaws.com",
            "eventName": call,
            "awsRegion": "us-east-1",
            "requestParameters": parameters,
            "responseElements": None,
            "readOnly": False,
            "eventType": "AwsApiCall",
            "managementEvent": True,
            "recipientAccountId": account,
        },
    }
    _client("sqs", url).send_message(QueueUrl=queue, MessageBody=json.dumps(event))


def _assumed_iam(url: str, account_id: str, role: str, session: str) -> Any:
    sts = _client("sts", url)
    arn = f"arn:aws:iam::{account_id}:role/{role}"
    creds = sts.assume_role(RoleArn=arn, RoleSessionName=session)["Credentials"]
    return _client(
        "iam",
        url,
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )


def _loopback(url: str) -> None:
    """Hand-made changes go to the sandbox's own simulation on loopback, never elsewhere."""
    parsed = urllib.parse.urlsplit(url)
    host = parsed.hostname or ""
    try:
        local = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        local = False
    if parsed.scheme != "http" or not local:
        raise ReconcilerError(
            f"--endpoint-url {url[:100]!r}: sandbox-drift changes only the sandbox's simulation "
            "on loopback (http://127.0.0.1:PORT)"
        )
