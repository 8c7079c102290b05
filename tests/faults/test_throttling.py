"""A fifth of all calls throttled: apply from an empty organization still converges, and no
account is created twice (a retried CreateAccount must not make a second account)."""

from __future__ import annotations

from collections import Counter

from tests.aws.support import Aws, run_pass
from tests.faults.support import Endpoint, assert_example_state
from tests.simulation.faults import Fault

# The throttling error each service answers with.
THROTTLING = (
    Fault("organizations:*", code="TooManyRequestsException", status=400, fraction=0.2),
    Fault("iam:*", code="Throttling", status=400, fraction=0.2),
    Fault("sts:*", code="Throttling", status=400, fraction=0.2),
)


def test_apply_from_empty_converges_under_throttling(faulty: Endpoint, fresh: Aws) -> None:
    faulty.inject(*THROTTLING)

    applied = run_pass(faulty.url, apply=True)

    injected = Counter(faulty.injector.injected)
    calls = faulty.total()
    faulty.clear()
    assert applied.converged, [o.reason for o in applied.failed] or applied.plan.unreachable
    # The faults really bit, in every service.
    print(f"{sum(injected.values())} of {calls} calls throttled: {dict(injected)}")
    services = Counter(name.split(":")[0] for name in injected.elements())
    assert set(services) == {"organizations", "iam", "sts"}, injected
    assert sum(injected.values()) >= 0.05 * calls, (calls, injected)
    # Read back without faults: one account per email, all as declared, nothing left to do.
    assert_example_state(fresh)
    assert run_pass(faulty.url, apply=False).plan.empty
