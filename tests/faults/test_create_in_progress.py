"""A CreateAccount request that stays IN_PROGRESS for several polls, with the process killed
and restarted in between: the restarted process finds the request in flight and waits for
it, and the account is created once.

moto creates accounts at once, so the endpoint answers this account's CreateAccount,
DescribeCreateAccountStatus and ListCreateAccountStatus with canned bodies, as AWS would
during a slow creation; when the test lets the creation succeed, it creates the account in
moto itself, as AWS would have, and the canned status turns SUCCEEDED with its id.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from reconciler.simulator import Fault
from tests.aws.support import Aws, parse
from tests.faults.support import (
    EXAMPLE_TEXT,
    Endpoint,
    assert_example_state,
    document,
    run_cli,
    start_cli,
)

ACCOUNT = parse(EXAMPLE_TEXT).account("acme-dev")
REQUEST = "car-0f1e2d3c4b5a69788796a5b4c3d2e1f0"
CREATE = "organizations:CreateAccount"
DESCRIBE = "organizations:DescribeCreateAccountStatus"


def _status(state: str, **extra: Any) -> dict[str, Any]:
    return {
        "CreateAccountStatus": {
            "Id": REQUEST,
            "AccountName": ACCOUNT.name,
            "State": state,
            "RequestedTimestamp": time.time(),
            **extra,
        }
    }


def _polls(faulty: Endpoint) -> int:
    """Polls of the request in flight: the DescribeCreateAccountStatus calls canned for it."""
    return faulty.injector.injected[DESCRIBE]


def _wait(check: Callable[[], bool], process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 30
    while not check():
        assert process.poll() is None, f"the process exited {process.returncode} before {what}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def test_restart_finds_the_request_in_flight_and_creates_once(
    faulty: Endpoint, fresh: Aws, tmp_path: Path
) -> None:
    desired = document(tmp_path)
    in_progress = Fault(DESCRIBE, status=200, body=_status("IN_PROGRESS"), body_contains=REQUEST)
    faulty.inject(
        Fault(CREATE, status=200, body=_status("IN_PROGRESS"), body_contains=ACCOUNT.email),
        in_progress,
    )

    # The first process asks for the account and polls; it is killed while AWS works.
    first = start_cli("apply", faulty.url, desired, tmp_path / "first.log")
    _wait(lambda: _polls(faulty) >= 2, first, "two polls of the request")
    first.kill()
    first.wait(timeout=10)
    creations = faulty.count(CREATE)
    assert creations == 4  # the three other accounts, and this one (answered IN_PROGRESS)
    assert ACCOUNT.email not in fresh.accounts()

    # The creation is still in progress when the second process starts.
    listed = {"CreateAccountStatuses": [_status("IN_PROGRESS")["CreateAccountStatus"]]}
    faulty.inject(
        Fault("organizations:ListCreateAccountStatus", status=200, body=listed), in_progress
    )
    polls = _polls(faulty)
    second = start_cli("apply", faulty.url, desired, tmp_path / "second.log")
    _wait(lambda: _polls(faulty) >= polls + 3, second, "three polls by the second process")
    assert faulty.count(CREATE) == creations  # it did not ask again

    # AWS finishes the creation (done here, in moto) and the request reports SUCCEEDED.
    created = fresh.org.create_account(
        Email=ACCOUNT.email,
        AccountName=ACCOUNT.name,
        RoleName="OrganizationAccountAccessRole",
        Tags=[{"Key": k, "Value": v} for k, v in ACCOUNT.tags.items()],
    )["CreateAccountStatus"]
    succeeded = _status("SUCCEEDED", AccountId=created["AccountId"], CompletedTimestamp=time.time())
    faulty.inject(Fault(DESCRIBE, status=200, body=succeeded, body_contains=REQUEST))

    assert second.wait(timeout=60) == 0, (tmp_path / "second.log").read_text()
    output = (tmp_path / "second.log").read_text()
    assert f"creation already in progress, request {REQUEST}" in output
    total_polls = _polls(faulty)
    assert faulty.count(CREATE) == creations + 1  # ours, standing in for AWS; none from it
    faulty.clear()
    code, plan = run_cli("plan", faulty.url, desired)
    assert code == 0, plan
    assert_example_state(fresh)  # one account per email, in its unit, with its roles
    assert total_polls >= 2 + 3 + 1  # IN_PROGRESS before and after the restart, then SUCCEEDED
