"""Slow answers (2 s on some calls) are waited for: the pass completes and converges, and no
call is abandoned by a timeout and sent again (which, for a write, would repeat it)."""

from __future__ import annotations

import time

from reconciler.aws import sessions
from reconciler.core import plan
from tests.aws.support import Aws, run_pass
from tests.faults.support import Endpoint, assert_example_state
from tests.simulation.faults import Fault

SLOW = ("iam:ListRoles", "iam:CreateRole", "organizations:DescribeOrganization")
DELAY = 2.0


def test_slow_calls_are_waited_for_and_never_resent(faulty: Endpoint, fresh: Aws) -> None:
    assert sessions.READ_TIMEOUT > 5 * DELAY  # the configured margin this test relies on
    faulty.inject(*(Fault(operation, latency=DELAY) for operation in SLOW))

    started = time.monotonic()
    applied = run_pass(faulty.url, apply=True)
    seconds = time.monotonic() - started
    checked = run_pass(faulty.url, apply=False)

    assert applied.converged, [o.reason for o in applied.failed]
    assert checked.plan.empty and checked.converged
    # Every slow call was answered once: a timeout would have shown as a second attempt.
    creates = [c for c in applied.plan.changes if isinstance(c, plan.CreateRole)]
    assert faulty.count("iam:CreateRole") == len(creates) == 7
    assert faulty.count("organizations:DescribeOrganization") == 2  # one per pass
    # ListRoles: the management account in the first pass, all five in the second.
    assert faulty.count("iam:ListRoles") == 1 + 5
    # The slow calls really were slow: the reads (the organization described while the roles
    # are listed), then two roles in a row in each account's lane.
    assert seconds >= 3 * DELAY
    faulty.clear()
    assert_example_state(fresh)
