"""CreateAccount as AWS does it: asynchronous, at most 5 in flight per organization whoever
started them, failures with a reason that are reported instead of being sent again, a new
account whose bootstrap role is not assumable yet, and never a blind retry."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from typing import Any

import pytest

from reconciler import reconcile
from reconciler.core import plan
from reconciler.core.errors import AwsRequestError
from tests.aws.support import (
    EXAMPLE_TEXT,
    Aws,
    example_with_accounts,
    failures,
    parse,
    quick,
    run_pass,
)
from tests.faults.support import CREATED_NAMES, assert_example_state
from tests.simulation.faults import Fault, FaultyServer
from tests.simulation.strict import StrictAws
from tests.simulation.support import calm

ACME_PROD = "aws+acme-prod@example.com"
CREATE = "organizations:CreateAccount"
STATUS = "organizations:DescribeCreateAccountStatus"
EXPLAINED = {
    "EMAIL_ALREADY_EXISTS": "the email address is already used by another AWS account",
    "ACCOUNT_LIMIT_EXCEEDED": "the organization has reached its account quota",
    "INVALID_EMAIL": "AWS rejected the email address",
    "MISSING_PAYMENT_INSTRUMENT": "the management account has no valid payment method",
}
PASSING = {
    "CONCURRENT_ACCOUNT_MODIFICATION": "a request with the same information was already made",
    "INTERNAL_FAILURE": "AWS had an internal failure",
}


def _creation(result: object, name: str) -> plan.Outcome:
    outcomes: tuple[plan.Outcome, ...] = getattr(result, "outcomes", ())
    return next(
        o for o in outcomes if isinstance(o.change, plan.CreateAccount) and o.change.name == name
    )


def _records(aws: Aws) -> dict[str, str]:
    tags = aws.org.list_tags_for_resource(ResourceId=aws.root())["Tags"]
    return {t["Key"]: t["Value"] for t in tags if ":creation:" in t["Key"]}


@pytest.mark.parametrize("reason", sorted(EXPLAINED))
def test_a_failed_creation_is_reported_and_not_sent_again(
    aws: Aws, strict: StrictAws, reason: str
) -> None:
    strict.settings.fail_creations = {ACME_PROD: reason}

    first = run_pass(aws.url, apply=True)

    creation = _creation(first, "acme-prod")
    assert creation.status == plan.Status.FAILED
    assert f"creation failed: {reason}: {EXPLAINED[reason]}" in creation.reason
    assert creation.reason.endswith(f"(request {_request_of(aws, 'acme-prod')})")
    error = creation.error
    assert isinstance(error, AwsRequestError)
    assert (error.operation, error.code) == ("organizations:CreateAccount", reason)
    [(key, _)] = _records(aws).items()
    assert key.startswith("reconciler:creation:car-")  # the others' records went with success
    # The others converged: only acme-prod's work is left.
    sent = strict.calls[CREATE]
    second = run_pass(aws.url, apply=True)
    assert strict.calls[CREATE] == sent  # not sent again
    assert reason in second.plan.unreachable["acme-prod"]
    assert "not requested again until the document changes" in second.plan.unreachable["acme-prod"]
    assert {c.account for c in second.plan.changes} == set()


def test_a_failure_aws_gives_no_reason_for_is_reported_as_unknown(
    aws: Aws, simulator: FaultyServer
) -> None:
    # FailureReason is optional in AWS's CreateAccountStatus: a FAILED answer without one.
    failed = {"Id": "car-0123456789abcdef0123456789abcdef", "AccountName": "x", "State": "FAILED"}
    simulator.injector.faults = [
        Fault(STATUS, status=200, body={"CreateAccountStatus": failed}),
    ]

    result = run_pass(aws.url, apply=True)

    creation = _creation(result, "acme-prod")
    assert creation.status == plan.Status.FAILED
    assert "creation failed: UNKNOWN: see the request in the AWS console" in creation.reason


def test_grants_on_accounts_not_created_name_each_of_them(aws: Aws, strict: StrictAws) -> None:
    failing = {ACME_PROD: "EMAIL_ALREADY_EXISTS", "aws+acme-dev@example.com": "INVALID_EMAIL"}
    strict.settings.fail_creations = failing

    result = run_pass(aws.url, apply=True)

    [administrators] = [o for o in result.failed if o.change.target == "Administrators"]
    assert administrators.reason == "grants on acme-dev, acme-prod not written: account not created"


def test_a_creation_whose_answer_cannot_be_read_skips_the_accounts_changes_till_next_pass(
    aws: Aws, simulator: FaultyServer, caplog: pytest.LogCaptureFixture
) -> None:
    # An answer the appliers cannot read: CreateAccount's status without its request id.
    unreadable = Fault(
        CREATE,
        status=200,
        body={"CreateAccountStatus": {"State": "IN_PROGRESS"}},
        body_contains=ACME_PROD,
    )
    simulator.injector.faults = [unreadable]

    result = run_pass(aws.url, apply=True)

    creation = _creation(result, "acme-prod")
    assert (creation.status, creation.reason) == (plan.Status.FAILED, "unexpected KeyError: 'Id'")
    logged = [r for r in caplog.records if r.levelname == "ERROR"]
    assert [r.getMessage() for r in logged] == [
        f"applying {creation.change.line()} failed unexpectedly"
    ]
    later = [o for o in result.outcomes if o.change.account == "acme-prod" and o is not creation]
    assert later
    for outcome in later:
        assert outcome.status == plan.Status.SKIPPED
        assert outcome.reason == "not attempted: unexpected KeyError: 'Id'"

    # The fault answered in AWS's place, which created nothing: the next pass does it all.
    simulator.injector.faults = []
    simulator.injector.counts.clear()
    assert run_pass(aws.url, apply=True).converged
    assert simulator.injector.counts[CREATE] == 1


@pytest.mark.parametrize("reason", sorted(PASSING))
def test_a_failure_that_may_pass_is_requested_again_next_pass(
    aws: Aws, strict: StrictAws, reason: str
) -> None:
    strict.settings.fail_creations = {ACME_PROD: reason}
    first = run_pass(aws.url, apply=True)
    assert f"creation failed: {reason}: {PASSING[reason]}" in _creation(first, "acme-prod").reason
    strict.settings.fail_creations = {}
    sent = strict.calls[CREATE]

    second = run_pass(aws.url, apply=True)

    assert second.converged, failures(second)
    assert strict.calls[CREATE] > sent  # requested again (conflicts count as calls too)
    assert ACME_PROD in aws.accounts()
    assert _records(aws) == {}


def test_a_changed_account_is_requested_again_and_the_record_cleared(
    aws: Aws, strict: StrictAws
) -> None:
    strict.settings.fail_creations = {ACME_PROD: "EMAIL_ALREADY_EXISTS"}
    run_pass(aws.url, apply=True)
    assert len(_records(aws)) == 1
    fixed = EXAMPLE_TEXT.replace(ACME_PROD, "aws+acme-prod-2@example.com")

    result = run_pass(aws.url, fixed, apply=True)

    assert result.converged, failures(result)
    assert "aws+acme-prod-2@example.com" in aws.accounts()
    assert _records(aws) == {}


def test_requests_of_other_tools_count_toward_the_five_in_flight(
    aws: Aws, strict: StrictAws
) -> None:
    for n in range(5):
        strict.foreign_creation(f"other-tool-{n}")

    result = run_pass(aws.url, apply=True)

    assert strict.calls[CREATE] == 0
    for name in CREATED_NAMES:
        creation = _creation(result, name)
        assert creation.status == plan.Status.SKIPPED
        assert "5 account creations are already in progress" in creation.reason
    assert strict.injected["too_many_creations"] == 0


def test_with_two_slots_left_every_account_is_still_created_in_the_pass(
    aws: Aws, strict: StrictAws
) -> None:
    for n in range(3):
        strict.foreign_creation(f"other-tool-{n}")

    result = run_pass(aws.url, apply=True)

    assert result.converged, failures(result)
    assert strict.injected["too_many_creations"] == 0  # never more than 5 in flight
    strict.settings = calm()
    assert_example_state(aws)


def test_an_account_not_yet_assumable_is_created_not_failed(aws: Aws, strict: StrictAws) -> None:
    strict.settings.access_delay_calls = 10_000  # the bootstrap roles lag behind for long

    first = run_pass(aws.url, apply=True, timings=quick(access=1.0))

    for name in CREATED_NAMES:
        creation = _creation(first, name)
        assert creation.status == plan.Status.APPLIED
        assert re.fullmatch(
            rf"account {name} created as \d{{12}}; its bootstrap role is not assumable yet "
            r"\(.+\): its roles are made by a later pass",
            creation.reason,
        ), creation.reason
        later = [o for o in first.outcomes if o.change.account == name and o is not creation]
        assert later and all(o.status == plan.Status.SKIPPED for o in later)
    assert len(aws.accounts()) == 1 + len(CREATED_NAMES)

    strict.grant_access()
    sent = strict.calls[CREATE]
    second = run_pass(aws.url, apply=True)
    assert second.converged, failures(second)
    assert strict.calls[CREATE] == sent  # created once
    strict.settings = calm()
    assert_example_state(aws)


def test_create_account_is_never_resent_after_a_lost_answer(
    aws: Aws, simulator: FaultyServer
) -> None:
    # The answer to acme-prod's request is lost (a 500: AWS may or may not have acted).
    simulator.injector.faults = [
        Fault(CREATE, code="InternalFailure", status=500, times=1, body_contains=ACME_PROD)
    ]

    result = run_pass(aws.url, apply=True)

    assert simulator.injector.counts[CREATE] == len(CREATED_NAMES)  # one try each, no retry
    assert _creation(result, "acme-prod").status == plan.Status.FAILED


def test_create_account_refused_for_throttling_is_sent_again(
    aws: Aws, simulator: FaultyServer
) -> None:
    # Throttling means AWS did not act: sending the request again is safe.
    simulator.injector.faults = [
        Fault(CREATE, code="TooManyRequestsException", times=2, body_contains=ACME_PROD)
    ]

    result = run_pass(aws.url, apply=True)

    assert result.converged, failures(result)
    assert simulator.injector.counts[CREATE] == len(CREATED_NAMES) + 2
    assert [a for a in aws.accounts() if a == ACME_PROD] == [ACME_PROD]


def test_a_record_aws_will_not_remove_leaves_the_creation_done_and_says_which_request(
    aws: Aws, simulator: FaultyServer, caplog: pytest.LogCaptureFixture
) -> None:
    # Removing the record of a finished request is refused; the account exists all the same.
    simulator.injector.faults = [Fault("organizations:UntagResource", code="AccessDeniedException")]

    result = run_pass(aws.url, apply=True)

    assert _creation(result, "acme-prod").status == plan.Status.APPLIED
    assert ACME_PROD in aws.accounts()
    records = _records(aws)
    assert len(records) == len(CREATED_NAMES)  # each stays, stale but harmless
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    for key in records:
        request = key.rsplit(":", 1)[1]
        (line,) = (w for w in warnings if request in w)
        assert line.startswith(f"could not remove the record of creation request {request}: ")
        assert "AccessDenied" in line


def test_a_new_account_gets_the_bootstrap_role_the_document_names(
    aws: Aws, simulator: FaultyServer
) -> None:
    simulator.injector.record = frozenset({CREATE})
    text = EXAMPLE_TEXT.replace(
        "bootstrap_role: OrganizationAccountAccessRole", "bootstrap_role: ReconcilerBootstrap"
    )

    run_pass(aws.url, text, apply=True, timings=quick(access=1.0))

    asked = [json.loads(body) for _, body in simulator.injector.requests]
    assert len(asked) == len(CREATED_NAMES)
    assert {request["RoleName"] for request in asked} == {"ReconcilerBootstrap"}


def _request_of(aws: Aws, name: str) -> str:
    """The id of the CreateAccount request of the account `name`, as AWS lists it."""
    statuses = aws.org.list_create_account_status()["CreateAccountStatuses"]
    return next(str(s["Id"]) for s in statuses if s["AccountName"] == name)


def test_a_creation_still_in_progress_at_the_deadline_resumes_next_pass(
    aws: Aws, strict: StrictAws
) -> None:
    strict.settings.creation_polls = 10_000  # AWS takes longer than the pass waits

    result = run_pass(aws.url, apply=True, timings=quick(creation=0.3, poll=(0.02, 0.05)))

    creation = _creation(result, "acme-prod")
    assert creation.status == plan.Status.SKIPPED
    request = _request_of(aws, "acme-prod")
    assert creation.reason == f"CreateAccount request {request} still in progress"
    later = [o for o in result.outcomes if o.change.account == "acme-prod" and o is not creation]
    assert later
    for outcome in later:  # its roles wait for the account: not attempted, not failed
        assert outcome.status == plan.Status.SKIPPED
        assert outcome.reason == f"not attempted: CreateAccount request {request} still in progress"

    record = f"reconciler:creation:{request}"
    assert record in aws.tags(aws.root())

    # The next pass finds the requests in flight and waits on them instead of asking again.
    strict.finish_creations(polls=2)
    sent = strict.calls[CREATE]
    second = run_pass(aws.url, apply=True)
    assert second.converged, failures(second)
    assert strict.calls[CREATE] == sent  # not asked again
    resumed = _creation(second, "acme-prod")
    assert isinstance(resumed.change, plan.CreateAccount)
    assert (resumed.change.request_id, resumed.status) == (request, plan.Status.APPLIED)
    assert record not in aws.tags(aws.root())
    strict.settings = calm()
    assert_example_state(aws)


def test_requests_an_earlier_pass_left_in_flight_hold_their_slots_until_they_end(
    aws: Aws, strict: StrictAws, simulator: FaultyServer
) -> None:
    strict.settings.creation_polls = 10_000  # the first pass ends with its 5 still in flight
    first = run_pass(
        aws.url,
        example_with_accounts("newcomer-zero"),
        apply=True,
        timings=quick(creation=0.3, poll=(0.02, 0.05)),
    )
    in_flight = (*CREATED_NAMES, "newcomer-zero")
    assert all(_creation(first, name).status == plan.Status.SKIPPED for name in in_flight)
    strict.settings.creation_polls = 2
    strict.finish_creations(polls=2)
    strict.settings.conflict_rate = 0.0  # no random refusal to hide AWS's limit
    simulator.injector.record = frozenset({CREATE})

    # Wide enough that every creation's lane starts at once, as in a daemon at its default.
    document = example_with_accounts("newcomer-zero", "newcomer-one", "newcomer-two")
    second = run_pass(aws.url, document, apply=True, concurrency=16)

    # AWS's five slots were all ours: the newcomers waited for the resumed requests to end,
    # neither refused by AWS nor put off to the next pass.
    assert second.converged, failures(second)
    requested = {json.loads(body)["AccountName"] for _, body in simulator.injector.requests}
    assert requested == {"newcomer-one", "newcomer-two"}  # the five in flight: polled, not resent
    assert strict.injected["too_many_creations"] == 0


def test_a_creation_polled_again_and_again_is_waited_for_to_the_end(
    aws: Aws, strict: StrictAws
) -> None:
    strict.settings.creation_polls = 3  # three polls answer IN_PROGRESS, the fourth SUCCEEDED

    result = run_pass(aws.url, apply=True, timings=quick(access=1.0, poll=(0.01, 0.04)))

    assert _creation(result, "acme-prod").status == plan.Status.APPLIED
    assert ACME_PROD in aws.accounts()


def _stop_after(event: str, stop: threading.Event) -> Callable[..., None]:
    def handler(parsed: dict[str, Any], **_: Any) -> None:
        if event.endswith("AssumeRole") and "Error" not in parsed:
            return  # an account already reachable: not the new one's wait
        stop.set()

    return handler


@pytest.mark.parametrize(
    ("event", "polls", "resumes"),
    [
        (
            "after-call.organizations.DescribeCreateAccountStatus",
            10_000,
            "CreateAccount request {} resumes next pass",
        ),
        ("after-call.sts.AssumeRole", 0, "its roles are made next pass"),
    ],
    ids=["creation", "access"],
)
def test_a_shutdown_during_a_wait_on_a_new_account_says_what_resumes(
    aws: Aws, strict: StrictAws, event: str, polls: int, resumes: str
) -> None:
    """SIGTERM while a lane waits on AWS for a new account (its creation, then its bootstrap
    role): the change ends at once, and its reason says what the next pass takes up."""
    strict.settings.creation_polls = polls
    strict.settings.access_delay_calls = 10_000
    stop = threading.Event()
    document = parse(EXAMPLE_TEXT)
    sessions = reconcile.sessions_for(document, aws.url, concurrency=4)
    sessions.on_event(event, _stop_after(event, stop))

    result = reconcile.reconcile(
        document, sessions, apply=True, concurrency=4, stop=stop, timings=quick(access=60)
    )

    creation = _creation(result, "acme-prod")
    assert creation.status == plan.Status.SKIPPED
    reason = f"not finished: shutting down; {resumes.format(_request_of(aws, 'acme-prod'))}"
    assert creation.reason == reason


def test_a_request_aws_will_not_record_is_created_all_the_same_and_the_cost_said(
    aws: Aws, simulator: FaultyServer, caplog: pytest.LogCaptureFixture
) -> None:
    # Tagging the root with the request's record is refused; the accounts matter more.
    simulator.injector.faults = [
        Fault("organizations:TagResource", code="AccessDeniedException", body_contains=aws.root())
    ]

    result = run_pass(aws.url, apply=True, timings=quick(access=1.0))

    assert _creation(result, "acme-prod").status == plan.Status.APPLIED
    assert ACME_PROD in aws.accounts()
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    (line,) = (w for w in warnings if "acme-prod" in w)
    assert line.startswith(
        "could not record the creation request of acme-prod (a failure would be requested "
        "again next pass): "
    )
    assert "AccessDeniedException" in line  # and what AWS answered
