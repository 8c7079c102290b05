"""Revoking access never waits behind an account creation, which can take half an hour: a
member removed from a group is gone while a new account is still being created, and the
grant on that account is written once it exists."""

from __future__ import annotations

import concurrent.futures
import json
import time
from collections.abc import Callable

from tests.aws.support import EXAMPLE_TEXT, Aws, failures, quick, run_pass
from tests.simulation.strict import StrictAws

NEW_ACCOUNT = (
    "  - name: acme-prod\n",
    "  - name: acme-staging\n"
    "    email: aws+acme-staging@example.com\n"
    "    unit: Clients/Acme\n"
    "  - name: acme-prod\n",
)
NEW_GRANT = (
    "      - {account: acme-prod, role: AccountAccessRole}\n  - name: AcmeDevelopers\n",
    "      - {account: acme-prod, role: AccountAccessRole}\n"
    "      - {account: acme-staging, role: AccountAccessRole}\n"
    "  - name: AcmeDevelopers\n",
)


def _wait_for(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 60
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _members(aws: Aws, group: str) -> set[str]:
    return {u["UserName"] for u in aws.iam.get_group(GroupName=group)["Users"]}


def test_a_member_is_removed_while_an_account_is_still_being_created(
    aws: Aws, strict: StrictAws
) -> None:
    assert run_pass(aws.url, apply=True).converged
    aws.iam.add_user_to_group(GroupName="Administrators", UserName="mallory")
    text = EXAMPLE_TEXT
    for old, new in (NEW_ACCOUNT, NEW_GRANT):
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    strict.settings.creation_polls = 10_000  # AWS takes its time creating acme-staging

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        applying = pool.submit(run_pass, aws.url, text, apply=True, timings=quick(poll=(0.2, 0.5)))
        try:
            _wait_for(lambda: strict.in_progress() == ["acme-staging"], "the creation")
            _wait_for(lambda: "mallory" not in _members(aws, "Administrators"), "the removal")
            assert strict.in_progress() == ["acme-staging"]  # removed while still creating
        finally:
            strict.finish_creations()  # AWS ends the creation: the pass can finish
        result = applying.result(timeout=120)

    assert result.converged, failures(result)
    staging = aws.account_id("aws+acme-staging@example.com")
    grants = aws.iam.get_group_policy(GroupName="Administrators", PolicyName="reconciler-grants")
    document = grants["PolicyDocument"]
    document = json.loads(document) if isinstance(document, str) else document
    assert f"arn:aws:iam::{staging}:role/AccountAccessRole" in document["Statement"][0]["Resource"]
