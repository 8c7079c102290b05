"""Fast feedback: how long from a push notification to its change applied in AWS, and from a
hand-made change's AWS change event to its correction, in an organization of N accounts.

The daemon child serves its webhook and polls the events queue (`serve`); then, at the fixed
latency per call:

1. push: the document gains a group member; a signed GitHub push notification is POSTed to
   the child's `/hooks/git`; the clock runs until plain boto3 reads the member in the group;
2. event: a role's MFA condition is removed by hand in one account (at latency 0, not timed);
   the event EventBridge would deliver is sent to the queue; the clock runs until plain boto3
   reads the condition back.

Each also reports the AWS calls of the pass it started, from the daemon's own counter: they
must not grow with the organization. The simulator has no EventBridge delivery of CloudTrail
events; sending the event is the one step written here, as `reconciler sandbox-drift` does.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import json
import socket
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import workload

if TYPE_CHECKING:  # the harness imports this module to run it
    from harness import DaemonChild, Simulator

DEADLINE = 120.0  # seconds to wait for a change to show; beyond it the figure is a failure
WEBHOOK_SECRET = b"bench-webhook-secret"
PUSH = json.dumps({"ref": "refs/heads/main", "after": "0" * 40}).encode()


@dataclass
class Feedback:
    push_seconds: float
    push_calls: dict[str, int]
    event_seconds: float
    event_calls: dict[str, int]

    @property
    def push_total(self) -> int:
        return sum(self.push_calls.values())

    @property
    def event_total(self) -> int:
        return sum(self.event_calls.values())


def free_listen() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{s.getsockname()[1]}"


def create_queue(url: str) -> str:
    return str(workload.sqs(url).create_queue(QueueName="reconciler-events")["QueueUrl"])


def measure(
    child: DaemonChild,
    simulator: Simulator,
    desired: Path,
    doc: dict[str, Any],
    listen: str,
    queue: str,
    latency: float,
) -> Feedback:
    url = simulator.url
    child.ask("serve")
    push_seconds, push_calls = _push(child, simulator, desired, doc, listen, latency)
    print(
        f"push to member applied: {push_seconds:.2f} s, {sum(push_calls.values())} calls",
        flush=True,
    )
    event_seconds, event_calls = _event(child, simulator, url, queue, latency)
    print(
        f"event to correction: {event_seconds:.2f} s, {sum(event_calls.values())} calls", flush=True
    )
    return Feedback(push_seconds, push_calls, event_seconds, event_calls)


def _push(
    child: DaemonChild,
    simulator: Simulator,
    desired: Path,
    doc: dict[str, Any],
    listen: str,
    latency: float,
) -> tuple[float, dict[str, int]]:
    group = doc["groups"][0]
    newcomer = next(
        f"user{k:02d}" for k in range(workload.USERS) if f"user{k:02d}" not in group["users"]
    )
    group["users"].append(newcomer)
    desired.write_text(workload.text(doc))
    iam = workload.iam_client(simulator.url)

    def applied() -> bool:
        users = iam.get_group(GroupName=group["name"])["Users"]
        return any(u["UserName"] == newcomer for u in users)

    return _timed(child, simulator, latency, lambda: _post_push(listen), applied)


def _post_push(listen: str) -> None:
    signature = hmac.new(WEBHOOK_SECRET, PUSH, hashlib.sha256).hexdigest()
    request = urllib.request.Request(
        f"http://{listen}/hooks/git",
        data=PUSH,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "X-GitHub-Event": "push",
            "X-Hub-Signature-256": f"sha256={signature}",
        },
    )
    with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
        if answer.status != 202:
            raise RuntimeError(f"the push was answered {answer.status}")


def _event(
    child: DaemonChild,
    simulator: Simulator,
    url: str,
    queue: str,
    latency: float,
) -> tuple[float, dict[str, int]]:
    account = workload.account_ids(url)[workload.account_name(3)]
    workload.remove_mfa(url, account)  # by hand, at latency 0, not timed
    member = workload.member_iam(url, account)

    def corrected() -> bool:
        role = member.get_role(RoleName="AccountAccessRole")["Role"]
        return "aws:MultiFactorAuthPresent" in json.dumps(role["AssumeRolePolicyDocument"])

    body = _cloudtrail_event(account)
    send = workload.sqs(url).send_message
    return _timed(
        child, simulator, latency, lambda: send(QueueUrl=queue, MessageBody=body), corrected
    )


def _timed(
    child: DaemonChild,
    simulator: Simulator,
    latency: float,
    start: Any,
    done: Any,
) -> tuple[float, dict[str, int]]:
    """Seconds from `start()` until `done()`, and the calls of the pass it started."""
    before = child.ask("counts")
    simulator.start_counting(latency)
    started = time.monotonic()
    start()
    while not done():
        if time.monotonic() - started > DEADLINE:
            return float("inf"), {}
        time.sleep(0.05)
    seconds = time.monotonic() - started
    passes = sum(before["passes"].values())
    while sum(child.ask("counts")["passes"].values()) <= passes:
        time.sleep(0.05)  # the pass ends just after its last change
    simulator.start_counting(0.0)
    after = child.ask("counts")
    calls = {k: v - before["calls"].get(k, 0) for k, v in after["calls"].items()}
    # The queue's own long polls run all along, whatever the organization: not the pass's.
    return seconds, {k: v for k, v in calls.items() if v and not k.startswith("sqs:")}


def _cloudtrail_event(account: str) -> str:
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    actor = f"arn:aws:sts::{account}:assumed-role/{workload.BOOTSTRAP}/bench-person"
    return json.dumps(
        {
            "version": "0",
            "detail-type": "AWS API Call via CloudTrail",
            "source": "aws.iam",
            "account": account,
            "time": now,
            "region": "us-east-1",
            "detail": {
                "userIdentity": {"type": "AssumedRole", "arn": actor},
                "eventTime": now,
                "eventSource": "iam.amazonaws.com",
                "eventName": "UpdateAssumeRolePolicy",
                "requestParameters": {"roleName": "AccountAccessRole"},
                "recipientAccountId": account,
            },
        }
    )
