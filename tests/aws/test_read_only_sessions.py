"""Plan-only sessions cap the bootstrap role's credentials to reading with an inline session
policy that lists exactly the calls plan makes in member accounts.

moto does not enforce session policies, so coverage is shown by what the strict simulator
records: every operation a plan makes in a member account is an action of the session policy.
"""

from __future__ import annotations

import fnmatch
import json
from collections import Counter
from typing import Any
from urllib.parse import parse_qs

import pytest

from reconciler import reconcile
from reconciler.aws import sessions as sessions_module
from reconciler.simulator import MANAGEMENT_ACCOUNT_ID
from tests.aws.support import EXAMPLE_TEXT, Aws, parse, run_pass
from tests.simulation.strict import StrictAws

MEMBER_ACCOUNTS = 4  # the member accounts the example declares (the management one is not)


def session_policy_actions() -> list[str]:
    document = json.loads(sessions_module.READ_ONLY_SESSION_POLICY)
    return [
        action
        for statement in document["Statement"]
        if statement["Effect"] == "Allow" and statement["Resource"] == "*"
        for action in statement["Action"]
    ]


def plan_once(aws: Aws, *, read_only: bool) -> list[dict[str, list[str]]]:
    """A converged organization, then one plan; the AssumeRole requests it sent, parsed."""
    assert run_pass(aws.url, apply=True).converged
    document = parse(EXAMPLE_TEXT)
    sessions = reconcile.sessions_for(document, aws.url, 4, read_only=read_only)
    requests: list[dict[str, list[str]]] = []

    def capture(request: Any, **_: Any) -> None:
        body = request.body or b""
        requests.append(parse_qs(body.decode() if isinstance(body, bytes) else body))

    sessions.on_event("before-send.sts.AssumeRole", capture)
    reconcile.reconcile(document, sessions, apply=False, concurrency=4)
    return requests


@pytest.mark.parametrize("read_only", [True, False])
def test_assume_role_carries_the_read_only_policy_only_when_planning(
    aws: Aws, read_only: bool
) -> None:
    requests = plan_once(aws, read_only=read_only)
    assert len(requests) == MEMBER_ACCOUNTS
    for request in requests:
        # An inline policy, never the AWS managed ReadOnlyAccess (which reads S3 objects too).
        assert not any(key.startswith("PolicyArns") for key in request)
        if read_only:
            assert request["Policy"] == [sessions_module.READ_ONLY_SESSION_POLICY]
        else:
            assert "Policy" not in request


def test_session_policy_is_small_and_grants_reads_only() -> None:
    # AssumeRole refuses a packed session policy over 2,048 characters.
    assert len(sessions_module.READ_ONLY_SESSION_POLICY) < 2048
    actions = session_policy_actions()
    assert actions
    assert all(
        a.startswith("iam:") and a.split(":")[1].startswith(("Get", "List")) for a in actions
    )
    assert not any("*" in action for action in actions)


def test_every_call_a_plan_makes_in_member_accounts_is_in_the_session_policy(
    aws: Aws, strict: StrictAws
) -> None:
    assert run_pass(aws.url, apply=True).converged
    before = Counter(strict.calls_by_account)
    document = parse(EXAMPLE_TEXT)
    sessions = reconcile.sessions_for(document, aws.url, 4, read_only=True)
    reconcile.reconcile(document, sessions, apply=False, concurrency=4)
    made = Counter(strict.calls_by_account) - before
    in_members = {name for (account, name), _ in made.items() if account != MANAGEMENT_ACCOUNT_ID}
    assert len({account for account, _ in made} - {MANAGEMENT_ACCOUNT_ID}) == MEMBER_ACCOUNTS
    assert in_members, "the plan made no call in a member account"
    allowed = session_policy_actions()
    missing = sorted(
        name
        for name in in_members
        if not any(fnmatch.fnmatchcase(name.lower(), a.lower()) for a in allowed)
    )
    assert not missing, (
        f"plan calls these in member accounts, the session policy refuses them: {missing}"
    )
    # And nothing more: every action of the session policy is one plan makes.
    assert set(allowed) <= in_members
