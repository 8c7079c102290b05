"""AWS change events: `reconciler run --events-queue-url` long-polls an SQS queue that an
EventBridge rule feeds with CloudTrail events; a hand-made change to what the document manages
is corrected within seconds by a pass over that part only, naming who made it; the daemon's
own changes, and anything that is not an event, start nothing, and the daemon stays healthy.

The queue is the simulator's SQS; each test sends it what EventBridge would deliver for the
change it makes by hand with plain boto3 (the simulator has no CloudTrail).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.aws.support import Aws, failures, run_pass
from tests.daemon.support import EXAMPLE_TEXT, REPO, Daemon

pytestmark = pytest.mark.timeout(180)
SOURCE = "123456789012"  # the example's management account, also its source account
MALLORY = f"arn:aws:iam::{SOURCE}:user/mallory"
WHEN = "2026-12-03T09:15:00Z"
MFA = {"Bool": {"aws:MultiFactorAuthPresent": "true"}}


def event(name: str, account: str, actor: str, **parameters: Any) -> str:
    """The body EventBridge sends an SQS target for a CloudTrail management event."""
    source = "organizations" if name in ("MoveAccount", "TagResource") else "iam"
    return json.dumps(
        {
            "version": "0",
            "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
            "detail-type": "AWS API Call via CloudTrail",
            "source": f"aws.{source}",
            "account": account,
            "time": WHEN,
            "region": "us-east-1",
            "resources": [],
            "detail": {
                "eventVersion": "1.09",
                "userIdentity": {"type": "IAMUser", "arn": actor, "accountId": SOURCE},
                "eventTime": WHEN,
                "eventSource": f"{source}.amazonaws.com",
                "eventName": name,
                "awsRegion": "us-east-1",
                "requestParameters": parameters,
                "responseElements": None,
                "readOnly": False,
                "eventType": "AwsApiCall",
                "managementEvent": True,
                "recipientAccountId": account,
            },
        }
    )


@pytest.fixture
def queue(aws: Aws) -> str:
    sqs = aws.client("sqs")
    return str(sqs.create_queue(QueueName="reconciler-events")["QueueUrl"])


@pytest.fixture
def converged(aws: Aws, queue: str, tmp_path: Path) -> Iterator[Daemon]:
    """The daemon on the example document with the queue, after its first (full) pass over
    an organization already as the document declares it."""
    built = run_pass(aws.url, apply=True)
    assert not failures(built), failures(built)
    desired = tmp_path / "accounts.yaml"
    desired.write_text(EXAMPLE_TEXT)
    args = ["run", "--desired", str(desired), "--interval", "300", "--log-format", "json"]
    daemon = Daemon([*args, "--events-queue-url", queue], aws.url, tmp_path)
    try:
        daemon.wait_for(lambda: daemon.get("/readyz")[0] == 200, timeout=90, what="/readyz")
        yield daemon
    finally:
        code, _ = daemon.stop()
        assert code == 0, daemon.output()
        assert "Traceback" not in daemon.output(), daemon.output()


def _account_id(aws: Aws, name: str) -> str:
    accounts = aws.org.list_accounts()["Accounts"]
    return str(next(a["Id"] for a in accounts if a["Name"] == name))


def _trust(iam: Any, role: str) -> dict[str, Any]:
    document = iam.get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"]
    return document if isinstance(document, dict) else dict(json.loads(document))


def _requires_mfa(iam: Any) -> bool:
    return all(s.get("Condition") == MFA for s in _trust(iam, "AccountAccessRole")["Statement"])


def _calls(daemon: Daemon, operation: str) -> float:
    return daemon.metric("reconciler_aws_api_calls_total", operation=operation) or 0.0


def _log_lines(daemon: Daemon) -> list[dict[str, Any]]:
    return [json.loads(line) for line in daemon.output().splitlines() if line.startswith("{")]


def _ignored(daemon: Daemon, reason: str = "") -> list[dict[str, Any]]:
    """The log lines of the events the daemon ignored (for `reason`, if given)."""
    return [
        line
        for line in _log_lines(daemon)
        if " ignored: " in line["message"] and line["message"].endswith(reason)
    ]


def _session_name(daemon: Daemon) -> str:
    started = next(line for line in _log_lines(daemon) if line["message"] == "reconciler started")
    return str(started["role_session"])


def _remove_mfa(iam: Any) -> None:
    trust = _trust(iam, "AccountAccessRole")
    for statement in trust["Statement"]:
        statement.pop("Condition", None)
    iam.update_assume_role_policy(RoleName="AccountAccessRole", PolicyDocument=json.dumps(trust))


def test_an_event_about_a_role_has_its_trust_corrected_within_seconds_naming_who(
    converged: Daemon, aws: Aws, queue: str
) -> None:
    daemon = converged
    account = _account_id(aws, "acme-prod")
    iam = aws.client("iam", account)
    assert _requires_mfa(iam)
    tree_reads = _calls(daemon, "ListAccountsForParent")
    assert tree_reads > 0
    _remove_mfa(iam)  # by hand, as mallory in the console
    actor = f"arn:aws:sts::{account}:assumed-role/OrganizationAccountAccessRole/mallory"
    body = event("UpdateAssumeRolePolicy", account, actor, roleName="AccountAccessRole")
    started = time.monotonic()
    aws.client("sqs").send_message(QueueUrl=queue, MessageBody=body)
    daemon.wait_for(lambda: _requires_mfa(iam), timeout=20, what="the MFA condition back")
    assert time.monotonic() - started < 20
    daemon.wait_for_passes(2, timeout=10)
    # The pass read that account's roles, not the organization again.
    assert _calls(daemon, "ListAccountsForParent") == tree_reads
    applied = [line for line in _log_lines(daemon) if line["message"].startswith("applied ")]
    assert applied[-1]["message"] == (
        "applied ~ role acme-prod/AccountAccessRole: trust policy add the MFA condition "
        f"(made by {actor} at {WHEN})"
    )
    assert (applied[-1]["changed_by"], applied[-1]["changed_at"]) == (actor, WHEN)
    assert daemon.metric("reconciler_triggers_total", source="event", result="accepted") == 1
    # Deleted once its pass completed.
    daemon.wait_for(lambda: _queued(aws, queue) == 0, timeout=10, what="the message deleted")


def test_an_event_of_the_daemons_own_change_starts_no_pass_but_a_lookalike_does(
    converged: Daemon, aws: Aws, queue: str
) -> None:
    daemon = converged
    account = _account_id(aws, "acme-prod")
    own = f"arn:aws:sts::{account}:assumed-role/OrganizationAccountAccessRole/"
    session = _session_name(daemon)
    assert re.fullmatch(r"reconciler-[0-9a-f]{12}", session)
    sqs = aws.client("sqs")
    body = event("UpdateAssumeRolePolicy", account, own + session, roleName="AccountAccessRole")
    sqs.send_message(QueueUrl=queue, MessageBody=body)
    # The barrier: the daemon logs its decision, then deletes the message, at once when it
    # drops it (no pass asked) or only after its pass was counted: the count below is final.
    daemon.wait_for(
        lambda: _queued(aws, queue) == 0 and _ignored(daemon, "made by reconciler itself"),
        timeout=30,
        what="the message ignored and deleted",
    )
    assert daemon.passes() == 1
    assert daemon.metric("reconciler_triggers_total", source="event", result="accepted") == 0
    # A person's session named like the daemon's is someone else.
    body = event(
        "UpdateAssumeRolePolicy", account, own + "reconciler", roleName="accountaccessrole"
    )
    sqs.send_message(QueueUrl=queue, MessageBody=body)
    daemon.wait_for_passes(2, timeout=20)
    assert daemon.metric("reconciler_triggers_total", source="event", result="accepted") == 1


@pytest.mark.parametrize(
    "body",
    [
        "not json at all",
        json.dumps({"detail-type": "AWS API Call via CloudTrail", "detail": {}}),
        json.dumps([1, 2, 3]),
        "[" * 100_000,
        "x" * (300 * 1024),
        event("UpdateAssumeRolePolicy", "12345", MALLORY, roleName="AccountAccessRole"),
        event("UpdateAssumeRolePolicy", SOURCE, 'mallory\n{"forged": 1}', roleName="R"),
    ],
    ids=["text", "no-fields", "array", "deep", "oversized", "bad-account", "injected-actor"],
)
def test_a_malformed_message_is_dropped_and_the_daemon_stays_healthy(
    converged: Daemon, aws: Aws, queue: str, body: str
) -> None:
    daemon = converged
    aws.client("sqs").send_message(QueueUrl=queue, MessageBody=body)
    daemon.wait_for(
        lambda: daemon.metric("reconciler_triggers_total", source="event", result="rejected"),
        timeout=30,
        what="the message rejected",
    )
    daemon.wait_for(lambda: _queued(aws, queue) == 0, timeout=10, what="the message deleted")
    assert daemon.get("/healthz") == (200, "ok\n")
    # Counted as rejected and deleted: dropped, so no pass was asked for it (an accepted
    # message is deleted only after its pass is counted); no settle needed.
    assert daemon.passes() == 1
    dropped = [line for line in _log_lines(daemon) if "dropped" in line["message"]]
    assert len(dropped) == 1 and "\n" not in dropped[0]["message"]


def test_an_event_about_something_undeclared_starts_nothing(
    converged: Daemon, aws: Aws, queue: str
) -> None:
    daemon = converged
    sqs = aws.client("sqs")
    account = _account_id(aws, "acme-prod")
    for body in (
        event("UpdateAssumeRolePolicy", account, MALLORY, roleName="SomeoneElsesRole"),
        event("PutGroupPolicy", SOURCE, MALLORY, groupName="NotOurs", policyName="p"),
        event("UpdateAssumeRolePolicy", "999999999999", MALLORY, roleName="AccountAccessRole"),
    ):
        sqs.send_message(QueueUrl=queue, MessageBody=body)
    # The barrier: each message is deleted after its decision is logged, at once when it is
    # dropped (no pass asked) or only after its pass was counted: the counts below are final.
    daemon.wait_for(lambda: _queued(aws, queue) == 0, timeout=30, what="the messages taken")
    assert daemon.passes() == 1
    assert len(_ignored(daemon)) == 3


def test_a_group_member_added_by_hand_is_removed_naming_who(
    converged: Daemon, aws: Aws, queue: str
) -> None:
    daemon = converged
    aws.iam.add_user_to_group(GroupName="Auditors", UserName="mallory")
    body = event("AddUserToGroup", SOURCE, MALLORY, groupName="Auditors", userName="mallory")
    aws.client("sqs").send_message(QueueUrl=queue, MessageBody=body)

    def auditors() -> set[str]:
        return {u["UserName"] for u in aws.iam.get_group(GroupName="Auditors")["Users"]}

    daemon.wait_for(lambda: auditors() == {"carol"}, timeout=20, what="mallory removed")
    daemon.wait_for_passes(2, timeout=10)
    applied = [line for line in _log_lines(daemon) if line["message"].startswith("applied ")]
    assert applied[-1]["changed_by"] == MALLORY
    assert f"(made by {MALLORY} at {WHEN})" in applied[-1]["message"]


def _queued(aws: Aws, queue: str) -> int:
    attributes = aws.client("sqs").get_queue_attributes(
        QueueUrl=queue,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return sum(int(value) for value in attributes.values())


@pytest.mark.parametrize(
    "url",
    [
        "not a url",
        "https://sqs.us-east-1.amazonaws.com/123/reconciler-events",
        "https://evil.example.com/123456789012/reconciler-events",
        "https://sqs.us-east-1.amazonaws.com/111111111111/reconciler-events;rm -rf /",
        "https://sqs.us-east-1.amazonaws.com/111111111111/queue\nINFO forged",
        "http://sqs.us-east-1.amazonaws.com/111111111111/reconciler-events",
        "x" * 5000,
    ],
    ids=["text", "short-account", "other-host", "injected", "newline", "http", "oversized"],
)
def test_a_queue_url_that_is_not_an_sqs_queue_stops_the_daemon_in_one_line(url: str) -> None:
    """Without --endpoint-url, only an AWS SQS queue URL is taken; nothing starts."""
    done = subprocess.run(
        [sys.executable, "-m", "reconciler.cli", "run", "--events-queue-url", url],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "AWS_ENDPOINT_URL": "", "RECONCILER_ENDPOINT_URL": ""},
    )
    assert (done.returncode, done.stdout) == (1, "")
    assert len(done.stderr.splitlines()) == 1
    assert done.stderr.startswith("error: --events-queue-url ")
    assert done.stderr.endswith(
        "is not an SQS queue URL (https://sqs.REGION.amazonaws.com/ACCOUNT/NAME)\n"
    )
