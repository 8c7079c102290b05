"""An account's declared tags are enforced; a tag the document does not name is removed from
the account only under `policy.prune: true`, and read back from AWS to show it."""

from __future__ import annotations

import json

from tests.aws.support import EXAMPLE_TEXT, Aws, failures, run_pass
from tests.simulation.faults import FaultyServer

ACME_DEV = "aws+acme-dev@example.com"
PRUNING = EXAMPLE_TEXT.replace("  prune: false\n", "  prune: true\n")


def _drift(aws: Aws) -> str:
    """acme-dev's declared tag changed and a tag it does not declare added, by hand."""
    assert run_pass(aws.url, apply=True).converged
    account_id = aws.account_id(ACME_DEV)
    aws.org.tag_resource(
        ResourceId=account_id,
        Tags=[
            {"Key": "environment", "Value": "staging"},
            {"Key": "cost-allocation", "Value": "team-7"},
        ],
    )
    return account_id


def test_prune_removes_an_undeclared_tag_from_the_account(aws: Aws) -> None:
    assert PRUNING != EXAMPLE_TEXT
    account_id = _drift(aws)

    result = run_pass(aws.url, PRUNING, apply=True)

    assert result.converged, failures(result)
    assert aws.tags(account_id) == {"client": "acme", "environment": "development"}
    assert run_pass(aws.url, PRUNING, apply=False).plan.empty


def test_without_prune_an_undeclared_tag_stays_on_the_account(aws: Aws) -> None:
    account_id = _drift(aws)

    result = run_pass(aws.url, apply=True)

    assert result.converged, failures(result)
    assert aws.tags(account_id) == {
        "client": "acme",
        "environment": "development",
        "cost-allocation": "team-7",
    }


def test_only_the_tags_that_differ_are_written(aws: Aws, simulator: FaultyServer) -> None:
    account_id = _drift(aws)
    simulator.injector.record = frozenset({"organizations:TagResource"})
    simulator.injector.requests = []

    result = run_pass(aws.url, apply=True)

    assert result.converged, failures(result)
    written = [json.loads(body) for _, body in simulator.injector.requests]
    assert written == [
        {"ResourceId": account_id, "Tags": [{"Key": "environment", "Value": "development"}]}
    ]
