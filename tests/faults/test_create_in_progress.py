"""A CreateAccount request that stays IN_PROGRESS for many polls, with the process killed and
restarted in between: the restarted process finds the request in flight and waits for it, and
the account is created once.

The strict simulator keeps every request IN_PROGRESS while `creation_polls` lasts, as AWS does
for minutes; the test then lets AWS finish by lowering it.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from tests.aws.support import Aws
from tests.faults.support import (
    CREATED_NAMES,
    Endpoint,
    assert_example_state,
    document,
    run_cli,
    start_cli,
)

CREATE = "organizations:CreateAccount"
DESCRIBE = "organizations:DescribeCreateAccountStatus"


def _wait(check: Callable[[], bool], process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 60
    while not check():
        assert process.poll() is None, f"the process exited {process.returncode} before {what}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def test_restart_finds_the_request_in_flight_and_creates_once(
    faulty: Endpoint, fresh: Aws, tmp_path: Path
) -> None:
    strict = faulty.server.strict
    assert strict is not None
    desired = document(tmp_path)
    strict.settings.creation_polls = 10_000  # AWS is slow today: minutes, not seconds

    # The first process asks for the accounts and polls; it is killed while AWS works.
    first = start_cli("apply", faulty.url, desired, tmp_path / "first.log")
    _wait(lambda: strict.calls[DESCRIBE] >= 2 * len(CREATED_NAMES), first, "two polls each")
    first.kill()
    first.wait(timeout=10)
    creations = strict.calls[CREATE]
    assert creations == len(CREATED_NAMES)
    assert len(fresh.accounts()) == 1  # only the management account exists yet

    # The creations are still in progress when the second process starts.
    polls = strict.calls[DESCRIBE]
    second = start_cli("apply", faulty.url, desired, tmp_path / "second.log")
    _wait(lambda: strict.calls[DESCRIBE] >= polls + 3, second, "three polls by the second")
    assert strict.calls[CREATE] == creations  # it did not ask again

    strict.finish_creations()  # AWS finishes: the next poll of each says SUCCEEDED
    assert second.wait(timeout=120) == 0, (tmp_path / "second.log").read_text()
    output = (tmp_path / "second.log").read_text()
    assert "creation already in progress, request car-" in output
    assert strict.calls[CREATE] == creations
    code, plan = run_cli("plan", faulty.url, desired)
    assert code == 0, plan
    assert_example_state(fresh)  # one account per email, in its unit, with its roles
