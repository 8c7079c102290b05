"""One `apply` from an empty organization converges although AWS answers 30% of Organizations
and IAM writes with a conflict, hides every new role, group and user from the next calls, and
refuses AssumeRole into new accounts for a while; IAM lag that outlives the wait is reported
with AWS's own message."""

from __future__ import annotations

from reconciler.core import plan
from tests.aws.support import EXAMPLE_TEXT, Aws, failures, quick, run_pass
from tests.faults.support import assert_example_state
from tests.simulation.strict import StrictAws
from tests.simulation.support import calm


def test_apply_from_empty_converges_in_one_pass(aws: Aws, strict: StrictAws) -> None:
    strict.settings.conflict_rate = 0.3
    strict.settings.consistency_calls = 2
    strict.settings.access_delay_calls = 2

    result = run_pass(aws.url, apply=True)

    assert result.converged, failures(result)
    # AWS's habits really bit, each of them.
    assert strict.injected["conflict"] >= 10, strict.injected
    assert strict.injected["not_found"] >= 5, strict.injected
    assert strict.injected["access_delay"] >= 4, strict.injected
    strict.settings = calm()
    assert_example_state(aws)
    assert run_pass(aws.url, apply=False).plan.empty


def test_lag_that_outlives_the_wait_is_reported_with_aws_message(
    aws: Aws, strict: StrictAws
) -> None:
    strict.settings.consistency_calls = 1000  # IAM never catches up in this pass

    result = run_pass(aws.url, apply=True, timings=quick(settle=0.5))

    roles = [o for o in result.failed if isinstance(o.change, plan.CreateRole)]
    assert roles, failures(result)
    for outcome in roles:
        assert outcome.status == plan.Status.FAILED
        role = outcome.change.target.split("/")[1]
        assert f"NoSuchEntity: The role with name {role} cannot be found." in outcome.reason
    # The next pass, IAM caught up, finishes the roles without creating anything twice.
    strict.settings = calm()
    strict.catch_up()
    assert run_pass(aws.url, EXAMPLE_TEXT, apply=True).converged
    assert_example_state(aws)
