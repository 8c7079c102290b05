"""The simulator's record of when calls came and answers left, which the benchmark reads to
tell a cold plan's fixed time from the time the simulator works: the first call of each
operation and the last answer, each with the simulator's CPU seconds then."""

from __future__ import annotations

import time

from tests.aws.support import Aws
from tests.faults.support import Endpoint
from tests.simulation.faults import Fault

DELAY = 0.2


def test_the_first_call_of_each_operation_and_the_last_answer_are_recorded(
    faulty: Endpoint, fresh: Aws
) -> None:
    organizations = fresh.client("organizations")
    faulty.clear()
    faulty.inject(Fault("organizations:DescribeOrganization", latency=DELAY))
    before = time.monotonic()

    organizations.list_roots()
    listed = time.monotonic()
    organizations.list_roots()
    organizations.describe_organization()  # the last, and slow: answered after its delay
    after = time.monotonic()

    firsts, (answered, answered_cpu) = faulty.injector.first_calls, faulty.injector.last_answer
    assert set(firsts) == {"organizations:ListRoots", "organizations:DescribeOrganization"}
    first_listing, listing_cpu = firsts["organizations:ListRoots"]
    assert before <= first_listing <= listed  # the first of the two listings, not the second
    described, _ = firsts["organizations:DescribeOrganization"]
    # The last answer left after the slow call's delay, and the simulator's CPU only grows.
    assert described + DELAY <= answered <= after
    assert listing_cpu <= answered_cpu


def test_clearing_forgets_the_moments(faulty: Endpoint, fresh: Aws) -> None:
    fresh.client("organizations").list_roots()

    faulty.clear()

    assert (faulty.injector.first_calls, faulty.injector.last_answer) == ({}, (0.0, 0.0))
